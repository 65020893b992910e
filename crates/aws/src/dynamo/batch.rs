//! The batched reads of the port (`get_preflight`, `get_intent_and_attempt`,
//! `get_intent_and_registry_entry`): every key is known up front, so each is ONE
//! `BatchGetItem` across the tables involved, strongly consistent on every
//! table (`ConsistentRead`), like the single-item reads.
//!
//! DynamoDB may answer a batch partially (`UnprocessedKeys`, e.g. when a
//! partition is throttled). Those keys are requested again, after a short
//! pause, to complete the batch; this is not a retry on errors (an SDK error
//! fails the read at once, mapped as every other request) and it is bounded:
//! keys still unprocessed after [`MAX_ROUNDS`] requests are a `TransientError`
//! (`STORE_UNAVAILABLE`), left to the state machine's retries.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use ccx_core::error::Result;
use ccx_core::{ErrorClass, ExecutionError};
use serde::de::DeserializeOwned;

use super::DynamoStore;
use super::item::{Item, PK, SK, from_item, key};
use crate::sdk_error::store_error;

/// Requests per batch read: the first plus re-requests of unprocessed keys.
pub(super) const MAX_ROUNDS: u32 = 4;

/// Pause before re-requesting unprocessed keys: doubles each round (20, 40, 80 ms).
const FIRST_PAUSE: Duration = Duration::from_millis(20);

/// One item to read: table name, partition key, sort key.
pub(super) type Wanted<'a> = (&'a str, String, String);

/// The items at `wanted`, in the same order (`None`: no such item), read with
/// one `BatchGetItem` (plus re-requests of unprocessed keys).
pub(super) async fn batch_get<const N: usize>(
    store: &DynamoStore,
    wanted: &[Wanted<'_>; N],
) -> Result<[Option<Item>; N]> {
    let tables = table_list(wanted);
    let mut pending: HashMap<String, Vec<Item>> = HashMap::new();
    for (table, pk, sk) in wanted {
        let keys = pending.entry((*table).to_string()).or_default();
        let k = key(pk, sk);
        // DynamoDB rejects a batch that lists a key twice.
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut found: HashMap<String, Vec<Item>> = HashMap::new();
    let mut pause = FIRST_PAUSE;
    for round in 0..MAX_ROUNDS {
        if round > 0 {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        let out = store
            .client
            .batch_get_item()
            .set_request_items(Some(request_items(pending, &tables)?))
            .send()
            .await
            .map_err(|e| store_error("BatchGetItem", &tables, &e))?;
        for (table, items) in out.responses.unwrap_or_default() {
            found.entry(table).or_default().extend(items);
        }
        pending = out
            .unprocessed_keys
            .unwrap_or_default()
            .into_iter()
            .map(|(table, k)| (table, k.keys))
            .filter(|(_, keys)| !keys.is_empty())
            .collect();
        if pending.is_empty() {
            return Ok(std::array::from_fn(|i| {
                let (table, pk, sk) = &wanted[i];
                found
                    .get(*table)
                    .and_then(|items| items.iter().find(|item| has_key(item, pk, sk)))
                    .cloned()
            }));
        }
    }
    let left: usize = pending.values().map(Vec::len).sum();
    Err(ExecutionError::store_unavailable(format!(
        "DynamoDB BatchGetItem on table {tables} left {left} key(s) unprocessed after {MAX_ROUNDS} requests"
    )))
}

/// The record in `item`, if any (see [`from_item`]).
pub(super) fn record<T: DeserializeOwned>(item: Option<Item>, table: &str) -> Result<Option<T>> {
    item.map(|i| from_item(&i, table)).transpose()
}

/// `RequestItems`: every table's keys, read strongly consistent. Rebuilt for
/// each round, so re-requested keys are consistent reads too whatever the
/// service echoed back in `UnprocessedKeys`.
fn request_items(
    pending: HashMap<String, Vec<Item>>,
    tables: &str,
) -> Result<HashMap<String, KeysAndAttributes>> {
    pending
        .into_iter()
        .map(|(table, keys)| {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| {
                    ExecutionError::permanent(
                        ErrorClass::Unknown,
                        "STORE_REQUEST_INVALID",
                        format!("DynamoDB BatchGetItem on table {tables}: {e}"),
                    )
                })?;
            Ok((table, request))
        })
        .collect()
}

fn has_key(item: &Item, pk: &str, sk: &str) -> bool {
    let is = |name: &str, value: &str| matches!(item.get(name), Some(AttributeValue::S(v)) if v == value);
    is(PK, pk) && is(SK, sk)
}

/// The distinct tables of `wanted` for messages: "a", "a and b", "a, b and c"
/// (as the transaction's errors name theirs).
fn table_list(wanted: &[Wanted<'_>]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (table, _, _) in wanted {
        if !names.contains(table) {
            names.push(table);
        }
    }
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_named_once_in_order() {
        let w = |t| (t, String::new(), String::new());
        assert_eq!(table_list(&[w("a")]), "a");
        assert_eq!(table_list(&[w("a"), w("b"), w("b")]), "a and b");
        assert_eq!(table_list(&[w("a"), w("b"), w("c"), w("a")]), "a, b and c");
    }

    #[test]
    fn items_are_matched_by_both_keys() {
        let item = key("P", "S");
        assert!(has_key(&item, "P", "S"));
        assert!(!has_key(&item, "P", "T"));
        assert!(!has_key(&item, "Q", "S"));
    }
}
