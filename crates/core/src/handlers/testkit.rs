//! Test doubles for handler tests (here and, with the `testkit` feature, in other
//! crates): a scripted MCP client, an in-memory artifact store, a store wrapper
//! that lets a test inject a competing write just before a conditional write,
//! and a [`Harness`] wiring them with the real SQLite store, a fixed clock and the
//! recording event publisher.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::contracts::{
    ActionIntentV1, ActionOutcomeV1, AttemptStatus, ExecutionAttempt, ExternalObjectRef,
    ExternalWriteDedupe, GlobalControls, LedgerEntry, TenantConfig, ToolRegistryEntry,
};
use crate::error::{ErrorClass, ExecutionError, Result};
use crate::fixtures;
use crate::ports::{
    ArtifactStore, Deps, FixedClock, McpClient, Settings, Store, TerminalWrite,
    TerminalWriteResult, ToolCallResponse,
};
use crate::store::events::RecordingEventPublisher;
use crate::store::sqlite::SqliteStore;

// ------------------------------------------------------------------ MCP

/// One recorded `tools/call`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

/// Returns queued responses (or errors) in order and records every call. An
/// unscripted call is a `PermanentError` `UNSCRIPTED_TOOL_CALL`, so a test that
/// calls more than it expected fails visibly.
#[derive(Default)]
pub struct ScriptedMcp {
    script: Mutex<VecDeque<Result<ToolCallResponse>>>,
    calls: Mutex<Vec<ToolCall>>,
}

impl ScriptedMcp {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn respond(&self, response: ToolCallResponse) -> &Self {
        self.script.lock().unwrap().push_back(Ok(response));
        self
    }
    pub fn fail(&self, error: ExecutionError) -> &Self {
        self.script.lock().unwrap().push_back(Err(error));
        self
    }
    pub fn calls(&self) -> Vec<ToolCall> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl McpClient for ScriptedMcp {
    async fn call_tool(&self, name: &str, arguments: &Value) -> Result<ToolCallResponse> {
        self.calls.lock().unwrap().push(ToolCall {
            name: name.to_string(),
            arguments: arguments.clone(),
        });
        self.script.lock().unwrap().pop_front().unwrap_or_else(|| {
            Err(ExecutionError::permanent(
                ErrorClass::Unknown,
                "UNSCRIPTED_TOOL_CALL",
                format!("test did not script a response for {name}"),
            ))
        })
    }
}

/// Builders of `CallToolResult`s as a gateway sends them.
pub mod responses {
    use super::*;

    /// `structuredContent` plus the same JSON as a text block (what servers do).
    pub fn structured(payload: Value) -> ToolCallResponse {
        let content = vec![json!({"type": "text", "text": payload.to_string()})];
        ToolCallResponse {
            is_error: false,
            raw: json!({"content": content, "structuredContent": payload, "isError": false}),
            content,
            structured_content: Some(payload),
        }
    }

    /// Only a text block (no `structuredContent`).
    pub fn text(text: &str, is_error: bool) -> ToolCallResponse {
        let content = vec![json!({"type": "text", "text": text})];
        ToolCallResponse {
            is_error,
            raw: json!({"content": content, "isError": is_error}),
            content,
            structured_content: None,
        }
    }

    /// `{"success": true, "external_object_refs": refs}`.
    pub fn success(refs: &[ExternalObjectRef]) -> ToolCallResponse {
        structured(json!({"success": true, "external_object_refs": refs}))
    }

