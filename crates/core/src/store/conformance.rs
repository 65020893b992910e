//! The `Store` conformance suite: the contract of the port's doc comments, as
//! checks every implementation runs (SQLite in `store::sqlite`'s tests, DynamoDB
//! against moto in `ccx-aws`'s `dynamo_store` tests).
//!
//! Each check takes a fresh, empty store (they all use the same keys) and panics
//! on the first broken promise. Implementation-specific checks (SQLite's file
//! sharing, DynamoDB's TTL attribute and error messages) stay with the
//! implementation's own tests.

use std::sync::Arc;

use serde_json::json;

use crate::contracts::{
    ActionOutcomeV1, AttemptStatus, CompensationStatus, ExecutionAttempt, ExternalObjectRef,
    ExternalWriteDedupe, GlobalControls, LedgerEntry, LedgerEventType, OutcomeStatus,
    ReplayRequest,
};
use crate::fixtures;
use crate::ports::{PreflightRecords, Store, TerminalWrite, TerminalWriteResult};

/// A ledger entry of `a`'s run.
pub fn ledger(a: &ExecutionAttempt, event: LedgerEventType) -> LedgerEntry {
    LedgerEntry::new(
        &a.tenant_id,
        &a.account_id,
        &a.action_intent_id,
        &a.trace_id,
        "dec-1",
        a.attempt_count,
        event,
        fixtures::t0(),
        json!({"tool_name": a.tool_name}),
    )
}

/// The recorder's write for a successful run of `a`.
pub fn terminal(a: &ExecutionAttempt) -> TerminalWrite {
    TerminalWrite {
        outcome: ActionOutcomeV1 {
            action_intent_id: a.action_intent_id.clone(),
            tenant_id: a.tenant_id.clone(),
            account_id: a.account_id.clone(),
            trace_id: a.trace_id.clone(),
            decision_trace_id: "dec-1".into(),
            status: OutcomeStatus::Succeeded,
            attempt_count: a.attempt_count,
            tool_name: Some(a.tool_name.clone()),
            tool_run_ref: Some(format!("toolrun/{}/1/{}", a.trace_id, a.tool_name)),
            external_object_refs: vec![ExternalObjectRef {
                system: "crm".into(),
                object_type: "task".into(),
                object_id: "task-1".into(),
                object_url: None,
            }],
            raw_response_artifact_ref: None,
            error_class: None,
            error_code: None,
            error_message: None,
            failed_state: None,
            compensation_status: CompensationStatus::None,
            compensation_error: None,
            idempotency_key: a.idempotency_key.clone(),
            started_at: fixtures::t0(),
            completed_at: fixtures::t0(),
        },
        attempt_status: AttemptStatus::Succeeded,
        ledger: vec![ledger(a, LedgerEventType::ActionExecuted)],
    }
}

/// `get_intent` finds an intent only under its own tenant and account.
pub async fn intents_are_scoped_by_tenant_and_account(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai1");
    s.put_intent(&i).await.unwrap();
    assert_eq!(s.get_intent("t1", "a1", "ai1").await.unwrap(), Some(i));
    assert_eq!(s.get_intent("t2", "a1", "ai1").await.unwrap(), None);
    assert_eq!(s.get_intent("t1", "a2", "ai1").await.unwrap(), None);
}

/// `version = None` is the latest version in numeric order; `Some(v)` exactly `v`.
pub async fn registry_returns_pinned_or_latest_version(s: Arc<dyn Store>) {
    let v1 = fixtures::crm_task_registry_entry();
    let mut v10 = v1.clone();
    v10.registry_version = 10;
    v10.tool_name = "crm.create_task_v10".into();
    let mut v2 = v1.clone();
    v2.registry_version = 2;
    for e in [&v1, &v10, &v2] {
        s.put_registry_entry(e).await.unwrap();
    }
    // Another action type in the same table must not leak into the query.
    s.put_registry_entry(&fixtures::internal_note_registry_entry())
        .await
        .unwrap();
    let latest = s.get_registry_entry("CREATE_CRM_TASK", None).await.unwrap();
    assert_eq!(latest, Some(v10), "numeric, not lexical, order");
    let pinned = s
        .get_registry_entry("CREATE_CRM_TASK", Some(2))
        .await
        .unwrap();
    assert_eq!(pinned, Some(v2));
    assert_eq!(
        s.get_registry_entry("CREATE_CRM_TASK", Some(3))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_registry_entry("NOPE", None).await.unwrap(), None);
}

