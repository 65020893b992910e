//! The whole workflow over the AWS adapters: the real
//! `statemachine/execution.asl.json` in the local engine, the real handlers,
//! and DynamoDB, S3 and EventBridge on the emulator (`make test-aws`), with a
//! scripted MCP client in place of the gateway. The same scenarios run over
//! SQLite in `tests/tests/workflow_engine.rs`; here they prove the DynamoDB
//! conditional writes and transactions carry the real flow.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccx_core::contracts::{AttemptStatus, CompensationStatus, OutcomeStatus};
use ccx_core::fixtures;
use ccx_core::handlers::testkit::{ACCOUNT, INTENT, ScriptedMcp, TENANT, object_ref, responses};
use ccx_core::ports::{Deps, FixedClock, Store};
use ccx_local::engine::{
    Engine, Execution, ExecutionStatus, InProcessInvoker, Sleeper, local_substitutions,
};
use serde_json::{Value, json};
use support::{next_message, queue_is_empty, queue_target, sqs_client};

struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: Duration) {}
}

struct Flow {
    env: support::Env,
    store: Arc<dyn Store>,
    mcp: Arc<ScriptedMcp>,
    deps: Deps,
}

/// The AWS deps of `env` (every resource), the clock fixed at the fixtures'
/// instant (the intent expires a day later), the seeded intent, registry entry
/// and tenant.
async fn flow(env: support::Env) -> Flow {
    let mut vars: std::collections::HashMap<&str, String> = env
        .tables
        .iter()
        .map(|(id, name)| (id.env_var(), name.to_string()))
        .collect();
    vars.insert("CCX_ARTIFACTS_BUCKET", env.bucket.clone());
    vars.insert("CCX_EVENT_BUS_NAME", env.bus.clone());
    let config = ccx_aws::AwsConfig::from_lookup(&ccx_aws::config::resource_variables(), |n| {
        vars.get(n).cloned()
    })
    .unwrap();
    let mcp = Arc::new(ScriptedMcp::new());
    let mut deps = ccx_aws::aws_deps(&config, &env.clients, mcp.clone());
    deps.clock = Arc::new(FixedClock::new(fixtures::t0()));
    let store = deps.store.clone();
    store
        .put_intent(&fixtures::intent(TENANT, ACCOUNT, INTENT))
        .await
        .unwrap();
    store
        .put_registry_entry(&fixtures::crm_task_registry_entry())
        .await
        .unwrap();
    store
        .put_tenant_config(&fixtures::tenant_enabled(TENANT))
        .await
        .unwrap();
    Flow {
        env,
        store,
        mcp,
        deps,
    }
}

impl Flow {
    async fn execute(&self, name: &str) -> Execution {
        let definition =
            std::fs::read_to_string(ccx_infra::workspace_root().join(ccx_infra::paths::DEFINITION))
                .unwrap();
        Engine::new(
            &definition,
            &local_substitutions(),
            Arc::new(InProcessInvoker::new(self.deps.clone())),
        )
        .expect("the definition loads")
        .with_sleeper(Arc::new(NoWait))
        .execute(
            name,
            json!({"action_intent_id": INTENT, "tenant_id": TENANT, "account_id": ACCOUNT, "replay": null}),
        )
        .await
    }
}

macro_rules! flow_or_skip {
    ($name:expr) => {
        match support::env($name).await {
            Some(env) => flow(env).await,
            None => return,
        }
    };
}

fn path(states: &[&str]) -> Vec<String> {
    states.iter().map(|s| s.to_string()).collect()
}

const TO_TOOL: [&str; 5] = [
    "StartExecution",
    "ValidatePreflight",
    "MapActionToTool",
    "InvokeTool",
    "CheckCompensation",
];

fn after_tool(rest: &[&str]) -> Vec<String> {
    let mut p = path(&TO_TOOL);
    p.extend(path(rest));
    p
}