    /// `{"success": false, "external_object_refs": refs, "error": {code, message}}`.
    pub fn failure(refs: &[ExternalObjectRef], code: &str, message: &str) -> ToolCallResponse {
        structured(json!({
            "success": false,
            "external_object_refs": refs,
            "error": {"code": code, "message": message}
        }))
    }
}

pub fn object_ref(system: &str, object_type: &str, object_id: &str) -> ExternalObjectRef {
    ExternalObjectRef {
        system: system.into(),
        object_type: object_type.into(),
        object_id: object_id.into(),
        object_url: None,
    }
}

// ------------------------------------------------------------------ artifacts

/// Artifacts in memory, referenced as `mem://{key}`.
#[derive(Default)]
pub struct MemoryArtifactStore {
    items: Mutex<BTreeMap<String, Vec<u8>>>,
    fail_next: Mutex<u32>,
}

impl MemoryArtifactStore {
    pub fn keys(&self) -> Vec<String> {
        self.items.lock().unwrap().keys().cloned().collect()
    }
    /// Make the next `n` puts fail with a TransientError (bucket outage).
    pub fn fail_next(&self, n: u32) {
        *self.fail_next.lock().unwrap() = n;
    }
}

#[async_trait]
impl ArtifactStore for MemoryArtifactStore {
    async fn put(&self, key: &str, body: &[u8], _content_type: &str) -> Result<String> {
        {
            let mut fail = self.fail_next.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(ExecutionError::store_unavailable(
                    "injected artifact store outage",
                ));
            }
        }
        self.items
            .lock()
            .unwrap()
            .insert(key.to_string(), body.to_vec());
        Ok(format!("mem://{key}"))
    }
    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>> {
        let key = artifact_ref.strip_prefix("mem://").unwrap_or(artifact_ref);
        self.items.lock().unwrap().get(key).cloned().ok_or_else(|| {
            ExecutionError::validation("ARTIFACT_NOT_FOUND", format!("no artifact {key}"))
        })
    }
}

// ------------------------------------------------------------------ racing store

type Hook = Box<dyn FnOnce(Arc<SqliteStore>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Delegates to a [`SqliteStore`], but runs a one-shot hook right before the next
/// `create_attempt` / `replace_attempt`: the hook plays another starter that
/// wins the race, so the conditional write under test finds the state changed.
pub struct RacingStore {
    inner: Arc<SqliteStore>,
    before_conditional_write: Mutex<Option<Hook>>,
}

impl RacingStore {
    pub fn new(inner: Arc<SqliteStore>) -> Self {
        Self {
            inner,
            before_conditional_write: Mutex::new(None),
        }
    }

    pub fn before_next_conditional_write<F, Fut>(&self, hook: F)
    where
        F: FnOnce(Arc<SqliteStore>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.before_conditional_write.lock().unwrap() = Some(Box::new(move |s| Box::pin(hook(s))));
    }

    async fn run_hook(&self) {
        let hook = self.before_conditional_write.lock().unwrap().take();
        if let Some(hook) = hook {
            hook(self.inner.clone()).await;
        }
    }
}

#[async_trait]
impl Store for RacingStore {
    async fn put_intent(&self, intent: &ActionIntentV1) -> Result<()> {
        self.inner.put_intent(intent).await
    }
    async fn get_intent(&self, t: &str, a: &str, i: &str) -> Result<Option<ActionIntentV1>> {
        self.inner.get_intent(t, a, i).await
    }
    async fn put_registry_entry(&self, entry: &ToolRegistryEntry) -> Result<()> {
        self.inner.put_registry_entry(entry).await
    }
    async fn get_registry_entry(
        &self,
        action_type: &str,
        version: Option<u32>,
    ) -> Result<Option<ToolRegistryEntry>> {
        self.inner.get_registry_entry(action_type, version).await
    }
    async fn put_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        self.inner.put_tenant_config(config).await
    }
    async fn get_tenant_config(&self, tenant_id: &str) -> Result<Option<TenantConfig>> {
        self.inner.get_tenant_config(tenant_id).await
    }
    async fn put_global_controls(&self, controls: &GlobalControls) -> Result<()> {
        self.inner.put_global_controls(controls).await
    }
    async fn get_global_controls(&self) -> Result<GlobalControls> {
        self.inner.get_global_controls().await
    }
    async fn get_attempt(&self, t: &str, a: &str, i: &str) -> Result<Option<ExecutionAttempt>> {
        self.inner.get_attempt(t, a, i).await
    }
    async fn create_attempt(&self, attempt: &ExecutionAttempt) -> Result<bool> {
        self.run_hook().await;
        self.inner.create_attempt(attempt).await
    }
    async fn replace_attempt(
        &self,
        attempt: &ExecutionAttempt,
        expected_status: AttemptStatus,
        expected_attempt_count: u32,
    ) -> Result<bool> {
        self.run_hook().await;
        self.inner
            .replace_attempt(attempt, expected_status, expected_attempt_count)
            .await
    }
    async fn record_terminal(&self, write: &TerminalWrite) -> Result<TerminalWriteResult> {
        self.inner.record_terminal(write).await
    }
    async fn get_outcome(&self, t: &str, a: &str, i: &str) -> Result<Option<ActionOutcomeV1>> {
        self.inner.get_outcome(t, a, i).await
    }
    async fn get_dedupe(&self, key: &str) -> Result<Option<ExternalWriteDedupe>> {
        self.inner.get_dedupe(key).await
    }
    async fn put_dedupe(&self, record: &ExternalWriteDedupe) -> Result<bool> {
        self.inner.put_dedupe(record).await
    }
    async fn append_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        self.inner.append_ledger(entries).await
    }
    async fn ledger_by_trace(&self, tenant_id: &str, trace_id: &str) -> Result<Vec<LedgerEntry>> {
        self.inner.ledger_by_trace(tenant_id, trace_id).await
    }
}

