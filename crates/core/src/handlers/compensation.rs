//! CompensateAction: undo the partial external writes of a failed tool call,
//! as the registry's compensation strategy says.
//!
//! - NONE, or nothing was written: status NONE, nothing recorded.
//! - MANUAL: status PENDING and a `COMPENSATION_PENDING` ledger entry listing the
//!   refs, for a human to undo.
//! - AUTOMATIC without a `compensation_tool`: a registry error we cannot act on;
//!   status FAILED, every ref in `failures` with the reason, `COMPENSATION_FAILED`.
//! - AUTOMATIC: the compensation tool is called once per ref with
//!   `{object_id, object_type, system, tenant_id, account_id,
//!   idempotency_key: "{key}:compensate:{object_id}"}`. A success lands in
//!   `compensated`; a tool-reported failure, a `PermanentError` (malformed result
//!   included) or an `AuthError` lands in `failures` with its reason. A
//!   `TransientError` (or any other error) is returned as is: the state machine
//!   retries the whole step, which is safe because each compensation call is
//!   idempotent by its own key. COMPLETED if nothing failed, else FAILED, with a
//!   `COMPENSATION_COMPLETED` / `COMPENSATION_FAILED` ledger entry.

use serde_json::{Value, json};
use tracing::{info, warn};

use crate::contracts::{
    CompensationStatus, CompensationStrategy, ExternalObjectRef, LedgerEntry, LedgerEventType,
};
use crate::error::{ExecutionError, names};
use crate::io::{CompensationFailure, CompensationInput, CompensationOutput};
use crate::ports::Deps;
use crate::tool_result;

#[tracing::instrument(
    name = "compensation",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.trace_id)
)]
pub async fn handle(
    deps: &Deps,
    input: CompensationInput,
) -> Result<CompensationOutput, ExecutionError> {
    if input.compensation_strategy == CompensationStrategy::None
        || input.external_object_refs.is_empty()
    {
        info!(strategy = ?input.compensation_strategy, "nothing to compensate");
        return Ok(CompensationOutput::none());
    }

    if input.compensation_strategy == CompensationStrategy::Manual {
        append(
            deps,
            &input,
            LedgerEventType::CompensationPending,
            json!({ "external_object_refs": input.external_object_refs }),
        )
        .await?;
        info!(
            refs = input.external_object_refs.len(),
            "manual compensation pending"
        );
        return Ok(CompensationOutput {
            status: CompensationStatus::Pending,
            compensated: vec![],
            failures: vec![],
            error: None,
        });
    }

    let Some(tool) = input
        .compensation_tool
        .clone()
        .filter(|t| !t.trim().is_empty())
    else {
        let reason =
            "compensation strategy is AUTOMATIC but the registry entry names no compensation_tool";
        let failures: Vec<CompensationFailure> = input
            .external_object_refs
            .iter()
            .map(|r| CompensationFailure {
                object_ref: r.clone(),
                reason: reason.to_string(),
            })
            .collect();
        append(
            deps,
            &input,
            LedgerEventType::CompensationFailed,
            json!({ "reason": reason, "compensated": [], "failures": failures }),
        )
        .await?;
        warn!("{reason}");
        return Ok(CompensationOutput {
            status: CompensationStatus::Failed,
            compensated: vec![],
            failures,
            error: None,
        });
    };

    let mut compensated = Vec::new();
    let mut failures = Vec::new();
    for object_ref in &input.external_object_refs {
        match compensate_one(deps, &input, &tool, object_ref).await {
            Ok(()) => compensated.push(object_ref.clone()),
            Err(Undo::Failed(reason)) => failures.push(CompensationFailure {
                object_ref: object_ref.clone(),
                reason,
            }),
            Err(Undo::Retry(e)) => return Err(e),
        }
    }

    let (status, event) = if failures.is_empty() {
        (
            CompensationStatus::Completed,
            LedgerEventType::CompensationCompleted,
        )
    } else {
        (
            CompensationStatus::Failed,
            LedgerEventType::CompensationFailed,
        )
    };
    append(
        deps,
        &input,
        event,
        json!({ "compensation_tool": tool, "compensated": compensated, "failures": failures }),
    )
    .await?;
    info!(
        compensation_tool = %tool,
        compensated = compensated.len(),
        failed = failures.len(),
        "compensation finished"
    );
    Ok(CompensationOutput {
        status,
        compensated,
        failures,
        error: None,
    })
}

enum Undo {
    /// This object could not be undone; record why and go on with the others.
    Failed(String),
    /// Worth retrying the whole step (or not ours to judge): propagate.
    Retry(ExecutionError),
}

