//! Throughput of the embedded engine: ACTION_APPROVED events in through the
//! deployed rule, each execution run to its recorded outcome against the
//! development gateway on loopback, `concurrency` executions in flight at once.
//! Also how much of the end-to-end time is spent outside the tool call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use ccx_local::engine::ExecutionStatus;
use serde::{Deserialize, Serialize};

use crate::harness::BenchSystem;
use crate::stats::{Summary, summarize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    pub concurrency: usize,
    pub executions: usize,
    pub wall_seconds: f64,
    pub executions_per_second: f64,
    /// Event in to outcome recorded, milliseconds.
    pub latency_ms: Summary,
    /// Summed InvokeTool task time over summed end-to-end time.
    pub invoke_tool_share: f64,
    /// Summed time inside the MCP client's `tools/call` over summed end-to-end time.
    pub mcp_call_share: f64,
    /// 1 - invoke_tool_share: the time spent outside the tool call.
    pub outside_tool_share: f64,
}

/// Runs `executions` fresh intents, `concurrency` at a time. Every execution
/// must succeed: a failed one means the numbers would not be comparable.
pub async fn measure(
    system: &Arc<BenchSystem>,
    concurrency: usize,
    executions: usize,
    prefix: &str,
) -> Result<Throughput> {
    let ids: Vec<String> = (0..executions)
        .map(|i| format!("{prefix}-c{concurrency}-{i}"))
        .collect();
    for id in &ids {
        system.add_intent(id).await?;
    }
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    system.meter.reset();
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (system, ids, next) = (system.clone(), ids.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(i) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let (execution, took) = system.run(id).await?;
                if execution.status != ExecutionStatus::Succeeded {
                    bail!(
                        "execution of {id} ended {} ({:?}): {:?}",
                        execution.status.as_str(),
                        execution.error,
                        execution.cause
                    );
                }
                latencies.push(took.as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut latencies = Vec::with_capacity(executions);
    for w in workers {
        latencies.extend(w.await??);
    }
    let wall = started.elapsed().as_secs_f64();
    let seen = system.meter.snapshot();
    let total_ms: f64 = latencies.iter().sum();
    let tool_ms = seen
        .lambda
        .get("tool-invoker")
        .map(|t| t.duration.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    let mcp_ms = seen.mcp_time.as_secs_f64() * 1000.0;
    let share = |part: f64| if total_ms > 0.0 { part / total_ms } else { 0.0 };
    Ok(Throughput {
        concurrency,
        executions,
        wall_seconds: wall,
        executions_per_second: executions as f64 / wall,
        latency_ms: summarize(&latencies),
        invoke_tool_share: share(tool_ms),
        mcp_call_share: share(mcp_ms),
        outside_tool_share: 1.0 - share(tool_ms),
    })
}
