//! OAuth2 client-credentials for the dev gateway: a token endpoint shaped like
//! Cognito's (`POST /oauth2/token`, HTTP Basic client auth, form body) and the
//! bearer check in front of `/mcp`. Tokens are opaque random strings kept in
//! memory with their expiry, so tests can revoke them to provoke a 401.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::GatewayState;

/// Issues and checks bearer tokens for one configured client.
pub struct TokenIssuer {
    client_id: String,
    client_secret: String,
    ttl: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    issued: AtomicU64,
}

impl TokenIssuer {
    pub fn new(client_id: String, client_secret: String, ttl: Duration) -> Self {
        Self {
            client_id,
            client_secret,
            ttl,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues a token if the credentials match.
    pub fn issue(&self, client_id: &str, client_secret: &str) -> Option<(String, Duration)> {
        if client_id != self.client_id || client_secret != self.client_secret {
            return None;
        }
        let token = format!("gw_{}", uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let mut tokens = self.tokens();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), now + self.ttl);
        self.issued.fetch_add(1, Ordering::SeqCst);
        Some((token, self.ttl))
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.tokens()
            .get(token)
            .is_some_and(|expiry| *expiry > Instant::now())
    }

    /// Forget every issued token: the next MCP request gets a 401.
    pub fn revoke_all(&self) {
        self.tokens().clear();
    }

    /// How many tokens the endpoint has issued (successful token requests).
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    /// `client_secret_post` fallback when no Basic header is sent.
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth2/token`: `grant_type=client_credentials`, client auth by HTTP
/// Basic (as Cognito expects) or form fields.
pub async fn token_endpoint(
    State(state): State<std::sync::Arc<GatewayState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    state.stats.token_requests.fetch_add(1, Ordering::SeqCst);
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        );
    }
    let form_credentials = form.client_id.zip(form.client_secret);
    let credentials = basic_credentials(&headers).or(form_credentials);
    let Some((id, secret)) = credentials else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication required",
        );
    };
    match state.tokens.issue(&id, &secret) {
        Some((token, ttl)) => {
            let mut body = json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl.as_secs(),
            });
            if let Some(scope) = form.scope {
                body["scope"] = json!(scope);
            }
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or bad secret",
        ),
    }
}

/// Bearer check in front of `/mcp`: 401 without a token or with an unknown,
/// revoked or expired one.
pub async fn require_bearer(
    State(state): State<std::sync::Arc<GatewayState>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let (error, description) = match token {
        None => ("invalid_request", "bearer token required"),
        Some(t) if state.tokens.is_valid(t) => return next.run(request).await,
        Some(_) => ("invalid_token", "unknown, revoked or expired token"),
    };
    state.stats.unauthorized.fetch_add(1, Ordering::SeqCst);
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let challenge = format!("Bearer realm=\"ccx-gateway\", error=\"{error}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_only_to_the_configured_client_and_revokes() {
        let issuer = TokenIssuer::new("id".into(), "secret".into(), Duration::from_secs(60));
        assert!(issuer.issue("id", "wrong").is_none());
        let (token, ttl) = issuer.issue("id", "secret").unwrap();
        assert_eq!(ttl, Duration::from_secs(60));
        assert!(issuer.is_valid(&token));
        assert!(!issuer.is_valid("gw_other"));
        issuer.revoke_all();
        assert!(!issuer.is_valid(&token));
        assert_eq!(issuer.issued(), 1);
    }

    #[test]
    fn parses_basic_credentials() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("my-id:my:secret");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my-id".to_string(), "my:secret".to_string()))
        );
    }
}
