//! `ccx-gateway`: run the development MCP gateway until Ctrl-C.
//!
//! Prints one JSON line with the URLs and credentials on start, so scripts can
//! read it: `{"url":..., "token_url":..., "client_id":..., "client_secret":...}`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ccx_gateway::{Faults, Gateway, GatewayOptions, SessionMode};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "ccx-gateway",
    about = "Development MCP gateway with real tools and fault injection"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1", env = "CCX_GATEWAY_HOST")]
    host: IpAddr,
    #[arg(long, default_value_t = 8787, env = "CCX_GATEWAY_PORT")]
    port: u16,
    /// Folder of gateway.sqlite; in memory when absent.
    #[arg(long, env = "CCX_GATEWAY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = "ccx-dev-client", env = "CCX_GATEWAY_CLIENT_ID")]
    client_id: String,
    #[arg(
        long,
        default_value = "ccx-dev-secret",
        env = "CCX_GATEWAY_CLIENT_SECRET"
    )]
    client_secret: String,
    /// Lifetime of issued tokens in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// Serve without MCP sessions.
    #[arg(long)]
    stateless: bool,
    /// Answer with application/json instead of SSE (stateless mode only).
    #[arg(long)]
    json_response: bool,
    /// Accept any Host header (default: loopback names only).
    #[arg(long)]
    allow_any_host: bool,
    #[arg(long, default_value_t = 0.0)]
    fault_5xx: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_timeout: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_malformed: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_tool_error: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_partial: f64,
    /// Seed of the fault RNG (same seed, same fault sequence).
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// How long a timeout fault holds the response, in milliseconds.
    #[arg(long, default_value_t = 15_000)]
    fault_timeout_delay_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let options = GatewayOptions {
        bind: SocketAddr::new(args.host, args.port),
        data_dir: args.data_dir,
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        faults: Faults {
            rate_5xx: args.fault_5xx,
            rate_429: args.fault_429,
            rate_timeout: args.fault_timeout,
            rate_malformed: args.fault_malformed,
            rate_tool_error: args.fault_tool_error,
            rate_partial: args.fault_partial,
            seed: args.fault_seed,
            timeout_delay: Duration::from_millis(args.fault_timeout_delay_ms),
        },
        session_mode: if args.stateless {
            SessionMode::Stateless
        } else {
            SessionMode::Stateful
        },
        json_response: args.json_response,
        public_url: None,
        allowed_hosts: args.allow_any_host.then(Vec::new),
    };
    let gateway = Gateway::start(options).await?;
    println!(
        "{}",
        serde_json::json!({
            "url": gateway.url,
            "token_url": gateway.token_url,
            "client_id": gateway.client_id,
            "client_secret": gateway.client_secret,
        })
    );
    tokio::signal::ctrl_c().await?;
    gateway.shutdown().await;
    Ok(())
}
