//! Gateway client configuration, read from the environment once per cold start.
//!
//! The gateway URL comes only from here, never from execution input: an intent
//! must not be able to point the invoker at another host.

use std::time::Duration;

use ccx_core::error::{ExecutionError, Result};
use rmcp::model::ProtocolVersion;

pub const ENV_GATEWAY_URL: &str = "CCX_GATEWAY_URL";
pub const ENV_TOKEN_URL: &str = "CCX_GATEWAY_TOKEN_URL";
pub const ENV_CLIENT_ID: &str = "CCX_GATEWAY_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "CCX_GATEWAY_CLIENT_SECRET";
pub const ENV_CLIENT_SECRET_ARN: &str = "CCX_GATEWAY_CLIENT_SECRET_ARN";
pub const ENV_SCOPE: &str = "CCX_GATEWAY_SCOPE";
pub const ENV_PROTOCOL_VERSION: &str = "CCX_MCP_PROTOCOL_VERSION";
pub const ENV_TIMEOUT_MS: &str = "CCX_MCP_TIMEOUT_MS";

/// Protocol versions this client speaks.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// The default: the newest version that still has the `initialize` handshake,
/// which every gateway in the field speaks today.
pub const DEFAULT_PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// Per-request timeout default: well under the invoker Lambda's timeout, so a
/// hung gateway surfaces as a retryable TIMEOUT instead of a killed Lambda.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses one of [`SUPPORTED_PROTOCOL_VERSIONS`].
pub fn parse_protocol_version(value: &str) -> Option<ProtocolVersion> {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .find(|v| v.as_str() == value.trim())
        .cloned()
}

/// Where the client secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The secret itself, read from `CCX_GATEWAY_CLIENT_SECRET`.
    Value(String),
    /// A Secrets Manager ARN (`CCX_GATEWAY_CLIENT_SECRET_ARN`), resolved by the
    /// AWS crate through [`crate::token::SecretSource`].
    Arn(String),
}

