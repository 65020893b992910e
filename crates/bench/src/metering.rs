//! Counting wrappers around the ports, so a real run through the engine tells
//! what it would cost on AWS: every store call (with the request units DynamoDB
//! on-demand would bill for it), every artifact and event, every task (Lambda
//! invocation) with its payload sizes and duration, and the time spent in the
//! MCP client.
//!
//! The wrappers delegate to the real implementations and change nothing; the
//! [`Meter`] they share is read with [`Meter::snapshot`] and zeroed with
//! [`Meter::reset`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ccx_core::Deps;
use ccx_core::contracts::{
    ActionIntentV1, ActionOutcomeV1, AttemptStatus, ExecutionAttempt, ExternalWriteDedupe,
    GlobalControls, LedgerEntry, TenantConfig, ToolRegistryEntry,
};
use ccx_core::error::Result;
use ccx_core::handlers::Handler;
use ccx_core::ports::{
    ArtifactStore, EventPublisher, ExecutionEvent, McpClient, PreflightRecords, Store,
    TerminalWrite, TerminalWriteResult, ToolCallResponse,
};
use ccx_local::engine::{InProcessInvoker, TaskFailure, TaskInvoker, function_name};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of DynamoDB request a store call is on AWS (see `crates/aws`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// GetItem / Query, strongly consistent.
    Read,
    /// BatchGetItem, strongly consistent: one round trip, each item billed.
    BatchRead,
    /// PutItem (conditional or not).
    Write,
    /// TransactWriteItems.
    Transaction,
}

/// Totals of one store operation (e.g. `get_intent`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpTotals {
    pub calls: u64,
    /// Items read or written (a transaction counts each item it writes).
    pub items: u64,
    /// Serialised record bytes moved (the JSON size stands in for the DynamoDB item size).
    pub bytes: u64,
    pub read_request_units: f64,
    pub write_request_units: f64,
}

/// Everything counted during a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// Per store operation name.
    pub store_ops: BTreeMap<String, OpTotals>,
    pub store_reads: u64,
    pub store_writes: u64,
    pub store_transactions: u64,
    pub read_request_units: f64,
    pub write_request_units: f64,
    pub artifact_puts: u64,
    pub artifact_gets: u64,
    pub artifact_bytes: u64,
    pub events_published: u64,
    /// PutEvents bills each 64 KiB chunk of an entry as one event.
    pub event_billing_units: u64,
    /// Per function name: invocations, payload bytes in/out, time.
    pub lambda: BTreeMap<String, LambdaTotals>,
    pub lambda_invocations: u64,
    pub mcp_calls: u64,
    pub mcp_time: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LambdaTotals {
    pub invocations: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// Summed wall time of the invocations (what Lambda bills, before rounding).
    pub duration: Duration,
    /// Billed milliseconds: each invocation rounded up to 1 ms, as Lambda does.
    pub billed_ms: u64,
    /// Store, S3 and EventBridge calls made during its invocations: network
    /// round trips on AWS.
    pub round_trips: u64,
}

/// The shared counters.
#[derive(Default)]
pub struct Meter {
    inner: Mutex<Snapshot>,
}

/// DynamoDB on-demand: a strongly consistent read is one RRU per 4 KB (at
/// least one, even for a missing item), a write one WRU per 1 KB, and a
/// transactional write two WRU per 1 KB of each item.
pub fn read_units(bytes: u64) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}
pub fn write_units(bytes: u64) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn json_len<T: Serialize>(value: &T) -> u64 {
    serde_json::to_vec(value)
        .map(|v| v.len() as u64)
        .unwrap_or(0)
}

