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
