//! [`McpGatewayClient`]: the [`McpClient`] port over MCP streamable HTTP.
//!
//! Built once per cold start and shared: the HTTP connection pool and the MCP
//! session (when the server issues one) are reused across calls. Lifecycle:
//! - protocol versions with a handshake (2025-03-26 .. 2025-11-25): the first
//!   call sends `initialize` + `notifications/initialized`, keeps the
//!   `Mcp-Session-Id` if one is issued (stateless servers issue none) and the
//!   negotiated version for the `MCP-Protocol-Version` header. A 404 to a
//!   request carrying the session id means the session expired: the client
//!   initialises again and retries once (the server did not run the call).
//! - 2026-07-28: no handshake; every request carries the client context in
//!   `_meta` and the SEP-2243 `Mcp-Method` / `Mcp-Name` headers.
//!
//! A 401/403 invalidates the token and retries once with a fresh one (the
//! server refused before running anything); a second refusal is an AuthError.
//! Every HTTP exchange is bounded by the configured timeout; a call makes at
//! most a handful of them (token, handshake, call, one retry).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use ccx_core::error::{ErrorClass, ExecutionError, Result};
use ccx_core::ports::{McpClient, TokenProvider, ToolCallResponse};
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::classify;
use crate::config::{DEFAULT_TIMEOUT, SUPPORTED_PROTOCOL_VERSIONS};
use crate::wire::{PostError, PostHeaders, Wire};

/// An established MCP session (or the per-request context of a stateless one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    /// `Mcp-Session-Id` issued by the server, if any.
    id: Option<String>,
    /// The version the server agreed to, sent as `MCP-Protocol-Version`.
    protocol_version: String,
}

/// What the client needs besides the token provider.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub gateway_url: String,
    pub protocol_version: ProtocolVersion,
    pub timeout: Duration,
}

impl ClientOptions {
    pub fn new(gateway_url: impl Into<String>) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            protocol_version: crate::config::DEFAULT_PROTOCOL_VERSION,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn protocol_version(mut self, version: ProtocolVersion) -> Self {
        self.protocol_version = version;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

pub struct McpGatewayClient {
    wire: Wire,
    tokens: Arc<dyn TokenProvider>,
    protocol_version: ProtocolVersion,
    /// Held across the handshake so concurrent first calls share one session.
    session: Mutex<Option<Arc<Session>>>,
    next_id: AtomicU64,
}

fn client_info() -> Value {
    json!({"name": "ccx-mcp", "version": env!("CARGO_PKG_VERSION")})
}

/// RFC 9110 token characters may go in a header as is; anything else is sent
/// in the SEP-2243 `=?base64?...?=` form.
fn header_safe(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/:".contains(c));
    if plain {
        value.to_string()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    }
}

enum Attempt {
    Done(Result<ToolCallResponse>),
    RetryWithFreshToken,
    RetryWithNewSession(Arc<Session>),
}

impl McpGatewayClient {
    pub fn new(options: ClientOptions, tokens: Arc<dyn TokenProvider>) -> Result<Self> {
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&options.protocol_version) {
            return Err(ExecutionError::configuration(
                "UNSUPPORTED_PROTOCOL_VERSION",
                format!(
                    "MCP protocol version {} is not supported",
                    options.protocol_version
                ),
            ));
        }
        // The per-request bound is the tokio timeout around each exchange in
        // `Wire`, which covers reading an SSE stream to the end; reqwest only
        // bounds connecting, so the two never race to report the same timeout.
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| {
                ExecutionError::configuration(
                    "HTTP_CLIENT_BUILD_FAILED",
                    format!("MCP client: {e}"),
                )
            })?;
        Ok(Self {
            wire: Wire {
                http,
                url: options.gateway_url,
                timeout: options.timeout,
            },
            tokens,
            protocol_version: options.protocol_version,
            session: Mutex::new(None),
            next_id: AtomicU64::new(1),
        })
    }

