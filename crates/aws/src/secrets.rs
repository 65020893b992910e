//! The gateway's client secret from Secrets Manager.
//!
//! The token provider (crate `ccx-mcp`) needs the OAuth2 client secret; on AWS
//! it lives in Secrets Manager. [`SecretsManagerSecret::get_secret`] returns the
//! `SecretString` as stored (JSON or plain); parsing it is the caller's business.

use aws_sdk_secretsmanager::Client;
use ccx_core::error::Result;
use ccx_core::{ErrorClass, ExecutionError};

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
