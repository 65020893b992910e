//! The replay proof: an audited rerun of a SUCCEEDED intent (reason and
//! requester required) goes through the whole state machine again, under a new
//! trace and attempt, with its own ledger events, and reuses the dedupe record
//! instead of writing to the external system a second time. A replay request
//! without a reason or a requester is refused and changes nothing.
//!
//! Run after the soak's checks, on a sample of its SUCCEEDED intents, with the
//! gateway's faults and the crash plan still in force.

use ccx_core::contracts::{
    ActionIntentV1, AttemptStatus, LedgerEventType, OutcomeStatus, ReplayRequest,
};
use ccx_core::ports::Store;
use ccx_gateway::RunningGateway;
use serde_json::json;

use super::checks::Check;
use super::driver::redrive_to_end;
use crate::engine::{Engine, ExecutionStatus};
use crate::system::execution_name;

pub const REASON: &str = "chaos: prove a replay writes nothing twice";
pub const REQUESTED_BY: &str = "ccx-chaos";

/// Replays up to `sample` SUCCEEDED intents of `intents`, and tries a few
/// replays with a blank reason; returns the check row and how many were replayed.
pub async fn prove_replays(
    engine: &Engine,
    store: &dyn Store,
    gateway: &RunningGateway,
    intents: &[ActionIntentV1],
    sample: usize,
) -> anyhow::Result<(Check, Check)> {
    let mut no_second_write = Check::new("replays of SUCCEEDED intents reuse the dedupe record");
    let mut refused = Check::new("replays without reason or requester change nothing");
    let mut replayed = 0;
    for (n, intent) in intents.iter().enumerate() {
        if replayed >= sample {
            break;
        }
        let (t, a, id) = (
            &intent.tenant_id,
            &intent.account_id,
            &intent.action_intent_id,
        );
        let Some(before) = store.get_outcome(t, a, id).await? else {
            continue;
        };
        if before.status != OutcomeStatus::Succeeded {
            continue;
        }
        replayed += 1;
        let key = before.idempotency_key.clone();
        let writes_before = gateway.writes_for_key(&key);
        let input = |reason: &str, by: &str| {
            json!({"action_intent_id": id, "tenant_id": t, "account_id": a,
                "replay": ReplayRequest { reason: reason.into(), requested_by: by.into() }})
        };

        // Every tenth: a replay request that is not audited enough is refused.
        if n % 10 == 0 {
            let (reason, by) = if n % 20 == 0 {
                ("  ", REQUESTED_BY)
            } else {
                (REASON, "")
            };
            let run = engine
                .execute(&execution_name("replay-refused"), input(reason, by))
                .await;
            let (run, _) = redrive_to_end(engine, run).await;
            let after = store.get_outcome(t, a, id).await?;
            refused.expect(
                run.state_path().last().map(String::as_str) == Some("StartFailed")
                    && after.as_ref() == Some(&before)
                    && gateway.writes_for_key(&key) == writes_before,
                || format!("{id}: refused replay ended {:?}", run.state_path()),
            );
        }

        let run = engine
            .execute(&execution_name("replay"), input(REASON, REQUESTED_BY))
            .await;
        let (run, _) = redrive_to_end(engine, run).await;
        let after = store.get_outcome(t, a, id).await?;
        let attempt = store.get_attempt(t, a, id).await?;
        let ledger = match &after {
            Some(o) => store.ledger_by_trace(t, &o.trace_id).await?,
            None => vec![],
        };
        let types: Vec<LedgerEventType> = ledger.iter().map(|e| e.event_type).collect();
        let request = ledger
            .iter()
            .find(|e| e.event_type == LedgerEventType::ReplayRequested);
        let writes_after = gateway.writes_for_key(&key);
        no_second_write.expect(
            run.status == ExecutionStatus::Succeeded
                && after.as_ref().is_some_and(|o| {
                    o.status == OutcomeStatus::Succeeded
                        && o.trace_id != before.trace_id
                        && o.attempt_count == before.attempt_count + 1
                        && o.external_object_refs == before.external_object_refs
                })
                && attempt.is_some_and(|a| a.status == AttemptStatus::Succeeded)
                && writes_after == writes_before
                && types
                    == [
                        LedgerEventType::ReplayRequested,
                        LedgerEventType::ExecutionStarted,
                        LedgerEventType::ActionExecuted,
                    ]
                && request.is_some_and(|e| {
                    e.data["reason"] == REASON
                        && e.data["requested_by"] == REQUESTED_BY
                        && e.data["previous_trace_id"] == before.trace_id.as_str()
                }),
            || {
                format!(
                    "{id}: replay ended {:?} via {:?}; writes {writes_before} -> {writes_after}; ledger {types:?}",
                    run.status,
                    run.state_path()
                )
            },
        );
    }
    Ok((no_second_write, refused))
}

