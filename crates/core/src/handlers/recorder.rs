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
use crate::error::{CaughtError, ExecutionError};
use crate::io::{CompensationFailure, ExecutionContext, RecorderInput, RecorderOutput};
use crate::ports::{Deps, TerminalWrite, TerminalWriteResult};

use super::events;

#[tracing::instrument(
    name = "recorder",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.execution.trace_id)
)]
pub async fn handle(deps: &Deps, input: RecorderInput) -> Result<RecorderOutput, ExecutionError> {
    if let Some(caught) = &input.compensation.error {
        record_compensation_errored(deps, &input, caught).await?;
    }
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
        compensation_error: match &input.compensation.error {
            Some(caught) => Some(compensation_step_error(caught)),
            None => compensation_error(&input.compensation.failures),
        },
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

/// The reason recorded when the compensation step itself failed.
fn compensation_step_error(caught: &CaughtError) -> String {
    let cause = caught.structured();
    format!(
        "the compensation step failed after its retries ({} {}): {}",
        caught.error, cause.code, cause.message
    )
}

/// The compensation step failed outright (its Catch led to
/// `CompensationErrored`), so the compensation handler wrote no ledger entry
/// saying so. This writes the `COMPENSATION_FAILED` entry with the reason and
/// the refs left to undo, before the terminal write, through the idempotent
/// ledger append (same deterministic id as the handler's, so it never doubles).
/// Found by checking compensation completeness for `ccx chaos`: the outcome said
/// FAILED with no reason and the ledger had no compensation entry.
async fn record_compensation_errored(
    deps: &Deps,
    input: &RecorderInput,
    caught: &CaughtError,
) -> Result<(), ExecutionError> {
    let execution = &input.execution;
    let entry = LedgerEntry::new(
        &input.tenant_id,
        &input.account_id,
        &input.action_intent_id,
        &execution.trace_id,
        &execution.decision_trace_id,
        execution.attempt_count,
        LedgerEventType::CompensationFailed,
        deps.clock.now(),
        json!({
            "reason": compensation_step_error(caught),
            "error": caught.error,
            "compensated": [],
            "failures": [],
            "external_object_refs": input.invocation.external_object_refs,
        }),
    );
    deps.store.append_ledger(&[entry]).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::{AttemptStatus, CompensationStatus};
    use crate::error::ErrorClass;
    use crate::fixtures;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT, object_ref, start};
    use crate::io::{CompensationOutput, InvokerOutput};

    fn invocation(success: bool, refs: Vec<ExternalObjectRef>) -> InvokerOutput {
        InvokerOutput {
            success,
            tool_name: "crm.create_task".into(),
            tool_run_ref: "toolrun/x/1/crm.create_task".into(),
            has_external_refs: !refs.is_empty(),
            external_object_refs: refs,
            raw_response_artifact_ref: None,
            error_class: (!success).then_some(ErrorClass::Downstream),
            error_code: (!success).then(|| "CRM_VALIDATION".to_string()),
            error_message: (!success).then(|| "due_date in the past".to_string()),
            deduplicated: false,
            duration_ms: 12,
        }
    }

    fn input(
        execution: ExecutionContext,
        invocation: InvokerOutput,
        compensation: CompensationOutput,
    ) -> RecorderInput {
        RecorderInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            execution,
            invocation,
            compensation,
        }
    }

    #[tokio::test]
    async fn success_writes_outcome_attempt_and_ledger_and_publishes() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        h.clock.set(fixtures::t0() + chrono::Duration::seconds(5));
        let task = object_ref("crm", "task", "T-1");
        let out = handle(
            &h.deps(),
            input(
                exec.clone(),
                invocation(true, vec![task.clone()]),
                CompensationOutput::none(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            RecorderOutput {
                status: OutcomeStatus::Succeeded,
                written: true,
                error_class: None,
                error_code: None,
                compensation_status: CompensationStatus::None,
            }
        );

        let o = h.outcome().await.unwrap();
        assert_eq!(o.status, OutcomeStatus::Succeeded);
        assert_eq!(o.trace_id, exec.trace_id);
        assert_eq!(o.decision_trace_id, exec.decision_trace_id);
        assert_eq!(o.external_object_refs, vec![task]);
        assert_eq!(
            o.tool_run_ref.as_deref(),
            Some("toolrun/x/1/crm.create_task")
        );
        assert_eq!(o.idempotency_key, exec.idempotency_key);
        assert_eq!(o.started_at, fixtures::t0());
        assert_eq!(
            o.completed_at,
            fixtures::t0() + chrono::Duration::seconds(5)
        );
        assert_eq!((o.error_class, o.error_code.clone()), (None, None));

        let a = h.attempt().await.unwrap();
        assert_eq!(a.status, AttemptStatus::Succeeded);
        assert_eq!(a.lock_expires_at, None, "terminal records never expire");
        assert_eq!(
            h.ledger_types(&exec.trace_id).await,
            ["EXECUTION_STARTED", "ACTION_EXECUTED"]
        );
        let events = h.events.events();
        assert_eq!(events.last().unwrap().detail_type, "ACTION_EXECUTED");
        assert_eq!(events.last().unwrap().detail["status"], "SUCCEEDED");
        assert_eq!(
            events.last().unwrap().detail["trace_id"],
            exec.trace_id.as_str()
        );
    }

    #[tokio::test]
    async fn tool_failure_keeps_error_partial_refs_and_compensation_failures() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let compensation = CompensationOutput {
            status: CompensationStatus::Failed,
            compensated: vec![object_ref("crm", "task", "T-1")],
            failures: vec![
                CompensationFailure {
                    object_ref: object_ref("crm", "task", "T-2"),
                    reason: "NOT_FOUND: gone".into(),
                },
                CompensationFailure {
                    object_ref: object_ref("crm", "note", "N-1"),
                    reason: "HTTP_403: forbidden".into(),
                },
            ],
            error: None,
        };
        let refs = vec![
            object_ref("crm", "task", "T-1"),
            object_ref("crm", "task", "T-2"),
            object_ref("crm", "note", "N-1"),
        ];
        let out = handle(
            &h.deps(),
            input(exec.clone(), invocation(false, refs.clone()), compensation),
        )
        .await
        .unwrap();
        assert_eq!(out.status, OutcomeStatus::Failed);
        assert_eq!(out.error_code.as_deref(), Some("CRM_VALIDATION"));
        assert_eq!(out.compensation_status, CompensationStatus::Failed);

        let o = h.outcome().await.unwrap();
        assert_eq!(o.status, OutcomeStatus::Failed);
        assert_eq!(o.error_class, Some(ErrorClass::Downstream));
        assert_eq!(o.error_message.as_deref(), Some("due_date in the past"));
        assert_eq!(o.external_object_refs, refs);
        assert_eq!(o.failed_state, None);
        assert_eq!(o.compensation_status, CompensationStatus::Failed);
        assert_eq!(
            o.compensation_error.as_deref(),
            Some("crm/task/T-2: NOT_FOUND: gone; crm/note/N-1: HTTP_403: forbidden")
        );
        assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Failed);
        let ledger = h.ledger(&exec.trace_id).await;
        assert_eq!(
            ledger.last().unwrap().event_type,
            LedgerEventType::ActionFailed
        );
        assert_eq!(ledger.last().unwrap().data["error_code"], "CRM_VALIDATION");
        assert_eq!(
            h.events.events().last().unwrap().detail_type,
            "ACTION_FAILED"
        );
    }

    #[tokio::test]
    async fn a_retried_recorder_writes_nothing_twice_but_publishes_again() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let i = input(
            exec.clone(),
            invocation(true, vec![]),
            CompensationOutput::none(),
        );
        assert!(handle(&h.deps(), i.clone()).await.unwrap().written);
        let outcome = h.outcome().await.unwrap();
        h.clock.set(fixtures::t0() + chrono::Duration::minutes(1));

        let again = handle(&h.deps(), i).await.unwrap();
        assert!(!again.written);
        assert_eq!(again.status, OutcomeStatus::Succeeded);
        assert_eq!(h.outcome().await.unwrap(), outcome, "first write stands");
        assert_eq!(
            h.ledger_types(&exec.trace_id).await,
            ["EXECUTION_STARTED", "ACTION_EXECUTED"]
        );
        assert_eq!(
            h.events.detail_types(),
            ["EXECUTION_STARTED", "ACTION_EXECUTED", "ACTION_EXECUTED"]
        );
    }

    #[tokio::test]
    async fn publish_failure_after_the_write_is_transient_and_the_retry_publishes() {
        let h = Harness::seeded().await;
        let exec = start(&h, "exec-1").await;
        let i = input(
            exec.clone(),
            invocation(true, vec![]),
            CompensationOutput::none(),
        );
        h.events.fail_next(1);
        let err = handle(&h.deps(), i.clone()).await.unwrap_err();
        assert_eq!(
            (err.name, err.code.as_str()),
            ("TransientError", "EVENT_PUBLISH_FAILED")
        );
        assert_eq!(h.outcome().await.unwrap().status, OutcomeStatus::Succeeded);
        assert_eq!(h.events.detail_types(), ["EXECUTION_STARTED"]);

        let again = handle(&h.deps(), i).await.unwrap();
        assert!(!again.written);
        assert_eq!(
            h.events.detail_types(),
            ["EXECUTION_STARTED", "ACTION_EXECUTED"]
        );
        assert_eq!(h.ledger(&exec.trace_id).await.len(), 2);
    }

    #[tokio::test]
    async fn recording_against_a_stale_trace_is_refused() {
        let h = Harness::seeded().await;
        let mut exec = start(&h, "exec-1").await;
        exec.trace_id = "not-the-live-trace".into();
        let err = handle(
            &h.deps(),
            input(exec, invocation(true, vec![]), CompensationOutput::none()),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name, "ConflictError");
        assert_eq!(h.attempt().await.unwrap().status, AttemptStatus::Running);
        assert_eq!(h.outcome().await, None);
    }
}
