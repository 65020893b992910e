//! The workflow on the compiled handler binaries, as Lambda runs them: the real
//! `statemachine/execution.asl.json` in the local engine, each Task served by its
//! binary over the Lambda Runtime API (`RuntimeApiInvoker`), the embedded SQLite
//! store under a temporary `CCX_DATA_DIR`, and the development MCP gateway. This
//! is the local fidelity mode: errors reach the state machine exactly as
//! Step Functions reports a Lambda function error.

use ccx_tests::binaries::{handler_binaries, workspace_root};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccx_core::contracts::{ActionIntentV1, AttemptStatus, OutcomeStatus, TenantConfig};
use ccx_core::error::{CaughtError, ErrorClass};
use ccx_core::fixtures;
use ccx_core::handlers::Handler;
use ccx_core::ports::Store;
use ccx_core::store::sqlite::{DB_FILE, SqliteStore};
use ccx_gateway::{Gateway, GatewayOptions, RunningGateway};
use ccx_local::engine::{
    Engine, EventDetail, Execution, ExecutionStatus, LambdaFunction, RuntimeApiInvoker, Sleeper,
    local_substitutions,
};
use chrono::Utc;
use serde_json::{Value, json};

const TENANT: &str = "t-bin";
const ACCOUNT: &str = "a-bin";

struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: Duration) {}
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    gateway: RunningGateway,
    invoker: Arc<RuntimeApiInvoker>,
    engine: Engine,
}

impl World {
    async fn start() -> World {
        let bins = handler_binaries();
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let store = SqliteStore::open(&data_dir.join(DB_FILE)).unwrap();
        store
            .put_registry_entry(&fixtures::crm_task_registry_entry())
            .await
            .unwrap();
        store
            .put_tenant_config(&fixtures::tenant_enabled(TENANT))
            .await
            .unwrap();
        let gateway = Gateway::start(GatewayOptions::default()).await.unwrap();
        let env = vec![
            ("CCX_DATA_DIR".to_string(), data_dir.display().to_string()),
            ("CCX_GATEWAY_URL".to_string(), gateway.url.clone()),
            (
                "CCX_GATEWAY_TOKEN_URL".to_string(),
                gateway.token_url.clone(),
            ),
            (
                "CCX_GATEWAY_CLIENT_ID".to_string(),
                gateway.client_id.clone(),
            ),
            (
                "CCX_GATEWAY_CLIENT_SECRET".to_string(),
                gateway.client_secret.clone(),
            ),
            ("RUST_LOG".to_string(), "info".to_string()),
        ];
        let functions = Handler::ALL
            .iter()
            .map(|h| LambdaFunction {
                name: h.name().to_string(),
                binary: bins.join(h.name()),
                env: env.clone(),
                log_file: Some(dir.path().join(format!("{}.log", h.name()))),
            })
            .collect();
        let invoker = Arc::new(RuntimeApiInvoker::start(functions).await.unwrap());
        let definition =
            std::fs::read_to_string(workspace_root().join("statemachine/execution.asl.json"))
                .unwrap();
        let engine = Engine::new(&definition, &local_substitutions(), invoker.clone())
            .unwrap()
            .with_sleeper(Arc::new(NoWait));
        World {
            _dir: dir,
            store,
            gateway,
            invoker,
            engine,
        }
    }

    /// A CRM-task intent approved now, valid for a day.
    async fn approve(&self, id: &str) -> ActionIntentV1 {
        let mut intent = fixtures::intent(TENANT, ACCOUNT, id);
        intent.approval_timestamp = Utc::now();
        intent.created_at = Utc::now();
        intent.expires_at = Utc::now() + chrono::Duration::days(1);
        self.store.put_intent(&intent).await.unwrap();
        intent
    }

    async fn run(&self, name: &str, id: &str) -> Execution {
        self.engine
            .execute(
                name,
                json!({"action_intent_id": id, "tenant_id": TENANT, "account_id": ACCOUNT, "replay": null}),
            )
            .await
    }

    async fn stop(self) {
        self.invoker.shutdown().await;
        self.gateway.shutdown().await;
    }
}

fn path(states: &[&str]) -> Vec<String> {
    states.iter().map(|s| s.to_string()).collect()
}