#[cfg(test)]
mod tests {
    use ccx_core::fixtures;

    use super::*;
    use crate::chaos::scenario;
    use crate::system::{LocalSystem, SystemOptions};

    /// One intent against the development gateway: done once, then replayed
    /// with a reason and a requester. The replay is a new audited attempt and
    /// the gateway's write log for the key does not move.
    #[tokio::test]
    async fn a_replay_of_a_succeeded_intent_writes_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = SystemOptions::embedded(dir.path());
        options.delay_scale = 0.001;
        let system = LocalSystem::open(options).await.unwrap();
        let gateway = system.gateway().unwrap();
        let store = system.store.as_ref();
        let now = chrono::Utc::now();
        for entry in scenario::registry(now) {
            store.put_registry_entry(&entry).await.unwrap();
        }
        store
            .put_tenant_config(&fixtures::tenant_enabled("t1"))
            .await
            .unwrap();
        let mut intent = fixtures::intent("t1", "a1", "ai-replay");
        intent.expires_at = now + chrono::Duration::hours(1);
        store.put_intent(&intent).await.unwrap();

        let first = system
            .publish(&fixtures::action_approved_event("t1", "a1", "ai-replay"))
            .await
            .unwrap();
        assert_eq!(
            first.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            first.cause
        );
        let before = store
            .get_outcome("t1", "a1", "ai-replay")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(gateway.writes_for_key(&before.idempotency_key), 1);

        let replay = system
            .execute(
                "replay-1",
                json!({"action_intent_id": "ai-replay", "tenant_id": "t1", "account_id": "a1",
                    "replay": {"reason": "customer asked again", "requested_by": "ops:alice"}}),
            )
            .await;
        assert_eq!(
            replay.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            replay.cause
        );
        let invocation = &replay.task_inputs("RecordOutcome")[0]["invocation"];
        assert_eq!(
            invocation["deduplicated"],
            json!(true),
            "replayed from the dedupe record"
        );
        assert_eq!(
            gateway.writes_for_key(&before.idempotency_key),
            1,
            "no second write"
        );

        let after = store
            .get_outcome("t1", "a1", "ai-replay")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, OutcomeStatus::Succeeded);
        assert_eq!(after.attempt_count, 2);
        assert_ne!(after.trace_id, before.trace_id);
        assert_eq!(after.external_object_refs, before.external_object_refs);
        let ledger = store.ledger_by_trace("t1", &after.trace_id).await.unwrap();
        let types: Vec<_> = ledger.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                LedgerEventType::ReplayRequested,
                LedgerEventType::ExecutionStarted,
                LedgerEventType::ActionExecuted
            ]
        );
        assert_eq!(ledger[0].data["reason"], "customer asked again");
        assert_eq!(ledger[0].data["requested_by"], "ops:alice");
        assert_eq!(
            ledger[0].data["previous_trace_id"],
            before.trace_id.as_str()
        );
        // The first execution's ledger is untouched.
        assert_eq!(
            store
                .ledger_by_trace("t1", &before.trace_id)
                .await
                .unwrap()
                .len(),
            2
        );
        system.shutdown().await;
    }
}