/// Absent kill-switch records: no tenant config, no global stop; both round-trip.
pub async fn kill_switches_default_to_absent_and_no_global_stop(s: Arc<dyn Store>) {
    assert_eq!(s.get_tenant_config("t1").await.unwrap(), None);
    assert_eq!(
        s.get_global_controls().await.unwrap(),
        GlobalControls::default()
    );
    assert!(!s.get_global_controls().await.unwrap().global_stop);
    let stop = GlobalControls {
        global_stop: true,
        reason: Some("incident 42".into()),
    };
    s.put_global_controls(&stop).await.unwrap();
    assert_eq!(s.get_global_controls().await.unwrap(), stop);
    let mut cfg = fixtures::tenant_enabled("t1");
    cfg.disabled_action_types = vec!["CREATE_CRM_TASK".into()];
    s.put_tenant_config(&cfg).await.unwrap();
    let stored = s.get_tenant_config("t1").await.unwrap();
    assert!(stored.as_ref().is_some_and(|c| c.execution_enabled));
    assert_eq!(stored, Some(cfg));
    assert_eq!(s.get_tenant_config("t2").await.unwrap(), None);
}

/// `create_attempt` returns false and writes nothing when an attempt exists.
pub async fn create_attempt_is_conditional(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let first = fixtures::running_attempt(&i, "tr1", "exec1");
    let mut second = first.clone();
    second.trace_id = "tr2".into();
    second.execution_id = "exec2".into();
    assert!(s.create_attempt(&first).await.unwrap());
    assert!(!s.create_attempt(&second).await.unwrap());
    assert_eq!(s.get_attempt("t1", "a1", "ai1").await.unwrap(), Some(first));
}

/// Racing `create_attempt`s for one intent: exactly one wins, and its attempt is stored.
pub async fn concurrent_lock_attempts_have_exactly_one_winner(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai-race");
    let mut handles = vec![];
    for n in 0..16 {
        let s = s.clone();
        let a = fixtures::running_attempt(&i, &format!("tr{n}"), &format!("exec{n}"));
        handles.push(tokio::spawn(async move {
            (n, s.create_attempt(&a).await.unwrap())
        }));
    }
    let mut winners = vec![];
    for h in handles {
        let (n, won) = h.await.unwrap();
        if won {
            winners.push(n);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = s.get_attempt("t1", "a1", "ai-race").await.unwrap().unwrap();
    assert_eq!(
        stored.trace_id,
        format!("tr{}", winners[0]),
        "the winner's attempt is stored"
    );
}

/// `replace_attempt` succeeds only while the stored attempt has the expected
/// status and count, and only once per expectation.
pub async fn replace_attempt_checks_status_and_count(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    let mut replay = a.clone();
    replay.attempt_count = 2;
    replay.trace_id = "tr2".into();
    replay.replay = Some(ReplayRequest {
        reason: "customer asked".into(),
        requested_by: "ops:bob".into(),
    });
    // Nothing to replace yet.
    assert!(
        !s.replace_attempt(&replay, AttemptStatus::Running, 1)
            .await
            .unwrap()
    );
    assert_eq!(s.get_attempt("t1", "a1", "ai1").await.unwrap(), None);

    s.create_attempt(&a).await.unwrap();
    s.record_terminal(&terminal(&a)).await.unwrap();
    assert!(
        !s.replace_attempt(&replay, AttemptStatus::Succeeded, 7)
            .await
            .unwrap()
    );
    assert!(
        !s.replace_attempt(&replay, AttemptStatus::Failed, 1)
            .await
            .unwrap()
    );
    let untouched = s.get_attempt("t1", "a1", "ai1").await.unwrap().unwrap();
    assert_eq!(
        (untouched.attempt_count, untouched.status),
        (1, AttemptStatus::Succeeded)
    );

    assert!(
        s.replace_attempt(&replay, AttemptStatus::Succeeded, 1)
            .await
            .unwrap()
    );
    // The first replace moved the item on: the same expectation now fails.
    assert!(
        !s.replace_attempt(&replay, AttemptStatus::Succeeded, 1)
            .await
            .unwrap()
    );
    let stored = s.get_attempt("t1", "a1", "ai1").await.unwrap().unwrap();
    assert_eq!((stored.attempt_count, stored.trace_id.as_str()), (2, "tr2"));
    assert_eq!(stored, replay);
}

/// `record_terminal` writes outcome, attempt status and ledger, and clears the lock TTL.
pub async fn record_terminal_writes_all_three_and_removes_the_lock_ttl(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    s.create_attempt(&a).await.unwrap();
    let write = terminal(&a);
    assert_eq!(
        s.record_terminal(&write).await.unwrap(),
        TerminalWriteResult::Written
    );
    let stored = s.get_attempt("t1", "a1", "ai1").await.unwrap().unwrap();
    assert_eq!(stored.status, AttemptStatus::Succeeded);
    assert_eq!(stored.completed_at, Some(fixtures::t0()));
    assert_eq!(stored.lock_expires_at, None);
    let outcome = s.get_outcome("t1", "a1", "ai1").await.unwrap();
    assert_eq!(
        outcome.as_ref().map(|o| o.status),
        Some(OutcomeStatus::Succeeded)
    );
    assert_eq!(outcome, Some(write.outcome.clone()));
    let entries = s.ledger_by_trace("t1", "tr1").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event_type, LedgerEventType::ActionExecuted);
    assert_eq!(entries, write.ledger);
}

/// A retried recorder gets `AlreadyRecorded`; the first write is kept, nothing doubles.
pub async fn a_retried_record_terminal_is_already_recorded_and_duplicates_nothing(
    s: Arc<dyn Store>,
) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    s.create_attempt(&a).await.unwrap();
    s.record_terminal(&terminal(&a)).await.unwrap();
    let mut retry = terminal(&a);
    retry.outcome.completed_at = fixtures::t0() + chrono::Duration::seconds(5);
    assert_eq!(
        s.record_terminal(&retry).await.unwrap(),
        TerminalWriteResult::AlreadyRecorded
    );
    assert_eq!(s.ledger_by_trace("t1", "tr1").await.unwrap().len(), 1);
    let outcome = s.get_outcome("t1", "a1", "ai1").await.unwrap().unwrap();
    assert_eq!(outcome.completed_at, fixtures::t0(), "first write kept");
}

