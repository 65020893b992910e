//! The contract between `statemachine/execution.asl.json` and the handler input
//! types of `ccx_core::io`.
//!
//! The real definition runs in the local engine against a fake invoker that, for
//! every Task, parses what the state's `Parameters` produced into that handler's
//! typed input with `io::parse_input` (the types reject unknown and missing
//! fields; a mismatch fails the test naming the state), then answers with a
//! canned output built from the typed output structs, or with a scripted error
//! reported the way Step Functions reports a Lambda error. Every path of the
//! definition is exercised, including every Catch route, and the path taken is
//! asserted for each scenario.

#[path = "support/asl_fake.rs"]
mod asl_fake;

use std::sync::Arc;

use asl_fake::*;
use ccx_core::contracts::{CompensationStatus, CompensationStrategy};
use ccx_core::error::{ErrorClass, ExecutionError};
use ccx_core::handlers::Handler;
use ccx_core::io::{self, CompensationOutput};
use ccx_local::engine::{Engine, Execution, ExecutionStatus, local_substitutions};
use serde_json::{Value, json};

struct Outcome {
    run: Execution,
    invoker: Arc<ContractInvoker>,
}

impl Outcome {
    fn path(&self) -> Vec<String> {
        self.run.state_path()
    }
    fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.invoker.received.lock().unwrap()
    }
}

fn definition() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/execution.asl.json"
    );
    std::fs::read_to_string(path).expect("statemachine/execution.asl.json is readable")
}

fn input(replay: Value) -> Value {
    json!({"action_intent_id": "ai-1", "tenant_id": "tenant-1", "account_id": "acc-1", "replay": replay})
}

async fn run_with(script: Script, input: Value) -> Outcome {
    let invoker = Arc::new(ContractInvoker::new(script));
    let engine = Engine::new(&definition(), &local_substitutions(), invoker.clone())
        .expect("the real definition loads in the local engine")
        .with_sleeper(Arc::new(NoWait));
    let run = engine.execute("contract-run", input).await;
    Outcome { run, invoker }
}

async fn run(script: Script) -> Outcome {
    run_with(script, input(Value::Null)).await
}

fn path(states: &[&str]) -> Vec<String> {
    states.iter().map(|s| s.to_string()).collect()
}

const HAPPY_PREFIX: [&str; 5] = [
    "StartExecution",
    "ValidatePreflight",
    "MapActionToTool",
    "InvokeTool",
    "CheckCompensation",
];

fn after_tool(rest: &[&str]) -> Vec<String> {
    let mut p = path(&HAPPY_PREFIX);
    p.extend(path(rest));
    p
}

/// Checks the recorder input carries the starter's execution context verbatim.
fn assert_execution_context(ctx: &io::ExecutionContext) {
    assert_eq!(ctx.trace_id, TRACE);
    assert_eq!(ctx.attempt_count, 1);
    assert_eq!(ctx.idempotency_key, IDEM);
    assert_eq!(ctx.decision_trace_id, "decision-0001");
    assert_eq!(ctx.tool_name, "crm.create_task");
    assert_eq!(ctx.started_at, t0());
}

