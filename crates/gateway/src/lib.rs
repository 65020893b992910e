//! A development MCP gateway: a streamable-HTTP MCP server (rmcp on axum) whose
//! tools write real notes and tasks into an embedded SQLite store, behind an
//! OAuth2 client-credentials token endpoint, with fault injection.
//!
//! It stands in for the AgentCore/Cognito gateway on a laptop and in tests:
//! the execution layer's MCP client talks to it exactly as it would to the real
//! one, and tests inspect what was written (objects, writes per idempotency
//! key) through [`RunningGateway`] or the `/admin` endpoints.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ccx_gateway::GatewayError> {
//! let gw = ccx_gateway::Gateway::start(ccx_gateway::GatewayOptions::default()).await?;
//! println!("MCP at {}, tokens at {}", gw.url, gw.token_url);
//! gw.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod auth;
pub mod fault_layer;
pub mod faults;
pub mod store;
pub mod tools;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use faults::{Fault, FaultInjector, Faults};
pub use store::{GatewayStore, StoredObject, WriteRecord};

use auth::TokenIssuer;
use tools::{GatewayServer, ToolRunner};

/// How the MCP endpoint manages sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionMode {
    /// Issues `Mcp-Session-Id` on initialize and requires it afterwards
    /// (protocol versions before 2026-07-28; 2026-07-28 is always stateless).
    #[default]
    Stateful,
    /// No sessions: every POST stands alone.
    Stateless,
}

/// Everything needed to start a gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Folder of `gateway.sqlite`; `None` keeps the store in memory.
    pub data_dir: Option<PathBuf>,
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued tokens (`expires_in`).
    pub token_ttl: Duration,
    pub faults: Faults,
    pub session_mode: SessionMode,
    /// Answer with `application/json` instead of an SSE stream where possible
    /// (only in stateless mode, as rmcp allows).
    pub json_response: bool,
    /// Base URL put in `object_url`s; defaults to `http://<bound address>`.
    pub public_url: Option<String>,
    /// Accepted `Host` headers; `None` = loopback only (rmcp's DNS-rebinding
    /// guard), empty = any host.
    pub allowed_hosts: Option<Vec<String>>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            client_id: "ccx-dev-client".into(),
            client_secret: "ccx-dev-secret".into(),
            token_ttl: Duration::from_secs(3600),
            faults: Faults::default(),
            session_mode: SessionMode::Stateful,
            json_response: false,
            public_url: None,
            allowed_hosts: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("invalid fault configuration: {0}")]
    Faults(String),
}

/// Counters exposed by `/admin/stats` and [`RunningGateway::stats`].
#[derive(Default)]
pub struct Stats {
    pub token_requests: AtomicU64,
    pub tool_calls: AtomicU64,
    pub initializations: AtomicU64,
    pub unauthorized: AtomicU64,
    /// Microseconds spent handling `tools/call` requests, from the request
    /// reaching the MCP route to its response body being complete (benchmarks
    /// subtract it from the client's time to get the invoker's own overhead).
    pub tool_call_handling_us: AtomicU64,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Requests to the token endpoint (successful or not).
    pub token_requests: u64,
    /// Tokens actually issued.
    pub tokens_issued: u64,
    /// `tools/call` requests that passed the bearer check.
    pub tool_calls: u64,
    /// `initialize` requests that passed the bearer check (one per session).
    pub initializations: u64,
    /// Requests to `/mcp` refused with 401.
    pub unauthorized: u64,
    pub faults_injected: u64,
    /// Summed handling time of `tools/call` requests, in microseconds.
    pub tool_call_handling_us: u64,
}

impl Stats {
    pub fn snapshot(&self, state: &GatewayState) -> StatsSnapshot {
        StatsSnapshot {
            token_requests: self.token_requests.load(Ordering::SeqCst),
            tokens_issued: state.tokens.issued(),
            tool_calls: self.tool_calls.load(Ordering::SeqCst),
            initializations: self.initializations.load(Ordering::SeqCst),
            unauthorized: self.unauthorized.load(Ordering::SeqCst),
            faults_injected: state.faults.injected(),
            tool_call_handling_us: self.tool_call_handling_us.load(Ordering::SeqCst),
        }
    }
}

