//! `DynamoStore` against an AWS-compatible endpoint (`make test-aws`: moto).
//! Every conditional and transactional path of the `Store` port.

mod support;

use support::{ledger, terminal};

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use ccx_aws::DynamoStore;
use ccx_core::contracts::{
    AttemptStatus, ExecutionAttempt, ExternalObjectRef, ExternalWriteDedupe, GlobalControls,
    LedgerEventType, ReplayRequest, keys,
};
use ccx_core::fixtures;
use ccx_core::ports::{Store, TerminalWriteResult};
use ccx_infra::TableId;
use serde_json::json;

macro_rules! env_or_skip {
    ($name:expr) => {
        match support::env($name).await {
            Some(env) => env,
            None => return,
        }
    };
}

/// The attempt item as DynamoDB stores it, to check attributes the record hides.
async fn raw_attempt(
    env: &support::Env,
    a: &ExecutionAttempt,
) -> std::collections::HashMap<String, AttributeValue> {
    env.clients
        .dynamodb
        .get_item()
        .table_name(env.tables.get(TableId::Attempts).unwrap())
        .key(
            "pk",
            AttributeValue::S(keys::tenant_account_pk(&a.tenant_id, &a.account_id)),
        )
        .key(
            "sk",
            AttributeValue::S(keys::attempt_sk(&a.action_intent_id)),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("attempt item exists")
}

#[tokio::test]
async fn intents_registry_and_kill_switches_round_trip() {
    let env = env_or_skip!("intents_registry_and_kill_switches_round_trip");
    let s = env.store();
    let i = fixtures::intent("t1", "a1", "ai1");
    s.put_intent(&i).await.unwrap();
    assert_eq!(
        s.get_intent("t1", "a1", "ai1").await.unwrap(),
        Some(i.clone())
    );
    assert_eq!(s.get_intent("t2", "a1", "ai1").await.unwrap(), None);
    assert_eq!(s.get_intent("t1", "a2", "ai1").await.unwrap(), None);

    assert_eq!(s.get_tenant_config("t1").await.unwrap(), None);
    assert_eq!(
        s.get_global_controls().await.unwrap(),
        GlobalControls::default()
    );
    let stop = GlobalControls {
        global_stop: true,
        reason: Some("incident 42".into()),
    };
    s.put_global_controls(&stop).await.unwrap();
    assert_eq!(s.get_global_controls().await.unwrap(), stop);
    let mut cfg = fixtures::tenant_enabled("t1");
    cfg.disabled_action_types = vec!["CREATE_CRM_TASK".into()];
    s.put_tenant_config(&cfg).await.unwrap();
    assert_eq!(s.get_tenant_config("t1").await.unwrap(), Some(cfg));
}

#[tokio::test]
async fn registry_returns_pinned_or_latest_version() {
    let env = env_or_skip!("registry_returns_pinned_or_latest_version");
    let s = env.store();
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
    let latest = s
        .get_registry_entry("CREATE_CRM_TASK", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest, v10, "numeric, not lexical, order");
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

#[tokio::test]
async fn create_attempt_twice_keeps_the_first_and_writes_the_lock_ttl() {
    let env = env_or_skip!("create_attempt_twice_keeps_the_first_and_writes_the_lock_ttl");
    let s = env.store();
    let i = fixtures::intent("t1", "a1", "ai1");
    let first = fixtures::running_attempt(&i, "tr1", "exec1");
    let mut second = first.clone();
    second.trace_id = "tr2".into();
    second.execution_id = "exec2".into();
    assert!(s.create_attempt(&first).await.unwrap());
    assert!(!s.create_attempt(&second).await.unwrap());
    assert_eq!(
        s.get_attempt("t1", "a1", "ai1").await.unwrap(),
        Some(first.clone())
    );
    let raw = raw_attempt(&env, &first).await;
    assert_eq!(
        raw.get("lock_expires_at"),
        Some(&AttributeValue::N(
            (fixtures::t0().timestamp() + 3600).to_string()
        )),
        "the TTL attribute is a top-level number, as DynamoDB TTL requires"
    );
    assert_eq!(
        raw.get("status"),
        Some(&AttributeValue::S("RUNNING".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lock_attempts_have_exactly_one_winner() {
    let env = env_or_skip!("concurrent_lock_attempts_have_exactly_one_winner");
    let s = Arc::new(env.store());
    let i = fixtures::intent("t1", "a1", "ai-race");
    let mut handles = vec![];
    for n in 0..12 {
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

#[tokio::test]
async fn replace_attempt_checks_status_and_count() {
    let env = env_or_skip!("replace_attempt_checks_status_and_count");
    let s = env.store();
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
    assert_eq!(stored, replay);
}

#[tokio::test]
async fn record_terminal_writes_all_three_and_removes_the_lock_ttl() {
    let env = env_or_skip!("record_terminal_writes_all_three_and_removes_the_lock_ttl");
    let s = env.store();
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
    let raw = raw_attempt(&env, &a).await;
    assert!(
        !raw.contains_key("lock_expires_at"),
        "TTL attribute removed: {raw:?}"
    );
    assert_eq!(
        s.get_outcome("t1", "a1", "ai1").await.unwrap(),
        Some(write.outcome.clone())
    );
    assert_eq!(s.ledger_by_trace("t1", "tr1").await.unwrap(), write.ledger);
}

#[tokio::test]
async fn a_retried_record_terminal_is_already_recorded_and_duplicates_nothing() {
    let env = env_or_skip!("a_retried_record_terminal_is_already_recorded_and_duplicates_nothing");
    let s = env.store();
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

#[tokio::test]
async fn record_terminal_for_another_trace_is_a_conflict_and_writes_nothing() {
    let env = env_or_skip!("record_terminal_for_another_trace_is_a_conflict_and_writes_nothing");
    let s = env.store();
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
    assert!(
        err.message
            .contains(&format!("EXECUTION#ai1 in table {}-attempts", env.prefix)),
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
    assert_eq!(stored, a, "the live attempt is untouched");

    // The wrong attempt count is refused the same way.
    let mut older = a.clone();
    older.attempt_count = 2;
    let err = s.record_terminal(&terminal(&older)).await.unwrap_err();
    assert_eq!(err.code, "ATTEMPT_CONDITION_FAILED");
}

#[tokio::test]
async fn record_terminal_skips_ledger_entries_that_already_exist() {
    let env = env_or_skip!("record_terminal_skips_ledger_entries_that_already_exist");
    let s = env.store();
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

#[tokio::test]
async fn ledger_appends_are_idempotent_and_queried_by_trace_in_order() {
    let env = env_or_skip!("ledger_appends_are_idempotent_and_queried_by_trace_in_order");
    let s = env.store();
    let i = fixtures::intent("t1", "a1", "ai1");
    let a = fixtures::running_attempt(&i, "tr1", "exec1");
    let executed = ledger(&a, LedgerEventType::ActionExecuted);
    let started = ledger(&a, LedgerEventType::ExecutionStarted);
    let pending = ledger(&a, LedgerEventType::CompensationPending);
    s.append_ledger(&[executed.clone(), started.clone()])
        .await
        .unwrap();
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
    assert!(s.ledger_by_trace("t1", "nope").await.unwrap().is_empty());
}

#[tokio::test]
async fn dedupe_put_is_conditional() {
    let env = env_or_skip!("dedupe_put_is_conditional");
    let s = env.store();
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

#[tokio::test]
async fn missing_table_and_unconfigured_table_are_named() {
    let env = env_or_skip!("missing_table_and_unconfigured_table_are_named");
    let tables = env
        .tables
        .clone()
        .with(TableId::Intents, format!("{}-absent", env.prefix));
    let s = DynamoStore::new(env.clients.dynamodb.clone(), tables);
    let err = s.get_intent("t1", "a1", "ai1").await.unwrap_err();
    assert_eq!(err.name, "PermanentError");
    assert_eq!(err.code, "STORE_REQUEST_FAILED");
    assert!(
        err.message.contains(&format!(
            "DynamoDB GetItem on table {}-absent failed: ResourceNotFoundException",
            env.prefix
        )),
        "{}",
        err.message
    );

    let only_intents = ccx_aws::TableNames::new()
        .with(TableId::Intents, env.tables.get(TableId::Intents).unwrap());
    let s = DynamoStore::new(env.clients.dynamodb.clone(), only_intents);
    let err = s.get_dedupe("k").await.unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("ConfigurationError", "TABLE_NOT_CONFIGURED")
    );
    assert!(err.message.contains("CCX_TABLE_DEDUPE"), "{}", err.message);
}
