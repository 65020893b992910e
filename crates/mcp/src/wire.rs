//! One streamable-HTTP exchange: POST a JSON-RPC message, decode the answer
//! whether it comes as `application/json` or as a `text/event-stream`.
//!
//! Why hand-written on reqwest rather than rmcp's `StreamableHttpClientTransport`:
//! the execution layer must classify every failure precisely (retryable or not,
//! which code), and rmcp's transport reports most HTTP failures only as strings
//! (`UnexpectedServerResponse("HTTP 400 ...")`, a 401 without a challenge
//! likewise) and, behind its worker, a failed POST closes the whole service.
//! Here every outcome keeps its status code, body and content type. rmcp is
//! still the source of the protocol vocabulary (versions, header names).

use std::time::Duration;

use ccx_core::error::ExecutionError;
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde_json::Value;

use crate::classify;

pub const HEADER_SESSION_ID: &str = "Mcp-Session-Id";
pub const HEADER_PROTOCOL_VERSION: &str = "MCP-Protocol-Version";
pub const HEADER_MCP_METHOD: &str = "Mcp-Method";
pub const HEADER_MCP_NAME: &str = "Mcp-Name";

/// Responses larger than this are refused rather than buffered.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why a POST did not produce a usable answer.
#[derive(Debug)]
pub enum PostError {
    /// 401 or 403: the caller refreshes the token once and retries.
    Unauthorized { status: u16, body: String },
    /// 404 to a request that carried a session id: the session is gone.
    SessionExpired,
    /// Anything else, already classified.
    Failed(ExecutionError),
}

impl From<ExecutionError> for PostError {
    fn from(e: ExecutionError) -> Self {
        PostError::Failed(e)
    }
}

/// Headers of one POST.
#[derive(Debug, Default, Clone)]
pub struct PostHeaders<'a> {
    pub token: &'a str,
    pub session_id: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
    /// SEP-2243 routing headers (protocol 2026-07-28 and later).
    pub mcp_method: Option<&'a str>,
    pub mcp_name: Option<String>,
}

/// The answer to a JSON-RPC request.
#[derive(Debug)]
pub struct Reply {
    /// The `result` member.
    pub result: Value,
    /// `Mcp-Session-Id` of the HTTP response, when the server set one.
    pub session_id: Option<String>,
}