    /// The `Mcp-Session-Id` in use, if the server issued one (diagnostics, tests).
    pub async fn session_id(&self) -> Option<String> {
        self.session
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.id.clone())
    }

    /// The protocol version agreed with the server, once a call has been made.
    pub async fn negotiated_protocol_version(&self) -> Option<String> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|s| s.protocol_version.clone())
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The current session, establishing it if needed.
    async fn session(&self, token: &str) -> std::result::Result<Arc<Session>, PostError> {
        let mut guard = self.session.lock().await;
        if let Some(session) = guard.as_ref() {
            return Ok(session.clone());
        }
        let session = if self.protocol_version.has_initialize() {
            Arc::new(self.initialize(token).await?)
        } else {
            Arc::new(Session {
                id: None,
                protocol_version: self.protocol_version.to_string(),
            })
        };
        *guard = Some(session.clone());
        Ok(session)
    }

    /// Forget `stale` (unless another caller already replaced it).
    async fn drop_session(&self, stale: &Arc<Session>) {
        let mut guard = self.session.lock().await;
        if guard
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, stale))
        {
            *guard = None;
        }
    }

    async fn initialize(&self, token: &str) -> std::result::Result<Session, PostError> {
        let what = "MCP initialize";
        let id = self.id();
        let body = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "initialize",
            "params": {
                "protocolVersion": self.protocol_version.as_str(),
                "capabilities": {},
                "clientInfo": client_info(),
            }
        });
        let headers = PostHeaders {
            token,
            ..Default::default()
        };
        let reply = self.wire.call(what, id, &headers, &body).await?;
        let agreed = reply
            .result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| classify::malformed(what, "initialize result has no protocolVersion"))?
            .to_string();
        if !SUPPORTED_PROTOCOL_VERSIONS
            .iter()
            .any(|v| v.as_str() == agreed)
        {
            return Err(ExecutionError::permanent(
                ErrorClass::Downstream,
                "UNSUPPORTED_PROTOCOL_VERSION",
                format!(
                    "{what}: the gateway answered protocol version {agreed}, which this client does not speak (asked for {})",
                    self.protocol_version
                ),
            )
            .into());
        }
        let session = Session {
            id: reply.session_id,
            protocol_version: agreed,
        };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let headers = PostHeaders {
            token,
            session_id: session.id.as_deref(),
            protocol_version: Some(&session.protocol_version),
            ..Default::default()
        };
        self.wire
            .notify("MCP notifications/initialized", &headers, &initialized)
            .await?;
        tracing::debug!(session = ?session.id, version = %session.protocol_version, "MCP session established");
        Ok(session)
    }

    async fn attempt(&self, name: &str, arguments: &Value, last_try: bool) -> Attempt {
        let what = format!("tools/call {name}");
        let token = match self.tokens.token().await {
            Ok(t) => t,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let unauthorized = |status: u16, body: &str| {
            if last_try {
                Attempt::Done(Err(classify::unauthorized(&what, status, body)))
            } else {
                Attempt::RetryWithFreshToken
            }
        };
        let session = match self.session(&token).await {
            Ok(s) => s,
            Err(PostError::Unauthorized { status, body }) => return unauthorized(status, &body),
            Err(PostError::SessionExpired) => {
                return Attempt::Done(Err(classify::malformed(
                    "MCP initialize",
                    "HTTP 404 to initialize",
                )));
            }
            Err(PostError::Failed(e)) => return Attempt::Done(Err(e)),
        };
        let id = self.id();
        let mut params = json!({"name": name, "arguments": arguments});
        let stateless_protocol = !self.protocol_version.has_initialize();
        if stateless_protocol {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": session.protocol_version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": client_info(),
            });
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let headers = PostHeaders {
            token: &token,
            session_id: session.id.as_deref(),
            protocol_version: Some(&session.protocol_version),
            mcp_method: stateless_protocol.then_some("tools/call"),
            mcp_name: stateless_protocol.then(|| header_safe(name)),
        };
        match self.wire.call(&what, id, &headers, &body).await {
            Ok(reply) => Attempt::Done(decode_tool_result(&what, reply.result)),
            Err(PostError::Unauthorized { status, body }) => unauthorized(status, &body),
            Err(PostError::SessionExpired) => Attempt::RetryWithNewSession(session),
            Err(PostError::Failed(e)) => Attempt::Done(Err(e)),
        }
    }
}

