//! The DynamoDB implementation of [`Store`]: one table per record kind, every
//! item keyed by `pk`/`sk` from `ccx_core::contracts::keys`, records stored whole
//! (see [`item`]). Conditional writes implement the lock and the attempt state
//! machine; [`terminal`] holds the recorders' single transaction; [`batch`] the
//! batched reads (one `BatchGetItem` each).

mod batch;
pub mod item;
mod terminal;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use ccx_core::contracts::{
    ActionIntentV1, ActionOutcomeV1, AttemptStatus, ExecutionAttempt, ExternalWriteDedupe,
    GlobalControls, LedgerEntry, TenantConfig, ToolRegistryEntry, keys,
};
use ccx_core::error::Result;
use ccx_core::ports::{PreflightRecords, Store, TerminalWrite, TerminalWriteResult};
use ccx_infra::TableId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::TableNames;
use crate::sdk_error::store_error;
use batch::{batch_get, record};
use item::{Item, PK, from_item, key, n, s, to_item};

/// Sort key of the single item per idempotency key in the dedupe table (the
/// embedded SQLite store uses the same).
pub const DEDUPE_SK: &str = "DEDUPE";

/// `attempt_count`, `trace_id`, `status`: attribute names used in conditions.
/// `status` is a DynamoDB reserved word, hence the `#status` placeholder.
const STATUS: &str = "#status";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Strongly consistent read: the lock and the recorders must see the latest write.
    async fn get_record<T: DeserializeOwned>(
        &self,
        table: &str,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", table, &e))?;
        out.item().map(|i| from_item(i, table)).transpose()
    }

    async fn put_record<T: Serialize>(
        &self,
        table: &str,
        pk: &str,
        sk: &str,
        record: &T,
    ) -> Result<()> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(to_item(record, pk, sk)?))
            .send()
            .await
            .map_err(|e| store_error("PutItem", table, &e))?;
        Ok(())
    }

    /// Put `item` unless an item with its key exists. Returns false (nothing
    /// written) when one does.
    async fn put_if_absent(&self, table: &str, item: Item) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional_put_result(result, table)
    }

    /// Every item of a key condition, following pagination.
    async fn query_all(
        &self,
        table: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression(condition)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            for (name, value) in values {
                req = req.expression_attribute_values(*name, value.clone());
            }
            let out = req
                .send()
                .await
                .map_err(|e| store_error("Query", table, &e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }
}

fn ledger_item(entry: &LedgerEntry) -> Result<Item> {
    to_item(
        entry,
        &keys::ledger_pk(&entry.tenant_id),
        &keys::ledger_sk(&entry.trace_id, entry.event_type.seq(), &entry.entry_id),
    )
}

fn attempt_item(attempt: &ExecutionAttempt) -> Result<Item> {
    to_item(
        attempt,
        &keys::tenant_account_pk(&attempt.tenant_id, &attempt.account_id),
        &keys::attempt_sk(&attempt.action_intent_id),
    )
}

#[async_trait]
impl Store for DynamoStore {
    async fn put_intent(&self, intent: &ActionIntentV1) -> Result<()> {
        self.put_record(
            self.tables.get(TableId::Intents)?,
            &keys::tenant_account_pk(&intent.tenant_id, &intent.account_id),
            &keys::intent_sk(&intent.action_intent_id),
            intent,
        )
        .await
    }

    async fn get_intent(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionIntentV1>> {
        self.get_record(
            self.tables.get(TableId::Intents)?,
            &keys::tenant_account_pk(tenant_id, account_id),
            &keys::intent_sk(action_intent_id),
        )
        .await
    }

    async fn put_registry_entry(&self, entry: &ToolRegistryEntry) -> Result<()> {
        self.put_record(
            self.tables.get(TableId::Registry)?,
            &keys::registry_pk(&entry.action_type),
            &keys::registry_sk(entry.registry_version),
            entry,
        )
        .await
    }

    async fn get_registry_entry(
        &self,
        action_type: &str,
        version: Option<u32>,
    ) -> Result<Option<ToolRegistryEntry>> {
        let table = self.tables.get(TableId::Registry)?;
        let pk = keys::registry_pk(action_type);
        if let Some(v) = version {
            return self.get_record(table, &pk, &keys::registry_sk(v)).await;
        }
        // Sort keys are zero-padded versions: the last one is the latest.
        let out = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("Query", table, &e))?;
        out.items().first().map(|i| from_item(i, table)).transpose()
    }

    async fn put_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        self.put_record(
            self.tables.get(TableId::Tenants)?,
            &keys::tenant_config_pk(&config.tenant_id),
            keys::TENANT_CONFIG_SK,
            config,
        )
        .await
    }

    async fn get_tenant_config(&self, tenant_id: &str) -> Result<Option<TenantConfig>> {
        self.get_record(
            self.tables.get(TableId::Tenants)?,
            &keys::tenant_config_pk(tenant_id),
            keys::TENANT_CONFIG_SK,
        )
        .await
    }

    async fn put_global_controls(&self, controls: &GlobalControls) -> Result<()> {
        self.put_record(
            self.tables.get(TableId::Tenants)?,
            keys::GLOBAL_CONTROLS_PK,
            keys::GLOBAL_CONTROLS_SK,
            controls,
        )
        .await
    }

    async fn get_global_controls(&self) -> Result<GlobalControls> {
        Ok(self
            .get_record(
                self.tables.get(TableId::Tenants)?,
                keys::GLOBAL_CONTROLS_PK,
                keys::GLOBAL_CONTROLS_SK,
            )
            .await?
            .unwrap_or_default())
    }

    async fn get_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ExecutionAttempt>> {
        self.get_record(
            self.tables.get(TableId::Attempts)?,
            &keys::tenant_account_pk(tenant_id, account_id),
            &keys::attempt_sk(action_intent_id),
        )
        .await
    }

    async fn create_attempt(&self, attempt: &ExecutionAttempt) -> Result<bool> {
        // The record carries `lock_expires_at` (the TTL attribute) while RUNNING.
        self.put_if_absent(self.tables.get(TableId::Attempts)?, attempt_item(attempt)?)
            .await
    }

    async fn replace_attempt(
        &self,
        attempt: &ExecutionAttempt,
        expected_status: AttemptStatus,
        expected_attempt_count: u32,
    ) -> Result<bool> {
        let table = self.tables.get(TableId::Attempts)?;
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(attempt_item(attempt)?))
            .condition_expression(format!(
                "attribute_exists(#pk) AND {STATUS} = :expected_status AND attempt_count = :expected_count"
            ))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names(STATUS, "status")
            .expression_attribute_values(":expected_status", s(expected_status.as_str()))
            .expression_attribute_values(":expected_count", n(expected_attempt_count))
            .send()
            .await;
        conditional_put_result(result, table)
    }

    async fn record_terminal(&self, write: &TerminalWrite) -> Result<TerminalWriteResult> {
        terminal::record_terminal(self, write).await
    }

    async fn get_outcome(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionOutcomeV1>> {
        self.get_record(
            self.tables.get(TableId::Outcomes)?,
            &keys::tenant_account_pk(tenant_id, account_id),
            &keys::outcome_sk(action_intent_id),
        )
        .await
    }

    async fn get_dedupe(&self, idempotency_key: &str) -> Result<Option<ExternalWriteDedupe>> {
        self.get_record(
            self.tables.get(TableId::Dedupe)?,
            &keys::dedupe_pk(idempotency_key),
            DEDUPE_SK,
        )
        .await
    }

    async fn put_dedupe(&self, record: &ExternalWriteDedupe) -> Result<bool> {
        let item = to_item(record, &keys::dedupe_pk(&record.idempotency_key), DEDUPE_SK)?;
        self.put_if_absent(self.tables.get(TableId::Dedupe)?, item)
            .await
    }

    async fn append_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        // One conditional put per entry: an existing id is the same event
        // written before (ids are deterministic), so it is skipped.
        for entry in entries {
            self.put_if_absent(self.tables.get(TableId::Ledger)?, ledger_item(entry)?)
                .await?;
        }
        Ok(())
    }

    async fn ledger_by_trace(&self, tenant_id: &str, trace_id: &str) -> Result<Vec<LedgerEntry>> {
        let table = self.tables.get(TableId::Ledger)?;
        let items = self
            .query_all(
                table,
                "pk = :pk AND begins_with(sk, :prefix)",
                &[
                    (":pk", s(keys::ledger_pk(tenant_id))),
                    (":prefix", s(keys::ledger_trace_prefix(trace_id))),
                ],
            )
            .await?;
        items.iter().map(|i| from_item(i, table)).collect()
    }

    /// One `BatchGetItem`: the intent (intents table), the GLOBAL controls and
    /// the tenant's config (tenants table).
    async fn get_preflight(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<PreflightRecords> {
        let intents = self.tables.get(TableId::Intents)?;
        let tenants = self.tables.get(TableId::Tenants)?;
        let [intent, global, tenant] = batch_get(
            self,
            &[
                (
                    intents,
                    keys::tenant_account_pk(tenant_id, account_id),
                    keys::intent_sk(action_intent_id),
                ),
                (
                    tenants,
                    keys::GLOBAL_CONTROLS_PK.to_string(),
                    keys::GLOBAL_CONTROLS_SK.to_string(),
                ),
                (
                    tenants,
                    keys::tenant_config_pk(tenant_id),
                    keys::TENANT_CONFIG_SK.to_string(),
                ),
            ],
        )
        .await?;
        Ok(PreflightRecords {
            intent: record(intent, intents)?,
            global: record(global, tenants)?.unwrap_or_default(),
            tenant: record(tenant, tenants)?,
        })
    }

    /// One `BatchGetItem`: the intent and the pinned registry version. The
    /// version is always given here, so both keys are known up front; the
    /// "latest version" read (a Query) stays in `get_registry_entry(.., None)`.
    async fn get_intent_and_registry_entry(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
        action_type: &str,
        registry_version: u32,
    ) -> Result<(Option<ActionIntentV1>, Option<ToolRegistryEntry>)> {
        let intents = self.tables.get(TableId::Intents)?;
        let registry = self.tables.get(TableId::Registry)?;
        let [intent, entry] = batch_get(
            self,
            &[
                (
                    intents,
                    keys::tenant_account_pk(tenant_id, account_id),
                    keys::intent_sk(action_intent_id),
                ),
                (
                    registry,
                    keys::registry_pk(action_type),
                    keys::registry_sk(registry_version),
                ),
            ],
        )
        .await?;
        Ok((record(intent, intents)?, record(entry, registry)?))
    }

    /// One `BatchGetItem`: the intent and its attempt (the execution lock).
    async fn get_intent_and_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<(Option<ActionIntentV1>, Option<ExecutionAttempt>)> {
        let intents = self.tables.get(TableId::Intents)?;
        let attempts = self.tables.get(TableId::Attempts)?;
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let [intent, attempt] = batch_get(
            self,
            &[
                (intents, pk.clone(), keys::intent_sk(action_intent_id)),
                (attempts, pk, keys::attempt_sk(action_intent_id)),
            ],
        )
        .await?;
        Ok((record(intent, intents)?, record(attempt, attempts)?))
    }
}

/// A conditional PutItem: `true` when written, `false` when its condition
/// failed (the caller's "already there" / "moved on"), an error otherwise.
fn conditional_put_result(
    result: std::result::Result<
        aws_sdk_dynamodb::operation::put_item::PutItemOutput,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
    >,
    table: &str,
) -> Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(store_error("PutItem", table, &e)),
    }
}
