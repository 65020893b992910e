//! The whole workflow in process: the real `statemachine/execution.asl.json`
//! in the local engine, the real handlers (through `InProcessInvoker`, i.e.
//! `ccx_core::handlers::dispatch`), the real SQLite store, and a scripted MCP
//! client in place of the gateway. Each test asserts the path taken and the
//! records the handlers left behind: outcome, attempt status, ledger, tool calls.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccx_core::contracts::{AttemptStatus, CompensationStatus, OutcomeStatus};
use ccx_core::error::{ErrorClass, ExecutionError};
use ccx_core::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT, object_ref, responses};
use ccx_local::engine::{
    Engine, Execution, ExecutionStatus, InProcessInvoker, Sleeper, local_substitutions,
};
use serde_json::{Value, json};

struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: Duration) {}
}

fn definition() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/execution.asl.json"
    );
    std::fs::read_to_string(path).expect("statemachine/execution.asl.json is readable")
}

fn engine(h: &Harness) -> Engine {
    Engine::new(
        &definition(),
        &local_substitutions(),
        Arc::new(InProcessInvoker::new(h.deps())),
    )
    .expect("the definition loads")
    .with_sleeper(Arc::new(NoWait))
}

fn input() -> Value {
    json!({"action_intent_id": INTENT, "tenant_id": TENANT, "account_id": ACCOUNT, "replay": null})
}

async fn execute(h: &Harness, name: &str) -> Execution {
    engine(h).execute(name, input()).await
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

fn trace_of(run: &Execution) -> String {
    run.output
        .as_ref()
        .map(|o| o["execution"]["trace_id"].clone())
        .or_else(|| {
            run.task_inputs("RecordFailure")
                .first()
                .map(|i| i["execution"]["trace_id"].clone())
        })
        .or_else(|| {
            run.task_inputs("RecordOutcome")
                .first()
                .map(|i| i["execution"]["trace_id"].clone())
        })
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("a trace id")
}

#[tokio::test]
async fn success_records_outcome_attempt_and_ledger() {
    let h = Harness::seeded().await;
    h.mcp
        .respond(responses::success(&[object_ref("crm", "task", "T-1")]));
    let run = execute(&h, "ok-1").await;
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
    let outcome = h.outcome().await.expect("outcome recorded");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(
        outcome.external_object_refs,
        vec![object_ref("crm", "task", "T-1")]
    );
    assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Succeeded);
    let calls = h.mcp.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "crm.create_task");
    assert!(!h.ledger(&trace_of(&run)).await.is_empty());
}

#[tokio::test]
async fn partial_writes_are_compensated_and_recorded() {
    let h = Harness::seeded().await;
    h.mcp
        .respond(responses::failure(
            &[object_ref("crm", "task", "T-9")],
            "QUOTA",
            "quota exceeded after creating the task",
        ))
        .respond(responses::success(&[]));
    let run = execute(&h, "comp-1").await;
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
    assert_eq!(run.error.as_deref(), Some("ActionFailed"));
    let calls = h.mcp.calls();
    assert_eq!(
        calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["crm.create_task", "crm.delete_task"]
    );
    let outcome = h.outcome().await.expect("outcome recorded");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Failed);
    let recorded = run.task_inputs("RecordOutcome");
    assert_eq!(
        recorded[0]["compensation"]["status"],
        serde_json::to_value(CompensationStatus::Completed).unwrap()
    );
}

/// The compensation step failing outright (its retries run out) still records
/// compensation FAILED with the reason, and a COMPENSATION_FAILED ledger entry
/// naming the refs left to undo.
#[tokio::test]
async fn an_errored_compensation_is_recorded_failed_with_its_reason() {
    let h = Harness::seeded().await;
    h.mcp.respond(responses::failure(
        &[object_ref("crm", "task", "T-7")],
        "QUOTA",
        "quota exceeded after creating the task",
    ));
    for _ in 0..4 {
        h.mcp.fail(ExecutionError::transient(
            ErrorClass::Downstream,
            "HTTP_503",
            "gateway unavailable",
        ));
    }
    let run = execute(&h, "comp-errored-1").await;
    assert_eq!(
        run.state_path(),
        after_tool(&[
            "CompensateAction",
            "CompensationErrored",
            "RecordOutcome",
            "CheckOutcome",
            "ActionFailed"
        ]),
        "{:?}",
        run.cause
    );
    let outcome = h.outcome().await.expect("outcome recorded");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.compensation_status, CompensationStatus::Failed);
    let reason = outcome.compensation_error.expect("a reason");
    assert!(
        reason.contains("compensation step failed") && reason.contains("HTTP_503"),
        "{reason}"
    );
    let trace = trace_of(&run);
    assert_eq!(
        h.ledger_types(&trace).await,
        ["EXECUTION_STARTED", "COMPENSATION_FAILED", "ACTION_FAILED"]
    );
    let ledger = h.ledger(&trace).await;
    assert_eq!(
        ledger[1].data["external_object_refs"][0]["object_id"],
        json!("T-7")
    );
}

