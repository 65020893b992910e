//! The gateway's client secret from Secrets Manager.
//!
//! The token provider (crate `ccx-mcp`) needs the OAuth2 client secret; on AWS
//! it lives in Secrets Manager. [`SecretsManagerSecret::get_secret`] returns the
//! `SecretString` as stored (JSON or plain); parsing it is the caller's business.

use aws_sdk_secretsmanager::Client;
use ccx_core::error::Result;
use ccx_core::{ErrorClass, ExecutionError};
use ccx_mcp::{SecretSource, parse_secret_string};

use crate::sdk_error::service_error;

#[derive(Clone)]
pub struct SecretsManagerSecret {
    client: Client,
}

impl SecretsManagerSecret {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The current `SecretString` of `secret_id` (ARN or name).
    pub async fn get_secret(&self, secret_id: &str) -> Result<String> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception())
                {
                    ExecutionError::configuration(
                        "SECRET_NOT_FOUND",
                        format!("secret {secret_id} does not exist"),
                    )
                } else {
                    service_error(
                        "Secrets Manager GetSecretValue",
                        secret_id,
                        "SECRET_READ_FAILED",
                        &e,
                    )
                }
            })?;
        out.secret_string().map(str::to_string).ok_or_else(|| {
            ExecutionError::permanent(
                ErrorClass::Auth,
                "SECRET_NOT_A_STRING",
                format!(
                    "secret {secret_id} has no SecretString (binary secrets are not supported)"
                ),
            )
        })
    }
}

/// The gateway client secret behind `ccx_mcp`'s [`SecretSource`]: read from
/// Secrets Manager at each token fetch (tokens are cached by the token
/// provider, so this is once per token lifetime, and a rotated secret is
/// picked up without a cold start). The stored string may be the plain secret
/// or JSON holding it ([`ccx_mcp::parse_secret_string`]).
pub struct SecretsManagerSource {
    reader: SecretsManagerSecret,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(reader: SecretsManagerSecret, secret_id: impl Into<String>) -> Self {
        Self {
            reader,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait::async_trait]
impl SecretSource for SecretsManagerSource {
    async fn secret(&self) -> Result<String> {
        parse_secret_string(&self.reader.get_secret(&self.secret_id).await?)
    }
}
