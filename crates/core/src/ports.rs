//! The ports the handlers depend on. Each has an embedded implementation (SQLite,
//! files, the local event bus, the dev gateway) and an AWS one (DynamoDB, S3,
//! EventBridge, Cognito/Secrets Manager), so the same handler code runs in a Lambda
//! binary, in the local engine and in tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contracts::{
    ActionIntentV1, ActionOutcomeV1, AttemptStatus, ExecutionAttempt, ExternalWriteDedupe,
    GlobalControls, LedgerEntry, TenantConfig, ToolRegistryEntry,
};
use crate::error::{ExecutionError, Result};

/// Outcome, attempt status and ledger entries written together (one transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalWrite {
    pub outcome: ActionOutcomeV1,
    pub attempt_status: AttemptStatus,
    pub ledger: Vec<LedgerEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalWriteResult {
    Written,
    /// The same trace and attempt were already recorded terminal: a retried recorder.
    AlreadyRecorded,
}

/// What the preflight (validator) reads: the intent and both kill switches.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightRecords {
    pub intent: Option<ActionIntentV1>,
    /// Absent record means "no global stop".
    pub global: GlobalControls,
    pub tenant: Option<TenantConfig>,
}

/// Every record store of the execution layer. Methods are domain operations, not a
/// generic key-value API, so that each implementation can use its native
/// conditional writes and transactions.
#[async_trait]
pub trait Store: Send + Sync {
    // intents (written by the decision layer; `put` is for seeding and tests)
    async fn put_intent(&self, intent: &ActionIntentV1) -> Result<()>;
    async fn get_intent(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionIntentV1>>;

    // registry
    async fn put_registry_entry(&self, entry: &ToolRegistryEntry) -> Result<()>;
    /// `version = None` returns the latest version of the action type.
    async fn get_registry_entry(
        &self,
        action_type: &str,
        version: Option<u32>,
    ) -> Result<Option<ToolRegistryEntry>>;

    // kill switches
    async fn put_tenant_config(&self, config: &TenantConfig) -> Result<()>;
    async fn get_tenant_config(&self, tenant_id: &str) -> Result<Option<TenantConfig>>;
    async fn put_global_controls(&self, controls: &GlobalControls) -> Result<()>;
    /// Absent record means "no global stop".
    async fn get_global_controls(&self) -> Result<GlobalControls>;

    // the execution lock (one attempt item per intent)
    async fn get_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ExecutionAttempt>>;
    /// Conditional create: returns false (and writes nothing) if an attempt exists.
    async fn create_attempt(&self, attempt: &ExecutionAttempt) -> Result<bool>;
    /// Conditional replace for an audited replay: succeeds only if the stored attempt
    /// still has `expected_status` and `expected_attempt_count`.
    async fn replace_attempt(
        &self,
        attempt: &ExecutionAttempt,
        expected_status: AttemptStatus,
        expected_attempt_count: u32,
    ) -> Result<bool>;

    // outcomes: written only through `record_terminal`
    async fn record_terminal(&self, write: &TerminalWrite) -> Result<TerminalWriteResult>;
    async fn get_outcome(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<Option<ActionOutcomeV1>>;

    // external write dedupe
    async fn get_dedupe(&self, idempotency_key: &str) -> Result<Option<ExternalWriteDedupe>>;
    /// Conditional put: returns false if a record for the key already exists.
    async fn put_dedupe(&self, record: &ExternalWriteDedupe) -> Result<bool>;

    // ledger (append-only; entries whose id exists are skipped, not duplicated)
    async fn append_ledger(&self, entries: &[LedgerEntry]) -> Result<()>;
    async fn ledger_by_trace(&self, tenant_id: &str, trace_id: &str) -> Result<Vec<LedgerEntry>>;

    // batched reads: one round trip where the store can batch (BatchGetItem on
    // DynamoDB, one blocking hop on SQLite). The defaults read one by one, so
    // a store that does not override them behaves exactly as before.

    /// The intent, the global controls and the tenant's config (the validator).
    async fn get_preflight(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<PreflightRecords> {
        Ok(PreflightRecords {
            intent: self
                .get_intent(tenant_id, account_id, action_intent_id)
                .await?,
            global: self.get_global_controls().await?,
            tenant: self.get_tenant_config(tenant_id).await?,
        })
    }

    /// The intent and one version of the registry entry of `action_type`, read
    /// together by the mapper (the starter passes the action type it pinned).
    async fn get_intent_and_registry_entry(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
        action_type: &str,
        registry_version: u32,
    ) -> Result<(Option<ActionIntentV1>, Option<ToolRegistryEntry>)> {
        Ok((
            self.get_intent(tenant_id, account_id, action_intent_id)
                .await?,
            self.get_registry_entry(action_type, Some(registry_version))
                .await?,
        ))
    }

    /// The intent and its attempt (the execution lock), read together by the starter.
    async fn get_intent_and_attempt(
        &self,
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
    ) -> Result<(Option<ActionIntentV1>, Option<ExecutionAttempt>)> {
        Ok((
            self.get_intent(tenant_id, account_id, action_intent_id)
                .await?,
            self.get_attempt(tenant_id, account_id, action_intent_id)
                .await?,
        ))
    }
}

/// Raw tool responses too large to carry in the state (S3, or files locally).
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores `body` under `key` and returns the reference to put in the outcome.
    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<String>;
    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>>;
}

/// A lifecycle event of an execution (EventBridge, or the local event bus).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()>;
}

/// A bearer token for the tool gateway.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    async fn token(&self) -> Result<String>;
    /// Drop the cached token (after a 401) so the next `token()` fetches a new one.
    async fn invalidate(&self);
}