#[tokio::test]
async fn success_path() {
    let o = run(Script::default()).await;
    assert_eq!(
        o.path(),
        after_tool(&[
            "NoCompensation",
            "RecordOutcome",
            "CheckOutcome",
            "ExecutionSucceeded"
        ])
    );
    assert_eq!(o.run.status, ExecutionStatus::Succeeded);
    let r = o.received();
    let s = &r.starter[0];
    assert_eq!(
        (
            s.action_intent_id.as_str(),
            s.tenant_id.as_str(),
            s.account_id.as_str()
        ),
        ("ai-1", "tenant-1", "acc-1")
    );
    assert_eq!(
        s.execution_id, o.run.execution_arn,
        "execution_id is $$.Execution.Id"
    );
    assert_eq!(s.replay, None);
    assert_eq!(r.validator[0].trace_id, TRACE);
    assert_eq!(
        (
            r.mapper[0].idempotency_key.as_str(),
            r.mapper[0].registry_version
        ),
        (IDEM, 3)
    );
    let i = &r.invoker[0];
    assert_eq!(
        (
            i.attempt_count,
            i.idempotency_key.as_str(),
            i.tool_name.as_str()
        ),
        (1, IDEM, "crm.create_task")
    );
    assert_eq!(
        i.tool_arguments,
        json!({"title": "Call back", "account": "acc-1"})
    );
    assert!(r.compensation.is_empty() && r.failure_recorder.is_empty());
    let rec = &r.recorder[0];
    assert_execution_context(&rec.execution);
    assert!(rec.invocation.success);
    assert_eq!(rec.compensation, CompensationOutput::none());
    // The final output keeps every namespaced result.
    let output = o.run.output.clone().unwrap();
    for key in [
        "execution",
        "validation",
        "mapping",
        "invocation",
        "compensation",
        "outcome",
    ] {
        assert!(output.get(key).is_some(), "output lacks {key}: {output}");
    }
    assert_eq!(output["outcome"]["status"], json!("SUCCEEDED"));
}

#[tokio::test]
async fn replay_request_reaches_the_starter() {
    let o = run_with(
        Script::default(),
        input(json!({"reason": "customer asked", "requested_by": "ops@example.com"})),
    )
    .await;
    assert_eq!(o.run.status, ExecutionStatus::Succeeded);
    let replay = o.received().starter[0]
        .replay
        .clone()
        .expect("replay passed through");
    assert_eq!(
        (replay.reason.as_str(), replay.requested_by.as_str()),
        ("customer asked", "ops@example.com")
    );
    assert_eq!(o.run.output.unwrap()["execution"]["replay"], json!(true));
}

#[tokio::test]
async fn tool_failure_with_partial_writes_is_compensated() {
    for (strategy, status) in [
        (
            CompensationStrategy::Automatic,
            CompensationStatus::Completed,
        ),
        (CompensationStrategy::Manual, CompensationStatus::Pending),
    ] {
        let o = run(Script {
            strategy,
            tool_success: false,
            tool_refs: vec![crm_ref("T-1"), crm_ref("T-2")],
            ..Script::default()
        })
        .await;
        assert_eq!(
            o.path(),
            after_tool(&[
                "CompensateAction",
                "RecordOutcome",
                "CheckOutcome",
                "ActionFailed"
            ]),
            "{strategy:?}"
        );
        assert_eq!(o.run.status, ExecutionStatus::Failed);
        assert_eq!(o.run.error.as_deref(), Some("ActionFailed"));
        let r = o.received();
        let c = &r.compensation[0];
        assert_eq!(c.compensation_strategy, strategy);
        assert_eq!(c.external_object_refs, vec![crm_ref("T-1"), crm_ref("T-2")]);
        assert_eq!(
            (c.trace_id.as_str(), c.decision_trace_id.as_str()),
            (TRACE, "decision-0001")
        );
        assert_eq!(
            c.compensation_tool.as_deref(),
            (strategy == CompensationStrategy::Automatic).then_some("crm.delete_task")
        );
        let rec = &r.recorder[0];
        assert!(!rec.invocation.success);
        assert_eq!(rec.compensation.status, status);
        assert_eq!(
            rec.compensation.compensated,
            vec![crm_ref("T-1"), crm_ref("T-2")]
        );
    }
}