// ------------------------------------------------------------------ harness

pub const TENANT: &str = "t1";
pub const ACCOUNT: &str = "a1";
pub const INTENT: &str = "ai1";

/// The real SQLite store (in memory), a fixed clock at [`fixtures::t0`], the
/// recording publisher, the scripted MCP client and in-memory artifacts.
pub struct Harness {
    pub store: Arc<SqliteStore>,
    pub racing: Arc<RacingStore>,
    pub events: Arc<RecordingEventPublisher>,
    pub mcp: Arc<ScriptedMcp>,
    pub clock: Arc<FixedClock>,
    pub artifacts: Arc<MemoryArtifactStore>,
    pub settings: Settings,
}

impl Harness {
    /// Empty stores.
    pub fn empty() -> Self {
        let store = Arc::new(SqliteStore::open_in_memory().expect("in-memory SQLite"));
        Self {
            racing: Arc::new(RacingStore::new(store.clone())),
            store,
            events: Arc::new(RecordingEventPublisher::new()),
            mcp: Arc::new(ScriptedMcp::new()),
            clock: Arc::new(FixedClock::new(fixtures::t0())),
            artifacts: Arc::new(MemoryArtifactStore::default()),
            settings: Settings::default(),
        }
    }

    /// The CRM-task intent `ai1` of tenant `t1` / account `a1`, its registry entry
    /// (v1, AUTOMATIC via `crm.delete_task`) and an enabled tenant.
    pub async fn seeded() -> Self {
        let h = Self::empty();
        h.store.put_intent(&h.intent()).await.unwrap();
        h.store
            .put_registry_entry(&fixtures::crm_task_registry_entry())
            .await
            .unwrap();
        h.store
            .put_tenant_config(&fixtures::tenant_enabled(TENANT))
            .await
            .unwrap();
        h
    }

    pub fn intent(&self) -> ActionIntentV1 {
        fixtures::intent(TENANT, ACCOUNT, INTENT)
    }

    /// Deps over the plain store.
    pub fn deps(&self) -> Deps {
        self.deps_with_store(self.store.clone())
    }

    /// Deps over the [`RacingStore`] (same data).
    pub fn racing_deps(&self) -> Deps {
        self.deps_with_store(self.racing.clone())
    }

    fn deps_with_store(&self, store: Arc<dyn Store>) -> Deps {
        Deps {
            store,
            artifacts: self.artifacts.clone(),
            events: self.events.clone(),
            mcp: self.mcp.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
        }
    }

    pub async fn attempt(&self) -> Option<ExecutionAttempt> {
        self.store
            .get_attempt(TENANT, ACCOUNT, INTENT)
            .await
            .unwrap()
    }

    pub async fn outcome(&self) -> Option<ActionOutcomeV1> {
        self.store
            .get_outcome(TENANT, ACCOUNT, INTENT)
            .await
            .unwrap()
    }

    pub async fn ledger(&self, trace_id: &str) -> Vec<LedgerEntry> {
        self.store.ledger_by_trace(TENANT, trace_id).await.unwrap()
    }

    /// Event types of the ledger entries of a trace, in order.
    pub async fn ledger_types(&self, trace_id: &str) -> Vec<&'static str> {
        self.ledger(trace_id)
            .await
            .into_iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }
}

/// Run the real starter for the seeded intent and return the context the
/// recorders receive.
pub async fn start(h: &Harness, execution_id: &str) -> crate::io::ExecutionContext {
    let out = super::starter::handle(
        &h.deps(),
        crate::io::StarterInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            execution_id: execution_id.into(),
            replay: None,
        },
    )
    .await
    .expect("starter");
    crate::io::ExecutionContext {
        trace_id: out.trace_id,
        attempt_count: out.attempt_count,
        idempotency_key: out.idempotency_key,
        decision_trace_id: out.decision_trace_id,
        tool_name: out.tool_name,
        started_at: out.started_at,
    }
}
