//! RecordOutcome: write the outcome of a tool call that completed (successfully
//! or with a tool-reported failure).
//!
//! Outcome, attempt status and the `ACTION_EXECUTED` / `ACTION_FAILED` ledger entry
//! go through ONE `Store::record_terminal` (one transaction, deterministic ledger
//! id), so a retried recorder neither duplicates nor half-writes: it finds
//! `AlreadyRecorded` and answers `written: false`. The event is published after
//! the write; a publish failure is a `TransientError`, and the retry finds the
//! record already written and publishes again: records exactly once, events at
//! least once.

use serde_json::{Value, json};
use tracing::info;

use crate::contracts::{
    ActionOutcomeV1, AttemptStatus, ExternalObjectRef, LedgerEntry, LedgerEventType, OutcomeStatus,
};
use crate::error::ExecutionError;
use crate::io::{CompensationFailure, ExecutionContext, RecorderInput, RecorderOutput};
use crate::ports::{Deps, TerminalWrite, TerminalWriteResult};

use super::events;

#[tracing::instrument(
    name = "recorder",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.execution.trace_id)
)]
pub async fn handle(deps: &Deps, input: RecorderInput) -> Result<RecorderOutput, ExecutionError> {
    let inv = &input.invocation;
    let succeeded = inv.success;
    let status = if succeeded {
        OutcomeStatus::Succeeded
    } else {
        OutcomeStatus::Failed
    };
    let outcome = ActionOutcomeV1 {
        action_intent_id: input.action_intent_id.clone(),
        tenant_id: input.tenant_id.clone(),
        account_id: input.account_id.clone(),
        trace_id: input.execution.trace_id.clone(),
        decision_trace_id: input.execution.decision_trace_id.clone(),
        status,
        attempt_count: input.execution.attempt_count,
        tool_name: Some(inv.tool_name.clone()),
        tool_run_ref: Some(inv.tool_run_ref.clone()),
        external_object_refs: inv.external_object_refs.clone(),
        raw_response_artifact_ref: inv.raw_response_artifact_ref.clone(),
        error_class: if succeeded { None } else { inv.error_class },
        error_code: if succeeded {
            None
        } else {
            inv.error_code.clone()
        },
        error_message: if succeeded {
            None
        } else {
            inv.error_message.clone()
        },
        failed_state: None,
        compensation_status: input.compensation.status,
        compensation_error: compensation_error(&input.compensation.failures),
        idempotency_key: input.execution.idempotency_key.clone(),
        started_at: input.execution.started_at,
        completed_at: deps.clock.now(),
    };
    let data = json!({
        "status": status,
        "tool_name": inv.tool_name,
        "tool_run_ref": inv.tool_run_ref,
        "external_object_refs": inv.external_object_refs,
        "deduplicated": inv.deduplicated,
        "error_class": outcome.error_class,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "compensation_status": outcome.compensation_status,
        "compensation_error": outcome.compensation_error,
    });
    let written = record_terminal(deps, &input.execution, outcome.clone(), data).await?;
    Ok(RecorderOutput {
        status,
        written,
        error_class: outcome.error_class,
        error_code: outcome.error_code,
        compensation_status: outcome.compensation_status,
    })
}

/// `"{system}/{object_type}/{object_id}: {reason}"` joined with `"; "`.
fn compensation_error(failures: &[CompensationFailure]) -> Option<String> {
    if failures.is_empty() {
        return None;
    }
    Some(
        failures
            .iter()
            .map(|f| format!("{}: {}", ref_label(&f.object_ref), f.reason))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn ref_label(r: &ExternalObjectRef) -> String {
    format!("{}/{}/{}", r.system, r.object_type, r.object_id)
}

/// Shared by both recorders: one terminal write (outcome + attempt status + one
/// ledger entry), then the lifecycle event. Returns whether this call wrote.
pub(crate) async fn record_terminal(
    deps: &Deps,
    execution: &ExecutionContext,
    outcome: ActionOutcomeV1,
    ledger_data: Value,
) -> Result<bool, ExecutionError> {
    let succeeded = outcome.status == OutcomeStatus::Succeeded;
    let (attempt_status, ledger_event, detail_type) = if succeeded {
        (
            AttemptStatus::Succeeded,
            LedgerEventType::ActionExecuted,
            events::ACTION_EXECUTED,
        )
    } else {
        (
            AttemptStatus::Failed,
            LedgerEventType::ActionFailed,
            events::ACTION_FAILED,
        )
    };
    let entry = LedgerEntry::new(
        &outcome.tenant_id,
        &outcome.account_id,
        &outcome.action_intent_id,
        &execution.trace_id,
        &execution.decision_trace_id,
        execution.attempt_count,
        ledger_event,
        outcome.completed_at,
        ledger_data,
    );
    let write = TerminalWrite {
        outcome: outcome.clone(),
        attempt_status,
        ledger: vec![entry],
    };
    let written = match deps.store.record_terminal(&write).await? {
        TerminalWriteResult::Written => true,
        TerminalWriteResult::AlreadyRecorded => {
            info!("outcome already recorded by an earlier try of this step");
            false
        }
    };

    events::publish(deps, detail_type, event_detail(&outcome, execution)).await?;
    info!(
        status = ?outcome.status,
        written,
        error_code = outcome.error_code.as_deref().unwrap_or(""),
        "outcome recorded"
    );
    Ok(written)
}

fn event_detail(outcome: &ActionOutcomeV1, execution: &ExecutionContext) -> Value {
    json!({
        "action_intent_id": outcome.action_intent_id,
        "tenant_id": outcome.tenant_id,
        "account_id": outcome.account_id,
        "trace_id": execution.trace_id,
        "decision_trace_id": execution.decision_trace_id,
        "attempt_count": execution.attempt_count,
        "status": outcome.status,
        "tool_name": outcome.tool_name,
        "tool_run_ref": outcome.tool_run_ref,
        "external_object_refs": outcome.external_object_refs,
        "error_class": outcome.error_class,
        "error_code": outcome.error_code,
        "failed_state": outcome.failed_state,
        "compensation_status": outcome.compensation_status,
        "completed_at": outcome.completed_at,
    })
}