/// `record_terminal` with no attempt, or for another trace or count, is a
/// conflict and writes nothing.
pub async fn record_terminal_for_another_attempt_is_a_conflict_and_writes_nothing(
    s: Arc<dyn Store>,
) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");

    // No attempt at all.
    let err = s.record_terminal(&terminal(&a)).await.unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("ConflictError", "ATTEMPT_NOT_FOUND")
    );
    assert!(s.get_outcome("t1", "a1", "ai1").await.unwrap().is_none());

    s.create_attempt(&a).await.unwrap();
    let mut stranger = a.clone();
    stranger.trace_id = "tr-other".into();
    let err = s.record_terminal(&terminal(&stranger)).await.unwrap_err();
    assert_eq!(err.name, "ConflictError");
    assert_eq!(err.code, "ATTEMPT_CONDITION_FAILED");
    assert!(
        err.message.contains(
            "is RUNNING with trace tr1 attempt 1, not RUNNING with trace tr-other attempt 1"
        ),
        "{}",
        err.message
    );
    assert!(s.get_outcome("t1", "a1", "ai1").await.unwrap().is_none());
    assert!(
        s.ledger_by_trace("t1", "tr-other")
            .await
            .unwrap()
            .is_empty()
    );
    let stored = s.get_attempt("t1", "a1", "ai1").await.unwrap().unwrap();
    assert_eq!(stored.status, AttemptStatus::Running);
    assert_eq!(stored, a, "the live attempt is untouched");

    // The wrong attempt count is refused the same way.
    let mut older = a.clone();
    older.attempt_count = 2;
    let err = s.record_terminal(&terminal(&older)).await.unwrap_err();
    assert_eq!(err.code, "ATTEMPT_CONDITION_FAILED");

    // An attempt of another intent (an orphan) finds nothing to record against.
    let orphan = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai2"), "tr9", "e9");
    let err = s.record_terminal(&terminal(&orphan)).await.unwrap_err();
    assert_eq!(err.code, "ATTEMPT_NOT_FOUND");
    assert!(s.get_outcome("t1", "a1", "ai2").await.unwrap().is_none());
}