#[tokio::test]
async fn transient_tool_errors_are_retried_by_the_state_machine() {
    let h = Harness::seeded().await;
    h.mcp
        .fail(ExecutionError::transient(
            ErrorClass::Downstream,
            "HTTP_503",
            "unavailable",
        ))
        .fail(ExecutionError::transient(
            ErrorClass::RateLimit,
            "HTTP_429",
            "slow down",
        ))
        .respond(responses::success(&[object_ref("crm", "task", "T-2")]));
    let run = execute(&h, "retry-1").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.cause);
    assert_eq!(run.task_inputs("InvokeTool").len(), 3);
    let calls = h.mcp.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.windows(2).all(|w| w[0] == w[1]),
        "every retry sends the same call"
    );
    assert_eq!(h.outcome().await.unwrap().status, OutcomeStatus::Succeeded);
}

/// The failure recorder reads class and code from the Catch `Cause`, which is
/// the Lambda error payload Step Functions builds (the in-process invoker
/// produces the same shape). An error that proves the tool did not write is
/// recorded at once.
#[tokio::test]
async fn definitive_tool_errors_are_recorded_with_class_and_code() {
    let h = Harness::seeded().await;
    h.mcp
        .fail(ExecutionError::auth("HTTP_401", "token refused twice"));
    let run = execute(&h, "auth-1").await;
    let mut expected = path(&TO_TOOL[..4]);
    expected.extend(path(&[
        "InvocationFailed",
        "RecordFailure",
        "ExecutionFailed",
    ]));
    assert_eq!(run.state_path(), expected, "{:?}", run.cause);
    assert_eq!(run.error.as_deref(), Some("ExecutionFailed"));
    let outcome = h.outcome().await.expect("failure recorded");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.error_class, Some(ErrorClass::Auth));
    assert_eq!(outcome.error_code.as_deref(), Some("HTTP_401"));
    assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Failed);
}

/// Transient errors that outlive the retries leave open whether the tool
/// wrote, so nothing is recorded: the execution fails at InvokeTool holding
/// its lock, and a redrive (same execution, same idempotency key) finishes it.
#[tokio::test]
async fn exhausted_retries_are_left_for_a_redrive_that_finishes_the_intent() {
    let h = Harness::seeded().await;
    for _ in 0..4 {
        h.mcp.fail(ExecutionError::transient(
            ErrorClass::Downstream,
            "HTTP_503",
            "gateway unavailable",
        ));
    }
    h.mcp
        .respond(responses::success(&[object_ref("crm", "task", "T-9")]));
    let engine = engine(&h);
    let run = engine.execute("exhausted-1", input()).await;
    assert_eq!(run.state_path(), path(&TO_TOOL[..4]), "{:?}", run.cause);
    assert_eq!(run.error.as_deref(), Some("TransientError"));
    assert!(h.outcome().await.is_none(), "nothing recorded");
    assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Running);

    let redriven = engine.redrive(&run).await.expect("failed in a task");
    assert_eq!(
        redriven.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        redriven.cause
    );
    assert_eq!(redriven.state_path()[0], "InvokeTool");
    assert_eq!(h.mcp.calls().len(), 5, "four failed calls, one success");
    let outcome = h.outcome().await.expect("recorded after the redrive");
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);
    assert_eq!(outcome.external_object_refs[0].object_id, "T-9");
    assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Succeeded);
}

#[tokio::test]
async fn a_second_start_of_a_finished_intent_changes_nothing() {
    let h = Harness::seeded().await;
    h.mcp
        .respond(responses::success(&[object_ref("crm", "task", "T-3")]));
    let first = execute(&h, "dup-1").await;
    assert_eq!(first.status, ExecutionStatus::Succeeded);
    let outcome_before = h.outcome().await;
    let attempt_before = h.attempt().await;

    let second = execute(&h, "dup-2").await;
    assert_eq!(
        second.state_path(),
        path(&["StartExecution", "DuplicateStartIgnored"])
    );
    assert_eq!(second.status, ExecutionStatus::Succeeded);
    assert_eq!(h.outcome().await, outcome_before);
    assert_eq!(h.attempt().await, attempt_before);
    assert_eq!(h.mcp.calls().len(), 1, "the tool was called once");
}

#[tokio::test]
async fn an_unknown_intent_fails_at_start_without_records() {
    let h = Harness::empty();
    let run = execute(&h, "missing-1").await;
    assert_eq!(
        run.state_path(),
        path(&["StartExecution", "StartFailed"]),
        "{:?}",
        run.cause
    );
    assert!(h.outcome().await.is_none());
    assert!(h.attempt().await.is_none());
    assert!(h.mcp.calls().is_empty());
}