#[tokio::test]
async fn tool_failure_without_compensation() {
    // Refs but strategy NONE, and AUTOMATIC but no refs: nothing to compensate.
    for script in [
        Script {
            strategy: CompensationStrategy::None,
            tool_success: false,
            ..Script::default()
        },
        Script {
            tool_success: false,
            tool_refs: vec![],
            ..Script::default()
        },
    ] {
        let o = run(script).await;
        assert_eq!(
            o.path(),
            after_tool(&[
                "NoCompensation",
                "RecordOutcome",
                "CheckOutcome",
                "ActionFailed"
            ])
        );
        assert_eq!(o.run.error.as_deref(), Some("ActionFailed"));
        let r = o.received();
        assert!(r.compensation.is_empty());
        assert_eq!(r.recorder[0].compensation, CompensationOutput::none());
        assert_eq!(
            r.recorder[0].invocation.error_code.as_deref(),
            Some("TOOL_REPORTED_FAILURE")
        );
    }
}

#[tokio::test]
async fn duplicate_start_ends_without_writing_anything() {
    let o = run(Script::default().raise(
        Handler::Starter,
        [ExecutionError::duplicate_start(
            "LOCK_HELD",
            "intent ai-1 is locked by a running attempt",
        )],
    ))
    .await;
    assert_eq!(o.path(), path(&["StartExecution", "DuplicateStartIgnored"]));
    assert_eq!(o.run.status, ExecutionStatus::Succeeded);
    let r = o.received();
    assert_eq!(r.starter.len(), 1, "DuplicateStartError is not retried");
    assert!(r.validator.is_empty() && r.recorder.is_empty() && r.failure_recorder.is_empty());
    assert_eq!(
        o.run.output.clone().unwrap()["error"]["Error"],
        json!("DuplicateStartError")
    );
}

#[tokio::test]
async fn start_failure_records_nothing() {
    let o = run(Script::default().raise(
        Handler::Starter,
        [ExecutionError::validation(
            "INTENT_NOT_FOUND",
            "no intent ai-1",
        )],
    ))
    .await;
    assert_eq!(o.path(), path(&["StartExecution", "StartFailed"]));
    assert_eq!(o.run.error.as_deref(), Some("StartFailed"));
    let r = o.received();
    assert_eq!(r.starter.len(), 1);
    assert!(r.failure_recorder.is_empty() && r.recorder.is_empty());
}

/// A transient error outliving its retries may come after the lock was taken:
/// the execution fails at StartExecution, unrecorded, to be redriven (the
/// starter reclaims its own lock by execution id), never ending in StartFailed
/// with a lock nobody will release.
#[tokio::test]
async fn an_exhausted_start_is_left_for_redrive() {
    let o = run(Script::default().raise(Handler::Starter, vec![transient("STORE_UNAVAILABLE"); 4]))
        .await;
    assert_eq!(o.path(), path(&["StartExecution"]));
    assert_eq!(o.run.error.as_deref(), Some("TransientError"));
    let r = o.received();
    assert_eq!(r.starter.len(), 4);
    assert!(r.validator.is_empty() && r.failure_recorder.is_empty() && r.recorder.is_empty());
}

/// Every failure before or at the tool call is recorded by the failure recorder
/// with the failed state's name and the caught error.
async fn assert_failure_route(
    script: Script,
    route: &[&str],
    failed_state: &str,
    error: &str,
) -> Outcome {
    let o = run(script).await;
    let mut expected = path(route);
    expected.extend(path(&["RecordFailure", "ExecutionFailed"]));
    assert_eq!(o.path(), expected);
    assert_eq!(o.run.status, ExecutionStatus::Failed);
    assert_eq!(o.run.error.as_deref(), Some("ExecutionFailed"));
    {
        let r = o.received();
        assert_eq!(r.failure_recorder.len(), 1);
        let f = &r.failure_recorder[0];
        assert_eq!(f.failed_state, failed_state);
        assert_eq!(f.error.error, error);
        assert_execution_context(&f.execution);
        assert_eq!(
            (f.action_intent_id.as_str(), f.tenant_id.as_str()),
            ("ai-1", "tenant-1")
        );
        assert!(r.recorder.is_empty());
    }
    o
}