impl Meter {
    pub fn new() -> Arc<Meter> {
        Arc::new(Meter::default())
    }

    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        *self.inner.lock().unwrap() = Snapshot::default();
    }

    /// One network round trip on AWS, charged to `function` when known.
    fn round_trip(s: &mut Snapshot, function: Option<&str>) {
        if let Some(f) = function {
            s.lambda.entry(f.to_string()).or_default().round_trips += 1;
        }
    }

    /// One store request of `kind` touching items of the given sizes.
    fn store(&self, function: Option<&str>, op: &str, kind: OpKind, item_sizes: &[u64]) {
        let mut s = self.inner.lock().unwrap();
        Self::round_trip(&mut s, function);
        let bytes: u64 = item_sizes.iter().sum();
        let (rru, wru) = match kind {
            // A Query bills the summed size of what it returns, rounded up once.
            OpKind::Read => (read_units(bytes), 0.0),
            OpKind::BatchRead => (item_sizes.iter().map(|b| read_units(*b)).sum(), 0.0),
            OpKind::Write => (0.0, item_sizes.iter().map(|b| write_units(*b)).sum()),
            OpKind::Transaction => (0.0, item_sizes.iter().map(|b| 2.0 * write_units(*b)).sum()),
        };
        match kind {
            OpKind::Read | OpKind::BatchRead => s.store_reads += 1,
            OpKind::Write => s.store_writes += 1,
            OpKind::Transaction => s.store_transactions += 1,
        }
        s.read_request_units += rru;
        s.write_request_units += wru;
        let t = s.store_ops.entry(op.to_string()).or_default();
        t.calls += 1;
        t.items += item_sizes.len() as u64;
        t.bytes += bytes;
        t.read_request_units += rru;
        t.write_request_units += wru;
    }

    fn lambda(&self, function: &str, input: u64, output: u64, took: Duration) {
        let mut s = self.inner.lock().unwrap();
        s.lambda_invocations += 1;
        let t = s.lambda.entry(function.to_string()).or_default();
        t.invocations += 1;
        t.input_bytes += input;
        t.output_bytes += output;
        t.duration += took;
        t.billed_ms += took.as_micros().div_ceil(1000) as u64;
    }
}

/// A [`Store`] that counts what it forwards, charging the round trips to
/// `function` (the Lambda whose dependencies it is) when set.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    meter: Arc<Meter>,
    function: Option<String>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>, meter: Arc<Meter>, function: Option<&str>) -> Self {
        Self {
            inner,
            meter,
            function: function.map(str::to_string),
        }
    }

    fn count(&self, op: &str, kind: OpKind, item_sizes: &[u64]) {
        self.meter
            .store(self.function.as_deref(), op, kind, item_sizes);
    }
}

fn size_of_opt<T: Serialize>(v: &Option<T>) -> u64 {
    v.as_ref().map(json_len).unwrap_or(0)
}

#[async_trait]
impl Store for CountingStore {
    async fn put_intent(&self, intent: &ActionIntentV1) -> Result<()> {
        self.count("put_intent", OpKind::Write, &[json_len(intent)]);
        self.inner.put_intent(intent).await
    }

