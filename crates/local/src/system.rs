//! The embedded execution layer assembled: the SQLite store and files in one data
//! folder, the engine over the real `statemachine/execution.asl.json` with the
//! handlers in process, the event rule the infrastructure deploys, and a tool
//! gateway (the development gateway started in process, or one at a URL).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ccx_core::Deps;
use ccx_core::ports::{McpClient, Settings, SystemClock};
use ccx_core::store::events::JsonlEventPublisher;
use ccx_core::store::files::FileArtifactStore;
use ccx_core::store::sqlite::{DB_FILE, SqliteStore};
use ccx_gateway::{Faults, Gateway, GatewayOptions, RunningGateway};
use ccx_mcp::{ClientOptions, McpGatewayClient, OAuthClientCredentials, StaticSecret};
use serde_json::Value;

use crate::engine::{EXECUTION_ASL, Engine, Execution, InProcessInvoker, local_substitutions};
use crate::events::{EventError, EventRule};

/// Where tools are called.
#[derive(Debug, Clone)]
pub enum GatewayChoice {
    /// Start the development gateway in this process (its data under the data folder).
    Embedded { faults: Faults },
    /// Use a gateway that is already running.
    External {
        url: String,
        token_url: String,
        client_id: String,
        client_secret: String,
    },
}

#[derive(Debug, Clone)]
pub struct SystemOptions {
    pub data_dir: PathBuf,
    pub gateway: GatewayChoice,
    /// Multiplies retry delays (1.0 = the definition's real seconds).
    pub delay_scale: f64,
    /// MCP request timeout.
    pub tool_timeout: Duration,
}

impl SystemOptions {
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            gateway: GatewayChoice::Embedded {
                faults: Faults::default(),
            },
            delay_scale: 1.0,
            tool_timeout: Duration::from_secs(10),
        }
    }
}

/// The rule the stack deploys, as the local event bus evaluates it.
pub fn deployed_rule() -> EventRule {
    EventRule::deployed()
}

pub struct LocalSystem {
    pub data_dir: PathBuf,
    pub store: Arc<SqliteStore>,
    pub deps: Deps,
    pub engine: Engine,
    pub rule: EventRule,
    gateway: Option<RunningGateway>,
}

impl LocalSystem {
    pub async fn open(options: SystemOptions) -> Result<LocalSystem> {
        let data_dir = options.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
        let store = Arc::new(SqliteStore::open(&data_dir.join(DB_FILE))?);

        let (gateway, url, token_url, client_id, client_secret) = match options.gateway {
            GatewayChoice::Embedded { faults } => {
                let gw = Gateway::start(GatewayOptions {
                    data_dir: Some(data_dir.join("gateway")),
                    faults,
                    ..GatewayOptions::default()
                })
                .await
                .context("cannot start the development gateway")?;
                let (u, t, i, s) = (
                    gw.url.clone(),
                    gw.token_url.clone(),
                    gw.client_id.clone(),
                    gw.client_secret.clone(),
                );
                (Some(gw), u, t, i, s)
            }
            GatewayChoice::External {
                url,
                token_url,
                client_id,
                client_secret,
            } => (None, url, token_url, client_id, client_secret),
        };
        let tokens = OAuthClientCredentials::new(
            token_url,
            client_id,
            Arc::new(StaticSecret::new(client_secret)),
            None,
            options.tool_timeout,
        )?;
        let mcp: Arc<dyn McpClient> = Arc::new(McpGatewayClient::new(
            ClientOptions::new(url).timeout(options.tool_timeout),
            Arc::new(tokens),
        )?);

        let deps = Deps {
            store: store.clone(),
            artifacts: Arc::new(FileArtifactStore::new(data_dir.join("artifacts"))),
            events: Arc::new(JsonlEventPublisher::new(data_dir.join("events.jsonl"))),
            mcp,
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
        };
        let engine = Engine::new(
            EXECUTION_ASL,
            &local_substitutions(),
            Arc::new(InProcessInvoker::new(deps.clone())),
        )
        .context("statemachine/execution.asl.json does not load")?
        .with_delay_scale(options.delay_scale);
        Ok(LocalSystem {
            data_dir,
            store,
            deps,
            engine,
            rule: deployed_rule(),
            gateway,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The in-process development gateway, if this system started one.
    pub fn gateway(&self) -> Option<&RunningGateway> {
        self.gateway.as_ref()
    }

    /// An event arrives on the local bus: route it through the deployed rule and
    /// run the execution it starts. A malformed event starts nothing.
    pub async fn publish(&self, event: &Value) -> Result<Execution, EventError> {
        let input = self.rule.route(event)?;
        let id = event.get("id").and_then(Value::as_str).unwrap_or("event");
        Ok(self.execute(&execution_name(id), input).await)
    }

    /// Starts an execution with an explicit input (replays, tests).
    pub async fn execute(&self, name: &str, input: Value) -> Execution {
        self.engine.execute(name, input).await
    }

    pub async fn shutdown(self) {
        if let Some(gw) = self.gateway {
            gw.shutdown().await;
        }
    }
}

/// Unique per start, like the names EventBridge gives the executions it starts:
/// a duplicate event is a different execution competing for the same lock.
pub fn execution_name(prefix: &str) -> String {
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!(
        "{clean}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}
