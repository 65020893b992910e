//! `record_terminal`: outcome, attempt status and ledger entries in ONE
//! TransactWriteItems, so a recorder that dies or is retried neither half-writes
//! nor duplicates.
//!
//! Items, in this order (the order of the cancellation reasons):
//! 0. Put the outcome.
//! 1. Update the attempt, on condition that it is RUNNING with the outcome's
//!    trace and attempt count: set status and `completed_at`, REMOVE the lock
//!    TTL `lock_expires_at` so terminal records never expire.
//! 2. and on: put each ledger entry, on condition that its key does not exist.
//!
//! A cancelled transaction is explained from its cancellation reasons:
//! - attempt condition failed: the attempt is read; if it is already terminal
//!   for the same trace and attempt count this is a retried recorder
//!   (`AlreadyRecorded`), otherwise a `ConflictError` saying what was found;
//! - only ledger conditions failed: those entries already exist with the same
//!   deterministic id, so they are dropped and the transaction is sent again
//!   (the port's "existing ledger ids are skipped", as in the embedded store);
//! - contention or throttling: `TransientError`, the state machine retries;
//! - anything else: a `ConflictError` naming the item and reason.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, Put, TransactWriteItem, Update};
use ccx_core::contracts::{AttemptStatus, LedgerEntry, keys};
use ccx_core::error::Result;
use ccx_core::ports::{Store, TerminalWrite, TerminalWriteResult};
use ccx_core::{ErrorClass, ExecutionError};
use ccx_infra::TableId;

use super::item::{PK, key, n, s, to_item};
use super::{DynamoStore, STATUS, ledger_item};
use crate::sdk_error::store_error;

const OUTCOME_INDEX: usize = 0;
const ATTEMPT_INDEX: usize = 1;
const FIRST_LEDGER_INDEX: usize = 2;

/// Cancellation reason codes that mean "try again later".
const TRANSIENT_REASONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

pub(super) async fn record_terminal(
    store: &DynamoStore,
    write: &TerminalWrite,
) -> Result<TerminalWriteResult> {
    if !write.attempt_status.is_terminal() {
        return Err(ExecutionError::validation(
            "ATTEMPT_STATUS_NOT_TERMINAL",
            format!(
                "record_terminal needs a terminal attempt status, got {}",
                write.attempt_status.as_str()
            ),
        ));
    }
    // One operation per item in a transaction: an entry listed twice (same
    // deterministic id) is written once.
    let mut ledger: Vec<&LedgerEntry> = Vec::with_capacity(write.ledger.len());
    for entry in &write.ledger {
        if !ledger.iter().any(|e| e.entry_id == entry.entry_id) {
            ledger.push(entry);
        }
    }
    // Each round either succeeds, fails for good, or drops at least one ledger
    // entry that already exists, so this ends after at most len+1 rounds.
    loop {
        let items = transaction_items(store, write, &ledger)?;
        let result = store
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(TerminalWriteResult::Written),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            let tables = format!(
                "{}, {} and {}",
                store.tables.get(TableId::Outcomes)?,
                store.tables.get(TableId::Attempts)?,
                store.tables.get(TableId::Ledger)?
            );
            return Err(store_error("TransactWriteItems", &tables, &err));
        };
        let reasons = cancelled.cancellation_reasons();
        match explain(store, write, &ledger, reasons, cancelled.message()).await? {
            Next::Done(result) => return Ok(result),
            Next::RetryWithout(existing) => {
                ledger.retain(|e| !existing.contains(&e.entry_id));
            }
        }
    }
}

enum Next {
    Done(TerminalWriteResult),
    /// Ledger entry ids that already exist.
    RetryWithout(Vec<String>),
}

fn transaction_items(
    store: &DynamoStore,
    write: &TerminalWrite,
    ledger: &[&LedgerEntry],
) -> Result<Vec<TransactWriteItem>> {
    let outcome = &write.outcome;
    let pk = keys::tenant_account_pk(&outcome.tenant_id, &outcome.account_id);
    let tables = &store.tables;
    let completed_at = serde_json::to_value(outcome.completed_at)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| outcome.completed_at.to_rfc3339());

    let mut items = Vec::with_capacity(FIRST_LEDGER_INDEX + ledger.len());
    items.push(put_item(
        tables.get(TableId::Outcomes)?,
        to_item(outcome, &pk, &keys::outcome_sk(&outcome.action_intent_id))?,
        false,
    )?);
    let update = Update::builder()
        .table_name(tables.get(TableId::Attempts)?)
        .set_key(Some(key(&pk, &keys::attempt_sk(&outcome.action_intent_id))))
        .update_expression(format!(
            "SET {STATUS} = :status, completed_at = :completed_at REMOVE lock_expires_at"
        ))
        .condition_expression(format!(
            "{STATUS} = :running AND trace_id = :trace_id AND attempt_count = :attempt_count"
        ))
        .expression_attribute_names(STATUS, "status")
        .expression_attribute_values(":status", s(write.attempt_status.as_str()))
        .expression_attribute_values(":completed_at", s(completed_at))
        .expression_attribute_values(":running", s(AttemptStatus::Running.as_str()))
        .expression_attribute_values(":trace_id", s(&outcome.trace_id))
        .expression_attribute_values(":attempt_count", n(outcome.attempt_count))
        .build()
        .map_err(build_error)?;
    items.push(TransactWriteItem::builder().update(update).build());
    for entry in ledger {
        items.push(put_item(
            tables.get(TableId::Ledger)?,
            ledger_item(entry)?,
            true,
        )?);
    }
    Ok(items)
}

