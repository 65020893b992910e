//! Bearer tokens for the gateway: OAuth2 client credentials against a Cognito
//! style token endpoint, cached until shortly before expiry.
//!
//! One fetch is shared by concurrent callers: the cache sits behind an async
//! mutex held across the fetch, so callers arriving meanwhile wait and then
//! read the fresh token instead of each hitting the endpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccx_core::error::{ErrorClass, ExecutionError, Result};
use ccx_core::ports::TokenProvider;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Where the OAuth client secret comes from. The env implementation lives
/// here; the AWS crate adds Secrets Manager behind the same trait.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self) -> Result<String>;
}

/// The client secret inside a stored secret string: either the plain secret,
/// or a JSON object holding it under `client_secret` (also `clientSecret` or
/// `secret`), the two shapes Secrets Manager entries take in practice.
pub fn parse_secret_string(stored: &str) -> Result<String> {
    let trimmed = stored.trim();
    if !trimmed.starts_with('{') {
        return Ok(trimmed.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| {
        ExecutionError::configuration(
            "GATEWAY_SECRET_UNREADABLE",
            format!("secret looks like JSON but is not: {e}"),
        )
    })?;
    ["client_secret", "clientSecret", "secret"]
        .iter()
        .find_map(|key| value.get(*key).and_then(|v| v.as_str()))
        .map(str::to_string)
        .ok_or_else(|| {
            ExecutionError::configuration(
                "GATEWAY_SECRET_UNREADABLE",
                "secret JSON has no client_secret, clientSecret or secret string member",
            )
        })
}

/// A secret known up front (read from `CCX_GATEWAY_CLIENT_SECRET`, or a test value).
pub struct StaticSecret(String);

impl StaticSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

#[async_trait]
impl SecretSource for StaticSecret {
    async fn secret(&self) -> Result<String> {
        Ok(self.0.clone())
    }
}

/// Reads the secret from an environment variable at each token fetch.
pub struct EnvSecret {
    pub var: String,
}

#[async_trait]
impl SecretSource for EnvSecret {
    async fn secret(&self) -> Result<String> {
        std::env::var(&self.var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ExecutionError::configuration(
                    "GATEWAY_SECRET_MISSING",
                    format!("environment variable {} is not set", self.var),
                )
            })
    }
}

/// A fixed token (tests, or a gateway without OAuth). `invalidate` is a no-op.
pub struct StaticToken(String);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<String> {
        Ok(self.0.clone())
    }
    async fn invalidate(&self) {}
}

/// Tokens are refreshed this long before `expires_in` runs out (or at half the
/// lifetime for tokens shorter than twice this), so a token never expires
/// between being handed out and reaching the gateway.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

struct CachedToken {
    token: String,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// OAuth2 client-credentials grant: `POST token_url` with
/// `grant_type=client_credentials[&scope=..]` and HTTP Basic client auth.
pub struct OAuthClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    scope: Option<String>,
    secret: Arc<dyn SecretSource>,
    cache: Mutex<Option<CachedToken>>,
}

impl OAuthClientCredentials {
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        secret: Arc<dyn SecretSource>,
        scope: Option<String>,
        timeout: Duration,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| {
                ExecutionError::configuration(
                    "HTTP_CLIENT_BUILD_FAILED",
                    format!("token client: {e}"),
                )
            })?;
        Ok(Self {
            http,
            token_url: token_url.into(),
            client_id: client_id.into(),
            scope,
            secret,
            cache: Mutex::new(None),
        })
    }

    async fn fetch(&self) -> Result<CachedToken> {
        let secret = self.secret.secret().await?;
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        let response = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(secret))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| token_transport_error(&self.token_url, &e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| token_transport_error(&self.token_url, &e))?;
        let snippet = crate::classify::snippet(&body);
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ExecutionError::transient(
                ErrorClass::RateLimit,
                "TOKEN_HTTP_429",
                format!(
                    "token endpoint {} throttled the request: {snippet}",
                    self.token_url
                ),
            ));
        }
        if status.is_server_error() {
            return Err(ExecutionError::transient(
                ErrorClass::Downstream,
                format!("TOKEN_HTTP_{}", status.as_u16()),
                format!(
                    "token endpoint {} answered {status}: {snippet}",
                    self.token_url
                ),
            ));
        }
        if !status.is_success() {
            return Err(ExecutionError::auth(
                "TOKEN_REQUEST_REJECTED",
                format!(
                    "token endpoint {} refused client {} with {status}: {snippet}",
                    self.token_url, self.client_id
                ),
            ));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            ExecutionError::permanent(
                ErrorClass::Auth,
                "TOKEN_MALFORMED_RESPONSE",
                format!(
                    "token endpoint {} sent an unreadable body ({e}): {snippet}",
                    self.token_url
                ),
            )
        })?;
        if let Some(kind) = &parsed.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(ExecutionError::permanent(
                ErrorClass::Auth,
                "TOKEN_MALFORMED_RESPONSE",
                format!(
                    "token endpoint {} issued a {kind} token, not a Bearer token",
                    self.token_url
                ),
            ));
        }
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let margin = EXPIRY_MARGIN.min(lifetime / 2);
        Ok(CachedToken {
            token: parsed.access_token,
            refresh_at: Instant::now() + (lifetime - margin),
        })
    }
}

fn token_transport_error(url: &str, e: &reqwest::Error) -> ExecutionError {
    if e.is_timeout() {
        ExecutionError::transient(
            ErrorClass::Timeout,
            "TOKEN_TIMEOUT",
            format!("token endpoint {url} timed out: {e}"),
        )
    } else {
        ExecutionError::transient(
            ErrorClass::Downstream,
            "TOKEN_CONNECTION_FAILED",
            format!(
                "token endpoint {url} unreachable: {}",
                crate::classify::error_chain(e)
            ),
        )
    }
}

#[async_trait]
impl TokenProvider for OAuthClientCredentials {
    async fn token(&self) -> Result<String> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_strings_may_be_plain_or_json() {
        assert_eq!(parse_secret_string(" s3cret\n").unwrap(), "s3cret");
        assert_eq!(
            parse_secret_string(r#"{"client_secret":"a"}"#).unwrap(),
            "a"
        );
        assert_eq!(
            parse_secret_string(r#"{"clientSecret":"b","x":1}"#).unwrap(),
            "b"
        );
        let err = parse_secret_string(r#"{"password":"c"}"#).unwrap_err();
        assert_eq!(err.code, "GATEWAY_SECRET_UNREADABLE");
    }

    #[tokio::test]
    async fn env_secret_names_the_missing_variable() {
        let err = EnvSecret {
            var: "CCX_TEST_SURELY_UNSET_SECRET".into(),
        }
        .secret()
        .await
        .unwrap_err();
        assert_eq!(err.name, "ConfigurationError");
        assert!(err.message.contains("CCX_TEST_SURELY_UNSET_SECRET"));
    }
}
