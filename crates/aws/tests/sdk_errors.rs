//! Transport failures are `TransientError`s (the state machine retries them),
//! named after the operation and the table. Needs no emulator: the endpoint is
//! a loopback port nothing listens on.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use ccx_aws::{DynamoStore, TableNames};
use ccx_core::ports::Store;

fn closed_port() -> u16 {
    // Bound then dropped: the port is free, so connecting is refused at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn connection_refused_is_a_transient_store_error() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{}", closed_port()))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        TableNames::with_prefix("ccx"),
    );
    let err = store.get_attempt("t1", "a1", "ai1").await.unwrap_err();
    assert_eq!(err.name, "TransientError");
    assert_eq!(err.code, "STORE_UNAVAILABLE");
    assert!(err.retryable);
    assert!(
        err.message
            .starts_with("DynamoDB GetItem on table ccx-attempts failed: DispatchFailure"),
        "{}",
        err.message
    );
}
