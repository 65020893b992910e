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
    // The intent and its lock in one batched read (same partition key).
    let (intent, existing) = store
        .get_intent_and_attempt(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?;
    let intent = intent.ok_or_else(|| {
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

    let claim = match existing {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT};
    use crate::ports::Store;

    fn input(execution_id: &str) -> StarterInput {
        StarterInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            execution_id: execution_id.into(),
            replay: None,
        }
    }

    fn replay_input(execution_id: &str, reason: &str, by: &str) -> StarterInput {
        StarterInput {
            replay: Some(ReplayRequest {
                reason: reason.into(),
                requested_by: by.into(),
            }),
            ..input(execution_id)
        }
    }

    /// Mark the current attempt terminal, as a recorder would.
    async fn end_attempt(h: &Harness, status: AttemptStatus) -> ExecutionAttempt {
        let mut a = h.attempt().await.unwrap();
        let (old_status, old_count) = (a.status, a.attempt_count);
        a.status = status;
        a.completed_at = Some(fixtures::t0());
        a.lock_expires_at = None;
        assert!(
            h.store
                .replace_attempt(&a, old_status, old_count)
                .await
                .unwrap()
        );
        a
    }

    #[tokio::test]
    async fn first_start_takes_the_lock_writes_the_ledger_and_publishes() {
        let h = Harness::seeded().await;
        let out = handle(&h.deps(), input("exec-1")).await.unwrap();

        let intent = h.intent();
        let expected_key = idempotency_key(
            TENANT,
            INTENT,
            "crm.create_task",
            &serde_json::Value::Object(intent.parameters.clone()),
            1,
        );
        assert_eq!(out.attempt_count, 1);
        assert_eq!(out.idempotency_key, expected_key);
        assert_eq!(out.tool_name, "crm.create_task");
        assert_eq!(out.registry_version, 1);
        assert_eq!(out.action_type, "CREATE_CRM_TASK");
        assert_eq!(out.decision_trace_id, intent.decision_trace_id);
        assert_eq!(out.started_at, fixtures::t0());
        assert!(!out.replay);
        assert!(uuid::Uuid::parse_str(&out.trace_id).is_ok());

        let a = h.attempt().await.unwrap();
        assert_eq!(a.status, AttemptStatus::Running);
        assert_eq!(a.attempt_count, 1);
        assert_eq!(a.trace_id, out.trace_id);
        assert_eq!(a.execution_id, "exec-1");
        assert_eq!(a.idempotency_key, expected_key);
        assert_eq!(a.lock_expires_at, Some(fixtures::t0().timestamp() + 3600));
        assert_eq!(a.replay, None);

        let ledger = h.ledger(&out.trace_id).await;
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].event_type, LedgerEventType::ExecutionStarted);
        assert_eq!(ledger[0].decision_trace_id, intent.decision_trace_id);
        assert_eq!(ledger[0].data["execution_id"], "exec-1");
        assert_eq!(ledger[0].data["idempotency_key"], expected_key.as_str());
        assert_eq!(ledger[0].data["registry_version"], 1);

        let events = h.events.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].detail_type, "EXECUTION_STARTED");
        assert_eq!(events[0].source, h.settings.event_source);
        assert_eq!(events[0].detail["trace_id"], out.trace_id.as_str());
        assert_eq!(events[0].detail["attempt_count"], 1);
    }

    #[tokio::test]
    async fn unknown_intent_is_a_validation_error_and_writes_nothing() {
        let h = Harness::empty();
        let err = handle(&h.deps(), input("exec-1")).await.unwrap_err();
        assert_eq!(err.name, "ValidationError");
        assert_eq!(err.code, "INTENT_NOT_FOUND");
        assert_eq!(h.attempt().await, None);
        assert!(h.store.list_ledger().await.unwrap().is_empty());
        assert!(h.events.events().is_empty());
    }

    #[tokio::test]
    async fn intent_of_another_account_is_not_found() {
        let h = Harness::seeded().await;
        let mut i = input("exec-1");
        i.account_id = "a2".into();
        let err = handle(&h.deps(), i).await.unwrap_err();
        assert_eq!(err.code, "INTENT_NOT_FOUND");
        assert!(h.store.list_attempts().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn missing_registry_version_is_a_validation_error_and_writes_nothing() {
        let h = Harness::seeded().await;
        let mut intent = h.intent();
        intent.registry_version = Some(7);
        h.store.put_intent(&intent).await.unwrap();
        let err = handle(&h.deps(), input("exec-1")).await.unwrap_err();
        assert_eq!(err.name, "ValidationError");
        assert_eq!(err.code, "REGISTRY_ENTRY_NOT_FOUND");
        assert!(err.message.contains("version 7"), "{}", err.message);
        assert_eq!(h.attempt().await, None);
        assert!(h.events.events().is_empty());
    }

    #[tokio::test]
    async fn unpinned_intent_uses_the_latest_registry_version() {
        let h = Harness::seeded().await;
        let mut v2 = fixtures::crm_task_registry_entry();
        v2.registry_version = 2;
        v2.tool_name = "crm.create_task_v2".into();
        h.store.put_registry_entry(&v2).await.unwrap();
        let mut intent = h.intent();
        intent.registry_version = None;
        h.store.put_intent(&intent).await.unwrap();

        let out = handle(&h.deps(), input("exec-1")).await.unwrap();
        assert_eq!(out.registry_version, 2);
        assert_eq!(out.tool_name, "crm.create_task_v2");
        let a = h.attempt().await.unwrap();
        assert_eq!(
            (a.registry_version, a.tool_name.as_str()),
            (2, "crm.create_task_v2")
        );
        assert_eq!(
            out.idempotency_key,
            idempotency_key(
                TENANT,
                INTENT,
                "crm.create_task_v2",
                &serde_json::Value::Object(intent.parameters),
                2
            )
        );
    }

    #[tokio::test]
    async fn retried_starter_of_the_same_execution_reclaims_its_lock() {
        let h = Harness::seeded().await;
        let first = handle(&h.deps(), input("exec-1")).await.unwrap();
        let stored = h.attempt().await.unwrap();
        h.clock.set(fixtures::t0() + chrono::Duration::seconds(30));

        let again = handle(&h.deps(), input("exec-1")).await.unwrap();
        assert_eq!(again, first, "same trace, attempt, key and started_at");
        assert_eq!(h.attempt().await.unwrap(), stored, "attempt untouched");
        assert_eq!(h.ledger_types(&first.trace_id).await, ["EXECUTION_STARTED"]);
        assert_eq!(
            h.events.detail_types(),
            ["EXECUTION_STARTED", "EXECUTION_STARTED"]
        );
    }

    #[tokio::test]
    async fn another_execution_while_running_is_a_duplicate_start_that_writes_nothing() {
        let h = Harness::seeded().await;
        let first = handle(&h.deps(), input("exec-1")).await.unwrap();
        let stored = h.attempt().await.unwrap();

        let err = handle(&h.deps(), input("exec-2")).await.unwrap_err();
        assert_eq!(err.name, "DuplicateStartError");
        assert_eq!(err.code, "LOCK_HELD");
        assert!(err.message.contains("exec-1"), "{}", err.message);
        assert_eq!(h.attempt().await.unwrap(), stored, "live attempt untouched");
        assert_eq!(h.store.list_ledger().await.unwrap().len(), 1);
        assert_eq!(h.ledger_types(&first.trace_id).await, ["EXECUTION_STARTED"]);
        assert_eq!(h.events.events().len(), 1);
    }

    #[tokio::test]
    async fn a_replay_request_does_not_take_a_running_lock() {
        let h = Harness::seeded().await;
        handle(&h.deps(), input("exec-1")).await.unwrap();
        let stored = h.attempt().await.unwrap();
        let err = handle(&h.deps(), replay_input("exec-2", "retry", "ops:bob"))
            .await
            .unwrap_err();
        assert_eq!(
            (err.name, err.code.as_str()),
            ("DuplicateStartError", "LOCK_HELD")
        );
        assert_eq!(h.attempt().await.unwrap(), stored);
    }

    #[tokio::test]
    async fn terminal_intent_without_replay_is_a_duplicate_start_that_writes_nothing() {
        let h = Harness::seeded().await;
        handle(&h.deps(), input("exec-1")).await.unwrap();
        let ended = end_attempt(&h, AttemptStatus::Succeeded).await;
        let ledger_before = h.store.list_ledger().await.unwrap();

        let err = handle(&h.deps(), input("exec-2")).await.unwrap_err();
        assert_eq!(err.name, "DuplicateStartError");
        assert_eq!(err.code, "ALREADY_TERMINAL");
        assert!(err.message.contains("SUCCEEDED"), "{}", err.message);
        assert_eq!(h.attempt().await.unwrap(), ended);
        assert_eq!(h.store.list_ledger().await.unwrap(), ledger_before);
        assert_eq!(h.events.events().len(), 1);
    }

    #[tokio::test]
    async fn replay_of_a_terminal_intent_starts_an_audited_new_attempt() {
        let h = Harness::seeded().await;
        let first = handle(&h.deps(), input("exec-1")).await.unwrap();
        end_attempt(&h, AttemptStatus::Failed).await;
        h.clock.set(fixtures::t0() + chrono::Duration::hours(2));

        let out = handle(
            &h.deps(),
            replay_input("exec-2", "CRM outage fixed", "ops:bob"),
        )
        .await
        .unwrap();
        assert!(out.replay);
        assert_eq!(out.attempt_count, 2);
        assert_ne!(out.trace_id, first.trace_id);
        assert_eq!(out.idempotency_key, first.idempotency_key);

        let a = h.attempt().await.unwrap();
        assert_eq!(a.status, AttemptStatus::Running);
        assert_eq!(a.attempt_count, 2);
        assert_eq!(a.trace_id, out.trace_id);
        assert_eq!(a.execution_id, "exec-2");
        assert_eq!(a.completed_at, None);
        assert_eq!(
            a.replay,
            Some(ReplayRequest {
                reason: "CRM outage fixed".into(),
                requested_by: "ops:bob".into()
            })
        );
        assert_eq!(
            a.lock_expires_at,
            Some((fixtures::t0() + chrono::Duration::hours(2)).timestamp() + 3600)
        );

        let ledger = h.ledger(&out.trace_id).await;
        let types: Vec<_> = ledger.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["REPLAY_REQUESTED", "EXECUTION_STARTED"]);
        let replay = &ledger[0];
        assert_eq!(replay.attempt_count, 2);
        assert_eq!(replay.decision_trace_id, h.intent().decision_trace_id);
        assert_eq!(replay.data["reason"], "CRM outage fixed");
        assert_eq!(replay.data["requested_by"], "ops:bob");
        assert_eq!(replay.data["previous_status"], "FAILED");
        assert_eq!(replay.data["previous_trace_id"], first.trace_id.as_str());
        assert_eq!(h.ledger_types(&first.trace_id).await, ["EXECUTION_STARTED"]);
        assert_eq!(h.events.events()[1].detail["replay"], true);
    }

    #[tokio::test]
    async fn retried_replay_starter_reclaims_without_duplicating_the_audit() {
        let h = Harness::seeded().await;
        handle(&h.deps(), input("exec-1")).await.unwrap();
        end_attempt(&h, AttemptStatus::Succeeded).await;
        let req = replay_input("exec-2", "customer asked again", "ops:bob");
        let first = handle(&h.deps(), req.clone()).await.unwrap();
        let again = handle(&h.deps(), req).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(h.attempt().await.unwrap().attempt_count, 2);
        assert_eq!(
            h.ledger_types(&first.trace_id).await,
            ["REPLAY_REQUESTED", "EXECUTION_STARTED"]
        );
    }

    #[tokio::test]
    async fn a_replay_starter_that_died_before_its_audit_writes_it_on_retry() {
        let h = Harness::seeded().await;
        // Attempt 1 runs and is recorded FAILED (outcome written).
        let exec = crate::handlers::testkit::start(&h, "exec-1").await;
        let caught = crate::error::CaughtError {
            error: "TransientError".into(),
            cause: None,
        };
        crate::handlers::failure_recorder::handle(
            &h.deps(),
            crate::io::FailureRecorderInput {
                action_intent_id: INTENT.into(),
                tenant_id: TENANT.into(),
                account_id: ACCOUNT.into(),
                execution: exec.clone(),
                failed_state: "InvokeTool".into(),
                error: caught,
            },
        )
        .await
        .unwrap();
        // A replay starter took the lock and died before appending the ledger.
        let mut replayed = h.attempt().await.unwrap();
        replayed.status = AttemptStatus::Running;
        replayed.attempt_count = 2;
        replayed.trace_id = "trace-replay".into();
        replayed.execution_id = "exec-2".into();
        replayed.completed_at = None;
        replayed.replay = Some(ReplayRequest {
            reason: "retry after outage".into(),
            requested_by: "ops:bob".into(),
        });
        assert!(
            h.store
                .replace_attempt(&replayed, AttemptStatus::Failed, 1)
                .await
                .unwrap()
        );

        let out = handle(
            &h.deps(),
            replay_input("exec-2", "retry after outage", "ops:bob"),
        )
        .await
        .unwrap();
        assert_eq!(
            (out.trace_id.as_str(), out.attempt_count),
            ("trace-replay", 2)
        );
        let ledger = h.ledger("trace-replay").await;
        assert_eq!(ledger[0].event_type, LedgerEventType::ReplayRequested);
        assert_eq!(ledger[0].data["previous_status"], "FAILED");
        assert_eq!(ledger[0].data["previous_trace_id"], exec.trace_id.as_str());
        assert_eq!(ledger[1].event_type, LedgerEventType::ExecutionStarted);
    }

    #[tokio::test]
    async fn blank_replay_request_is_rejected_and_leaves_the_attempt() {
        let h = Harness::seeded().await;
        handle(&h.deps(), input("exec-1")).await.unwrap();
        let ended = end_attempt(&h, AttemptStatus::Succeeded).await;
        for (reason, by) in [("  ", "ops:bob"), ("why", ""), ("", "")] {
            let err = handle(&h.deps(), replay_input("exec-2", reason, by))
                .await
                .unwrap_err();
            assert_eq!(err.name, "ValidationError");
            assert_eq!(err.code, "INVALID_REPLAY_REQUEST");
        }
        assert_eq!(h.attempt().await.unwrap(), ended);
        assert_eq!(h.store.list_ledger().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn losing_the_create_race_to_another_execution_is_a_duplicate_start() {
        let h = Harness::seeded().await;
        let rival = fixtures::running_attempt(&h.intent(), "trace-rival", "exec-rival");
        let rival_stored = rival.clone();
        h.racing
            .before_next_conditional_write(move |store| async move {
                assert!(store.create_attempt(&rival).await.unwrap());
            });

        let err = handle(&h.racing_deps(), input("exec-1")).await.unwrap_err();
        assert_eq!(
            (err.name, err.code.as_str()),
            ("DuplicateStartError", "LOCK_HELD")
        );
        assert_eq!(h.attempt().await.unwrap(), rival_stored);
        assert!(h.store.list_ledger().await.unwrap().is_empty());
        assert!(h.events.events().is_empty());
    }

    #[tokio::test]
    async fn losing_the_create_race_to_our_own_retry_reclaims() {
        let h = Harness::seeded().await;
        let mine = fixtures::running_attempt(&h.intent(), "trace-mine", "exec-1");
        h.racing
            .before_next_conditional_write(move |store| async move {
                assert!(store.create_attempt(&mine).await.unwrap());
            });
        let out = handle(&h.racing_deps(), input("exec-1")).await.unwrap();
        assert_eq!(out.trace_id, "trace-mine");
        assert_eq!(h.ledger_types("trace-mine").await, ["EXECUTION_STARTED"]);
    }

    #[tokio::test]
    async fn losing_the_replay_race_is_a_duplicate_start() {
        let h = Harness::seeded().await;
        handle(&h.deps(), input("exec-1")).await.unwrap();
        end_attempt(&h, AttemptStatus::Failed).await;
        // Another replay wins between our read and our conditional replace.
        h.racing.before_next_conditional_write(|store| async move {
            let mut a = store
                .get_attempt(TENANT, ACCOUNT, INTENT)
                .await
                .unwrap()
                .unwrap();
            a.status = AttemptStatus::Running;
            a.attempt_count = 2;
            a.trace_id = "trace-other-replay".into();
            a.execution_id = "exec-other".into();
            assert!(
                store
                    .replace_attempt(&a, AttemptStatus::Failed, 1)
                    .await
                    .unwrap()
            );
        });
        let err = handle(&h.racing_deps(), replay_input("exec-2", "retry", "ops:bob"))
            .await
            .unwrap_err();
        assert_eq!(
            (err.name, err.code.as_str()),
            ("DuplicateStartError", "LOCK_HELD")
        );
        let a = h.attempt().await.unwrap();
        assert_eq!(
            (a.trace_id.as_str(), a.attempt_count),
            ("trace-other-replay", 2)
        );
        assert_eq!(h.store.list_ledger().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn publish_failure_is_transient_and_the_retry_completes_without_duplicates() {
        let h = Harness::seeded().await;
        h.events.fail_next(1);
        let err = handle(&h.deps(), input("exec-1")).await.unwrap_err();
        assert_eq!(err.name, "TransientError");
        assert_eq!(err.code, "EVENT_PUBLISH_FAILED");
        let trace = h.attempt().await.unwrap().trace_id;

        let out = handle(&h.deps(), input("exec-1")).await.unwrap();
        assert_eq!(out.trace_id, trace);
        assert_eq!(h.ledger_types(&trace).await, ["EXECUTION_STARTED"]);
        assert_eq!(h.events.detail_types(), ["EXECUTION_STARTED"]);
    }
}
