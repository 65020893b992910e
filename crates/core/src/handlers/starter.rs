//! StartExecution: take the execution lock, mint the execution trace and the
//! idempotency key.
//!
//! There is one attempt item per intent, and it is the lock. The rules:
//!
//! | stored attempt                        | result                                      |
//! |---------------------------------------|---------------------------------------------|
//! | none                                  | conditional create, RUNNING, attempt 1      |
//! | RUNNING, same `execution_id`          | reclaim: a retried starter of this execution |
//! | RUNNING, another execution            | `DuplicateStartError` `LOCK_HELD`            |
//! | terminal, no replay request           | `DuplicateStartError` `ALREADY_TERMINAL`     |
//! | terminal, replay request              | conditional replace, attempt + 1, audited    |
//!
//! A duplicate start writes nothing at all (no ledger entry, no event): the state
//! machine ends such an execution quietly, and it must never touch the live
//! attempt. A RUNNING lock held by another execution is not taken over here even
//! past `lock_expires_at`: that execution may still be calling the tool, and an
//! abandoned lock is an operator's decision (the TTL only lets the table expire it).

use serde_json::json;
use tracing::{Span, info};

use crate::contracts::{
    ActionIntentV1, AttemptStatus, ExecutionAttempt, LedgerEntry, LedgerEventType, ReplayRequest,
    ToolRegistryEntry,
};
use crate::error::ExecutionError;
use crate::idempotency::idempotency_key;
use crate::io::{StarterInput, StarterOutput};
use crate::ports::Deps;

use super::events;

/// How this starter came to hold the lock.
enum Claim {
    /// First run of the intent.
    Created(ExecutionAttempt),
    /// This execution already held it (the starter was retried).
    Reclaimed(ExecutionAttempt),
    /// An audited rerun of a terminal intent.
    Replayed {
        attempt: ExecutionAttempt,
        previous_status: AttemptStatus,
        previous_trace_id: String,
    },
}

