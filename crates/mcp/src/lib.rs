//! The execution layer's MCP client: `tools/call` on the tool gateway over
//! streamable HTTP, authenticated with an OAuth2 client-credentials token.
//!
//! - [`McpGatewayClient`] implements `ccx_core::ports::McpClient`.
//! - [`OAuthClientCredentials`] implements `ccx_core::ports::TokenProvider`
//!   (Cognito-style token endpoint); [`StaticToken`] is for tests.
//! - [`GatewayConfig::from_env`] + [`client_from_env`] build both once per cold start.
//!
//! Failure classification (see [`classify`]) decides what the state machine
//! retries: TransientError for 5xx/429/timeouts/connection failures, AuthError
//! for a 401/403 that survived one token refresh, PermanentError otherwise.

pub mod classify;
pub mod client;
pub mod config;
pub mod token;
pub mod wire;

use std::sync::Arc;

use ccx_core::error::Result;
use ccx_core::ports::McpClient;

pub use client::{ClientOptions, McpGatewayClient};
pub use config::{GatewayConfig, SecretRef};
pub use token::{
    EnvSecret, OAuthClientCredentials, SecretSource, StaticSecret, StaticToken, parse_secret_string,
};

/// Turns a Secrets Manager ARN into a secret source (supplied by the AWS crate).
pub type ArnResolver<'a> = &'a dyn Fn(&str) -> Arc<dyn SecretSource>;

/// Builds the gateway client from a configuration. `resolve_arn` turns a
/// `CCX_GATEWAY_CLIENT_SECRET_ARN` into a secret source (the AWS crate passes
/// its Secrets Manager reader); without it an ARN is a ConfigurationError.
pub fn client_from_config(
    config: &GatewayConfig,
    resolve_arn: Option<ArnResolver<'_>>,
) -> Result<McpGatewayClient> {
    let secret: Arc<dyn SecretSource> = match (&config.client_secret, resolve_arn) {
        (SecretRef::Value(value), _) => Arc::new(StaticSecret::new(value.clone())),
        (SecretRef::Arn(arn), Some(resolve)) => resolve(arn),
        (SecretRef::Arn(arn), None) => {
            return Err(ccx_core::error::ExecutionError::configuration(
                "GATEWAY_SECRET_SOURCE_MISSING",
                format!(
                    "{} is set ({arn}) but this binary has no Secrets Manager reader; set {} instead",
                    config::ENV_CLIENT_SECRET_ARN,
                    config::ENV_CLIENT_SECRET
                ),
            ));
        }
    };
    let tokens = OAuthClientCredentials::new(
        config.token_url.clone(),
        config.client_id.clone(),
        secret,
        config.scope.clone(),
        config.timeout,
    )?;
    McpGatewayClient::new(
        ClientOptions::new(config.gateway_url.clone())
            .protocol_version(config.protocol_version.clone())
            .timeout(config.timeout),
        Arc::new(tokens),
    )
}

/// The MCP client of a handler binary, configured from the environment
/// (see [`config`] for the variables). Nothing goes over the network until
/// the first call.
pub async fn client_from_env() -> Result<Arc<dyn McpClient>> {
    let config = GatewayConfig::from_env()?;
    Ok(Arc::new(client_from_config(&config, None)?))
}