/// Everything needed to build the gateway client.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub gateway_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretRef,
    pub scope: Option<String>,
    pub protocol_version: ProtocolVersion,
    pub timeout: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    // Never print the secret value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = match &self.client_secret {
            SecretRef::Value(_) => "<from env>".to_string(),
            SecretRef::Arn(arn) => arn.clone(),
        };
        f.debug_struct("GatewayConfig")
            .field("gateway_url", &self.gateway_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret)
            .field("scope", &self.scope)
            .field("protocol_version", &self.protocol_version.as_str())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl GatewayConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    /// Reports every missing or invalid variable in one ConfigurationError.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut missing = Vec::new();
        let mut invalid = Vec::new();
        let mut required = |name: &'static str| {
            get(name).unwrap_or_else(|| {
                missing.push(name.to_string());
                String::new()
            })
        };
        let gateway_url = required(ENV_GATEWAY_URL);
        let token_url = required(ENV_TOKEN_URL);
        let client_id = required(ENV_CLIENT_ID);
        let client_secret = match (get(ENV_CLIENT_SECRET), get(ENV_CLIENT_SECRET_ARN)) {
            (Some(value), _) => SecretRef::Value(value),
            (None, Some(arn)) => SecretRef::Arn(arn),
            (None, None) => {
                missing.push(format!("{ENV_CLIENT_SECRET} (or {ENV_CLIENT_SECRET_ARN})"));
                SecretRef::Value(String::new())
            }
        };
        for (name, url) in [(ENV_GATEWAY_URL, &gateway_url), (ENV_TOKEN_URL, &token_url)] {
            let is_http = url.starts_with("https://") || url.starts_with("http://");
            if !url.is_empty() && !is_http {
                invalid.push(format!("{name} must be an http(s) URL, got {url:?}"));
            }
        }
        let protocol_version = match get(ENV_PROTOCOL_VERSION) {
            None => DEFAULT_PROTOCOL_VERSION,
            Some(v) => parse_protocol_version(&v).unwrap_or_else(|| {
                let known: Vec<&str> = SUPPORTED_PROTOCOL_VERSIONS
                    .iter()
                    .map(|v| v.as_str())
                    .collect();
                invalid.push(format!(
                    "{ENV_PROTOCOL_VERSION}={v:?} is not one of {}",
                    known.join(", ")
                ));
                DEFAULT_PROTOCOL_VERSION
            }),
        };
        let timeout = match get(ENV_TIMEOUT_MS) {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    invalid.push(format!(
                        "{ENV_TIMEOUT_MS}={v:?} is not a positive number of milliseconds"
                    ));
                    DEFAULT_TIMEOUT
                }
            },
        };
        if !missing.is_empty() || !invalid.is_empty() {
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!(
                    "missing environment variables: {}",
                    missing.join(", ")
                ));
            }
            problems.extend(invalid);
            return Err(ExecutionError::configuration(
                "GATEWAY_CONFIG_INVALID",
                format!("MCP gateway client: {}", problems.join("; ")),
            ));
        }
        Ok(Self {
            gateway_url,
            token_url,
            client_id,
            client_secret,
            scope: get(ENV_SCOPE),
            protocol_version,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn names_every_missing_variable_at_once() {
        let err = GatewayConfig::from_lookup(lookup(&[(ENV_CLIENT_ID, "id")])).unwrap_err();
        assert_eq!(err.name, "ConfigurationError");
        assert_eq!(err.code, "GATEWAY_CONFIG_INVALID");
        for name in [
            ENV_GATEWAY_URL,
            ENV_TOKEN_URL,
            ENV_CLIENT_SECRET,
            ENV_CLIENT_SECRET_ARN,
        ] {
            assert!(
                err.message.contains(name),
                "{name} not named in {}",
                err.message
            );
        }
        assert!(!err.message.contains(ENV_CLIENT_ID));
    }

    #[test]
    fn reads_all_settings_with_defaults() {
        let config = GatewayConfig::from_lookup(lookup(&[
            (ENV_GATEWAY_URL, "https://gw.example/mcp"),
            (
                ENV_TOKEN_URL,
                "https://d.auth.eu-west-1.amazoncognito.com/oauth2/token",
            ),
            (ENV_CLIENT_ID, "id"),
            (
                ENV_CLIENT_SECRET_ARN,
                "arn:aws:secretsmanager:eu-west-1:1:secret:x",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config.client_secret,
            SecretRef::Arn("arn:aws:secretsmanager:eu-west-1:1:secret:x".into())
        );
        assert_eq!(config.protocol_version, DEFAULT_PROTOCOL_VERSION);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.scope, None);

        let config = GatewayConfig::from_lookup(lookup(&[
            (ENV_GATEWAY_URL, "http://127.0.0.1:1/mcp"),
            (ENV_TOKEN_URL, "http://127.0.0.1:1/oauth2/token"),
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "s3cret"),
            (ENV_SCOPE, "gateway/invoke"),
            (ENV_PROTOCOL_VERSION, "2026-07-28"),
            (ENV_TIMEOUT_MS, "2500"),
        ]))
        .unwrap();
        assert_eq!(config.protocol_version, ProtocolVersion::V_2026_07_28);
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.scope.as_deref(), Some("gateway/invoke"));
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn rejects_unknown_protocol_version_and_bad_timeout_together() {
        let err = GatewayConfig::from_lookup(lookup(&[
            (ENV_GATEWAY_URL, "gw.example/mcp"),
            (ENV_TOKEN_URL, "https://t/oauth2/token"),
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "s"),
            (ENV_PROTOCOL_VERSION, "2024-01-01"),
            (ENV_TIMEOUT_MS, "soon"),
        ]))
        .unwrap_err();
        assert!(err.message.contains(ENV_PROTOCOL_VERSION));
        assert!(err.message.contains(ENV_TIMEOUT_MS));
        assert!(err.message.contains(ENV_GATEWAY_URL));
    }
}