#[tracing::instrument(
    name = "starter",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = tracing::field::Empty)
)]
pub async fn handle(deps: &Deps, input: StarterInput) -> Result<StarterOutput, ExecutionError> {
    let store = &deps.store;
    let intent = store
        .get_intent(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?
        .ok_or_else(|| {
            ExecutionError::validation(
                "INTENT_NOT_FOUND",
                format!(
                    "intent {} not found for tenant {} account {}",
                    input.action_intent_id, input.tenant_id, input.account_id
                ),
            )
        })?;
    let entry = store
        .get_registry_entry(&intent.action_type, intent.registry_version)
        .await?
        .ok_or_else(|| registry_missing(&intent))?;
    let key = idempotency_key(
        &input.tenant_id,
        &input.action_intent_id,
        &entry.tool_name,
        &serde_json::Value::Object(intent.parameters.clone()),
        entry.registry_version,
    );

    let claim = match store
        .get_attempt(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?
    {
        Some(existing) => claim_existing(deps, &input, &entry, &key, existing).await?,
        None => {
            let attempt = new_attempt(deps, &input, &entry, &key, 1, None);
            if store.create_attempt(&attempt).await? {
                Claim::Created(attempt)
            } else {
                // Lost the race with another starter: judge what it wrote.
                let existing = store
                    .get_attempt(&input.tenant_id, &input.account_id, &input.action_intent_id)
                    .await?
                    .ok_or_else(|| {
                        ExecutionError::conflict(
                            "ATTEMPT_VANISHED",
                            format!(
                                "conditional create of the attempt of intent {} failed but no attempt exists",
                                input.action_intent_id
                            ),
                        )
                    })?;
                claim_existing(deps, &input, &entry, &key, existing).await?
            }
        }
    };

    let (attempt, previous) = match claim {
        Claim::Created(a) => (a, None),
        Claim::Reclaimed(a) => {
            // The first try may have died before its ledger write; the previous
            // attempt's outcome record (not yet overwritten) still says what was replayed.
            let previous = match &a.replay {
                Some(_) => store
                    .get_outcome(&a.tenant_id, &a.account_id, &a.action_intent_id)
                    .await?
                    .filter(|o| o.trace_id != a.trace_id)
                    .map(|o| (json!(o.status), json!(o.trace_id))),
                None => None,
            };
            (a, previous)
        }
        Claim::Replayed {
            attempt,
            previous_status,
            previous_trace_id,
        } => (
            attempt,
            Some((json!(previous_status), json!(previous_trace_id))),
        ),
    };
    Span::current().record("trace_id", attempt.trace_id.as_str());

    let now = deps.clock.now();
    let mut ledger = Vec::with_capacity(2);
    if let Some(replay) = &attempt.replay {
        let (previous_status, previous_trace_id) =
            previous.unwrap_or((serde_json::Value::Null, serde_json::Value::Null));
        ledger.push(ledger_entry(
            &attempt,
            &intent,
            LedgerEventType::ReplayRequested,
            now,
            json!({
                "reason": replay.reason,
                "requested_by": replay.requested_by,
                "previous_status": previous_status,
                "previous_trace_id": previous_trace_id,
            }),
        ));
    }
    ledger.push(ledger_entry(
        &attempt,
        &intent,
        LedgerEventType::ExecutionStarted,
        now,
        json!({
            "execution_id": attempt.execution_id,
            "tool_name": attempt.tool_name,
            "registry_version": attempt.registry_version,
            "idempotency_key": attempt.idempotency_key,
        }),
    ));
    store.append_ledger(&ledger).await?;

    events::publish(
        deps,
        events::EXECUTION_STARTED,
        json!({
            "action_intent_id": attempt.action_intent_id,
            "tenant_id": attempt.tenant_id,
            "account_id": attempt.account_id,
            "trace_id": attempt.trace_id,
            "decision_trace_id": intent.decision_trace_id,
            "attempt_count": attempt.attempt_count,
            "execution_id": attempt.execution_id,
            "tool_name": attempt.tool_name,
            "registry_version": attempt.registry_version,
            "replay": attempt.replay.is_some(),
        }),
    )
    .await?;

    info!(
        attempt_count = attempt.attempt_count,
        tool_name = %attempt.tool_name,
        replay = attempt.replay.is_some(),
        "execution started"
    );
    Ok(StarterOutput {
        trace_id: attempt.trace_id,
        attempt_count: attempt.attempt_count,
        idempotency_key: attempt.idempotency_key,
        registry_version: attempt.registry_version,
        tool_name: attempt.tool_name,
        action_type: intent.action_type,
        decision_trace_id: intent.decision_trace_id,
        started_at: attempt.started_at,
        replay: attempt.replay.is_some(),
    })
}

/// Apply the lock rules to an attempt that already exists.
async fn claim_existing(
    deps: &Deps,
    input: &StarterInput,
    entry: &ToolRegistryEntry,
    key: &str,
    existing: ExecutionAttempt,
) -> Result<Claim, ExecutionError> {
    if existing.status == AttemptStatus::Running {
        if existing.execution_id == input.execution_id {
            return Ok(Claim::Reclaimed(existing));
        }
        return Err(ExecutionError::duplicate_start(
            "LOCK_HELD",
            format!(
                "intent {} is being executed by {} (trace {}, attempt {})",
                input.action_intent_id,
                existing.execution_id,
                existing.trace_id,
                existing.attempt_count
            ),
        ));
    }
    let Some(replay) = &input.replay else {
        return Err(ExecutionError::duplicate_start(
            "ALREADY_TERMINAL",
            format!(
                "intent {} already ended {} (trace {}, attempt {}); rerun it with an explicit replay request",
                input.action_intent_id,
                existing.status.as_str(),
                existing.trace_id,
                existing.attempt_count
            ),
        ));
    };
    if replay.reason.trim().is_empty() || replay.requested_by.trim().is_empty() {
        return Err(ExecutionError::validation(
            "INVALID_REPLAY_REQUEST",
            "a replay request needs a non-blank reason and requested_by (it is audited)",
        ));
    }
    let attempt = new_attempt(
        deps,
        input,
        entry,
        key,
        existing.attempt_count + 1,
        Some(replay.clone()),
    );
    if !deps
        .store
        .replace_attempt(&attempt, existing.status, existing.attempt_count)
        .await?
    {
        return Err(ExecutionError::duplicate_start(
            "LOCK_HELD",
            format!(
                "intent {} changed while replaying it (another starter took the lock)",
                input.action_intent_id
            ),
        ));
    }
    Ok(Claim::Replayed {
        attempt,
        previous_status: existing.status,
        previous_trace_id: existing.trace_id,
    })
}

fn new_attempt(
    deps: &Deps,
    input: &StarterInput,
    entry: &ToolRegistryEntry,
    key: &str,
    attempt_count: u32,
    replay: Option<ReplayRequest>,
) -> ExecutionAttempt {
    let now = deps.clock.now();
    ExecutionAttempt {
        action_intent_id: input.action_intent_id.clone(),
        tenant_id: input.tenant_id.clone(),
        account_id: input.account_id.clone(),
        status: AttemptStatus::Running,
        attempt_count,
        trace_id: uuid::Uuid::new_v4().to_string(),
        execution_id: input.execution_id.clone(),
        idempotency_key: key.to_string(),
        tool_name: entry.tool_name.clone(),
        registry_version: entry.registry_version,
        started_at: now,
        completed_at: None,
        replay,
        lock_expires_at: Some(now.timestamp() + deps.settings.lock_ttl_seconds),
    }
}

fn ledger_entry(
    attempt: &ExecutionAttempt,
    intent: &ActionIntentV1,
    event: LedgerEventType,
    at: chrono::DateTime<chrono::Utc>,
    data: serde_json::Value,
) -> LedgerEntry {
    LedgerEntry::new(
        &attempt.tenant_id,
        &attempt.account_id,
        &attempt.action_intent_id,
        &attempt.trace_id,
        &intent.decision_trace_id,
        attempt.attempt_count,
        event,
        at,
        data,
    )
}

fn registry_missing(intent: &ActionIntentV1) -> ExecutionError {
    let version = intent
        .registry_version
        .map_or_else(|| "latest".to_string(), |v| format!("version {v}"));
    ExecutionError::validation(
        "REGISTRY_ENTRY_NOT_FOUND",
        format!(
            "no registry entry for action type {} ({version})",
            intent.action_type
        ),
    )
}
