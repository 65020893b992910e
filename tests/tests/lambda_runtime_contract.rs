//! The Lambda contract of the handler binaries, proven on the real binary over
//! the Runtime API (a mock of it on 127.0.0.1): a handler error is posted with
//! `errorType` = the Step Functions error name and `errorMessage` = the JSON
//! `{class, code, message}` that Retry/Catch and the failure recorder rely on;
//! never a Rust type name. A success posts the handler output, and the same
//! process keeps serving (dependencies are built once per cold start).

use ccx_tests::binaries::handler_binary;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ccx_core::error::ErrorCause;
use ccx_core::fixtures;
use ccx_core::ports::Store;
use ccx_core::store::sqlite::{DB_FILE, SqliteStore};
use ccx_tests::mock_runtime::{InvocationResult, MockRuntime};
use serde_json::{Value, json};

/// Guard against a hung binary; never an assertion on how long things take.
const LIMIT: Duration = Duration::from_secs(120);

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(name: &str, runtime: &MockRuntime, data_dir: &Path) -> Function {
    let child = Command::new(handler_binary(name))
        .envs(runtime.lambda_env(name))
        .env("CCX_DATA_DIR", data_dir)
        .env("RUST_LOG", "info")
        // The function's JSON logs; set CCX_TEST_SHOW_LOGS=1 to see them.
        .stdout(if std::env::var_os("CCX_TEST_SHOW_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the handler binary");
    Function(child)
}

async fn seed_intent(data_dir: &Path, intent_id: &str) -> ccx_core::contracts::ActionIntentV1 {
    let store = SqliteStore::open(&data_dir.join(DB_FILE)).unwrap();
    let mut intent = fixtures::intent("t1", "a1", intent_id);
    // The binary uses the system clock: keep the intent valid whatever today is.
    intent.expires_at = chrono::Utc::now() + chrono::Duration::days(1);
    store.put_intent(&intent).await.unwrap();
    intent
}

fn validator_event(intent_id: &str) -> Value {
    json!({
        "action_intent_id": intent_id,
        "tenant_id": "t1",
        "account_id": "a1",
        "trace_id": "trace-contract"
    })
}

async fn expect_error(runtime: &MockRuntime, request_id: &str) -> (String, ErrorCause) {
    match runtime.result(request_id, LIMIT).await {
        Some(InvocationResult::Error(e)) => {
            let error_type = e.error_type().expect("errorType").to_string();
            let cause: ErrorCause = serde_json::from_str(e.error_message().expect("errorMessage"))
                .expect("errorMessage is the JSON {class, code, message}");
            (error_type, cause)
        }
        other => panic!(
            "expected an error for {request_id}, got {other:?} (init error: {:?})",
            runtime.init_error()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_binary_reports_errors_by_step_functions_name_and_serves_on() {
    let data = tempfile::tempdir().unwrap();
    let intent = seed_intent(data.path(), "ai-known").await;
    let runtime = MockRuntime::start().await.unwrap();
    let _function = spawn("validator", &runtime, data.path());

    // Unknown intent: ValidationError with the structured cause.
    let unknown = runtime.invoke(validator_event("ai-unknown"));
    let (error_type, cause) = expect_error(&runtime, &unknown).await;
    assert_eq!(error_type, "ValidationError");
    assert_eq!(cause.class, ccx_core::ErrorClass::Validation);
    assert_eq!(cause.code, "INTENT_NOT_FOUND");
    assert!(cause.message.contains("ai-unknown"), "{}", cause.message);

    // Same process, next invocation: success posts the handler output.
    let known = runtime.invoke(validator_event("ai-known"));
    match runtime.result(&known, LIMIT).await {
        Some(InvocationResult::Response(body)) => {
            assert_eq!(body["valid"], true);
            assert_eq!(body["action_type"], intent.action_type.as_str());
            let expires: chrono::DateTime<chrono::Utc> =
                serde_json::from_value(body["expires_at"].clone()).unwrap();
            assert_eq!(expires, intent.expires_at);
        }
        other => panic!("expected a response, got {other:?}"),
    }

    // An event off the contract is a ValidationError too, not a runtime crash.
    let bad = runtime.invoke(json!({"action_intent_id": "ai-known", "surprise": true}));
    let (error_type, cause) = expect_error(&runtime, &bad).await;
    assert_eq!(error_type, "ValidationError");
    assert_eq!(cause.code, "INVALID_HANDLER_INPUT");
    assert!(runtime.init_error().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_cannot_build_its_dependencies_reports_an_init_error() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data folder should be: the embedded store cannot open.
    let not_a_dir = dir.path().join("data");
    std::fs::write(&not_a_dir, b"not a folder").unwrap();
    let runtime = MockRuntime::start().await.unwrap();
    let mut function = spawn("starter", &runtime, &not_a_dir);

    let err = runtime
        .wait_init_error(LIMIT)
        .await
        .expect("the binary posts to /init/error");
    assert_eq!(err.error_type_header.as_deref(), Some("Runtime.InitError"));
    assert_eq!(err.error_type(), Some("ConfigurationError"));
    let cause: ErrorCause = serde_json::from_str(err.error_message().unwrap()).unwrap();
    assert_eq!(cause.code, "DATA_DIR_UNWRITABLE");
    let status = tokio::task::spawn_blocking(move || function.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "the process exits with the error");
}
