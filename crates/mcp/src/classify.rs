//! How transport and protocol failures become [`ExecutionError`]s.
//!
//! The Step Functions Retry keys on the error *name*, so this is where the
//! retry policy of the whole flow is decided for the gateway call:
//! - `TransientError` (retried): HTTP 5xx, 429 (class RATE_LIMIT), timeouts
//!   (class TIMEOUT), connection failures, bodies that cannot be parsed at
//!   all (`MALFORMED_RESPONSE`, see [`garbled`]).
//! - `AuthError`: 401/403 that persisted after one token refresh.
//! - `PermanentError` (class DOWNSTREAM): any other 4xx, JSON-RPC errors,
//!   well-formed bodies that are not the JSON-RPC response we asked for.
//!
//! Codes are stable: `HTTP_<status>`, `TIMEOUT`, `CONNECTION_FAILED`,
//! `JSONRPC_<code>`, `MALFORMED_RESPONSE`, `HTTP_401`/`HTTP_403`.

use ccx_core::error::{ErrorClass, ExecutionError};

/// At most this much of a body goes into an error message.
const SNIPPET_CHARS: usize = 300;

/// A short, single-line excerpt of a body for error messages.
pub fn snippet(body: &str) -> String {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = flat.trim();
    if trimmed.chars().count() > SNIPPET_CHARS {
        let cut: String = trimmed.chars().take(SNIPPET_CHARS).collect();
        format!("{cut}...")
    } else if trimmed.is_empty() {
        "<empty body>".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `reqwest::Error`'s Display hides the cause ("error sending request"); the
/// chain says what actually happened (connection refused, reset, DNS).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// True if any error in the chain is a reqwest timeout (an SSE stream wraps
/// the body error of reqwest in its own type).
pub fn chain_has_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(reqwest_err) = err.downcast_ref::<reqwest::Error>()
            && reqwest_err.is_timeout()
        {
            return true;
        }
        current = err.source();
    }
    false
}

pub fn timeout(what: &str, after: std::time::Duration) -> ExecutionError {
    ExecutionError::transient(
        ErrorClass::Timeout,
        "TIMEOUT",
        format!("{what}: no response within {} ms", after.as_millis()),
    )
}

/// A reqwest failure before or while reading a response.
pub fn transport(what: &str, e: &reqwest::Error, after: std::time::Duration) -> ExecutionError {
    if chain_has_timeout(e) {
        return timeout(what, after);
    }
    ExecutionError::transient(
        ErrorClass::Downstream,
        "CONNECTION_FAILED",
        format!("{what}: {}", error_chain(e)),
    )
}

/// A non-success HTTP status that is not 401/403 (those go through the
/// refresh path) and not a JSON-RPC error body (see [`jsonrpc_error`]).
/// `retry_after` is the response's `Retry-After`, kept in the message for
/// operators (the state machine's backoff decides when the retry happens).
pub fn http_status(
    what: &str,
    status: u16,
    content_type: &str,
    body: &str,
    retry_after: Option<&str>,
) -> ExecutionError {
    let code = format!("HTTP_{status}");
    let message = format!(
        "{what}: HTTP {status} ({}){}: {}",
        if content_type.is_empty() {
            "no content type"
        } else {
            content_type
        },
        retry_after
            .map(|r| format!(", Retry-After {r}"))
            .unwrap_or_default(),
        snippet(body)
    );
    if status == 408 {
        // The server gave up waiting for our request: retryable like a timeout.
        ExecutionError::transient(ErrorClass::Timeout, code, message)
    } else if status == 429 {
        ExecutionError::transient(ErrorClass::RateLimit, code, message)
    } else if status >= 500 {
        ExecutionError::transient(ErrorClass::Downstream, code, message)
    } else {
        ExecutionError::permanent(ErrorClass::Downstream, code, message)
    }
}

