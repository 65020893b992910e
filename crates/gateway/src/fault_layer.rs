//! The HTTP middleware that applies faults to `tools/call` requests.
//!
//! It buffers the POST body to see the JSON-RPC method (the rmcp service reads
//! the body itself afterwards, so it is handed back unchanged). Only requests
//! whose method is `tools/call` draw a fault, so the handshake and `tools/list`
//! always succeed and a scripted "next N calls" means N tool calls.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::GatewayState;
use crate::faults::Fault;

/// Largest body the middleware buffers; rmcp applies its own limit after it.
const MAX_INSPECTED_BODY: usize = 8 * 1024 * 1024;

fn has_method(body: &[u8], method: &str) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let matches = |v: &Value| v.get("method").and_then(Value::as_str) == Some(method);
    match &value {
        Value::Array(batch) => batch.iter().any(matches),
        single => matches(single),
    }
}

fn is_tool_call(body: &[u8]) -> bool {
    has_method(body, "tools/call")
}

fn status_fault(status: StatusCode) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<html><body><h1>{status}</h1><p>injected by ccx-gateway</p></body></html>"),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

pub async fn inject_faults(
    State(state): State<Arc<GatewayState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_INSPECTED_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")).into_response();
        }
    };
    if has_method(&bytes, "initialize") {
        state.stats.initializations.fetch_add(1, Ordering::SeqCst);
    }
    let tool_call = is_tool_call(&bytes);
    let fault = if tool_call {
        state.stats.tool_calls.fetch_add(1, Ordering::SeqCst);
        state.faults.next_fault()
    } else {
        None
    };
    if let Some(fault) = fault {
        tracing::info!(?fault, "injecting fault into tools/call");
    }
    match fault {
        Some(Fault::Http5xx) => return status_fault(StatusCode::SERVICE_UNAVAILABLE),
        Some(Fault::Http429) => return status_fault(StatusCode::TOO_MANY_REQUESTS),
        Some(Fault::Status(code)) => {
            return status_fault(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": {\"content\": [",
            )
                .into_response();
        }
        Some(tool_level @ (Fault::ToolError | Fault::Partial)) => {
            parts.extensions.insert(tool_level);
        }
        Some(Fault::Timeout) | None => {}
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if fault != Some(Fault::Timeout) {
        if !tool_call {
            return response;
        }
        // The answer to one request ends its stream: buffer it to time the
        // whole handling (`Stats::tool_call_handling_us`).
        let (parts, body) = response.into_parts();
        let buffered = to_bytes(body, MAX_INSPECTED_BODY).await;
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        state
            .stats
            .tool_call_handling_us
            .fetch_add(took, Ordering::SeqCst);
        return match buffered {
            Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
            Err(e) => (StatusCode::BAD_GATEWAY, format!("response body: {e}")).into_response(),
        };
    }
    // Let the tool finish (its write happens), then hold the answer past the
    // client's timeout. Shutdown cuts the wait short so tests never hang.
    let (parts, body) = response.into_parts();
    let delay = state.faults.timeout_delay();
    let buffered = tokio::time::timeout(delay, to_bytes(body, MAX_INSPECTED_BODY)).await;
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = state.shutdown.cancelled() => {}
    }
    match buffered {
        Ok(Ok(bytes)) => Response::from_parts(parts, Body::from(bytes)),
        _ => StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tool_calls_are_eligible() {
        assert!(is_tool_call(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#
        ));
        assert!(is_tool_call(
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#
        ));
        assert!(!is_tool_call(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#
        ));
        assert!(!is_tool_call(b"not json"));
    }
}
