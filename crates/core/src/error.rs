//! The one error type of the execution layer.
//!
//! Every failure a handler can raise is an [`ExecutionError`]. Its `name` is the
//! Step Functions error name that the state machine retries and catches on
//! (`TransientError`, `ValidationError`, ...); its `class` and `code` are what the
//! failure recorder writes into the outcome. The Lambda binaries report
//! `errorType = name` and `errorMessage = {"class","code","message"}` JSON, see
//! [`ExecutionError::to_cause_json`] and the `From` impl for `lambda_runtime::Diagnostic`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Step Functions error names. These strings appear in `statemachine/execution.asl.json`
/// (Retry and Catch `ErrorEquals`), so they are a contract: do not rename.
pub mod names {
    /// Retryable: 5xx, 429, timeouts, connection errors, store throttling.
    pub const TRANSIENT: &str = "TransientError";
    /// Bad or inadmissible input: unknown intent, expired, kill switch, mapping invalid.
    pub const VALIDATION: &str = "ValidationError";
    /// The gateway refused our credentials (401/403 after one refresh).
    pub const AUTH: &str = "AuthError";
    /// A downstream refused the request for good (4xx, JSON-RPC error, unparseable).
    pub const PERMANENT: &str = "PermanentError";
    /// The intent is already locked by another execution or already terminal.
    /// The state machine ends such an execution without writing anything.
    pub const DUPLICATE_START: &str = "DuplicateStartError";
    /// The handler is misconfigured (missing environment, unreadable data folder).
    pub const CONFIGURATION: &str = "ConfigurationError";
    /// A store write lost a race or found an unexpected state (not retryable as is).
    pub const CONFLICT: &str = "ConflictError";
}

/// Error classes recorded in outcomes (the reference system's taxonomy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorClass {
    Validation,
    Auth,
    RateLimit,
    Downstream,
    Timeout,
    Unknown,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Validation => "VALIDATION",
            ErrorClass::Auth => "AUTH",
            ErrorClass::RateLimit => "RATE_LIMIT",
            ErrorClass::Downstream => "DOWNSTREAM",
            ErrorClass::Timeout => "TIMEOUT",
            ErrorClass::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The structured payload carried in `errorMessage` / the Catch `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCause {
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} [{class}/{code}]: {message}")]
pub struct ExecutionError {
    /// Step Functions error name, one of [`names`].
    pub name: &'static str,
    pub class: ErrorClass,
    /// Stable machine-readable code, SCREAMING_SNAKE_CASE (e.g. `INTENT_EXPIRED`).
    pub code: String,
    pub retryable: bool,
    pub message: String,
}

impl ExecutionError {
    pub fn new(
        name: &'static str,
        class: ErrorClass,
        code: impl Into<String>,
        retryable: bool,
        message: impl Into<String>,
    ) -> Self {
        Self {
            name,
            class,
            code: code.into(),
            retryable,
            message: message.into(),
        }
    }

    pub fn validation(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            names::VALIDATION,
            ErrorClass::Validation,
            code,
            false,
            message,
        )
    }

    /// Retryable downstream failure (5xx, connection reset, store throttling).
    pub fn transient(
        class: ErrorClass,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(names::TRANSIENT, class, code, true, message)
    }

    pub fn permanent(
        class: ErrorClass,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(names::PERMANENT, class, code, false, message)
    }

    pub fn auth(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(names::AUTH, ErrorClass::Auth, code, false, message)
    }

    pub fn duplicate_start(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            names::DUPLICATE_START,
            ErrorClass::Validation,
            code,
            false,
            message,
        )
    }

    pub fn configuration(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            names::CONFIGURATION,
            ErrorClass::Unknown,
            code,
            false,
            message,
        )
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(names::CONFLICT, ErrorClass::Unknown, code, false, message)
    }

    /// A store (SQLite, DynamoDB) failed in a way worth retrying.
    pub fn store_unavailable(message: impl Into<String>) -> Self {
        Self::transient(ErrorClass::Downstream, "STORE_UNAVAILABLE", message)
    }

    pub fn cause(&self) -> ErrorCause {
        ErrorCause {
            class: self.class,
            code: self.code.clone(),
            message: self.message.clone(),
        }
    }

    /// The `errorMessage` string: `{"class":..,"code":..,"message":..}`.
    pub fn to_cause_json(&self) -> String {
        serde_json::to_string(&self.cause()).expect("ErrorCause always serialises")
    }
}

/// The body a Lambda runtime posts for a function error; Step Functions passes it,
/// serialised, as the Catch `Cause` of a direct Lambda Task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaErrorPayload {
    pub error_type: String,
    pub error_message: String,
}

impl LambdaErrorPayload {
    /// The `Cause` Step Functions reports when a Lambda fails with `err`.
    pub fn cause_of(err: &ExecutionError) -> String {
        serde_json::to_string(&LambdaErrorPayload {
            error_type: err.name.to_string(),
            error_message: err.to_cause_json(),
        })
        .expect("LambdaErrorPayload always serialises")
    }
}

/// What a Catch hands to the next state: `{"Error": name, "Cause": errorMessage}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