/// The result of an MCP `tools/call` that completed at the protocol level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallResponse {
    /// `isError` of the CallToolResult.
    pub is_error: bool,
    /// The `content` blocks, as sent.
    pub content: Vec<Value>,
    /// `structuredContent`, when the server sent it.
    pub structured_content: Option<Value>,
    /// The whole `result` object as received, for the raw-response artifact.
    pub raw: Value,
}

/// MCP `tools/call` against the gateway. Transport and protocol failures come back
/// as classified [`ExecutionError`]s (TransientError for 5xx/429/timeouts/connection,
/// AuthError for 401/403, PermanentError otherwise); a tool that ran and failed is
/// an `Ok` response with `is_error` or a `success: false` payload.
#[async_trait]
pub trait McpClient: Send + Sync {
    async fn call_tool(&self, name: &str, arguments: &Value) -> Result<ToolCallResponse>;
}

/// An MCP client for handlers that never call tools (the binary of the starter, say).
pub struct NoMcpClient;

#[async_trait]
impl McpClient for NoMcpClient {
    async fn call_tool(&self, name: &str, _arguments: &Value) -> Result<ToolCallResponse> {
        Err(ExecutionError::configuration(
            "MCP_CLIENT_NOT_CONFIGURED",
            format!("this handler has no MCP client configured (tried to call {name})"),
        ))
    }
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests can set.
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Tunables shared by the handlers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a RUNNING lock is held before it counts as abandoned.
    pub lock_ttl_seconds: i64,
    /// Upper bound of the serialised tool arguments (the mapper rejects more).
    pub max_tool_argument_bytes: usize,
    /// Raw tool responses larger than this are stored as artifacts.
    pub artifact_threshold_bytes: usize,
    /// `source` of published execution events.
    pub event_source: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lock_ttl_seconds: 3600,
            max_tool_argument_bytes: 200 * 1024,
            artifact_threshold_bytes: 16 * 1024,
            event_source: "cc-native.execution".into(),
        }
    }
}

/// Everything a handler needs, built once per cold start.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub events: Arc<dyn EventPublisher>,
    pub mcp: Arc<dyn McpClient>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}