#[tokio::test]
async fn success_with_a_large_response_lands_in_dynamodb_and_s3() {
    let f = flow_or_skip!("success_with_a_large_response_lands_in_dynamodb_and_s3");
    let sqs = sqs_client().await;
    let queue = queue_target(
        &f.env,
        &sqs,
        "lifecycle",
        &json!({"source": [f.deps.settings.event_source]}),
        None,
    )
    .await;
    // Over the artifact threshold: the raw response goes to S3.
    let big = "n".repeat(f.deps.settings.artifact_threshold_bytes + 1);
    f.mcp.respond(responses::structured(json!({
        "success": true,
        "external_object_refs": [object_ref("crm", "task", "T-1")],
        "notes": big,
    })));

    let run = f.execute("aws-ok-1").await;
    assert_eq!(
        run.state_path(),
        after_tool(&[
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

    let outcome = f
        .store
        .get_outcome(TENANT, ACCOUNT, INTENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(
        outcome.external_object_refs,
        [object_ref("crm", "task", "T-1")]
    );
    let attempt = f
        .store
        .get_attempt(TENANT, ACCOUNT, INTENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.status, AttemptStatus::Succeeded);
    assert_eq!(attempt.lock_expires_at, None, "lock TTL removed");
    let ledger: Vec<&str> = f
        .store
        .ledger_by_trace(TENANT, &outcome.trace_id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(ledger.first(), Some(&"EXECUTION_STARTED"), "{ledger:?}");
    assert_eq!(ledger.last(), Some(&"ACTION_EXECUTED"), "{ledger:?}");

    let reference = outcome
        .raw_response_artifact_ref
        .clone()
        .expect("artifact stored");
    assert!(
        reference.starts_with(&format!("s3://{}/{TENANT}/toolrun/", f.env.bucket)),
        "{reference}"
    );
    let raw: Value =
        serde_json::from_slice(&f.deps.artifacts.get(&reference).await.unwrap()).unwrap();
    assert_eq!(raw["structuredContent"]["notes"], json!(big));

    // Lifecycle events went to the bus: every one carries this execution's trace.
    let first = next_message(&sqs, &queue).await;
    assert_eq!(first["source"], json!(f.deps.settings.event_source));
    let mut events = vec![first];
    while !queue_is_empty(&sqs, &queue).await {
        events.push(next_message(&sqs, &queue).await);
    }
    assert!(
        events
            .iter()
            .all(|e| e["detail"].to_string().contains(&outcome.trace_id)),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_second_start_of_a_finished_intent_changes_nothing() {
    let f = flow_or_skip!("a_second_start_of_a_finished_intent_changes_nothing");
    f.mcp
        .respond(responses::success(&[object_ref("crm", "task", "T-3")]));
    let first = f.execute("aws-dup-1").await;
    assert_eq!(
        first.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        first.cause
    );
    let outcome_before = f.store.get_outcome(TENANT, ACCOUNT, INTENT).await.unwrap();
    let attempt_before = f.store.get_attempt(TENANT, ACCOUNT, INTENT).await.unwrap();

    let second = f.execute("aws-dup-2").await;
    assert_eq!(
        second.state_path(),
        path(&["StartExecution", "DuplicateStartIgnored"])
    );
    assert_eq!(second.status, ExecutionStatus::Succeeded);
    assert_eq!(
        f.store.get_outcome(TENANT, ACCOUNT, INTENT).await.unwrap(),
        outcome_before
    );
    assert_eq!(
        f.store.get_attempt(TENANT, ACCOUNT, INTENT).await.unwrap(),
        attempt_before
    );
    assert_eq!(f.mcp.calls().len(), 1, "the tool was called once");
}

#[tokio::test]
async fn partial_writes_are_compensated_and_recorded() {
    let f = flow_or_skip!("partial_writes_are_compensated_and_recorded");
    f.mcp
        .respond(responses::failure(
            &[object_ref("crm", "task", "T-9")],
            "QUOTA",
            "quota exceeded after creating the task",
        ))
        .respond(responses::success(&[]));
    let run = f.execute("aws-comp-1").await;
    assert_eq!(
        run.state_path(),
        after_tool(&[
            "CompensateAction",
            "RecordOutcome",
            "CheckOutcome",
            "ActionFailed"
        ]),
        "{:?} {:?}",
        run.error,
        run.cause
    );
    let names: Vec<String> = f.mcp.calls().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["crm.create_task", "crm.delete_task"]);
    let outcome = f
        .store
        .get_outcome(TENANT, ACCOUNT, INTENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.compensation_status, CompensationStatus::Completed);
    assert_eq!(
        f.store
            .get_attempt(TENANT, ACCOUNT, INTENT)
            .await
            .unwrap()
            .unwrap()
            .status,
        AttemptStatus::Failed
    );
}
