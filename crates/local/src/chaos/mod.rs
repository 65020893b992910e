//! `ccx chaos`: a soak of the exactly-once promise, measured.
//!
//! Thousands of ACTION_APPROVED events go through the real state machine with
//! the real handlers against the development gateway, with everything that can
//! go wrong switched on at once:
//! - gateway faults at random (5xx, 429, timeouts past a short client timeout
//!   after the tool wrote, malformed bodies, tool-reported failures, partial
//!   writes), seeded;
//! - duplicate events: the same intent published 2 to 5 times, some copies at once;
//! - crashes at every step boundary ([`crash`]): before a handler runs, and after
//!   it ran with its answer lost (for the tool invoker: after the tool call
//!   succeeded, before the outcome was recorded), resumed by the state
//!   machine's retries or by a redrive of the failed execution ([`driver`]).
//!
//! Then [`checks`] verifies every intent and the gateway's write log, prints a
//! table and writes the numbers as JSON. The harness takes [`Deps`], so the same
//! soak runs over the SQLite store ([`run_local`]) or the DynamoDB adapters.
//!
//! Finally a sample of SUCCEEDED intents is replayed ([`replay`]) to prove an
//! audited rerun reuses the dedupe record instead of writing again.
//!
//! Modules: [`scenario`] (seeded plans), [`crash`], [`driver`], [`checks`],
//! [`replay`], [`report`].

pub mod checks;
pub mod crash;
pub mod driver;
pub mod replay;
pub mod report;
pub mod scenario;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ccx_core::Deps;
use ccx_core::fixtures;
use ccx_gateway::{Faults, RunningGateway};
use chrono::Utc;

use crate::engine::{EXECUTION_ASL, Engine, InProcessInvoker, local_substitutions};
use crate::system::{LocalSystem, SystemOptions, deployed_rule};
use checks::{GatewayView, run_checks};
use crash::{CrashPlan, CrashingInvoker};
use report::ChaosReport;

/// Bounds and knobs of a run.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    pub intents: usize,
    pub seed: u64,
    /// Intents driven at the same time.
    pub concurrency: usize,
    /// No new intent starts after this long (the run still finishes the started ones).
    pub max_duration: Duration,
    /// Multiplies the state machine's retry delays.
    pub delay_scale: f64,
    /// MCP request timeout (short, so timeouts are cheap to inject, yet long
    /// enough that a loaded machine does not time out ordinary calls); the
    /// gateway holds a timed-out answer twice as long.
    pub tool_timeout: Duration,
    pub faults: Faults,
    /// SUCCEEDED intents replayed after the checks.
    pub replays: usize,
}

impl Default for ChaosOptions {
    fn default() -> Self {
        Self {
            intents: 3000,
            seed: 7,
            concurrency: 16,
            max_duration: Duration::from_secs(240),
            delay_scale: 0.001,
            tool_timeout: Duration::from_secs(1),
            faults: default_faults(7),
            replays: 200,
        }
    }
}

/// About one `tools/call` in five is disturbed.
pub fn default_faults(seed: u64) -> Faults {
    Faults {
        rate_5xx: 0.05,
        rate_429: 0.04,
        rate_timeout: 0.03,
        rate_malformed: 0.03,
        rate_tool_error: 0.02,
        rate_partial: 0.03,
        seed,
        timeout_delay: Duration::from_secs(2),
    }
}

