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