fn put_item(table: &str, item: super::item::Item, if_absent: bool) -> Result<TransactWriteItem> {
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    if if_absent {
        put = put
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
    }
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(build_error)?)
        .build())
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> ExecutionError {
    ExecutionError::permanent(
        ErrorClass::Unknown,
        "STORE_REQUEST_INVALID",
        format!("could not build the TransactWriteItems request: {e}"),
    )
}

fn reason_code(reasons: &[CancellationReason], index: usize) -> &str {
    reasons.get(index).and_then(|r| r.code()).unwrap_or("None")
}

async fn explain(
    store: &DynamoStore,
    write: &TerminalWrite,
    ledger: &[&LedgerEntry],
    reasons: &[CancellationReason],
    message: Option<&str>,
) -> Result<Next> {
    let outcome = &write.outcome;
    let outcomes_table = store.tables.get(TableId::Outcomes)?;
    let attempts_table = store.tables.get(TableId::Attempts)?;
    let ledger_table = store.tables.get(TableId::Ledger)?;
    let describe = |index: usize| -> String {
        match index {
            OUTCOME_INDEX => format!(
                "outcome {} in table {}",
                keys::outcome_sk(&outcome.action_intent_id),
                outcomes_table
            ),
            ATTEMPT_INDEX => format!(
                "attempt {} in table {}",
                keys::attempt_sk(&outcome.action_intent_id),
                attempts_table
            ),
            i => match ledger.get(i - FIRST_LEDGER_INDEX) {
                Some(e) => format!(
                    "ledger entry {} ({}) in table {}",
                    e.entry_id,
                    e.event_type.as_str(),
                    ledger_table
                ),
                None => format!("item #{i}"),
            },
        }
    };

    // An emulator that omits the reasons: the attempt is the only item whose
    // state we can check, so treat it as the suspect.
    if reasons.is_empty() || reason_code(reasons, ATTEMPT_INDEX) == "ConditionalCheckFailed" {
        return attempt_condition_failed(store, write, reasons.is_empty(), message).await;
    }

    let failed: Vec<(usize, &str)> = (0..FIRST_LEDGER_INDEX + ledger.len())
        .map(|i| (i, reason_code(reasons, i)))
        .filter(|(_, code)| *code != "None")
        .collect();
    if let Some((i, code)) = failed
        .iter()
        .find(|(_, code)| TRANSIENT_REASONS.contains(code))
    {
        return Err(ExecutionError::store_unavailable(format!(
            "DynamoDB TransactWriteItems cancelled by {code} on {}; retry",
            describe(*i)
        )));
    }
    let ledger_dupes: Vec<String> = failed
        .iter()
        .filter(|(i, code)| *i >= FIRST_LEDGER_INDEX && *code == "ConditionalCheckFailed")
        .map(|(i, _)| ledger[i - FIRST_LEDGER_INDEX].entry_id.clone())
        .collect();
    if !ledger_dupes.is_empty() && ledger_dupes.len() == failed.len() {
        return Ok(Next::RetryWithout(ledger_dupes));
    }
    let named: Vec<String> = failed
        .iter()
        .map(|(i, code)| format!("{} ({code})", describe(*i)))
        .collect();
    Err(ExecutionError::conflict(
        "TERMINAL_WRITE_CANCELLED",
        format!(
            "terminal write of intent {} (trace {}, attempt {}) was cancelled: {}",
            outcome.action_intent_id,
            outcome.trace_id,
            outcome.attempt_count,
            if named.is_empty() {
                message.unwrap_or("no reason given").to_string()
            } else {
                named.join(", ")
            }
        ),
    ))
}

/// The attempt was not RUNNING with our trace and count: find out what it is.
async fn attempt_condition_failed(
    store: &DynamoStore,
    write: &TerminalWrite,
    reasons_missing: bool,
    message: Option<&str>,
) -> Result<Next> {
    let outcome = &write.outcome;
    let attempt = store
        .get_attempt(
            &outcome.tenant_id,
            &outcome.account_id,
            &outcome.action_intent_id,
        )
        .await?;
    let Some(attempt) = attempt else {
        return Err(ExecutionError::conflict(
            "ATTEMPT_NOT_FOUND",
            format!(
                "no execution attempt for intent {} (tenant {}, account {}) in table {}: nothing to record against",
                outcome.action_intent_id,
                outcome.tenant_id,
                outcome.account_id,
                store.tables.get(TableId::Attempts)?
            ),
        ));
    };
    let same_attempt =
        attempt.trace_id == outcome.trace_id && attempt.attempt_count == outcome.attempt_count;
    if same_attempt && attempt.status.is_terminal() {
        // A retried recorder whose first transaction committed.
        return Ok(Next::Done(TerminalWriteResult::AlreadyRecorded));
    }
    if same_attempt && attempt.status == AttemptStatus::Running && reasons_missing {
        return Err(ExecutionError::conflict(
            "TERMINAL_WRITE_CANCELLED",
            format!(
                "terminal write of intent {} was cancelled without reasons while the attempt is RUNNING: {}",
                outcome.action_intent_id,
                message.unwrap_or("no message")
            ),
        ));
    }
    Err(ExecutionError::conflict(
        "ATTEMPT_CONDITION_FAILED",
        format!(
            "attempt {} in table {} is {} with trace {} attempt {}, not RUNNING with trace {} attempt {}: refusing to record",
            keys::attempt_sk(&outcome.action_intent_id),
            store.tables.get(TableId::Attempts)?,
            attempt.status.as_str(),
            attempt.trace_id,
            attempt.attempt_count,
            outcome.trace_id,
            outcome.attempt_count
        ),
    ))
}