/// Maps a `CallToolResult` to the port's response, checking its shape.
fn decode_tool_result(what: &str, result: Value) -> Result<ToolCallResponse> {
    if let Some(kind) = result.get("resultType").and_then(Value::as_str)
        && kind != "complete"
    {
        return Err(ExecutionError::permanent(
            ErrorClass::Downstream,
            "UNSUPPORTED_RESULT_TYPE",
            format!(
                "{what}: the tool answered resultType {kind:?}; only complete results are supported"
            ),
        ));
    }
    let content = match result.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(blocks)) => blocks.clone(),
        Some(other) => {
            return Err(classify::malformed(
                what,
                &format!(
                    "CallToolResult.content is not an array: {}",
                    classify::snippet(&other.to_string())
                ),
            ));
        }
    };
    let is_error = match result.get("isError") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(classify::malformed(
                what,
                &format!("CallToolResult.isError is not a boolean: {other}"),
            ));
        }
    };
    let structured_content = result
        .get("structuredContent")
        .filter(|v| !v.is_null())
        .cloned();
    Ok(ToolCallResponse {
        is_error,
        content,
        structured_content,
        raw: result,
    })
}

#[async_trait]
impl McpClient for McpGatewayClient {
    async fn call_tool(&self, name: &str, arguments: &Value) -> Result<ToolCallResponse> {
        if !arguments.is_object() {
            return Err(ExecutionError::validation(
                "TOOL_ARGUMENTS_NOT_OBJECT",
                format!("tools/call {name}: arguments must be a JSON object, got {arguments}"),
            ));
        }
        let mut token_refreshed = false;
        let mut session_renewed = false;
        loop {
            match self.attempt(name, arguments, token_refreshed).await {
                Attempt::Done(outcome) => return outcome,
                Attempt::RetryWithFreshToken => {
                    tracing::info!(
                        tool = name,
                        "gateway refused the token; retrying once with a fresh one"
                    );
                    self.tokens.invalidate().await;
                    token_refreshed = true;
                }
                Attempt::RetryWithNewSession(stale) if !session_renewed => {
                    tracing::info!(tool = name, "MCP session expired; initialising a new one");
                    self.drop_session(&stale).await;
                    session_renewed = true;
                }
                Attempt::RetryWithNewSession(_) => {
                    return Err(ExecutionError::permanent(
                        ErrorClass::Downstream,
                        "SESSION_EXPIRED",
                        format!(
                            "tools/call {name}: the gateway rejected a freshly initialised session (HTTP 404)"
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_results_and_rejects_bad_shapes() {
        let ok = decode_tool_result(
            "t",
            json!({"content":[{"type":"text","text":"{}"}],"structuredContent":{"success":true},"isError":false}),
        )
        .unwrap();
        assert!(!ok.is_error);
        assert_eq!(ok.content.len(), 1);
        assert_eq!(ok.structured_content, Some(json!({"success": true})));
        assert_eq!(ok.raw["isError"], false);
        let err = decode_tool_result("t", json!({"content": "nope"})).unwrap_err();
        assert_eq!(err.code, "MALFORMED_RESPONSE");
        let err = decode_tool_result("t", json!({"resultType": "input_required"})).unwrap_err();
        assert_eq!(err.code, "UNSUPPORTED_RESULT_TYPE");
    }

    #[test]
    fn header_values_are_wrapped_when_needed() {
        assert_eq!(header_safe("crm.create_task"), "crm.create_task");
        assert_eq!(header_safe("naïve tool"), "=?base64?bmHDr3ZlIHRvb2w=?=");
    }
}
