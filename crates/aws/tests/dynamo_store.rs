//! `DynamoStore` against an AWS-compatible endpoint (`make test-aws`: moto):
//! the shared `Store` conformance suite (`ccx_core::store::conformance`), then
//! what only DynamoDB has (the TTL attribute, messages naming the table).

mod support;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use ccx_aws::DynamoStore;
use ccx_core::contracts::{ExecutionAttempt, keys};
use ccx_core::fixtures;
use ccx_core::ports::Store;
use ccx_core::store::conformance::terminal;
use ccx_infra::TableId;

macro_rules! env_or_skip {
    ($name:expr) => {
        match support::env($name).await {
            Some(env) => env,
            None => return,
        }
    };
}

// Each check on its own tables; the env (dropped after the check) deletes them.
ccx_core::store_conformance_tests!(|test| support::env(test).await.map(|env| {
    let store: Arc<dyn Store> = Arc::new(env.store());
    (env, store)
}));

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
async fn create_attempt_writes_the_lock_ttl_as_a_top_level_number() {
    let env = env_or_skip!("create_attempt_writes_the_lock_ttl_as_a_top_level_number");
    let s = env.store();
    let a = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "exec1");
    assert!(s.create_attempt(&a).await.unwrap());
    let raw = raw_attempt(&env, &a).await;
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

#[tokio::test]
async fn record_terminal_removes_the_ttl_attribute() {
    let env = env_or_skip!("record_terminal_removes_the_ttl_attribute");
    let s = env.store();
    let a = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "exec1");
    s.create_attempt(&a).await.unwrap();
    s.record_terminal(&terminal(&a)).await.unwrap();
    let raw = raw_attempt(&env, &a).await;
    assert!(
        !raw.contains_key("lock_expires_at"),
        "TTL attribute removed: {raw:?}"
    );
}

#[tokio::test]
async fn a_refused_record_terminal_names_the_item_and_table() {
    let env = env_or_skip!("a_refused_record_terminal_names_the_item_and_table");
    let s = env.store();
    let a = fixtures::running_attempt(&fixtures::intent("t1", "a1", "ai1"), "tr1", "exec1");
    s.create_attempt(&a).await.unwrap();
    let mut stranger = a.clone();
    stranger.trace_id = "tr-other".into();
    let err = s.record_terminal(&terminal(&stranger)).await.unwrap_err();
    assert_eq!(err.code, "ATTEMPT_CONDITION_FAILED");
    assert!(
        err.message
            .contains(&format!("EXECUTION#ai1 in table {}-attempts", env.prefix)),
        "{}",
        err.message
    );
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