/// The `(Error, Cause)` of the first failed task of `state` in the history.
fn task_error(run: &Execution, state: &str) -> (String, String) {
    run.events_of(state)
        .find_map(|d| match d {
            EventDetail::TaskFailed { error, cause, .. } => {
                Some((error.clone(), cause.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{state} did not fail"))
}

#[tokio::test]
async fn the_binaries_run_the_whole_workflow() {
    let world = World::start().await;

    // 1. Success: the tool runs on the gateway, outcome and attempt recorded.
    let intent = world.approve("ai-bin-1").await;
    let run = world.run("bin-ok", &intent.action_intent_id).await;
    assert_eq!(
        run.state_path(),
        path(&[
            "StartExecution",
            "ValidatePreflight",
            "MapActionToTool",
            "InvokeTool",
            "CheckCompensation",
            "NoCompensation",
            "RecordOutcome",
            "CheckOutcome",
            "ExecutionSucceeded"
        ]),
        "{:?} {:?}",
        run.error,
        run.cause
    );
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let outcome = world
        .store
        .get_outcome(TENANT, ACCOUNT, "ai-bin-1")
        .await
        .unwrap()
        .expect("outcome written by the recorder binary");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(outcome.tool_name.as_deref(), Some("crm.create_task"));
    assert!(!outcome.external_object_refs.is_empty());
    let attempt = world
        .store
        .get_attempt(TENANT, ACCOUNT, "ai-bin-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.status, AttemptStatus::Succeeded);
    assert_eq!(world.gateway.stats().tool_calls, 1);

    // 2. A second start of the same intent: the starter binary raises
    //    DuplicateStartError, nothing else runs, nothing changes.
    let again = world.run("bin-dup", "ai-bin-1").await;
    assert_eq!(
        again.state_path(),
        path(&["StartExecution", "DuplicateStartIgnored"])
    );
    assert_eq!(
        task_error(&again, "StartExecution").0,
        "DuplicateStartError"
    );
    assert_eq!(
        world
            .store
            .get_attempt(TENANT, ACCOUNT, "ai-bin-1")
            .await
            .unwrap()
            .unwrap(),
        attempt
    );
    assert_eq!(world.gateway.stats().tool_calls, 1);

    // 3. Kill switch: the validator binary's ValidationError is caught, and the
    //    failure-recorder binary reads class and code from the Lambda error
    //    payload that is the Catch Cause.
    world
        .store
        .put_tenant_config(&TenantConfig {
            tenant_id: TENANT.into(),
            execution_enabled: false,
            disabled_action_types: vec![],
        })
        .await
        .unwrap();
    world.approve("ai-bin-2").await;
    let stopped = world.run("bin-killed", "ai-bin-2").await;
    assert_eq!(
        stopped.state_path(),
        path(&[
            "StartExecution",
            "ValidatePreflight",
            "ValidationFailed",
            "RecordFailure",
            "ExecutionFailed"
        ]),
        "{:?}",
        stopped.cause
    );
    let (error, cause) = task_error(&stopped, "ValidatePreflight");
    assert_eq!(error, "ValidationError");
    let lambda_payload: Value =
        serde_json::from_str(&cause).expect("the Cause is the Lambda error payload");
    assert_eq!(lambda_payload["errorType"], json!("ValidationError"));
    let expected = CaughtError {
        error: error.clone(),
        cause: Some(cause.clone()),
    }
    .structured();
    let failed = world
        .store
        .get_outcome(TENANT, ACCOUNT, "ai-bin-2")
        .await
        .unwrap()
        .expect("failure outcome written by the failure-recorder binary");
    assert_eq!(failed.status, OutcomeStatus::Failed);
    assert_eq!(failed.error_class, Some(ErrorClass::Validation));
    assert_eq!(failed.error_code.as_deref(), Some(expected.code.as_str()));
    assert_eq!(
        world
            .store
            .get_attempt(TENANT, ACCOUNT, "ai-bin-2")
            .await
            .unwrap()
            .unwrap()
            .status,
        AttemptStatus::Failed
    );

    // 4. An unknown intent: the starter fails before taking a lock.
    let unknown = world.run("bin-unknown", "ai-missing").await;
    assert_eq!(
        unknown.state_path(),
        path(&["StartExecution", "StartFailed"])
    );
    assert!(
        world
            .store
            .get_attempt(TENANT, ACCOUNT, "ai-missing")
            .await
            .unwrap()
            .is_none()
    );

    world.stop().await;
}