/// The terminal write's ledger entries whose id exists (stored, or listed twice)
/// are skipped, not duplicated, and do not fail the write.
pub async fn record_terminal_skips_ledger_entries_that_already_exist(s: Arc<dyn Store>) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    s.create_attempt(&a).await.unwrap();
    let started = ledger(&a, LedgerEventType::ExecutionStarted);
    s.append_ledger(std::slice::from_ref(&started))
        .await
        .unwrap();

    let mut write = terminal(&a);
    write.ledger.insert(0, started.clone());
    // Listed twice in the same write: still one operation, one entry.
    write.ledger.push(write.ledger[1].clone());
    assert_eq!(
        s.record_terminal(&write).await.unwrap(),
        TerminalWriteResult::Written
    );
    let entries = s.ledger_by_trace("t1", "tr1").await.unwrap();
    let events: Vec<_> = entries.iter().map(|e| e.event_type).collect();
    assert_eq!(
        events,
        [
            LedgerEventType::ExecutionStarted,
            LedgerEventType::ActionExecuted
        ]
    );
    assert_eq!(
        s.get_attempt("t1", "a1", "ai1")
            .await
            .unwrap()
            .unwrap()
            .status,
        AttemptStatus::Succeeded
    );
}

/// Ledger appends skip existing ids (first write kept); `ledger_by_trace` is in
/// sequence order, scoped by tenant, and a trace id prefix matches nothing.
pub async fn ledger_appends_are_idempotent_ordered_tenant_scoped_and_prefix_safe(
    s: Arc<dyn Store>,
) {
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    let executed = ledger(&a, LedgerEventType::ActionExecuted);
    let started = ledger(&a, LedgerEventType::ExecutionStarted);
    let pending = ledger(&a, LedgerEventType::CompensationPending);
    s.append_ledger(&[executed.clone(), started.clone()])
        .await
        .unwrap();
    s.append_ledger(std::slice::from_ref(&started))
        .await
        .unwrap();
    let types: Vec<_> = s
        .ledger_by_trace("t1", "tr1")
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            LedgerEventType::ExecutionStarted,
            LedgerEventType::ActionExecuted
        ]
    );
    assert!(s.ledger_by_trace("t2", "tr1").await.unwrap().is_empty());
    // A retried writer: same ids, even with other data, change nothing.
    let mut rewritten = executed.clone();
    rewritten.data = json!({"tool_name": "something else"});
    s.append_ledger(&[rewritten, started.clone(), pending.clone()])
        .await
        .unwrap();
    // Other traces and other tenants stay out of the answer.
    let other_trace = fixtures::running_attempt(&i, "tr10", "exec10");
    let other_tenant = fixtures::running_attempt(&fixtures::intent("t2", "a1", "ai1"), "tr1", "e");
    s.append_ledger(&[
        ledger(&other_trace, LedgerEventType::ExecutionStarted),
        ledger(&other_tenant, LedgerEventType::ExecutionStarted),
    ])
    .await
    .unwrap();

    let entries = s.ledger_by_trace("t1", "tr1").await.unwrap();
    assert_eq!(
        entries,
        [started, pending, executed],
        "sequence order, first write kept"
    );
    assert_eq!(s.ledger_by_trace("t1", "tr10").await.unwrap().len(), 1);
    assert_eq!(s.ledger_by_trace("t2", "tr1").await.unwrap().len(), 1);
    assert!(
        s.ledger_by_trace("t1", "tr").await.unwrap().is_empty(),
        "prefix must not leak"
    );
    assert!(s.ledger_by_trace("t1", "nope").await.unwrap().is_empty());
}

/// `put_dedupe` returns false if a record for the key exists; the first is kept whole.
pub async fn dedupe_put_is_conditional(s: Arc<dyn Store>) {
    let first = ExternalWriteDedupe {
        idempotency_key: "k1".into(),
        tenant_id: "t1".into(),
        action_intent_id: "ai1".into(),
        tool_name: "crm.create_task".into(),
        trace_id: "tr1".into(),
        tool_run_ref: "toolrun/tr1/1/crm.create_task".into(),
        external_object_refs: vec![ExternalObjectRef {
            system: "crm".into(),
            object_type: "task".into(),
            object_id: "task-1".into(),
            object_url: Some("https://crm.example/task-1".into()),
        }],
        raw_response_artifact_ref: Some("s3://b/t1/toolrun/tr1/1/crm.create_task.json".into()),
        created_at: fixtures::t0(),
    };
    assert_eq!(s.get_dedupe("k1").await.unwrap(), None);
    assert!(s.put_dedupe(&first).await.unwrap());
    let mut second = first.clone();
    second.trace_id = "tr2".into();
    assert!(!s.put_dedupe(&second).await.unwrap());
    assert_eq!(s.get_dedupe("k1").await.unwrap(), Some(first));
}

