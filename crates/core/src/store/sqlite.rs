//! The embedded store: every record kind in one SQLite file.
//!
//! Records are stored whole as JSON under the same `pk`/`sk` keys the DynamoDB
//! tables use (`contracts::keys`), in one `items` table partitioned by `tbl`
//! (the DynamoDB table the record would live in). Conditional writes are SQL
//! `WHERE` clauses on `json_extract`, and `record_terminal` is one IMMEDIATE
//! transaction, so the embedded default keeps the same exactly-once guarantees as
//! DynamoDB. Every call runs on the blocking pool: rusqlite is synchronous and
//! must not stall the async executor.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::contracts::{
    ActionIntentV1, ActionOutcomeV1, AttemptStatus, ExecutionAttempt, ExternalWriteDedupe,
    GlobalControls, LedgerEntry, TenantConfig, ToolRegistryEntry, keys,
};
use crate::error::{ExecutionError, Result};
use crate::ports::{PreflightRecords, Store, TerminalWrite, TerminalWriteResult};

pub const DB_FILE: &str = "ccx.sqlite";

const T_INTENTS: &str = "intents";
const T_ATTEMPTS: &str = "attempts";
const T_OUTCOMES: &str = "outcomes";
const T_REGISTRY: &str = "registry";
const T_DEDUPE: &str = "dedupe";
const T_LEDGER: &str = "ledger";
const T_TENANTS: &str = "tenants";
const DEDUPE_SK: &str = "DEDUPE";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL,
    pk  TEXT NOT NULL,
    sk  TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
";

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn sql_err(op: &str, e: rusqlite::Error) -> ExecutionError {
    // SQLITE_BUSY/LOCKED: another process holds the write lock past busy_timeout.
    // Worth a retry by the state machine; anything else is a real fault.
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            ExecutionError::store_unavailable(format!("sqlite {op}: database busy: {e}"))
        }
        _ => ExecutionError::new(
            crate::error::names::PERMANENT,
            crate::error::ErrorClass::Unknown,
            "STORE_ERROR",
            false,
            format!("sqlite {op}: {e}"),
        ),
    }
}

fn to_doc<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        ExecutionError::validation(
            "UNSERIALISABLE_RECORD",
            format!("cannot serialise record: {e}"),
        )
    })
}

fn from_doc<T: DeserializeOwned>(tbl: &str, pk: &str, sk: &str, doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|e| {
        ExecutionError::new(
            crate::error::names::PERMANENT,
            crate::error::ErrorClass::Unknown,
            "CORRUPT_RECORD",
            false,
            format!("record {tbl}/{pk}/{sk} does not match its contract: {e}"),
        )
    })
}

/// Statements are prepared once per connection and cached (`prepare_cached`):
/// parsing SQL again on every call is per-invocation work that belongs in the
/// cold start.
fn get_doc(conn: &Connection, tbl: &str, pk: &str, sk: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT doc FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .and_then(|mut stmt| {
            stmt.query_row(params![tbl, pk, sk], |row| row.get::<_, String>(0))
                .optional()
        })
        .map_err(|e| sql_err("get", e))
}

fn get_typed<T: DeserializeOwned>(
    conn: &Connection,
    tbl: &str,
    pk: &str,
    sk: &str,
) -> Result<Option<T>> {
    get_doc(conn, tbl, pk, sk)?
        .map(|doc| from_doc(tbl, pk, sk, &doc))
        .transpose()
}

fn upsert(conn: &Connection, tbl: &str, pk: &str, sk: &str, doc: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET doc = excluded.doc",
    )
    .and_then(|mut stmt| stmt.execute(params![tbl, pk, sk, doc]))
    .map(|_| ())
    .map_err(|e| sql_err("put", e))
}

/// Insert unless the key exists; true when written.
fn insert_if_absent(conn: &Connection, tbl: &str, pk: &str, sk: &str, doc: &str) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tbl, pk, sk) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![tbl, pk, sk, doc]))
    .map(|n| n == 1)
    .map_err(|e| sql_err("conditional put", e))
}