/// State shared by the HTTP handlers.
pub struct GatewayState {
    pub store: Arc<GatewayStore>,
    pub tokens: TokenIssuer,
    pub faults: FaultInjector,
    pub stats: Stats,
    pub sessions: Arc<LocalSessionManager>,
    pub shutdown: CancellationToken,
}

impl GatewayState {
    /// Drops every MCP session; their next request gets 404 and must re-initialise.
    pub async fn expire_sessions(&self) {
        self.sessions.sessions.write().await.clear();
    }
}

pub struct Gateway;

impl Gateway {
    /// Binds, starts serving in the background and returns the handle.
    pub async fn start(options: GatewayOptions) -> Result<RunningGateway, GatewayError> {
        options.faults.validate().map_err(GatewayError::Faults)?;
        let store = Arc::new(GatewayStore::open(options.data_dir.as_deref())?);
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|e| GatewayError::Bind(options.bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Bind(options.bind, e))?;
        let base_url = options
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();

        let shutdown = CancellationToken::new();
        let sessions = Arc::new(LocalSessionManager::default());
        let state = Arc::new(GatewayState {
            store: store.clone(),
            tokens: TokenIssuer::new(
                options.client_id.clone(),
                options.client_secret.clone(),
                options.token_ttl,
            ),
            faults: FaultInjector::new(options.faults.clone()),
            stats: Stats::default(),
            sessions: sessions.clone(),
            shutdown: shutdown.clone(),
        });

        let mut config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(options.session_mode == SessionMode::Stateful)
            .with_json_response(options.json_response)
            .with_sse_keep_alive(None)
            .with_cancellation_token(shutdown.child_token());
        if let Some(hosts) = &options.allowed_hosts {
            config = if hosts.is_empty() {
                config.disable_allowed_hosts()
            } else {
                config.with_allowed_hosts(hosts.clone())
            };
        }
        let server = GatewayServer {
            runner: ToolRunner {
                store,
                base_url: Arc::from(base_url.as_str()),
            },
        };
        let mcp = StreamableHttpService::new(move || Ok(server.clone()), sessions, config);

        let mcp_routes = Router::new()
            .route_service("/mcp", mcp)
            .layer(from_fn_with_state(
                state.clone(),
                fault_layer::inject_faults,
            ))
            .layer(from_fn_with_state(state.clone(), auth::require_bearer));
        let app = Router::new()
            .route("/oauth2/token", post(auth::token_endpoint))
            .merge(admin::router())
            .with_state(state.clone())
            .merge(mcp_routes);

        let serve_shutdown = shutdown.clone();
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move { serve_shutdown.cancelled_owned().await })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "gateway server stopped");
            }
        });
        tracing::info!(%addr, "ccx-gateway listening");
        Ok(RunningGateway {
            url: format!("{base_url}/mcp"),
            token_url: format!("{base_url}/oauth2/token"),
            base_url,
            addr,
            client_id: options.client_id,
            client_secret: options.client_secret,
            state,
            task: Some(task),
        })
    }
}

/// A started gateway. Dropping it stops the server too; [`Self::shutdown`]
/// also waits for it to finish.
pub struct RunningGateway {
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// The OAuth2 token endpoint.
    pub token_url: String,
    pub base_url: String,
    pub addr: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    state: Arc<GatewayState>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    pub fn store(&self) -> &GatewayStore {
        &self.state.store
    }

    pub fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }

    /// Queue `count` scripted faults for the next `tools/call`s.
    pub fn script_faults(&self, fault: Fault, count: usize) {
        self.state.faults.script(fault, count);
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot(&self.state)
    }

    /// Revoke every issued token: the next MCP request gets a 401.
    pub fn revoke_tokens(&self) {
        self.state.tokens.revoke_all();
    }

    /// Drop every MCP session: the next request with a session id gets a 404.
    pub async fn expire_sessions(&self) {
        self.state.expire_sessions().await;
    }

    /// Objects not deleted.
    pub fn live_objects(&self) -> Vec<StoredObject> {
        self.state.store.live_objects().unwrap_or_default()
    }

    /// External writes made under `idempotency_key`.
    pub fn writes_for_key(&self, idempotency_key: &str) -> u64 {
        self.state
            .store
            .writes_for_key(idempotency_key)
            .unwrap_or(0)
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}