/// 401/403 after the one refresh.
pub fn unauthorized(what: &str, status: u16, body: &str) -> ExecutionError {
    ExecutionError::auth(
        format!("HTTP_{status}"),
        format!(
            "{what}: the gateway refused the bearer token with HTTP {status} even after a fresh token: {}",
            snippet(body)
        ),
    )
}

/// A JSON-RPC `error` member in place of a result.
pub fn jsonrpc_error(what: &str, error: &serde_json::Value) -> ExecutionError {
    let code = error.get("code").and_then(|c| c.as_i64());
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("<no message>");
    let data = error
        .get("data")
        .map(|d| format!(" (data: {})", snippet(&d.to_string())))
        .unwrap_or_default();
    match code {
        Some(code) => ExecutionError::permanent(
            ErrorClass::Downstream,
            format!("JSONRPC_{code}"),
            format!("{what}: JSON-RPC error {code}: {message}{data}"),
        ),
        None => malformed(
            what,
            &format!(
                "JSON-RPC error without a numeric code: {}",
                snippet(&error.to_string())
            ),
        ),
    }
}

/// A response body that cannot be parsed at all (truncated, not JSON). Unlike a
/// well-formed answer of the wrong shape, a garbled body says nothing about
/// whether the tool ran: the gateway may have written and lost the answer on
/// the way. So it is a `TransientError`: the state machine calls again under
/// the same idempotency key, and the tool answers with its first result.
/// (Found by `ccx chaos`: a timed-out call that had written, retried into a
/// garbled answer, used to be recorded FAILED with the write live.)
pub fn garbled(what: &str, detail: &str) -> ExecutionError {
    ExecutionError::transient(
        ErrorClass::Downstream,
        "MALFORMED_RESPONSE",
        format!("{what}: {detail}"),
    )
}

pub fn malformed(what: &str, detail: &str) -> ExecutionError {
    ExecutionError::permanent(
        ErrorClass::Downstream,
        "MALFORMED_RESPONSE",
        format!("{what}: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_names_classes_and_codes() {
        let e = http_status("call", 503, "text/plain", "down", Some("5"));
        assert!(e.message.contains("Retry-After 5"), "{}", e.message);
        assert_eq!(
            (e.name, e.class, e.code.as_str(), e.retryable),
            ("TransientError", ErrorClass::Downstream, "HTTP_503", true)
        );
        let e = http_status("call", 408, "", "", None);
        assert_eq!(
            (e.name, e.class, e.code.as_str()),
            ("TransientError", ErrorClass::Timeout, "HTTP_408")
        );
        let e = http_status("call", 429, "", "", None);
        assert_eq!(
            (e.name, e.class, e.code.as_str()),
            ("TransientError", ErrorClass::RateLimit, "HTTP_429")
        );
        let e = http_status("call", 400, "text/html", "<html>bad</html>", None);
        assert_eq!(
            (e.name, e.class, e.code.as_str(), e.retryable),
            ("PermanentError", ErrorClass::Downstream, "HTTP_400", false)
        );
        assert!(e.message.contains("<html>bad</html>"));
        let e = unauthorized("call", 403, "");
        assert_eq!(
            (e.name, e.class, e.code.as_str()),
            ("AuthError", ErrorClass::Auth, "HTTP_403")
        );
    }

    #[test]
    fn jsonrpc_error_carries_code_and_message() {
        let e = jsonrpc_error(
            "tools/call x",
            &serde_json::json!({"code": -32602, "message": "Unknown tool: x"}),
        );
        assert_eq!(e.name, "PermanentError");
        assert_eq!(e.code, "JSONRPC_-32602");
        assert!(e.message.contains("-32602") && e.message.contains("Unknown tool: x"));
    }

    #[test]
    fn snippet_is_bounded_and_single_line() {
        let long = "a\n".repeat(1000);
        let s = snippet(&long);
        assert!(!s.contains('\n'));
        assert!(s.len() <= SNIPPET_CHARS * 2 + 3);
        assert_eq!(snippet("  "), "<empty body>");
    }
}
