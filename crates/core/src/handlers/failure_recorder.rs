//! RecordFailure: record an execution that failed before or at the tool call
//! (a Catch route of the state machine).
//!
//! Class, code and message come from the caught error's structured cause
//! ([`crate::error::CaughtError::structured`]), never guessed from message text.
//! Outcome FAILED with `failed_state`, attempt FAILED and an `ACTION_FAILED` ledger
//! entry in one `record_terminal`; then the `ACTION_FAILED` event. Retries behave
//! as in the recorder (`written: false`, event published again).
//!
//! A caught `DuplicateStartError` is never recorded: the lock belongs to another
//! execution (or the intent is already terminal) and recording would mark the
//! live attempt FAILED. The state machine does not route it here; this guard
//! keeps a wiring mistake from corrupting the record.

use serde_json::json;
use tracing::warn;

use crate::contracts::{ActionOutcomeV1, CompensationStatus, OutcomeStatus};
use crate::error::{ExecutionError, names};
use crate::io::{FailureRecorderInput, RecorderOutput};
use crate::ports::Deps;

use super::recorder::record_terminal;

#[tracing::instrument(
    name = "failure_recorder",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.execution.trace_id)
)]
pub async fn handle(
    deps: &Deps,
    input: FailureRecorderInput,
) -> Result<RecorderOutput, ExecutionError> {
    let cause = input.error.structured();
    if input.error.error == names::DUPLICATE_START {
        warn!(
            failed_state = %input.failed_state,
            code = %cause.code,
            "duplicate start routed to the failure recorder: not recording"
        );
        return Ok(RecorderOutput {
            status: OutcomeStatus::Failed,
            written: false,
            error_class: Some(cause.class),
            error_code: Some(cause.code),
            compensation_status: CompensationStatus::None,
        });
    }

    let exec = &input.execution;
    let outcome = ActionOutcomeV1 {
        action_intent_id: input.action_intent_id.clone(),
        tenant_id: input.tenant_id.clone(),
        account_id: input.account_id.clone(),
        trace_id: exec.trace_id.clone(),
        decision_trace_id: exec.decision_trace_id.clone(),
        status: OutcomeStatus::Failed,
        attempt_count: exec.attempt_count,
        tool_name: Some(exec.tool_name.clone()),
        tool_run_ref: None,
        external_object_refs: vec![],
        raw_response_artifact_ref: None,
        error_class: Some(cause.class),
        error_code: Some(cause.code.clone()),
        error_message: Some(cause.message.clone()),
        failed_state: Some(input.failed_state.clone()),
        compensation_status: CompensationStatus::None,
        compensation_error: None,
        idempotency_key: exec.idempotency_key.clone(),
        started_at: exec.started_at,
        completed_at: deps.clock.now(),
    };
    let data = json!({
        "status": OutcomeStatus::Failed,
        "failed_state": input.failed_state,
        "error_name": input.error.error,
        "error_class": cause.class,
        "error_code": cause.code,
        "error_message": cause.message,
        "tool_name": exec.tool_name,
    });
    let written = record_terminal(deps, exec, outcome, data).await?;
    Ok(RecorderOutput {
        status: OutcomeStatus::Failed,
        written,
        error_class: Some(cause.class),
        error_code: Some(cause.code),
        compensation_status: CompensationStatus::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::{AttemptStatus, LedgerEventType};
    use crate::error::{CaughtError, ErrorClass, LambdaErrorPayload};
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT, start};
    use crate::io::ExecutionContext;

    fn input(execution: ExecutionContext, state: &str, error: CaughtError) -> FailureRecorderInput {
        FailureRecorderInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            execution,
            failed_state: state.into(),
            error,
        }
    }

    fn caught(err: &ExecutionError) -> CaughtError {
        CaughtError {
            error: err.name.into(),
            cause: Some(err.to_cause_json()),
        }
    }

    #[tokio::test]
    async fn records_class_and_code_from_the_structured_cause() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let err = ExecutionError::validation("INTENT_EXPIRED", "intent ai1 expired");
        let out = handle(
            &h.deps(),
            input(exec.clone(), "ValidatePreflight", caught(&err)),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            RecorderOutput {
                status: OutcomeStatus::Failed,
                written: true,
                error_class: Some(ErrorClass::Validation),
                error_code: Some("INTENT_EXPIRED".into()),
                compensation_status: CompensationStatus::None,
            }
        );
        let o = h.outcome().await.unwrap();
        assert_eq!(o.status, OutcomeStatus::Failed);
        assert_eq!(o.failed_state.as_deref(), Some("ValidatePreflight"));
        assert_eq!(o.error_class, Some(ErrorClass::Validation));
        assert_eq!(o.error_code.as_deref(), Some("INTENT_EXPIRED"));
        assert_eq!(o.error_message.as_deref(), Some("intent ai1 expired"));
        assert_eq!(o.tool_name.as_deref(), Some("crm.create_task"));
        assert_eq!(o.trace_id, exec.trace_id);
        let a = h.attempt().await.unwrap();
        assert_eq!((a.status, a.lock_expires_at), (AttemptStatus::Failed, None));
        let ledger = h.ledger(&exec.trace_id).await;
        let last = ledger.last().unwrap();
        assert_eq!(last.event_type, LedgerEventType::ActionFailed);
        assert_eq!(last.data["failed_state"], "ValidatePreflight");
        assert_eq!(last.data["error_name"], "ValidationError");
        assert_eq!(
            h.events.events().last().unwrap().detail_type,
            "ACTION_FAILED"
        );
        assert_eq!(
            h.events.events().last().unwrap().detail["failed_state"],
            "ValidatePreflight"
        );
    }

    #[tokio::test]
    async fn reads_the_cause_inside_a_lambda_error_payload() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let err = ExecutionError::transient(ErrorClass::RateLimit, "HTTP_429", "slow down");
        let error = CaughtError {
            error: "TransientError".into(),
            cause: Some(LambdaErrorPayload::cause_of(&err)),
        };
        handle(&h.deps(), input(exec, "InvokeTool", error))
            .await
            .unwrap();
        let o = h.outcome().await.unwrap();
        assert_eq!(o.error_class, Some(ErrorClass::RateLimit));
        assert_eq!(o.error_code.as_deref(), Some("HTTP_429"));
    }

    #[tokio::test]
    async fn step_functions_errors_are_classified_by_name() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let error = CaughtError {
            error: "States.Timeout".into(),
            cause: None,
        };
        let out = handle(&h.deps(), input(exec, "InvokeTool", error))
            .await
            .unwrap();
        assert_eq!(out.error_class, Some(ErrorClass::Timeout));
        assert_eq!(out.error_code.as_deref(), Some("STATES_TIMEOUT"));
        assert_eq!(
            h.outcome().await.unwrap().error_class,
            Some(ErrorClass::Timeout)
        );
    }

    #[tokio::test]
    async fn a_retried_failure_recorder_does_not_duplicate() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let err = ExecutionError::permanent(ErrorClass::Downstream, "HTTP_400", "bad");
        let i = input(exec.clone(), "InvokeTool", caught(&err));
        assert!(handle(&h.deps(), i.clone()).await.unwrap().written);
        let outcome = h.outcome().await.unwrap();
        let again = handle(&h.deps(), i).await.unwrap();
        assert!(!again.written);
        assert_eq!(h.outcome().await.unwrap(), outcome);
        assert_eq!(
            h.ledger_types(&exec.trace_id).await,
            ["EXECUTION_STARTED", "ACTION_FAILED"]
        );
    }

    #[tokio::test]
    async fn publish_failure_is_transient_after_the_write() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let err = ExecutionError::auth("HTTP_401", "token rejected");
        h.events.fail_next(1);
        let e = handle(&h.deps(), input(exec, "InvokeTool", caught(&err)))
            .await
            .unwrap_err();
        assert_eq!(
            (e.name, e.code.as_str()),
            ("TransientError", "EVENT_PUBLISH_FAILED")
        );
        assert_eq!(
            h.outcome().await.unwrap().error_class,
            Some(ErrorClass::Auth)
        );
    }

    #[tokio::test]
    async fn a_duplicate_start_is_never_recorded_over_the_live_attempt() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let live = h.attempt().await.unwrap();
        let dup = ExecutionError::duplicate_start("LOCK_HELD", "held by exec-1");
        let out = handle(
            &h.deps(),
            input(exec.clone(), "StartExecution", caught(&dup)),
        )
        .await
        .unwrap();
        assert!(!out.written);
        assert_eq!(h.attempt().await.unwrap(), live);
        assert_eq!(h.outcome().await, None);
        assert_eq!(h.ledger_types(&exec.trace_id).await, ["EXECUTION_STARTED"]);
        assert_eq!(h.events.detail_types(), ["EXECUTION_STARTED"]);
    }
}
