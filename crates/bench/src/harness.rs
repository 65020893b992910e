//! The embedded system as `ccx` assembles it (SQLite store, files, the engine
//! over `statemachine/execution.asl.json`, the development gateway on loopback,
//! the deployed event rule), with every port wrapped by [`crate::metering`] so
//! a run can be counted and timed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ccx_core::Deps;
use ccx_core::contracts::ActionIntentV1;
use ccx_core::fixtures;
use ccx_core::ports::{McpClient, Settings, Store, SystemClock};
use ccx_core::store::events::JsonlEventPublisher;
use ccx_core::store::files::FileArtifactStore;
use ccx_core::store::sqlite::{DB_FILE, SqliteStore};
use ccx_gateway::{Gateway, GatewayOptions, RunningGateway};
use ccx_local::engine::{EXECUTION_ASL, Engine, Execution, local_substitutions};
use ccx_local::events::EventRule;
use ccx_local::system::{deployed_rule, execution_name};
use ccx_mcp::{ClientOptions, McpGatewayClient, OAuthClientCredentials, StaticSecret};

use crate::metering::{Meter, MeteredInvoker, metered_deps};

pub const TENANT: &str = "tenant-bench";
pub const ACCOUNT: &str = "account-bench";

/// The MCP client of the embedded system, against a running gateway.
pub fn gateway_client(gw: &RunningGateway) -> Result<Arc<dyn McpClient>> {
    let timeout = Duration::from_secs(30);
    let tokens = OAuthClientCredentials::new(
        gw.token_url.clone(),
        gw.client_id.clone(),
        Arc::new(StaticSecret::new(gw.client_secret.clone())),
        None,
        timeout,
    )?;
    Ok(Arc::new(McpGatewayClient::new(
        ClientOptions::new(gw.url.clone()).timeout(timeout),
        Arc::new(tokens),
    )?))
}

pub struct BenchSystem {
    pub data_dir: PathBuf,
    /// The unwrapped store, for seeding without counting.
    pub raw_store: Arc<SqliteStore>,
    pub meter: Arc<Meter>,
    /// Deps whose every port is counted (charged to no function).
    pub deps: Deps,
    pub engine: Engine,
    pub gateway: RunningGateway,
    rule: EventRule,
}

impl BenchSystem {
    /// Starts the gateway and assembles the metered system over `data_dir`,
    /// seeded with the registry and an enabled tenant.
    pub async fn start(data_dir: &Path) -> Result<BenchSystem> {
        std::fs::create_dir_all(data_dir)?;
        let raw_store = Arc::new(SqliteStore::open(&data_dir.join(DB_FILE))?);
        let gateway = Gateway::start(GatewayOptions {
            data_dir: Some(data_dir.join("gateway")),
            ..GatewayOptions::default()
        })
        .await
        .context("cannot start the development gateway")?;
        let meter = Meter::new();
        let base = Deps {
            store: raw_store.clone(),
            artifacts: Arc::new(FileArtifactStore::new(data_dir.join("artifacts"))),
            events: Arc::new(JsonlEventPublisher::new(data_dir.join("events.jsonl"))),
            mcp: gateway_client(&gateway)?,
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
        };
        let engine = Engine::new(
            EXECUTION_ASL,
            &local_substitutions(),
            Arc::new(MeteredInvoker::in_process(&base, meter.clone())),
        )
        .context("statemachine/execution.asl.json does not load")?
        // Retries (none expected here) should not stall a benchmark.
        .with_delay_scale(0.01);
        let deps = metered_deps(&base, &meter, None);
        seed(raw_store.as_ref()).await?;
        Ok(BenchSystem {
            data_dir: data_dir.to_path_buf(),
            raw_store,
            meter,
            deps,
            engine,
            gateway,
            rule: deployed_rule(),
        })
    }

    /// Stores a fresh, valid intent (not counted).
    pub async fn add_intent(&self, id: &str) -> Result<ActionIntentV1> {
        let intent = bench_intent(id);
        self.raw_store.put_intent(&intent).await?;
        Ok(intent)
    }

    /// An ACTION_APPROVED event in, through the deployed rule, until the
    /// execution ends (its outcome recorded). Returns the run and its latency.
    pub async fn run(&self, intent_id: &str) -> Result<(Execution, Duration)> {
        let event = fixtures::action_approved_event(TENANT, ACCOUNT, intent_id);
        let started = Instant::now();
        let input = self.rule.route(&event)?;
        let execution = self.engine.execute(&execution_name(intent_id), input).await;
        Ok((execution, started.elapsed()))
    }

    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
    }
}

/// An intent valid whatever today is, for the tenant and account of the bench.
pub fn bench_intent(id: &str) -> ActionIntentV1 {
    let now = chrono::Utc::now();
    let mut intent = fixtures::intent(TENANT, ACCOUNT, id);
    intent.approval_timestamp = now - chrono::Duration::minutes(1);
    intent.created_at = now - chrono::Duration::minutes(2);
    intent.expires_at = now + chrono::Duration::days(1);
    intent
}

/// Registry entries and an enabled tenant, as `ccx demo` seeds them.
pub async fn seed(store: &dyn Store) -> Result<()> {
    let now = chrono::Utc::now();
    for mut entry in [
        fixtures::crm_task_registry_entry(),
        fixtures::internal_note_registry_entry(),
    ] {
        entry.created_at = now;
        store.put_registry_entry(&entry).await?;
    }
    store
        .put_tenant_config(&fixtures::tenant_enabled(TENANT))
        .await?;
    Ok(())
}
