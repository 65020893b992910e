//! The one function every Lambda `main` calls to build its dependencies:
//! [`deps_for`] picks the backend from `CCX_BACKEND`.
//!
//! - `aws` (what the stack sets on every function): DynamoDB, S3, EventBridge and
//!   the gateway secret from Secrets Manager, through [`lambda_deps`], with
//!   `AWS_ENDPOINT_URL` honoured (moto, LocalStack).
//! - `embedded`, or unset (the laptop default, the local engine's fidelity
//!   mode): SQLite and files under `CCX_DATA_DIR`, the gateway secret from the
//!   environment.
//!
//! Anything else is a `ConfigurationError` naming the variable, reported at
//! cold start like every other missing setting, never a silent fallback.

use std::sync::Arc;

use ccx_core::ExecutionError;
use ccx_core::error::Result;
use ccx_core::handlers::Handler;
use ccx_core::ports::{Deps, McpClient};

use crate::deps::lambda_deps;

/// The variable that selects the backend of a handler binary.
pub const ENV_BACKEND: &str = "CCX_BACKEND";

/// Where a handler binary keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Aws,
    Embedded,
}

impl Backend {
    /// `CCX_BACKEND` from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::parse(std::env::var(ENV_BACKEND).ok().as_deref())
    }

    /// `aws` or `embedded` (case-insensitive); unset or blank is `embedded`.
    pub fn parse(value: Option<&str>) -> Result<Self> {
        match value.map(str::trim).unwrap_or_default() {
            "" => Ok(Backend::Embedded),
            v if v.eq_ignore_ascii_case("embedded") => Ok(Backend::Embedded),
            v if v.eq_ignore_ascii_case("aws") => Ok(Backend::Aws),
            other => Err(ExecutionError::configuration(
                "BACKEND_UNKNOWN",
                format!("{ENV_BACKEND}={other:?} is not one of aws, embedded"),
            )),
        }
    }
}

/// The infrastructure's view of `handler` (its grants say which resources and
/// whether it calls the gateway). Both enums list the same seven binaries.
pub fn infra_handler(handler: Handler) -> ccx_infra::Handler {
    ccx_infra::Handler::ALL
        .into_iter()
        .find(|h| h.name() == handler.name())
        .expect("ccx_infra::Handler lists every handler binary")
}

/// The dependencies of `handler`'s binary on the backend `CCX_BACKEND` names,
/// built once per cold start. Errors are `ConfigurationError`s for
/// `ccx_core::lambda::serve` to report to the Runtime API's `/init/error`.
pub async fn deps_for(handler: Handler) -> Result<Deps> {
    let infra = infra_handler(handler);
    match Backend::from_env()? {
        Backend::Aws => lambda_deps(infra).await,
        Backend::Embedded => {
            let mcp: Option<Arc<dyn McpClient>> = if infra.def().calls_gateway() {
                Some(ccx_mcp::client_from_env().await?)
            } else {
                // The others get NoMcpClient, which refuses loudly if ever called.
                None
            };
            ccx_core::store::embedded_deps_from_env(mcp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_read_leniently_and_unknown_ones_refused() {
        assert_eq!(Backend::parse(None).unwrap(), Backend::Embedded);
        assert_eq!(Backend::parse(Some("  ")).unwrap(), Backend::Embedded);
        assert_eq!(Backend::parse(Some("embedded")).unwrap(), Backend::Embedded);
        assert_eq!(Backend::parse(Some("AWS")).unwrap(), Backend::Aws);
        assert_eq!(Backend::parse(Some(" aws\n")).unwrap(), Backend::Aws);
        let err = Backend::parse(Some("dynamo")).unwrap_err();
        assert_eq!(err.name, "ConfigurationError");
        assert_eq!(err.code, "BACKEND_UNKNOWN");
        assert!(
            err.message.contains("CCX_BACKEND=\"dynamo\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn every_handler_has_its_infrastructure_twin() {
        for h in Handler::ALL {
            assert_eq!(infra_handler(h).name(), h.name());
        }
        // The two that call tools, and only they, get a gateway client.
        let calling: Vec<&str> = Handler::ALL
            .into_iter()
            .filter(|h| infra_handler(*h).def().calls_gateway())
            .map(Handler::name)
            .collect();
        assert_eq!(calling, ["tool-invoker", "compensation"]);
    }
}