fn ledger_keys(e: &LedgerEntry) -> (String, String) {
    (
        keys::ledger_pk(&e.tenant_id),
        keys::ledger_sk(&e.trace_id, e.event_type.seq(), &e.entry_id),
    )
}

impl SqliteStore {
    /// Opens (creating if needed) the store file. WAL and a busy timeout let the
    /// Lambda binaries and `ccx` share one data folder across processes.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| {
            ExecutionError::configuration(
                "STORE_UNAVAILABLE",
                format!("cannot open {}: {e}", path.display()),
            )
        })?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sql_err("busy_timeout", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sql_err("journal_mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql_err("synchronous", e))?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| sql_err("open", e))?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.execute_batch(SCHEMA)
            .map_err(|e| sql_err("schema", e))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| ExecutionError::store_unavailable(format!("sqlite worker failed: {e}")))?
    }

    /// Every record of one kind (for `ccx`, audits and the chaos checks).
    async fn scan<T: DeserializeOwned + Send + 'static>(
        &self,
        tbl: &'static str,
    ) -> Result<Vec<T>> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare("SELECT pk, sk, doc FROM items WHERE tbl = ?1 ORDER BY pk, sk")
                .map_err(|e| sql_err("scan", e))?;
            let rows = stmt
                .query_map(params![tbl], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(|e| sql_err("scan", e))?;
            let mut out = Vec::new();
            for row in rows {
                let (pk, sk, doc) = row.map_err(|e| sql_err("scan", e))?;
                out.push(from_doc(tbl, &pk, &sk, &doc)?);
            }
            Ok(out)
        })
        .await
    }

    pub async fn list_attempts(&self) -> Result<Vec<ExecutionAttempt>> {
        self.scan(T_ATTEMPTS).await
    }
    pub async fn list_outcomes(&self) -> Result<Vec<ActionOutcomeV1>> {
        self.scan(T_OUTCOMES).await
    }
    pub async fn list_ledger(&self) -> Result<Vec<LedgerEntry>> {
        self.scan(T_LEDGER).await
    }
    pub async fn list_dedupe(&self) -> Result<Vec<ExternalWriteDedupe>> {
        self.scan(T_DEDUPE).await
    }
    pub async fn list_intents(&self) -> Result<Vec<ActionIntentV1>> {
        self.scan(T_INTENTS).await
    }

    /// Finds an intent by id alone (the `ccx status` command has no tenant/account).
    pub async fn find_intent(&self, action_intent_id: &str) -> Result<Option<ActionIntentV1>> {
        let sk = keys::intent_sk(action_intent_id);
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT pk, doc FROM items WHERE tbl = ?1 AND sk = ?2 LIMIT 1",
                    params![T_INTENTS, sk],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()
                .map_err(|e| sql_err("find intent", e))?;
            row.map(|(pk, doc)| from_doc(T_INTENTS, &pk, &sk, &doc))
                .transpose()
        })
        .await
    }

    /// Ledger entries of one trace, whatever the tenant (`ccx trace`).
    pub async fn ledger_for_trace_any_tenant(&self, trace_id: &str) -> Result<Vec<LedgerEntry>> {
        let prefix = keys::ledger_trace_prefix(trace_id);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT pk, sk, doc FROM items WHERE tbl = ?1 AND substr(sk, 1, ?2) = ?3 ORDER BY sk",
                )
                .map_err(|e| sql_err("ledger by trace", e))?;
            let rows = stmt
                .query_map(params![T_LEDGER, prefix.len() as i64, prefix], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })
                .map_err(|e| sql_err("ledger by trace", e))?;
            let mut out = Vec::new();
            for row in rows {
                let (pk, sk, doc) = row.map_err(|e| sql_err("ledger by trace", e))?;
                out.push(from_doc(T_LEDGER, &pk, &sk, &doc)?);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_intent(&self, intent: &ActionIntentV1) -> Result<()> {
        let pk = keys::tenant_account_pk(&intent.tenant_id, &intent.account_id);
        let sk = keys::intent_sk(&intent.action_intent_id);
        let doc = to_doc(intent)?;
        self.with_conn(move |c| upsert(c, T_INTENTS, &pk, &sk, &doc))
            .await
    }

    async fn get_intent(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionIntentV1>> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let sk = keys::intent_sk(action_intent_id);
        self.with_conn(move |c| get_typed(c, T_INTENTS, &pk, &sk))
            .await
    }

    async fn put_registry_entry(&self, entry: &ToolRegistryEntry) -> Result<()> {
        let pk = keys::registry_pk(&entry.action_type);
        let sk = keys::registry_sk(entry.registry_version);
        let doc = to_doc(entry)?;
        self.with_conn(move |c| upsert(c, T_REGISTRY, &pk, &sk, &doc))
            .await
    }

    async fn get_registry_entry(
        &self,
        action_type: &str,
        version: Option<u32>,
    ) -> Result<Option<ToolRegistryEntry>> {
        let pk = keys::registry_pk(action_type);
        self.with_conn(move |c| match version {
            Some(v) => get_typed(c, T_REGISTRY, &pk, &keys::registry_sk(v)),
            None => {
                let row = c
                    .query_row(
                        "SELECT sk, doc FROM items WHERE tbl = ?1 AND pk = ?2 ORDER BY sk DESC LIMIT 1",
                        params![T_REGISTRY, pk],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                    )
                    .optional()
                    .map_err(|e| sql_err("latest registry", e))?;
                row.map(|(sk, doc)| from_doc(T_REGISTRY, &pk, &sk, &doc)).transpose()
            }
        })
        .await
    }

    async fn put_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        let pk = keys::tenant_config_pk(&config.tenant_id);
        let doc = to_doc(config)?;
        self.with_conn(move |c| upsert(c, T_TENANTS, &pk, keys::TENANT_CONFIG_SK, &doc))
            .await
    }

    async fn get_tenant_config(&self, tenant_id: &str) -> Result<Option<TenantConfig>> {
        let pk = keys::tenant_config_pk(tenant_id);
        self.with_conn(move |c| get_typed(c, T_TENANTS, &pk, keys::TENANT_CONFIG_SK))
            .await
    }

    async fn put_global_controls(&self, controls: &GlobalControls) -> Result<()> {
        let doc = to_doc(controls)?;
        self.with_conn(move |c| {
            upsert(
                c,
                T_TENANTS,
                keys::GLOBAL_CONTROLS_PK,
                keys::GLOBAL_CONTROLS_SK,
                &doc,
            )
        })
        .await
    }

    async fn get_global_controls(&self) -> Result<GlobalControls> {
        self.with_conn(|c| {
            get_typed(
                c,
                T_TENANTS,
                keys::GLOBAL_CONTROLS_PK,
                keys::GLOBAL_CONTROLS_SK,
            )
            .map(Option::unwrap_or_default)
        })
        .await
    }

    async fn get_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ExecutionAttempt>> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let sk = keys::attempt_sk(action_intent_id);
        self.with_conn(move |c| get_typed(c, T_ATTEMPTS, &pk, &sk))
            .await
    }

    async fn create_attempt(&self, attempt: &ExecutionAttempt) -> Result<bool> {
        let pk = keys::tenant_account_pk(&attempt.tenant_id, &attempt.account_id);
        let sk = keys::attempt_sk(&attempt.action_intent_id);
        let doc = to_doc(attempt)?;
        self.with_conn(move |c| insert_if_absent(c, T_ATTEMPTS, &pk, &sk, &doc))
            .await
    }

    async fn replace_attempt(
        &self,
        attempt: &ExecutionAttempt,
        expected_status: AttemptStatus,
        expected_attempt_count: u32,
    ) -> Result<bool> {
        let pk = keys::tenant_account_pk(&attempt.tenant_id, &attempt.account_id);
        let sk = keys::attempt_sk(&attempt.action_intent_id);
        let doc = to_doc(attempt)?;
        self.with_conn(move |c| {
            c.execute(
                "UPDATE items SET doc = ?4
                 WHERE tbl = ?1 AND pk = ?2 AND sk = ?3
                   AND json_extract(doc, '$.status') = ?5
                   AND json_extract(doc, '$.attempt_count') = ?6",
                params![
                    T_ATTEMPTS,
                    pk,
                    sk,
                    doc,
                    expected_status.as_str(),
                    expected_attempt_count
                ],
            )
            .map(|n| n == 1)
            .map_err(|e| sql_err("replace attempt", e))
        })
        .await
    }

    async fn record_terminal(&self, write: &TerminalWrite) -> Result<TerminalWriteResult> {
        let write = write.clone();
        self.with_conn(move |c| {
            let outcome = &write.outcome;
            let pk = keys::tenant_account_pk(&outcome.tenant_id, &outcome.account_id);
            let attempt_sk = keys::attempt_sk(&outcome.action_intent_id);
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_err("begin", e))?;

            let attempt: Option<ExecutionAttempt> = get_typed(&tx, T_ATTEMPTS, &pk, &attempt_sk)?;
            let Some(mut attempt) = attempt else {
                return Err(ExecutionError::conflict(
                    "ATTEMPT_NOT_FOUND",
                    format!(
                        "no execution attempt for intent {} (tenant {}, account {}): nothing to record against",
                        outcome.action_intent_id, outcome.tenant_id, outcome.account_id
                    ),
                ));
            };
            let same_attempt = attempt.trace_id == outcome.trace_id
                && attempt.attempt_count == outcome.attempt_count;
            if same_attempt && attempt.status.is_terminal() {
                // A retried recorder whose first write committed: nothing to do.
                return Ok(TerminalWriteResult::AlreadyRecorded);
            }
            if !same_attempt || attempt.status != AttemptStatus::Running {
                return Err(ExecutionError::conflict(
                    "ATTEMPT_CONDITION_FAILED",
                    format!(
                        "attempt of intent {} is {} with trace {} attempt {}, not RUNNING with trace {} attempt {}: refusing to record",
                        outcome.action_intent_id,
                        attempt.status.as_str(),
                        attempt.trace_id,
                        attempt.attempt_count,
                        outcome.trace_id,
                        outcome.attempt_count
                    ),
                ));
            }
            attempt.status = write.attempt_status;
            attempt.completed_at = Some(outcome.completed_at);
            // Terminal records must never expire: drop the lock TTL.
            attempt.lock_expires_at = None;
            upsert(&tx, T_ATTEMPTS, &pk, &attempt_sk, &to_doc(&attempt)?)?;
            upsert(
                &tx,
                T_OUTCOMES,
                &pk,
                &keys::outcome_sk(&outcome.action_intent_id),
                &to_doc(outcome)?,
            )?;
            for entry in &write.ledger {
                let (lpk, lsk) = ledger_keys(entry);
                insert_if_absent(&tx, T_LEDGER, &lpk, &lsk, &to_doc(entry)?)?;
            }
            tx.commit().map_err(|e| sql_err("commit", e))?;
            Ok(TerminalWriteResult::Written)
        })
        .await
    }

    async fn get_outcome(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionOutcomeV1>> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let sk = keys::outcome_sk(action_intent_id);
        self.with_conn(move |c| get_typed(c, T_OUTCOMES, &pk, &sk))
            .await
    }

    async fn get_dedupe(&self, idempotency_key: &str) -> Result<Option<ExternalWriteDedupe>> {
        let pk = keys::dedupe_pk(idempotency_key);
        self.with_conn(move |c| get_typed(c, T_DEDUPE, &pk, DEDUPE_SK))
            .await
    }

    async fn put_dedupe(&self, record: &ExternalWriteDedupe) -> Result<bool> {
        let pk = keys::dedupe_pk(&record.idempotency_key);
        let doc = to_doc(record)?;
        self.with_conn(move |c| insert_if_absent(c, T_DEDUPE, &pk, DEDUPE_SK, &doc))
            .await
    }

    async fn append_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            let (pk, sk) = ledger_keys(e);
            rows.push((pk, sk, to_doc(e)?));
        }
        self.with_conn(move |c| {
            let tx = c.transaction().map_err(|e| sql_err("begin", e))?;
            for (pk, sk, doc) in &rows {
                insert_if_absent(&tx, T_LEDGER, pk, sk, doc)?;
            }
            tx.commit().map_err(|e| sql_err("commit", e))
        })
        .await
    }

    async fn ledger_by_trace(&self, tenant_id: &str, trace_id: &str) -> Result<Vec<LedgerEntry>> {
        let pk = keys::ledger_pk(tenant_id);
        let prefix = keys::ledger_trace_prefix(trace_id);
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT sk, doc FROM items
                     WHERE tbl = ?1 AND pk = ?2 AND substr(sk, 1, ?3) = ?4 ORDER BY sk",
                )
                .map_err(|e| sql_err("ledger by trace", e))?;
            let rows = stmt
                .query_map(params![T_LEDGER, pk, prefix.len() as i64, prefix], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(|e| sql_err("ledger by trace", e))?;
            let mut out = Vec::new();
            for row in rows {
                let (sk, doc) = row.map_err(|e| sql_err("ledger by trace", e))?;
                out.push(from_doc(T_LEDGER, &pk, &sk, &doc)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_preflight(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<PreflightRecords> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let sk = keys::intent_sk(action_intent_id);
        let tenant_pk = keys::tenant_config_pk(tenant_id);
        self.with_conn(move |c| {
            Ok(PreflightRecords {
                intent: get_typed(c, T_INTENTS, &pk, &sk)?,
                global: get_typed(
                    c,
                    T_TENANTS,
                    keys::GLOBAL_CONTROLS_PK,
                    keys::GLOBAL_CONTROLS_SK,
                )?
                .unwrap_or_default(),
                tenant: get_typed(c, T_TENANTS, &tenant_pk, keys::TENANT_CONFIG_SK)?,
            })
        })
        .await
    }

    async fn get_intent_and_registry_entry(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
        action_type: &str,
        registry_version: u32,
    ) -> Result<(Option<ActionIntentV1>, Option<ToolRegistryEntry>)> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let sk = keys::intent_sk(action_intent_id);
        let registry_pk = keys::registry_pk(action_type);
        let registry_sk = keys::registry_sk(registry_version);
        self.with_conn(move |c| {
            Ok((
                get_typed(c, T_INTENTS, &pk, &sk)?,
                get_typed(c, T_REGISTRY, &registry_pk, &registry_sk)?,
            ))
        })
        .await
    }

    async fn get_intent_and_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<(Option<ActionIntentV1>, Option<ExecutionAttempt>)> {
        let pk = keys::tenant_account_pk(tenant_id, account_id);
        let intent_sk = keys::intent_sk(action_intent_id);
        let attempt_sk = keys::attempt_sk(action_intent_id);
        self.with_conn(move |c| {
            Ok((
                get_typed(c, T_INTENTS, &pk, &intent_sk)?,
                get_typed(c, T_ATTEMPTS, &pk, &attempt_sk)?,
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::LedgerEventType;
    use crate::fixtures;
    use crate::store::conformance;

    // The shared `Store` contract, on the batching store and on the port's
    // one-read-each defaults.
    mod batched {
        use super::*;
        crate::store_conformance_tests!(|_test| Some((
            (),
            Arc::new(SqliteStore::open_in_memory().unwrap()) as Arc<dyn Store>
        )));
    }

    mod unbatched {
        use super::*;
        crate::store_conformance_tests!(|_test| Some((
            (),
            Arc::new(Unbatched(SqliteStore::open_in_memory().unwrap())) as Arc<dyn Store>
        )));
    }

    /// The default (one read each) of a store that does not batch.
    struct Unbatched(SqliteStore);

    #[async_trait]
    impl Store for Unbatched {
        async fn put_intent(&self, i: &ActionIntentV1) -> Result<()> {
            self.0.put_intent(i).await
        }
        async fn get_intent(&self, t: &str, a: &str, i: &str) -> Result<Option<ActionIntentV1>> {
            self.0.get_intent(t, a, i).await
        }
        async fn put_registry_entry(&self, e: &ToolRegistryEntry) -> Result<()> {
            self.0.put_registry_entry(e).await
        }
        async fn get_registry_entry(
            &self,
            t: &str,
            v: Option<u32>,
        ) -> Result<Option<ToolRegistryEntry>> {
            self.0.get_registry_entry(t, v).await
        }
        async fn put_tenant_config(&self, c: &TenantConfig) -> Result<()> {
            self.0.put_tenant_config(c).await
        }
        async fn get_tenant_config(&self, t: &str) -> Result<Option<TenantConfig>> {
            self.0.get_tenant_config(t).await
        }
        async fn put_global_controls(&self, c: &GlobalControls) -> Result<()> {
            self.0.put_global_controls(c).await
        }
        async fn get_global_controls(&self) -> Result<GlobalControls> {
            self.0.get_global_controls().await
        }
        async fn get_attempt(&self, t: &str, a: &str, i: &str) -> Result<Option<ExecutionAttempt>> {
            self.0.get_attempt(t, a, i).await
        }
        async fn create_attempt(&self, a: &ExecutionAttempt) -> Result<bool> {
            self.0.create_attempt(a).await
        }
        async fn replace_attempt(
            &self,
            a: &ExecutionAttempt,
            s: AttemptStatus,
            n: u32,
        ) -> Result<bool> {
            self.0.replace_attempt(a, s, n).await
        }
        async fn record_terminal(&self, w: &TerminalWrite) -> Result<TerminalWriteResult> {
            self.0.record_terminal(w).await
        }
        async fn get_outcome(&self, t: &str, a: &str, i: &str) -> Result<Option<ActionOutcomeV1>> {
            self.0.get_outcome(t, a, i).await
        }
        async fn get_dedupe(&self, k: &str) -> Result<Option<ExternalWriteDedupe>> {
            self.0.get_dedupe(k).await
        }
        async fn put_dedupe(&self, r: &ExternalWriteDedupe) -> Result<bool> {
            self.0.put_dedupe(r).await
        }
        async fn append_ledger(&self, e: &[LedgerEntry]) -> Result<()> {
            self.0.append_ledger(e).await
        }
        async fn ledger_by_trace(&self, t: &str, tr: &str) -> Result<Vec<LedgerEntry>> {
            self.0.ledger_by_trace(t, tr).await
        }
    }

    #[tokio::test]
    async fn tenant_free_lookups_find_intents_and_ledger_entries_of_any_tenant() {
        let s = SqliteStore::open_in_memory().unwrap();
        let i = fixtures::intent("t1", "a1", "ai1");
        s.put_intent(&i).await.unwrap();
        assert_eq!(s.find_intent("ai1").await.unwrap(), Some(i.clone()));
        assert_eq!(s.find_intent("ai2").await.unwrap(), None);
        let a = fixtures::running_attempt(&i, "tr1", "exec1");
        let other = fixtures::running_attempt(&fixtures::intent("t2", "a1", "ai1"), "tr1", "e");
        s.append_ledger(&[
            conformance::ledger(&a, LedgerEventType::ExecutionStarted),
            conformance::ledger(&a, LedgerEventType::ActionExecuted),
            conformance::ledger(&other, LedgerEventType::ExecutionStarted),
        ])
        .await
        .unwrap();
        assert_eq!(s.ledger_for_trace_any_tenant("tr1").await.unwrap().len(), 3);
        assert!(
            s.ledger_for_trace_any_tenant("tr")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn file_store_is_shared_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        a.put_intent(&fixtures::intent("t1", "a1", "ai1"))
            .await
            .unwrap();
        assert!(b.get_intent("t1", "a1", "ai1").await.unwrap().is_some());
    }
}