impl CaughtError {
    /// Read class and code from the structured cause. Errors raised by Step Functions
    /// itself (`States.Timeout`, `Lambda.Unknown`, ...) carry no JSON cause; they are
    /// classified from the error name alone, never by guessing from message text.
    pub fn structured(&self) -> ErrorCause {
        if let Some(cause) = &self.cause
            && let Ok(parsed) = serde_json::from_str::<ErrorCause>(cause)
        {
            return parsed;
        }
        // Step Functions (and moto/LocalStack) put the whole Lambda error payload in
        // `Cause`: `{"errorType": name, "errorMessage": "<ErrorCause JSON>"}`.
        if let Some(cause) = &self.cause
            && let Ok(payload) = serde_json::from_str::<LambdaErrorPayload>(cause)
            && let Ok(parsed) = serde_json::from_str::<ErrorCause>(&payload.error_message)
        {
            return parsed;
        }
        let class = match self.error.as_str() {
            "States.Timeout" | "States.HeartbeatTimeout" | "Sandbox.Timedout" => {
                ErrorClass::Timeout
            }
            names::TRANSIENT => ErrorClass::Downstream,
            names::VALIDATION => ErrorClass::Validation,
            names::AUTH => ErrorClass::Auth,
            _ => ErrorClass::Unknown,
        };
        let code = self
            .error
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>();
        ErrorCause {
            class,
            code,
            // Step Functions binds "" when an error has no cause.
            message: self
                .cause
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| format!("{} raised without a cause", self.error)),
        }
    }
}

impl From<ExecutionError> for lambda_runtime::Diagnostic {
    fn from(err: ExecutionError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.name.to_string(),
            error_message: err.to_cause_json(),
        }
    }
}

pub type Result<T, E = ExecutionError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_uses_step_functions_name_and_json_cause() {
        let err = ExecutionError::validation("INTENT_EXPIRED", "intent ai_1 expired");
        let diag: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diag.error_type, "ValidationError");
        let cause: ErrorCause = serde_json::from_str(&diag.error_message).unwrap();
        assert_eq!(cause.class, ErrorClass::Validation);
        assert_eq!(cause.code, "INTENT_EXPIRED");
        assert_eq!(cause.message, "intent ai_1 expired");
    }

    #[test]
    fn caught_error_reads_structured_cause() {
        let caught = CaughtError {
            error: "TransientError".into(),
            cause: Some(r#"{"class":"RATE_LIMIT","code":"HTTP_429","message":"slow down"}"#.into()),
        };
        let c = caught.structured();
        assert_eq!(c.class, ErrorClass::RateLimit);
        assert_eq!(c.code, "HTTP_429");
    }

    #[test]
    fn caught_error_reads_cause_wrapped_in_lambda_error_payload() {
        let err = ExecutionError::permanent(ErrorClass::Downstream, "HTTP_400", "bad request");
        let caught = CaughtError {
            error: "PermanentError".into(),
            cause: Some(LambdaErrorPayload::cause_of(&err)),
        };
        assert_eq!(caught.structured(), err.cause());
    }

    #[test]
    fn caught_error_without_json_cause_is_classified_by_name() {
        let caught = CaughtError {
            error: "States.Timeout".into(),
            cause: None,
        };
        let c = caught.structured();
        assert_eq!(c.class, ErrorClass::Timeout);
        assert_eq!(c.code, "STATES_TIMEOUT");
        let caught = CaughtError {
            error: "Lambda.Unknown".into(),
            cause: Some("out of memory".into()),
        };
        let c = caught.structured();
        assert_eq!(c.class, ErrorClass::Unknown);
        assert_eq!(c.message, "out of memory");
    }
}
