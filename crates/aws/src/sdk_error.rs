//! SDK errors -> [`ExecutionError`].
//!
//! Retries live in the state machine, so the only decision here is *retryable or
//! not*: throttling, 5xx, timeouts and connection failures become
//! `TransientError` (the store's `store_unavailable`, or a transient downstream
//! error for S3/EventBridge/Secrets Manager); anything else is a permanent error
//! whose message names the operation and the resource, never a Rust type name.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use ccx_core::{ErrorClass, ExecutionError};

/// Error codes AWS services use for "slow down / try again".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionInProgressException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// What went wrong, reduced to what the caller decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub retryable: bool,
    /// AWS error code, or a short description of a transport failure.
    pub code: String,
    pub message: String,
}

/// Classify any SDK error.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // DisplayErrorContext prints the whole source chain: the top-level SDK
    // message alone ("dispatch failure") says nothing useful.
    let context = || DisplayErrorContext(err).to_string();
    match err {
        SdkError::TimeoutError(_) => Failure {
            retryable: true,
            code: "Timeout".into(),
            message: context(),
        },
        SdkError::DispatchFailure(_) => Failure {
            retryable: true,
            code: "DispatchFailure".into(),
            message: format!("could not reach the service: {}", context()),
        },
        SdkError::ResponseError(_) => Failure {
            retryable: true,
            code: "ResponseError".into(),
            message: format!("unreadable response: {}", context()),
        },
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown").to_string();
            let status = se.raw().status().as_u16();
            let retryable = RETRYABLE_CODES.contains(&code.as_str()) || status >= 500;
            Failure {
                retryable,
                message: se.err().message().unwrap_or("no message").to_string(),
                code,
            }
        }
        _ => Failure {
            retryable: false,
            code: "RequestNotSent".into(),
            message: context(),
        },
    }
}

/// A DynamoDB failure: transient -> `store_unavailable`, else a permanent
/// `STORE_REQUEST_FAILED` naming the operation and the table (or tables, for a
/// transaction: "a, b and c").
pub fn store_error<E>(
    operation: &str,
    table: &str,
    err: &SdkError<E, HttpResponse>,
) -> ExecutionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let f = classify(err);
    let text = format!(
        "DynamoDB {operation} on table {table} failed: {}: {}",
        f.code, f.message
    );
    if f.retryable {
        ExecutionError::store_unavailable(text)
    } else {
        ExecutionError::permanent(ErrorClass::Downstream, "STORE_REQUEST_FAILED", text)
    }
}

/// `ARTIFACT_WRITE_FAILED` -> `ARTIFACT_WRITE_UNAVAILABLE`: the code of the
/// retryable variant of a failure.
pub fn transient_code(code: &str) -> String {
    format!(
        "{}_UNAVAILABLE",
        code.strip_suffix("_FAILED").unwrap_or(code)
    )
}

/// A failure of another AWS service (`service` e.g. "S3 PutObject"); `code`
/// is the permanent error's code (`..._FAILED`), the transient one is
/// [`transient_code`] of it.
pub fn service_error<E>(
    service: &str,
    resource: &str,
    code: &str,
    err: &SdkError<E, HttpResponse>,
) -> ExecutionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let f = classify(err);
    let text = format!("{service} on {resource} failed: {}: {}", f.code, f.message);
    if f.retryable {
        let class = if f.code.contains("Throttl") || f.code == "SlowDown" {
            ErrorClass::RateLimit
        } else if f.code == "Timeout" {
            ErrorClass::Timeout
        } else {
            ErrorClass::Downstream
        };
        ExecutionError::transient(class, transient_code(code), text)
    } else {
        ExecutionError::permanent(ErrorClass::Downstream, code, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        assert_eq!(
            transient_code("ARTIFACT_WRITE_FAILED"),
            "ARTIFACT_WRITE_UNAVAILABLE"
        );
        assert_eq!(
            transient_code("EVENT_PUBLISH_FAILED"),
            "EVENT_PUBLISH_UNAVAILABLE"
        );
        assert_eq!(transient_code("ODD"), "ODD_UNAVAILABLE");
    }
}
