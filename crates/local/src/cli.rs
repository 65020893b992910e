//! The `ccx` command line: demo, run, seed, status, trace, graph, replay.
//!
//! Exit codes: 0 success (or an execution that SUCCEEDED), 1 an error (bad
//! input, missing file, unknown intent), 3 an execution that ran and FAILED.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ccx_core::contracts::ReplayRequest;
use ccx_core::ports::Store;
use ccx_core::store::sqlite::{DB_FILE, SqliteStore};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::engine::{EXECUTION_ASL, Execution, ExecutionStatus};
use crate::graph::{GraphFormat, render as render_graph};
use crate::render;
use crate::seed::SeedFile;
use crate::system::{GatewayChoice, LocalSystem, SystemOptions, execution_name};

#[derive(Parser, Debug)]
#[command(
    name = "ccx",
    version,
    about = "The execution layer on one machine, no AWS: the embedded default"
)]
pub struct Cli {
    /// Folder holding every local record (SQLite), artifact and event.
    #[arg(long, global = true, env = "CCX_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the dev gateway, seed, publish ACTION_APPROVED events, run them, show the results.
    Demo {
        /// Multiplies retry delays (1.0 = the state machine's real seconds).
        #[arg(long, default_value_t = 0.1)]
        delay_scale: f64,
    },
    /// Publish one EventBridge event (JSON file) on the local bus and run the execution it starts.
    Run {
        #[arg(long)]
        event: PathBuf,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Audited rerun of a terminal intent (reason and requester are recorded).
    Replay {
        action_intent_id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        requested_by: String,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Load registry entries, tenants, intents and global controls from a JSON file.
    Seed {
        #[arg(long)]
        file: PathBuf,
    },
    /// Attempt and outcome of an intent.
    Status { action_intent_id: String },
    /// The ledger timeline of an execution trace.
    Trace { trace_id: String },
    /// Soak the exactly-once promise: thousands of events with gateway faults,
    /// duplicates and crashes at every step, then check and print the results.
    Chaos(ChaosArgs),
    /// The state machine as a diagram.
    Graph {
        #[arg(long, value_enum, default_value_t = Format::Mermaid)]
        format: Format,
    },
}

/// Bounds of `ccx chaos` (loopback only: the dev gateway runs in process).
#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// Intents to soak (each published 1 to 5 times).
    #[arg(long, default_value_t = 3000)]
    pub intents: usize,
    /// Seed of the plans and of the gateway's faults.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Intents in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// No new intent starts after this many seconds.
    #[arg(long, default_value_t = 240)]
    pub max_seconds: u64,
    /// Where the numbers go as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

#[derive(clap::Args, Debug, Clone)]
pub struct GatewayArgs {
    /// MCP endpoint of a running gateway; without it the development gateway runs in process.
    #[arg(long, env = "CCX_GATEWAY_URL", requires_all = ["token_url", "client_id", "client_secret"])]
    pub gateway_url: Option<String>,
    #[arg(long, env = "CCX_GATEWAY_TOKEN_URL")]
    pub token_url: Option<String>,
    #[arg(long, env = "CCX_GATEWAY_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "CCX_GATEWAY_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Multiplies retry delays.
    #[arg(long, default_value_t = 1.0)]
    pub delay_scale: f64,
}

impl GatewayArgs {
    fn options(&self, data_dir: &Path) -> SystemOptions {
        let mut o = SystemOptions::embedded(data_dir);
        o.delay_scale = self.delay_scale;
        if let (Some(url), Some(token_url), Some(client_id), Some(client_secret)) = (
            &self.gateway_url,
            &self.token_url,
            &self.client_id,
            &self.client_secret,
        ) {
            o.gateway = GatewayChoice::External {
                url: url.clone(),
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            };
        }
        o
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr (JSON, RUST_LOG, default warn) so stdout stays readable.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ccx: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ccx: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn exit_for(execution: &Execution) -> ExitCode {
    match execution.status {
        ExecutionStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::from(3),
    }
}

fn open_store(data_dir: &Path) -> Result<SqliteStore> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        bail!(
            "no local data in {} (run `ccx seed --file ...` or `ccx demo` first, or pass --data-dir)",
            data_dir.display()
        );
    }
    Ok(SqliteStore::open(&path)?)
}

fn read_json(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

async fn print_outcome(
    system: &LocalSystem,
    execution: &Execution,
    tenant: &str,
    account: &str,
    intent: &str,
) -> Result<()> {
    print!("{}", render::history(execution));
    println!("path: {}", execution.state_path().join(" -> "));
    if let Some(o) = system.store.get_outcome(tenant, account, intent).await? {
        print!("{}", render::outcome(&o));
    }
    Ok(())
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Demo { delay_scale } => {
            crate::demo::run(crate::demo::DemoOptions {
                data_dir,
                delay_scale,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { event, gateway } => {
            let event = read_json(&event, "event")?;
            let system = LocalSystem::open(gateway.options(&data_dir)).await?;
            let result = async {
                let execution = system.publish(&event).await?;
                let data = &event["detail"]["data"];
                let field = |k: &str| data[k].as_str().unwrap_or_default().to_string();
                print_outcome(
                    &system,
                    &execution,
                    &field("tenant_id"),
                    &field("account_id"),
                    &field("action_intent_id"),
                )
                .await?;
                Ok::<_, anyhow::Error>(exit_for(&execution))
            }
            .await;
            system.shutdown().await;
            result
        }
        Command::Replay {
            action_intent_id,
            reason,
            requested_by,
            gateway,
        } => {
            let request = ReplayRequest {
                reason,
                requested_by,
            };
            if request.reason.trim().is_empty() || request.requested_by.trim().is_empty() {
                bail!("a replay needs a non-empty --reason and --requested-by (both are audited)");
            }
            let store = open_store(&data_dir)?;
            let intent = store
                .find_intent(&action_intent_id)
                .await?
                .with_context(|| {
                    format!(
                        "unknown intent {action_intent_id} in {}",
                        data_dir.display()
                    )
                })?;
            drop(store);
            let system = LocalSystem::open(gateway.options(&data_dir)).await?;
            let input = json!({
                "action_intent_id": intent.action_intent_id,
                "tenant_id": intent.tenant_id,
                "account_id": intent.account_id,
                "replay": request,
            });
            let execution = system.execute(&execution_name("replay"), input).await;
            let r = print_outcome(
                &system,
                &execution,
                &intent.tenant_id,
                &intent.account_id,
                &intent.action_intent_id,
            )
            .await;
            system.shutdown().await;
            r?;
            Ok(exit_for(&execution))
        }
        Command::Seed { file } => {
            let seed = SeedFile::read(&file)?;
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
            let store = SqliteStore::open(&data_dir.join(DB_FILE))?;
            let n = seed.apply(&store).await?;
            println!(
                "seeded {} tenant(s), {} registry entr(ies), {} intent(s){} into {}",
                n.tenants,
                n.registry,
                n.intents,
                if n.global_controls {
                    " and the global controls"
                } else {
                    ""
                },
                data_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { action_intent_id } => {
            let store = open_store(&data_dir)?;
            let intent = store
                .find_intent(&action_intent_id)
                .await?
                .with_context(|| {
                    format!(
                        "unknown intent {action_intent_id} in {}",
                        data_dir.display()
                    )
                })?;
            println!(
                "intent {} ({}) tenant {} account {} expires {}",
                intent.action_intent_id,
                intent.action_type,
                intent.tenant_id,
                intent.account_id,
                intent.expires_at.to_rfc3339()
            );
            match store
                .get_attempt(
                    &intent.tenant_id,
                    &intent.account_id,
                    &intent.action_intent_id,
                )
                .await?
            {
                Some(a) => print!("{}", render::attempt(&a)),
                None => println!("not started"),
            }
            if let Some(o) = store
                .get_outcome(
                    &intent.tenant_id,
                    &intent.account_id,
                    &intent.action_intent_id,
                )
                .await?
            {
                print!("{}", render::outcome(&o));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trace { trace_id } => {
            let store = open_store(&data_dir)?;
            let entries = store.ledger_for_trace_any_tenant(&trace_id).await?;
            if entries.is_empty() {
                bail!(
                    "no ledger entries for trace {trace_id} in {}",
                    data_dir.display()
                );
            }
            println!("ledger of trace {trace_id}:");
            print!("{}", render::ledger(&entries));
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaos(args) => {
            let options = crate::chaos::ChaosOptions {
                intents: args.intents,
                seed: args.seed,
                concurrency: args.concurrency,
                max_duration: std::time::Duration::from_secs(args.max_seconds),
                faults: crate::chaos::default_faults(args.seed),
                ..crate::chaos::ChaosOptions::default()
            };
            let folder = data_dir.join(format!("chaos-{}", uuid::Uuid::new_v4().simple()));
            let report = crate::chaos::run_local(folder.clone(), &options).await?;
            print!("{}", report.table());
            if let Some(out) = &args.out {
                if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(out, serde_json::to_string_pretty(&report)? + "\n")
                    .with_context(|| format!("cannot write {}", out.display()))?;
                println!("numbers written to {}", out.display());
            }
            if report.passed {
                // The soak's data is only evidence when something failed.
                let _ = std::fs::remove_dir_all(&folder);
                Ok(ExitCode::SUCCESS)
            } else {
                println!("data kept in {}", folder.display());
                Ok(ExitCode::from(2))
            }
        }
        Command::Graph { format } => {
            let def: Value =
                serde_json::from_str(EXECUTION_ASL).context("the embedded ASL is not JSON")?;
            let format = match format {
                Format::Mermaid => GraphFormat::Mermaid,
                Format::Dot => GraphFormat::Dot,
            };
            print!(
                "{}",
                render_graph(&def, format).map_err(anyhow::Error::msg)?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