#[tokio::test]
async fn validation_failure_is_recorded() {
    let o = assert_failure_route(
        Script::default().raise(
            Handler::Validator,
            [ExecutionError::validation("INTENT_EXPIRED", "expired")],
        ),
        &["StartExecution", "ValidatePreflight", "ValidationFailed"],
        "ValidatePreflight",
        "ValidationError",
    )
    .await;
    let r = o.received();
    assert_eq!(r.validator.len(), 1, "ValidationError is never retried");
    let cause = r.failure_recorder[0].error.structured();
    assert_eq!(
        (cause.class, cause.code.as_str()),
        (ErrorClass::Validation, "INTENT_EXPIRED")
    );
}

#[tokio::test]
async fn mapping_failure_is_recorded() {
    let o = assert_failure_route(
        Script::default().raise(
            Handler::ToolMapper,
            [ExecutionError::permanent(
                ErrorClass::Validation,
                "REQUIRED_PARAMETER_MISSING",
                "no title",
            )],
        ),
        &[
            "StartExecution",
            "ValidatePreflight",
            "MapActionToTool",
            "MappingFailed",
        ],
        "MapActionToTool",
        "PermanentError",
    )
    .await;
    assert_eq!(
        o.received().mapper.len(),
        1,
        "PermanentError is never retried"
    );
}

/// An error that proves the tool did not write (here a 4xx from the gateway)
/// is caught and recorded as FAILED, without a retry.
#[tokio::test]
async fn definitive_invocation_failure_is_recorded() {
    let o = assert_failure_route(
        Script::default().raise(
            Handler::ToolInvoker,
            [ExecutionError::permanent(
                ErrorClass::Downstream,
                "HTTP_400",
                "bad request",
            )],
        ),
        &[
            "StartExecution",
            "ValidatePreflight",
            "MapActionToTool",
            "InvokeTool",
            "InvocationFailed",
        ],
        "InvokeTool",
        "PermanentError",
    )
    .await;
    let r = o.received();
    assert_eq!(r.invoker.len(), 1, "PermanentError is never retried");
    let cause = r.failure_recorder[0].error.structured();
    assert_eq!(
        (cause.class, cause.code.as_str()),
        (ErrorClass::Downstream, "HTTP_400")
    );
}

/// A failure at the tool call that leaves open whether the tool wrote (a
/// TransientError outliving its retries, a task timeout, a crashed invoker) is
/// not recorded as FAILED: the execution fails at InvokeTool with nothing
/// recorded, to be redriven under the same idempotency key.
async fn assert_left_for_redrive(script: Script, error: &str) -> Outcome {
    let o = run(script).await;
    assert_eq!(
        o.path(),
        path(&[
            "StartExecution",
            "ValidatePreflight",
            "MapActionToTool",
            "InvokeTool",
        ])
    );
    assert_eq!(o.run.status, ExecutionStatus::Failed);
    assert_eq!(o.run.error.as_deref(), Some(error));
    {
        let r = o.received();
        assert!(r.failure_recorder.is_empty() && r.recorder.is_empty());
    }
    o
}

#[tokio::test]
async fn invocation_failure_after_retries_is_left_for_redrive() {
    let o = assert_left_for_redrive(
        Script::default().raise(Handler::ToolInvoker, vec![transient("HTTP_503"); 4]),
        "TransientError",
    )
    .await;
    let r = o.received();
    assert_eq!(r.invoker.len(), 4, "one call and three retries");
    assert!(
        r.invoker.windows(2).all(|w| w[0] == w[1]),
        "every retry sends the same input"
    );
}

#[tokio::test(start_paused = true)]
async fn invocation_timeout_is_left_for_redrive() {
    let o = assert_left_for_redrive(
        Script {
            tool_hangs: true,
            ..Script::default()
        },
        "States.Timeout",
    )
    .await;
    assert_eq!(
        o.received().invoker.len(),
        1,
        "States.Timeout is not retried"
    );
}