/// The batched reads (`get_preflight`, `get_intent_and_attempt`,
/// `get_intent_and_registry_entry`) return what the single reads return,
/// scoped the same way.
pub async fn batched_reads_return_what_the_single_reads_return(s: Arc<dyn Store>) {
    // Nothing stored: no intent, no attempt, no global stop, no tenant config.
    let p = s.get_preflight("t1", "a1", "ai1").await.unwrap();
    assert_eq!(
        p,
        PreflightRecords {
            intent: None,
            global: GlobalControls::default(),
            tenant: None
        }
    );
    assert_eq!(
        s.get_intent_and_attempt("t1", "a1", "ai1").await.unwrap(),
        (None, None)
    );

    let i = fixtures::intent("t1", "a1", "ai1");
    s.put_intent(&i).await.unwrap();
    let stop = GlobalControls {
        global_stop: true,
        reason: Some("incident".into()),
    };
    s.put_global_controls(&stop).await.unwrap();
    s.put_tenant_config(&fixtures::tenant_enabled("t1"))
        .await
        .unwrap();
    let a = fixtures::running_attempt(&i, "tr-1", "exec-1");
    assert!(s.create_attempt(&a).await.unwrap());

    let p = s.get_preflight("t1", "a1", "ai1").await.unwrap();
    assert_eq!(p.intent.as_ref(), Some(&i));
    assert_eq!(p.global, stop);
    assert_eq!(p.tenant, Some(fixtures::tenant_enabled("t1")));
    // Scoped like the single reads: another account sees no intent.
    assert_eq!(
        s.get_preflight("t1", "a2", "ai1").await.unwrap().intent,
        None
    );
    assert_eq!(
        s.get_intent_and_attempt("t1", "a1", "ai1").await.unwrap(),
        (Some(i.clone()), Some(a.clone()))
    );
    assert_eq!(
        s.get_intent_and_attempt("t2", "a1", "ai1").await.unwrap(),
        (None, None)
    );

    let entry = fixtures::crm_task_registry_entry();
    s.put_registry_entry(&entry).await.unwrap();
    assert_eq!(
        s.get_intent_and_registry_entry("t1", "a1", "ai1", "CREATE_CRM_TASK", 1)
            .await
            .unwrap(),
        (Some(i.clone()), Some(entry.clone()))
    );
    // Another version, or another action type, is not there.
    assert_eq!(
        s.get_intent_and_registry_entry("t1", "a1", "ai1", "CREATE_CRM_TASK", 2)
            .await
            .unwrap(),
        (Some(i.clone()), None)
    );
    assert_eq!(
        s.get_intent_and_registry_entry("t1", "a1", "ai9", "NOPE", 1)
            .await
            .unwrap(),
        (None, None)
    );
}

/// Generates one `#[tokio::test]` per conformance check. `$store` is an
/// expression of type `Option<(guard, Arc<dyn Store>)>` evaluated inside each
/// (async) test with `$name: &str` bound to the test's name; `None` skips the
/// test, and the guard is kept alive until the check ends.
#[macro_export]
macro_rules! store_conformance_tests {
    (|$name:ident| $store:expr) => {
        $crate::store_conformance_tests!(@each |$name| $store;
            intents_are_scoped_by_tenant_and_account,
            registry_returns_pinned_or_latest_version,
            kill_switches_default_to_absent_and_no_global_stop,
            create_attempt_is_conditional,
            concurrent_lock_attempts_have_exactly_one_winner,
            replace_attempt_checks_status_and_count,
            record_terminal_writes_all_three_and_removes_the_lock_ttl,
            a_retried_record_terminal_is_already_recorded_and_duplicates_nothing,
            record_terminal_for_another_attempt_is_a_conflict_and_writes_nothing,
            record_terminal_skips_ledger_entries_that_already_exist,
            ledger_appends_are_idempotent_ordered_tenant_scoped_and_prefix_safe,
            dedupe_put_is_conditional,
            batched_reads_return_what_the_single_reads_return,
        );
    };
    (@each |$name:ident| $store:expr; $($check:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let $name: &str = stringify!($check);
                let Some((_guard, store)) = $store else { return };
                $crate::store::conformance::$check(store).await;
            }
        )*
    };
}