    async fn get_intent(&self, t: &str, a: &str, id: &str) -> Result<Option<ActionIntentV1>> {
        let r = self.inner.get_intent(t, a, id).await?;
        self.count("get_intent", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn put_registry_entry(&self, entry: &ToolRegistryEntry) -> Result<()> {
        self.count("put_registry_entry", OpKind::Write, &[json_len(entry)]);
        self.inner.put_registry_entry(entry).await
    }

    async fn get_registry_entry(
        &self,
        action_type: &str,
        version: Option<u32>,
    ) -> Result<Option<ToolRegistryEntry>> {
        let r = self.inner.get_registry_entry(action_type, version).await?;
        self.count("get_registry_entry", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn put_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        self.count("put_tenant_config", OpKind::Write, &[json_len(config)]);
        self.inner.put_tenant_config(config).await
    }

    async fn get_tenant_config(&self, tenant_id: &str) -> Result<Option<TenantConfig>> {
        let r = self.inner.get_tenant_config(tenant_id).await?;
        self.count("get_tenant_config", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn put_global_controls(&self, controls: &GlobalControls) -> Result<()> {
        self.count("put_global_controls", OpKind::Write, &[json_len(controls)]);
        self.inner.put_global_controls(controls).await
    }

    async fn get_global_controls(&self) -> Result<GlobalControls> {
        let r = self.inner.get_global_controls().await?;
        self.count("get_global_controls", OpKind::Read, &[json_len(&r)]);
        Ok(r)
    }

    async fn get_attempt(&self, t: &str, a: &str, id: &str) -> Result<Option<ExecutionAttempt>> {
        let r = self.inner.get_attempt(t, a, id).await?;
        self.count("get_attempt", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn create_attempt(&self, attempt: &ExecutionAttempt) -> Result<bool> {
        self.count("create_attempt", OpKind::Write, &[json_len(attempt)]);
        self.inner.create_attempt(attempt).await
    }

    async fn replace_attempt(
        &self,
        attempt: &ExecutionAttempt,
        expected_status: AttemptStatus,
        expected_attempt_count: u32,
    ) -> Result<bool> {
        self.count("replace_attempt", OpKind::Write, &[json_len(attempt)]);
        self.inner
            .replace_attempt(attempt, expected_status, expected_attempt_count)
            .await
    }

    async fn record_terminal(&self, write: &TerminalWrite) -> Result<TerminalWriteResult> {
        // One TransactWriteItems: the outcome, the attempt update, each ledger entry.
        let mut sizes = vec![json_len(&write.outcome), 256];
        sizes.extend(write.ledger.iter().map(json_len));
        self.count("record_terminal", OpKind::Transaction, &sizes);
        self.inner.record_terminal(write).await
    }

    async fn get_outcome(&self, t: &str, a: &str, id: &str) -> Result<Option<ActionOutcomeV1>> {
        let r = self.inner.get_outcome(t, a, id).await?;
        self.count("get_outcome", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn get_dedupe(&self, key: &str) -> Result<Option<ExternalWriteDedupe>> {
        let r = self.inner.get_dedupe(key).await?;
        self.count("get_dedupe", OpKind::Read, &[size_of_opt(&r)]);
        Ok(r)
    }

    async fn put_dedupe(&self, record: &ExternalWriteDedupe) -> Result<bool> {
        self.count("put_dedupe", OpKind::Write, &[json_len(record)]);
        self.inner.put_dedupe(record).await
    }

    async fn append_ledger(&self, entries: &[LedgerEntry]) -> Result<()> {
        // One conditional PutItem per entry on DynamoDB.
        for e in entries {
            self.count("append_ledger", OpKind::Write, &[json_len(e)]);
        }
        self.inner.append_ledger(entries).await
    }

    async fn ledger_by_trace(&self, tenant_id: &str, trace_id: &str) -> Result<Vec<LedgerEntry>> {
        let r = self.inner.ledger_by_trace(tenant_id, trace_id).await?;
        let sizes: Vec<u64> = r.iter().map(json_len).collect();
        self.count("ledger_by_trace", OpKind::Read, &[sizes.iter().sum()]);
        Ok(r)
    }

    async fn get_preflight(&self, t: &str, a: &str, id: &str) -> Result<PreflightRecords> {
        let r = self.inner.get_preflight(t, a, id).await?;
        let sizes = [
            size_of_opt(&r.intent),
            json_len(&r.global),
            size_of_opt(&r.tenant),
        ];
        self.count("get_preflight", OpKind::BatchRead, &sizes);
        Ok(r)
    }

    async fn get_intent_and_registry_entry(
        &self,
        t: &str,
        a: &str,
        id: &str,
        action_type: &str,
        version: u32,
    ) -> Result<(Option<ActionIntentV1>, Option<ToolRegistryEntry>)> {
        let r = self
            .inner
            .get_intent_and_registry_entry(t, a, id, action_type, version)
            .await?;
        let sizes = [size_of_opt(&r.0), size_of_opt(&r.1)];
        self.count("get_intent_and_registry_entry", OpKind::BatchRead, &sizes);
        Ok(r)
    }

    async fn get_intent_and_attempt(
        &self,
        t: &str,
        a: &str,
        id: &str,
    ) -> Result<(Option<ActionIntentV1>, Option<ExecutionAttempt>)> {
        let r = self.inner.get_intent_and_attempt(t, a, id).await?;
        let sizes = [size_of_opt(&r.0), size_of_opt(&r.1)];
        self.count("get_intent_and_attempt", OpKind::BatchRead, &sizes);
        Ok(r)
    }
}

/// An [`ArtifactStore`] that counts S3 PUTs and GETs.
pub struct CountingArtifacts {
    inner: Arc<dyn ArtifactStore>,
    meter: Arc<Meter>,
    function: Option<String>,
}

impl CountingArtifacts {
    pub fn new(inner: Arc<dyn ArtifactStore>, meter: Arc<Meter>, function: Option<&str>) -> Self {
        Self {
            inner,
            meter,
            function: function.map(str::to_string),
        }
    }
}

#[async_trait]
impl ArtifactStore for CountingArtifacts {
    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<String> {
        {
            let mut s = self.meter.inner.lock().unwrap();
            Meter::round_trip(&mut s, self.function.as_deref());
            s.artifact_puts += 1;
            s.artifact_bytes += body.len() as u64;
        }
        self.inner.put(key, body, content_type).await
    }

    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>> {
        {
            let mut s = self.meter.inner.lock().unwrap();
            Meter::round_trip(&mut s, self.function.as_deref());
            s.artifact_gets += 1;
        }
        self.inner.get(artifact_ref).await
    }
}

/// An [`EventPublisher`] that counts PutEvents entries.
pub struct CountingEvents {
    inner: Arc<dyn EventPublisher>,
    meter: Arc<Meter>,
    function: Option<String>,
}

impl CountingEvents {
    pub fn new(inner: Arc<dyn EventPublisher>, meter: Arc<Meter>, function: Option<&str>) -> Self {
        Self {
            inner,
            meter,
            function: function.map(str::to_string),
        }
    }
}

#[async_trait]
impl EventPublisher for CountingEvents {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()> {
        {
            let mut s = self.meter.inner.lock().unwrap();
            Meter::round_trip(&mut s, self.function.as_deref());
            s.events_published += 1;
            s.event_billing_units += json_len(event).div_ceil(64 * 1024).max(1);
        }
        self.inner.publish(event).await
    }
}

/// An [`McpClient`] that counts calls and the time spent in the client.
pub struct TimedMcp {
    inner: Arc<dyn McpClient>,
    meter: Arc<Meter>,
}

impl TimedMcp {
    pub fn new(inner: Arc<dyn McpClient>, meter: Arc<Meter>) -> Self {
        Self { inner, meter }
    }
}

#[async_trait]
impl McpClient for TimedMcp {
    async fn call_tool(&self, name: &str, arguments: &Value) -> Result<ToolCallResponse> {
        let started = Instant::now();
        let r = self.inner.call_tool(name, arguments).await;
        let took = started.elapsed();
        let mut s = self.meter.inner.lock().unwrap();
        s.mcp_calls += 1;
        s.mcp_time += took;
        r
    }
}

/// `base` with every port counted into `meter`, charged to `function`.
pub fn metered_deps(base: &Deps, meter: &Arc<Meter>, function: Option<&str>) -> Deps {
    Deps {
        store: Arc::new(CountingStore::new(
            base.store.clone(),
            meter.clone(),
            function,
        )),
        artifacts: Arc::new(CountingArtifacts::new(
            base.artifacts.clone(),
            meter.clone(),
            function,
        )),
        events: Arc::new(CountingEvents::new(
            base.events.clone(),
            meter.clone(),
            function,
        )),
        mcp: Arc::new(TimedMcp::new(base.mcp.clone(), meter.clone())),
        clock: base.clock.clone(),
        settings: base.settings.clone(),
    }
}

/// The engine's in-process task invoker, metered: each task counts as one
/// Lambda invocation (payload sizes that cross the state boundary, time), and
/// each function runs on its own metered deps so its port calls are charged to
/// it (the handlers run on their own tokio task, so the deps carry the name).
pub struct MeteredInvoker {
    functions: HashMap<String, InProcessInvoker>,
    meter: Arc<Meter>,
}

impl MeteredInvoker {
    pub fn in_process(base: &Deps, meter: Arc<Meter>) -> Self {
        let functions = Handler::ALL
            .into_iter()
            .map(|h| {
                let deps = metered_deps(base, &meter, Some(h.name()));
                (h.name().to_string(), InProcessInvoker::new(deps))
            })
            .collect();
        Self { functions, meter }
    }
}

#[async_trait]
impl TaskInvoker for MeteredInvoker {
    async fn invoke(
        &self,
        resource: &str,
        input: Value,
    ) -> std::result::Result<Value, TaskFailure> {
        let function = function_name(resource);
        let Some(invoker) = self.functions.get(function) else {
            return Err(TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                Some(format!("no local handler for resource '{resource}'")),
            ));
        };
        let input_bytes = json_len(&input);
        let started = Instant::now();
        let r = invoker.invoke(resource, input).await;
        let took = started.elapsed();
        let output_bytes = match &r {
            Ok(v) => json_len(v),
            Err(f) => f.cause.as_ref().map(|c| c.len() as u64).unwrap_or(0),
        };
        self.meter.lambda(function, input_bytes, output_bytes, took);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_units_round_up_per_item_and_bill_at_least_one() {
        assert_eq!(read_units(0), 1.0);
        assert_eq!(read_units(4096), 1.0);
        assert_eq!(read_units(4097), 2.0);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(2049), 3.0);
        let m = Meter::default();
        m.store(None, "record_terminal", OpKind::Transaction, &[100, 1500]);
        m.store(Some("starter"), "get_intent", OpKind::Read, &[5000]);
        let s = m.snapshot();
        assert_eq!(s.store_transactions, 1);
        assert_eq!(s.write_request_units, 2.0 + 4.0);
        assert_eq!(s.read_request_units, 2.0);
        assert_eq!(s.store_ops["record_terminal"].items, 2);
        assert_eq!(s.lambda["starter"].round_trips, 1);
    }
}

#[cfg(test)]
mod attribution_tests {
    use super::*;
    use ccx_core::ports::{NoMcpClient, Settings, SystemClock};
    use ccx_core::store::events::RecordingEventPublisher;
    use ccx_core::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn port_calls_are_charged_to_the_function_that_made_them() {
        let dir = tempfile::tempdir().unwrap();
        let base = Deps {
            store: Arc::new(SqliteStore::open_in_memory().unwrap()),
            artifacts: Arc::new(ccx_core::store::files::FileArtifactStore::new(dir.path())),
            events: Arc::new(RecordingEventPublisher::default()),
            mcp: Arc::new(NoMcpClient),
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
        };
        let meter = Meter::new();
        let invoker = MeteredInvoker::in_process(&base, meter.clone());
        let input = serde_json::json!({"action_intent_id": "nope", "tenant_id": "t",
            "account_id": "a", "trace_id": "tr"});
        let err = invoker
            .invoke(
                "arn:aws:lambda:local:000000000000:function:validator",
                input.clone(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.error, "ValidationError");
        let s = meter.snapshot();
        assert_eq!(s.lambda["validator"].invocations, 1);
        assert_eq!(s.lambda["validator"].round_trips, 1, "one batched read");
        assert_eq!(s.lambda["validator"].input_bytes, json_len(&input));
        // The intent and both kill switches: three items, each billed.
        assert_eq!(s.store_ops["get_preflight"].calls, 1);
        assert_eq!(s.store_ops["get_preflight"].items, 3);
        assert_eq!(s.read_request_units, 3.0);
        assert_eq!(s.store_reads, 1);
    }
}