/// A function process that exited mid-invocation (`Runtime.ExitError`, what
/// Lambda reports for a crashed custom runtime, e.g. a panic under
/// `panic = "abort"`) is retried like the Lambda service errors, on every Task.
#[tokio::test]
async fn crashed_functions_are_retried() {
    let crash = || {
        ExecutionError::new(
            "Runtime.ExitError",
            ErrorClass::Unknown,
            "EXIT",
            false,
            "Runtime exited with error: signal: aborted",
        )
    };
    let o = run(Script::default()
        .raise(Handler::Starter, [crash()])
        .raise(Handler::Validator, [crash()])
        .raise(Handler::ToolMapper, [crash()])
        .raise(Handler::ToolInvoker, [crash(), crash()])
        .raise(Handler::Recorder, [crash()]))
    .await;
    assert_eq!(
        o.path(),
        after_tool(&[
            "NoCompensation",
            "RecordOutcome",
            "CheckOutcome",
            "ExecutionSucceeded"
        ])
    );
    {
        let r = o.received();
        assert_eq!(
            (
                r.starter.len(),
                r.validator.len(),
                r.mapper.len(),
                r.invoker.len(),
                r.recorder.len()
            ),
            (2, 2, 2, 3, 2)
        );
    }
    // Three crashes of the invoker outlive its two retries: left for redrive.
    assert_left_for_redrive(
        Script::default().raise(Handler::ToolInvoker, vec![crash(); 3]),
        "Runtime.ExitError",
    )
    .await;
}

#[tokio::test]
async fn transient_errors_are_retried_then_the_path_continues() {
    let o = run(Script::default()
        .raise(Handler::Validator, [transient("STORE_UNAVAILABLE")])
        .raise(
            Handler::ToolInvoker,
            [transient("HTTP_429"), transient("HTTP_503")],
        )
        .raise(Handler::Recorder, vec![transient("STORE_UNAVAILABLE"); 4]))
    .await;
    assert_eq!(
        o.path(),
        after_tool(&[
            "NoCompensation",
            "RecordOutcome",
            "CheckOutcome",
            "ExecutionSucceeded"
        ])
    );
    let r = o.received();
    assert_eq!(
        (r.validator.len(), r.invoker.len(), r.recorder.len()),
        (2, 3, 5)
    );
    assert!(r.recorder.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn compensation_error_is_recorded_as_failed_compensation() {
    let o = run(Script {
        tool_success: false,
        ..Script::default()
    }
    .raise(
        Handler::Compensation,
        [ExecutionError::permanent(
            ErrorClass::Downstream,
            "COMPENSATION_TOOL_FAILED",
            "delete refused",
        )],
    ))
    .await;
    assert_eq!(
        o.path(),
        after_tool(&[
            "CompensateAction",
            "CompensationErrored",
            "RecordOutcome",
            "CheckOutcome",
            "ActionFailed"
        ])
    );
    let r = o.received();
    assert_eq!(r.compensation.len(), 1);
    assert_eq!(
        r.recorder[0].compensation.status,
        CompensationStatus::Failed
    );
    assert_execution_context(&r.recorder[0].execution);
}

/// Every Task input in the history was parsed by the fake (no Task was skipped
/// by a path the scenarios above did not drive).
#[tokio::test]
async fn every_task_state_of_the_definition_is_exercised() {
    let mut seen = std::collections::BTreeSet::new();
    for script in [
        Script::default(),
        Script {
            tool_success: false,
            ..Script::default()
        },
        Script::default().raise(Handler::Validator, [ExecutionError::validation("X", "x")]),
    ] {
        seen.extend(run(script).await.path());
    }
    let def: Value = serde_json::from_str(&definition()).unwrap();
    let tasks: std::collections::BTreeSet<String> = def["States"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["Type"] == "Task")
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(tasks.len(), 7);
    assert!(
        tasks.is_subset(&seen),
        "tasks not exercised: {:?}",
        tasks.difference(&seen).collect::<Vec<_>>()
    );
}