/// The soak against any store: seeds `deps.store`, switches the gateway's
/// faults on, drives the plans through an engine over `deps` with crashes
/// injected, and checks the result. `deps.mcp` must talk to `gateway`.
pub async fn soak(
    deps: Deps,
    gateway: &RunningGateway,
    options: &ChaosOptions,
) -> Result<ChaosReport> {
    let now = Utc::now();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let plans = scenario::plans(&run_id, options.intents, options.seed, now);
    for tenant in scenario::TENANTS {
        deps.store
            .put_tenant_config(&fixtures::tenant_enabled(tenant))
            .await?;
    }
    for entry in scenario::registry(now) {
        deps.store.put_registry_entry(&entry).await?;
    }
    for plan in &plans {
        deps.store.put_intent(&plan.intent).await?;
    }

    let crash_plan = Arc::new(CrashPlan::default());
    for plan in &plans {
        crash_plan.plan(&plan.intent.action_intent_id, plan.crashes.clone());
    }
    let invoker = Arc::new(CrashingInvoker::new(
        Arc::new(InProcessInvoker::new(deps.clone())),
        crash_plan.clone(),
    ));
    let engine = Arc::new(
        Engine::new(EXECUTION_ASL, &local_substitutions(), invoker.clone())
            .context("statemachine/execution.asl.json does not load")?
            .with_delay_scale(options.delay_scale),
    );
    gateway
        .faults()
        .set_rates(options.faults.clone())
        .map_err(anyhow::Error::msg)?;

    let totals = driver::drive(
        engine.clone(),
        Arc::new(deployed_rule()),
        &plans,
        options.concurrency,
        options.max_duration,
    )
    .await;
    // Nothing is disturbed while the results are read.
    gateway
        .faults()
        .set_rates(Faults::default())
        .map_err(anyhow::Error::msg)?;

    let driven: Vec<_> = totals.driven.iter().map(|&i| plans[i].clone()).collect();
    let view = GatewayView {
        objects: gateway.store().all_objects()?,
        writes: gateway.store().write_log()?,
    };
    let mut verdict = run_checks(deps.store.as_ref(), &driven, &view).await?;

    // The replay proof, with the faults on again.
    gateway
        .faults()
        .set_rates(options.faults.clone())
        .map_err(anyhow::Error::msg)?;
    let intents: Vec<_> = driven.iter().map(|p| p.intent.clone()).collect();
    let (replays, refused) = replay::prove_replays(
        &engine,
        deps.store.as_ref(),
        gateway,
        &intents,
        options.replays,
    )
    .await?;
    gateway
        .faults()
        .set_rates(Faults::default())
        .map_err(anyhow::Error::msg)?;
    verdict.checks.push(replays);
    verdict.checks.push(refused);
    Ok(ChaosReport::new(
        options,
        &run_id,
        &driven,
        totals,
        verdict,
        crash_plan.injected(),
        gateway.stats(),
    ))
}

/// The soak on the embedded default: SQLite under `data_dir`, the development
/// gateway in process.
pub async fn run_local(data_dir: PathBuf, options: &ChaosOptions) -> Result<ChaosReport> {
    run_local_with(data_dir, options, |deps| deps).await
}

/// The soak with the development gateway in process but other adapters:
/// `swap` gets the embedded [`Deps`] (SQLite, files, the MCP client of the
/// gateway) and returns the ones to soak, e.g. the DynamoDB store, S3 and
/// EventBridge adapters with the same MCP client (`crates/aws/tests/chaos.rs`).
pub async fn run_local_with(
    data_dir: PathBuf,
    options: &ChaosOptions,
    swap: impl FnOnce(Deps) -> Deps,
) -> Result<ChaosReport> {
    let mut sys = SystemOptions::embedded(data_dir);
    sys.tool_timeout = options.tool_timeout;
    sys.delay_scale = options.delay_scale;
    sys.gateway = crate::system::GatewayChoice::Embedded {
        faults: Faults {
            timeout_delay: options.faults.timeout_delay,
            ..Faults::default()
        },
    };
    let system = LocalSystem::open(sys).await?;
    let gateway = system
        .gateway()
        .context("the soak needs the embedded gateway")?;
    let report = soak(swap(system.deps.clone()), gateway, options).await;
    system.shutdown().await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small soak end to end: faults, duplicates, crashes and replays all
    /// happen, and every check holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_soak_passes_every_check() {
        let dir = tempfile::tempdir().unwrap();
        let options = ChaosOptions {
            intents: 80,
            concurrency: 4,
            replays: 12,
            ..ChaosOptions::default()
        };
        let report = run_local(dir.path().join("chaos"), &options).await.unwrap();
        assert!(report.passed, "{}", report.table());
        assert_eq!(report.tally.intents, 80);
        assert!(report.load["events_published"].as_u64().unwrap() > 80);
        assert!(report.gateway.faults_injected > 0);
        assert!(report.crashes.values().sum::<u64>() > 0);
        assert!(report.tally.succeeded > 0 && report.tally.failed > 0);
        let row = |prefix: &str| {
            report
                .checks
                .iter()
                .find(|c| c.name.starts_with(prefix))
                .unwrap_or_else(|| panic!("no check {prefix}"))
                .clone()
        };
        assert_eq!(row("replays of SUCCEEDED").checked, 12);
        assert!(row("replays without reason").checked >= 1);
        assert_eq!(row("every intent has exactly one").checked, 80);
    }
}