async fn compensate_one(
    deps: &Deps,
    input: &CompensationInput,
    tool: &str,
    object_ref: &ExternalObjectRef,
) -> Result<(), Undo> {
    let arguments = json!({
        "object_id": object_ref.object_id,
        "object_type": object_ref.object_type,
        "system": object_ref.system,
        "tenant_id": input.tenant_id,
        "account_id": input.account_id,
        "idempotency_key": compensation_key(&input.idempotency_key, &object_ref.object_id),
    });
    let outcome = deps
        .mcp
        .call_tool(tool, &arguments)
        .await
        .and_then(|response| tool_result::interpret(&response))
        .map_err(|e| match e.name {
            names::PERMANENT | names::AUTH => Undo::Failed(format!("{}: {}", e.code, e.message)),
            _ => Undo::Retry(e),
        })?;
    if outcome.success {
        return Ok(());
    }
    let reason = outcome
        .error
        .map(|e| format!("{}: {}", e.code, e.message))
        .unwrap_or_else(|| "compensation tool reported failure".into());
    warn!(
        compensation_tool = %tool,
        object_type = %object_ref.object_type,
        "compensation of one object failed"
    );
    Err(Undo::Failed(reason))
}

/// Idempotency key of the compensation of one object: stable across retries.
pub fn compensation_key(idempotency_key: &str, object_id: &str) -> String {
    format!("{idempotency_key}:compensate:{object_id}")
}

