//! Handler logic, one module per Step Functions task.
//!
//! Each handler is a plain `async fn handle(deps, input) -> Result<output>` over
//! the ports in [`crate::ports`], so the same code runs in a Lambda binary
//! ([`crate::lambda`]), in the local engine and in tests. [`dispatch`] is the one
//! JSON entry point both runtimes use: parse the typed input (unknown fields are a
//! `ValidationError`), call the handler, serialise the output.

pub mod compensation;
pub mod events;
pub mod failure_recorder;
pub mod recorder;
pub mod starter;
pub mod tool_invoker;
pub mod tool_mapper;
pub mod validator;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use serde::Serialize;
use serde_json::Value;

use crate::error::{ErrorClass, ExecutionError, names};
use crate::io::parse_input;
use crate::ports::Deps;

/// The seven Lambda handlers. `name()` is the binary crate name, which is also
/// the function name the state machine and the local engine refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handler {
    Starter,
    Validator,
    ToolMapper,
    ToolInvoker,
    Compensation,
    Recorder,
    FailureRecorder,
}

impl Handler {
    pub const ALL: [Handler; 7] = [
        Handler::Starter,
        Handler::Validator,
        Handler::ToolMapper,
        Handler::ToolInvoker,
        Handler::Compensation,
        Handler::Recorder,
        Handler::FailureRecorder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Handler::Starter => "starter",
            Handler::Validator => "validator",
            Handler::ToolMapper => "tool-mapper",
            Handler::ToolInvoker => "tool-invoker",
            Handler::Compensation => "compensation",
            Handler::Recorder => "recorder",
            Handler::FailureRecorder => "failure-recorder",
        }
    }

    pub fn from_name(name: &str) -> Option<Handler> {
        Handler::ALL.into_iter().find(|h| h.name() == name)
    }

    /// Whether the handler calls MCP tools (its binary needs a real MCP client).
    pub fn needs_mcp(self) -> bool {
        matches!(self, Handler::ToolInvoker | Handler::Compensation)
    }
}

impl std::fmt::Display for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Run one handler on a raw JSON event and return its raw JSON output.
pub async fn dispatch(h: Handler, deps: &Deps, input: Value) -> Result<Value, ExecutionError> {
    let name = h.name();
    match h {
        Handler::Starter => to_output(
            name,
            starter::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::Validator => to_output(
            name,
            validator::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::ToolMapper => to_output(
            name,
            tool_mapper::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::ToolInvoker => to_output(
            name,
            tool_invoker::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::Compensation => to_output(
            name,
            compensation::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::Recorder => to_output(
            name,
            recorder::handle(deps, parse_input(name, input)?).await?,
        ),
        Handler::FailureRecorder => to_output(
            name,
            failure_recorder::handle(deps, parse_input(name, input)?).await?,
        ),
    }
}

fn to_output<T: Serialize>(handler: &str, output: T) -> Result<Value, ExecutionError> {
    serde_json::to_value(output).map_err(|e| {
        ExecutionError::new(
            names::PERMANENT,
            ErrorClass::Unknown,
            "OUTPUT_NOT_SERIALISABLE",
            false,
            format!("{handler}: output could not be serialised: {e}"),
        )
    })
}

/// Publish failures become `TransientError`: the state machine retries the step,
/// and every handler that publishes is idempotent up to the publish.
pub(crate) fn publish_failed(err: ExecutionError) -> ExecutionError {
    ExecutionError::transient(
        ErrorClass::Downstream,
        "EVENT_PUBLISH_FAILED",
        format!(
            "could not publish execution event: {} ({})",
            err.message, err.code
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_binary_crates() {
        for h in Handler::ALL {
            assert_eq!(Handler::from_name(h.name()), Some(h));
        }
        let names: Vec<_> = Handler::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(
            names,
            [
                "starter",
                "validator",
                "tool-mapper",
                "tool-invoker",
                "compensation",
                "recorder",
                "failure-recorder"
            ]
        );
        assert_eq!(Handler::from_name("tool_mapper"), None);
    }
}

#[cfg(test)]
mod dispatch_tests {
    use super::*;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT};
    use serde_json::json;

    #[tokio::test]
    async fn dispatch_parses_calls_and_serialises() {
        let h = Harness::seeded().await;
        let out = dispatch(
            Handler::Validator,
            &h.deps(),
            json!({"action_intent_id": INTENT, "tenant_id": TENANT,
                   "account_id": ACCOUNT, "trace_id": "tr"}),
        )
        .await
        .unwrap();
        assert_eq!(out["valid"], true);
        assert_eq!(out["action_type"], "CREATE_CRM_TASK");
    }

    #[tokio::test]
    async fn input_off_contract_is_a_validation_error_for_every_handler() {
        let h = Harness::seeded().await;
        for handler in Handler::ALL {
            let err = dispatch(handler, &h.deps(), json!({"unexpected": 1}))
                .await
                .unwrap_err();
            assert_eq!(err.name, "ValidationError", "{handler}");
            assert_eq!(err.code, "INVALID_HANDLER_INPUT", "{handler}");
            assert!(err.message.starts_with(handler.name()), "{}", err.message);
        }
        assert!(h.store.list_attempts().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn dispatch_returns_handler_errors_unchanged() {
        let h = Harness::empty();
        let err = dispatch(
            Handler::Starter,
            &h.deps(),
            json!({"action_intent_id": "x", "tenant_id": TENANT,
                   "account_id": ACCOUNT, "execution_id": "e"}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (err.name, err.code.as_str()),
            ("ValidationError", "INTENT_NOT_FOUND")
        );
    }
}