/// Where the answer of one request is read from.
pub struct Wire {
    pub http: reqwest::Client,
    pub url: String,
    pub timeout: Duration,
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn is_media(content_type: &str, media: &str) -> bool {
    content_type.split(';').next().map(str::trim) == Some(media)
}

async fn read_body(
    what: &str,
    mut response: reqwest::Response,
    timeout: Duration,
) -> Result<String, ExecutionError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify::transport(what, &e, timeout))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(classify::malformed(
                what,
                &format!("response body larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// True if `message` is the response to request `id`. Per 2026-07-28 an error
/// response may omit the id when the request could not be read; on this POST
/// only our request is outstanding, so such an error is ours too.
fn is_response_to(message: &Value, id: u64) -> bool {
    let is_response = message.get("result").is_some() || message.get("error").is_some();
    if !is_response {
        return false;
    }
    match message.get("id") {
        Some(Value::Number(n)) => n.as_u64() == Some(id),
        Some(Value::String(s)) => s == &id.to_string(),
        None | Some(Value::Null) => message.get("error").is_some(),
        _ => false,
    }
}

/// Picks our response out of a message (or batch) and unwraps `result`.
fn take_result(what: &str, message: Value, id: u64) -> Result<Value, ExecutionError> {
    let candidates = match message {
        Value::Array(batch) => batch,
        other => vec![other],
    };
    let found = candidates.into_iter().find(|m| is_response_to(m, id));
    let Some(mut response) = found else {
        return Err(classify::malformed(
            what,
            &format!("the body holds no JSON-RPC response to request id {id}"),
        ));
    };
    if let Some(error) = response.get("error") {
        return Err(classify::jsonrpc_error(what, error));
    }
    match response.get_mut("result").map(Value::take) {
        Some(result @ Value::Object(_)) => Ok(result),
        Some(other) => Err(classify::malformed(
            what,
            &format!(
                "JSON-RPC result is not an object: {}",
                classify::snippet(&other.to_string())
            ),
        )),
        None => Err(classify::malformed(
            what,
            "JSON-RPC response has neither result nor error",
        )),
    }
}

impl Wire {
    fn request(&self, headers: &PostHeaders<'_>, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header(ACCEPT, "application/json, text/event-stream")
            .bearer_auth(headers.token)
            .json(body);
        if let Some(session) = headers.session_id {
            request = request.header(HEADER_SESSION_ID, session);
        }
        if let Some(version) = headers.protocol_version {
            request = request.header(HEADER_PROTOCOL_VERSION, version);
        }
        if let Some(method) = headers.mcp_method {
            request = request.header(HEADER_MCP_METHOD, method);
        }
        if let Some(name) = &headers.mcp_name {
            request = request.header(HEADER_MCP_NAME, name.as_str());
        }
        request
    }

    /// Sends the status-level checks shared by requests and notifications.
    async fn send(
        &self,
        what: &str,
        headers: &PostHeaders<'_>,
        body: &Value,
    ) -> Result<reqwest::Response, PostError> {
        let response = self
            .request(headers, body)
            .send()
            .await
            .map_err(|e| classify::transport(what, &e, self.timeout))?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            let body = read_body(what, response, self.timeout)
                .await
                .unwrap_or_default();
            return Err(PostError::Unauthorized { status, body });
        }
        if status == 404 && headers.session_id.is_some() {
            return Err(PostError::SessionExpired);
        }
        if !(200..300).contains(&status) {
            let ct = content_type(response.headers());
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = read_body(what, response, self.timeout).await?;
            // A 4xx carrying a JSON-RPC error (rmcp answers bad params with 400)
            // is reported as that error; 5xx and 429 stay retryable whatever the body.
            if status < 500
                && status != 429
                && is_media(&ct, "application/json")
                && let Ok(value) = serde_json::from_str::<Value>(&text)
                && let Some(error) = value.get("error")
            {
                return Err(classify::jsonrpc_error(what, error).into());
            }
            return Err(
                classify::http_status(what, status, &ct, &text, retry_after.as_deref()).into(),
            );
        }
        Ok(response)
    }

    /// POSTs request `id` and returns its result, bounded by the timeout.
    pub async fn call(
        &self,
        what: &str,
        id: u64,
        headers: &PostHeaders<'_>,
        body: &Value,
    ) -> Result<Reply, PostError> {
        match tokio::time::timeout(self.timeout, self.call_inner(what, id, headers, body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(classify::timeout(what, self.timeout).into()),
        }
    }

    async fn call_inner(
        &self,
        what: &str,
        id: u64,
        headers: &PostHeaders<'_>,
        body: &Value,
    ) -> Result<Reply, PostError> {
        let response = self.send(what, headers, body).await?;
        let status = response.status().as_u16();
        let session_id = response
            .headers()
            .get(HEADER_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ct = content_type(response.headers());
        if status == 202 || status == 204 {
            return Err(classify::malformed(
                what,
                &format!("HTTP {status} without a response to the request"),
            )
            .into());
        }
        let result = if is_media(&ct, "application/json") {
            let text = read_body(what, response, self.timeout).await?;
            let message: Value = serde_json::from_str(&text).map_err(|e| {
                classify::garbled(
                    what,
                    &format!("body is not valid JSON ({e}): {}", classify::snippet(&text)),
                )
            })?;
            take_result(what, message, id)?
        } else if is_media(&ct, "text/event-stream") {
            self.read_sse(what, id, response).await?
        } else {
            let text = read_body(what, response, self.timeout)
                .await
                .unwrap_or_default();
            return Err(classify::malformed(
                what,
                &format!(
                    "HTTP {status} with unexpected content type {:?}: {}",
                    if ct.is_empty() { "<none>" } else { ct.as_str() },
                    classify::snippet(&text)
                ),
            )
            .into());
        };
        Ok(Reply { result, session_id })
    }

    /// Reads SSE events until the response to `id`; notifications and server
    /// requests on the stream are skipped (the gateway's tools send none we need).
    async fn read_sse(
        &self,
        what: &str,
        id: u64,
        response: reqwest::Response,
    ) -> Result<Value, ExecutionError> {
        let mut events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| {
                if classify::chain_has_timeout(&e) {
                    return classify::timeout(what, self.timeout);
                }
                ExecutionError::transient(
                    ccx_core::error::ErrorClass::Downstream,
                    "CONNECTION_FAILED",
                    format!("{what}: event stream broke: {}", classify::error_chain(&e)),
                )
            })?;
            let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                continue; // priming events and keep-alives carry no data
            };
            let message: Value = serde_json::from_str(&data).map_err(|e| {
                classify::garbled(
                    what,
                    &format!(
                        "event data is not valid JSON ({e}): {}",
                        classify::snippet(&data)
                    ),
                )
            })?;
            let is_ours = match &message {
                Value::Array(batch) => batch.iter().any(|m| is_response_to(m, id)),
                single => is_response_to(single, id),
            };
            if is_ours {
                return take_result(what, message, id);
            }
        }
        Err(classify::malformed(
            what,
            "event stream ended before the response arrived",
        ))
    }

    /// POSTs a notification; the server answers 202 (any 2xx is accepted).
    pub async fn notify(
        &self,
        what: &str,
        headers: &PostHeaders<'_>,
        body: &Value,
    ) -> Result<(), PostError> {
        match tokio::time::timeout(self.timeout, self.send(what, headers, body)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(classify::timeout(what, self.timeout).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_the_matching_response() {
        let batch = json!([
            {"jsonrpc":"2.0","method":"notifications/message","params":{}},
            {"jsonrpc":"2.0","id":7,"result":{"content":[]}}
        ]);
        assert_eq!(take_result("x", batch, 7).unwrap(), json!({"content": []}));
        let other = json!({"jsonrpc":"2.0","id":8,"result":{}});
        assert_eq!(
            take_result("x", other, 7).unwrap_err().code,
            "MALFORMED_RESPONSE"
        );
        let err = json!({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}});
        assert_eq!(take_result("x", err, 7).unwrap_err().code, "JSONRPC_-32700");
        let string_id = json!({"jsonrpc":"2.0","id":"7","result":{"a":1}});
        assert_eq!(take_result("x", string_id, 7).unwrap(), json!({"a": 1}));
        let not_object = json!({"jsonrpc":"2.0","id":7,"result":[1]});
        assert_eq!(
            take_result("x", not_object, 7).unwrap_err().code,
            "MALFORMED_RESPONSE"
        );
    }

    #[test]
    fn media_types_ignore_parameters() {
        assert!(is_media(
            "application/json; charset=utf-8",
            "application/json"
        ));
        assert!(!is_media("application/json-seq", "application/json"));
    }
}