async fn append(
    deps: &Deps,
    input: &CompensationInput,
    event: LedgerEventType,
    data: Value,
) -> Result<(), ExecutionError> {
    let entry = LedgerEntry::new(
        &input.tenant_id,
        &input.account_id,
        &input.action_intent_id,
        &input.trace_id,
        &input.decision_trace_id,
        input.attempt_count,
        event,
        deps.clock.now(),
        data,
    );
    deps.store.append_ledger(&[entry]).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT, object_ref, responses};

    const TRACE: &str = "trace-1";

    fn input(
        strategy: CompensationStrategy,
        tool: Option<&str>,
        refs: Vec<ExternalObjectRef>,
    ) -> CompensationInput {
        CompensationInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: TRACE.into(),
            attempt_count: 1,
            decision_trace_id: "dec-ai1".into(),
            idempotency_key: "key-1".into(),
            compensation_strategy: strategy,
            compensation_tool: tool.map(str::to_string),
            external_object_refs: refs,
        }
    }

    fn refs(ids: &[&str]) -> Vec<ExternalObjectRef> {
        ids.iter().map(|id| object_ref("crm", "task", id)).collect()
    }

    #[tokio::test]
    async fn strategy_none_or_no_refs_does_nothing() {
        let h = Harness::seeded().await;
        for i in [
            input(
                CompensationStrategy::None,
                Some("crm.delete_task"),
                refs(&["T-1"]),
            ),
            input(
                CompensationStrategy::Automatic,
                Some("crm.delete_task"),
                vec![],
            ),
            input(CompensationStrategy::Manual, None, vec![]),
        ] {
            assert_eq!(
                handle(&h.deps(), i).await.unwrap(),
                CompensationOutput::none()
            );
        }
        assert!(h.mcp.calls().is_empty());
        assert!(h.ledger(TRACE).await.is_empty());
    }

    #[tokio::test]
    async fn manual_is_pending_and_audited_with_the_refs() {
        let h = Harness::seeded().await;
        let i = input(
            CompensationStrategy::Manual,
            Some("x"),
            refs(&["T-1", "T-2"]),
        );
        let out = handle(&h.deps(), i).await.unwrap();
        assert_eq!(out.status, CompensationStatus::Pending);
        assert!(out.compensated.is_empty() && out.failures.is_empty());
        assert!(h.mcp.calls().is_empty());
        let ledger = h.ledger(TRACE).await;
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].event_type, LedgerEventType::CompensationPending);
        assert_eq!(ledger[0].decision_trace_id, "dec-ai1");
        assert_eq!(
            ledger[0].data["external_object_refs"],
            serde_json::to_value(refs(&["T-1", "T-2"])).unwrap()
        );
    }

    #[tokio::test]
    async fn automatic_without_a_tool_fails_every_ref_with_the_reason() {
        let h = Harness::seeded().await;
        let out = handle(
            &h.deps(),
            input(CompensationStrategy::Automatic, None, refs(&["T-1", "T-2"])),
        )
        .await
        .unwrap();
        assert_eq!(out.status, CompensationStatus::Failed);
        assert_eq!(out.failures.len(), 2);
        assert!(out.failures[0].reason.contains("no compensation_tool"));
        assert!(h.mcp.calls().is_empty());
        assert_eq!(h.ledger_types(TRACE).await, ["COMPENSATION_FAILED"]);
    }

    #[tokio::test]
    async fn automatic_undoes_each_ref_with_its_own_idempotency_key() {
        let h = Harness::seeded().await;
        h.mcp
            .respond(responses::structured(serde_json::json!({"success": true})))
            .respond(responses::success(&[]));
        let out = handle(
            &h.deps(),
            input(
                CompensationStrategy::Automatic,
                Some("crm.delete_task"),
                refs(&["T-1", "T-2"]),
            ),
        )
        .await
        .unwrap();
        assert_eq!(out.status, CompensationStatus::Completed);
        assert_eq!(out.compensated, refs(&["T-1", "T-2"]));
        assert!(out.failures.is_empty());

        let calls = h.mcp.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "crm.delete_task");
        assert_eq!(
            calls[0].arguments,
            json!({
                "object_id": "T-1",
                "object_type": "task",
                "system": "crm",
                "tenant_id": TENANT,
                "account_id": ACCOUNT,
                "idempotency_key": "key-1:compensate:T-1"
            })
        );
        assert_eq!(
            calls[1].arguments["idempotency_key"],
            "key-1:compensate:T-2"
        );
        let ledger = h.ledger(TRACE).await;
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].event_type, LedgerEventType::CompensationCompleted);
        assert_eq!(ledger[0].data["compensated"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn reported_permanent_and_auth_failures_are_collected_per_ref() {
        let h = Harness::seeded().await;
        h.mcp
            .respond(responses::success(&[]))
            .respond(responses::failure(&[], "NOT_FOUND", "task T-2 is gone"))
            .fail(ExecutionError::permanent(
                ErrorClass::Downstream,
                "HTTP_400",
                "bad request",
            ))
            .fail(ExecutionError::auth("HTTP_403", "forbidden"))
            .respond(responses::text("deleted", false));
        let out = handle(
            &h.deps(),
            input(
                CompensationStrategy::Automatic,
                Some("crm.delete_task"),
                refs(&["T-1", "T-2", "T-3", "T-4", "T-5"]),
            ),
        )
        .await
        .unwrap();
        assert_eq!(out.status, CompensationStatus::Failed);
        assert_eq!(out.compensated, refs(&["T-1"]));
        let reasons: Vec<(&str, &str)> = out
            .failures
            .iter()
            .map(|f| (f.object_ref.object_id.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(reasons[0], ("T-2", "NOT_FOUND: task T-2 is gone"));
        assert_eq!(reasons[1], ("T-3", "HTTP_400: bad request"));
        assert_eq!(reasons[2], ("T-4", "HTTP_403: forbidden"));
        assert_eq!(reasons[3].0, "T-5");
        assert!(
            reasons[3].1.starts_with("MALFORMED_TOOL_RESULT"),
            "{}",
            reasons[3].1
        );
        let ledger = h.ledger(TRACE).await;
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].event_type, LedgerEventType::CompensationFailed);
        assert_eq!(ledger[0].data["failures"].as_array().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_transient_error_fails_the_step_for_a_retry_and_records_nothing() {
        let h = Harness::seeded().await;
        let transient =
            ExecutionError::transient(ErrorClass::Timeout, "TIMEOUT", "gateway timed out");
        h.mcp
            .respond(responses::success(&[]))
            .fail(transient.clone());
        let i = input(
            CompensationStrategy::Automatic,
            Some("crm.delete_task"),
            refs(&["T-1", "T-2"]),
        );
        assert_eq!(handle(&h.deps(), i.clone()).await.unwrap_err(), transient);
        assert!(h.ledger(TRACE).await.is_empty());

        // The retried step calls both again with the same keys, then completes.
        h.mcp
            .respond(responses::success(&[]))
            .respond(responses::success(&[]));
        let out = handle(&h.deps(), i).await.unwrap();
        assert_eq!(out.status, CompensationStatus::Completed);
        let keys: Vec<_> = h
            .mcp
            .calls()
            .iter()
            .map(|c| c.arguments["idempotency_key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "key-1:compensate:T-1",
                "key-1:compensate:T-2",
                "key-1:compensate:T-1",
                "key-1:compensate:T-2"
            ]
        );
        assert_eq!(h.ledger_types(TRACE).await, ["COMPENSATION_COMPLETED"]);
    }
}
