//! How SDK failures become `ExecutionError`s: throttling, 5xx, timeouts and
//! connection failures are `TransientError`s (the state machine retries them),
//! other refusals are permanent; both name the operation and the table. Needs
//! no emulator: a loopback port nothing listens on, and a tiny HTTP server that
//! answers every request with one canned DynamoDB error (or never answers).

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use ccx_aws::{DynamoStore, TableNames};
use ccx_core::ExecutionError;
use ccx_core::fixtures;
use ccx_core::ports::Store;
use ccx_core::store::conformance::terminal;

mod support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn store_at(endpoint: String) -> DynamoStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        )
        .build();
    DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        TableNames::with_prefix("ccx"),
    )
}

/// Serves every request with `status` and a DynamoDB JSON error of `error_type`,
/// or, with `status == 0`, reads the request and never answers.
async fn canned(status: u16, error_type: &'static str) -> String {
    canned_body(
        status,
        format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"canned {error_type}"}}"#
        ),
    )
    .await
}

/// Serves every request with `status` and `body`.
async fn canned_body(status: u16, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                // Read the headers and the body they announce.
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                if status == 0 {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let response = format!(
                    "HTTP/1.1 {status} Canned\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: r1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn get_attempt_error(endpoint: String) -> ExecutionError {
    store_at(endpoint)
        .get_attempt("t1", "a1", "ai1")
        .await
        .unwrap_err()
}

fn assert_transient(err: &ExecutionError, what: &str) {
    assert_eq!(err.name, "TransientError", "{what}: {err}");
    assert_eq!(err.code, "STORE_UNAVAILABLE", "{what}: {err}");
    assert!(err.retryable);
    assert!(
        err.message
            .starts_with("DynamoDB GetItem on table ccx-attempts failed: "),
        "{what}: {}",
        err.message
    );
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Bound then dropped: the port is free, so connecting is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = get_attempt_error(format!("http://127.0.0.1:{port}")).await;
    assert_transient(&err, "connection refused");
    assert!(err.message.contains("DispatchFailure"), "{}", err.message);
}

#[tokio::test]
async fn throttling_and_server_errors_are_transient() {
    let err = get_attempt_error(canned(400, "ThrottlingException").await).await;
    assert_transient(&err, "throttling");
    assert!(
        err.message
            .contains("ThrottlingException: canned ThrottlingException"),
        "{}",
        err.message
    );

    let err = get_attempt_error(canned(400, "ProvisionedThroughputExceededException").await).await;
    assert_transient(&err, "provisioned throughput");

    let err = get_attempt_error(canned(500, "InternalServerError").await).await;
    assert_transient(&err, "500");

    let err = get_attempt_error(canned(503, "SomethingNew").await).await;
    assert_transient(&err, "any 5xx");
}

#[tokio::test]
async fn a_hung_call_times_out_as_transient() {
    let err = get_attempt_error(canned(0, "").await).await;
    assert_transient(&err, "timeout");
    assert!(err.message.contains("Timeout"), "{}", err.message);
}

#[tokio::test]
async fn refusals_are_permanent_and_name_the_table() {
    let err = get_attempt_error(canned(400, "ValidationException").await).await;
    assert_eq!(err.name, "PermanentError");
    assert_eq!(err.code, "STORE_REQUEST_FAILED");
    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "DynamoDB GetItem on table ccx-attempts failed: ValidationException: canned ValidationException"
    );

    let err = get_attempt_error(canned(400, "AccessDeniedException").await).await;
    assert_eq!(err.name, "PermanentError");
    assert!(
        err.message.contains("AccessDeniedException"),
        "{}",
        err.message
    );
}

/// A TransactWriteItems cancellation with one reason code per item
/// (outcome, attempt, ledger entry).
fn cancelled(codes: [&str; 3]) -> String {
    let reasons: Vec<String> = codes
        .iter()
        .map(|c| format!(r#"{{"Code":"{c}","Message":"canned {c}"}}"#))
        .collect();
    format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled","CancellationReasons":[{}]}}"#,
        reasons.join(",")
    )
}

#[tokio::test]
async fn a_transaction_conflict_is_transient_and_names_the_item() {
    let endpoint = canned_body(400, cancelled(["None", "TransactionConflict", "None"])).await;
    let attempt = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "e1");
    let err = store_at(endpoint)
        .record_terminal(&terminal(&attempt))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("TransientError", "STORE_UNAVAILABLE")
    );
    assert_eq!(
        err.message,
        "DynamoDB TransactWriteItems cancelled by TransactionConflict on attempt EXECUTION#ai1 in table ccx-attempts; retry"
    );
}

#[tokio::test]
async fn another_cancellation_reason_is_a_conflict_naming_the_item() {
    let endpoint = canned_body(400, cancelled(["ValidationError", "None", "None"])).await;
    let attempt = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "e1");
    let err = store_at(endpoint)
        .record_terminal(&terminal(&attempt))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("ConflictError", "TERMINAL_WRITE_CANCELLED")
    );
    assert_eq!(
        err.message,
        "terminal write of intent ai1 (trace tr1, attempt 1) was cancelled: outcome OUTCOME#ai1 in table ccx-outcomes (ValidationError)"
    );
}

#[tokio::test]
async fn a_refused_transaction_names_its_three_tables() {
    let attempt = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "e1");
    let err = store_at(canned(400, "ValidationException").await)
        .record_terminal(&terminal(&attempt))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("PermanentError", "STORE_REQUEST_FAILED")
    );
    assert_eq!(
        err.message,
        "DynamoDB TransactWriteItems on table ccx-outcomes, ccx-attempts and ccx-ledger failed: ValidationException: canned ValidationException"
    );
}
