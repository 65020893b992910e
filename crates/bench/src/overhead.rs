//! Tool invocation overhead: the time a `tools/call` spends in our code beyond
//! the gateway's own handling of it, with the OAuth token cached and the MCP
//! session and HTTP connection warm. The gateway reports its handling time
//! (`StatsSnapshot::tool_call_handling_us`, request in to response body
//! complete); the difference to the caller's time is client-side work and the
//! loopback hop.

use std::time::Instant;

use anyhow::{Result, bail, ensure};
use ccx_core::handlers::{Handler, dispatch};
use ccx_core::io::InvokerInput;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::harness::{ACCOUNT, BenchSystem, TENANT, gateway_client};
use crate::stats::{Summary, summarize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolOverhead {
    pub calls: usize,
    /// Time of `McpClient::call_tool` as the caller sees it, microseconds.
    pub client_call_us: Summary,
    /// Mean handling time the gateway reported per call, microseconds.
    pub gateway_handling_us_mean: f64,
    /// Client mean minus gateway mean: the MCP client and the loopback hop.
    pub client_overhead_us_mean: f64,
    /// The whole tool-invoker handler (dedupe read, call, dedupe write), microseconds.
    pub invoker_handler_us: Summary,
    pub invoker_gateway_handling_us_mean: f64,
    /// Handler mean minus gateway mean: everything the invoker adds.
    pub invoker_overhead_us_mean: f64,
    /// Per call (the calls are sequential, so the gateway's counter moves by
    /// exactly that call's handling): client time minus gateway time, µs.
    /// Robust to the outliers of a shared machine, unlike the means.
    pub client_overhead_us: Summary,
    /// Per call: tool-invoker handler time minus gateway time, µs.
    pub invoker_overhead_us: Summary,
    /// Token requests and MCP initialisations during the measured calls
    /// (both 0: the token was cached and the session warm).
    pub token_requests_during: u64,
    pub initializations_during: u64,
}

fn arguments(key: &str) -> serde_json::Value {
    json!({
        "title": "Benchmark task",
        "priority": "LOW",
        "tenant_id": TENANT,
        "account_id": ACCOUNT,
        "action_intent_id": format!("ov-{key}"),
        "trace_id": format!("trace-{key}"),
        "idempotency_key": key,
    })
}

pub async fn measure(system: &BenchSystem, calls: usize) -> Result<ToolOverhead> {
    let gw = &system.gateway;
    let client = gateway_client(gw)?;
    // Warm up: token fetched, session initialised, connection open.
    for i in 0..5 {
        client
            .call_tool("crm.create_task", &arguments(&format!("warm-{i}")))
            .await?;
    }
    let before = gw.stats();
    let mut client_us = Vec::with_capacity(calls);
    let mut client_overhead = Vec::with_capacity(calls);
    for i in 0..calls {
        let args = arguments(&format!("client-{i}"));
        let handled_before = gw.stats().tool_call_handling_us;
        let started = Instant::now();
        let r = client.call_tool("crm.create_task", &args).await?;
        let took = started.elapsed().as_secs_f64() * 1e6;
        let handled = (gw.stats().tool_call_handling_us - handled_before) as f64;
        client_us.push(took);
        client_overhead.push(took - handled);
        ensure!(!r.is_error, "the tool reported an error: {:?}", r.raw);
    }
    let after = gw.stats();
    let gateway_mean =
        (after.tool_call_handling_us - before.tool_call_handling_us) as f64 / calls as f64;

    // The same through the tool-invoker handler (its deps' client is warm
    // after one call).
    let invoke = |i: usize, prefix: &'static str| {
        let key = format!("{prefix}-{i}");
        InvokerInput {
            action_intent_id: format!("ov-{key}"),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: format!("trace-{key}"),
            attempt_count: 1,
            idempotency_key: key.clone(),
            tool_name: "crm.create_task".into(),
            tool_arguments: arguments(&key),
        }
    };
    for i in 0..5 {
        dispatch(
            Handler::ToolInvoker,
            &system.deps,
            serde_json::to_value(invoke(i, "invoker-warm"))?,
        )
        .await?;
    }
    let before_inv = gw.stats();
    let mut invoker_us = Vec::with_capacity(calls);
    let mut invoker_overhead = Vec::with_capacity(calls);
    for i in 0..calls {
        let input = serde_json::to_value(invoke(i, "invoker"))?;
        let handled_before = gw.stats().tool_call_handling_us;
        let started = Instant::now();
        let out = dispatch(Handler::ToolInvoker, &system.deps, input).await?;
        let took = started.elapsed().as_secs_f64() * 1e6;
        let handled = (gw.stats().tool_call_handling_us - handled_before) as f64;
        invoker_us.push(took);
        invoker_overhead.push(took - handled);
        if out["success"] != true || out["deduplicated"] != false {
            bail!("the invoker did not call the tool: {out}");
        }
    }
    let after_inv = gw.stats();
    let inv_gateway_mean =
        (after_inv.tool_call_handling_us - before_inv.tool_call_handling_us) as f64 / calls as f64;
    let client_call_us = summarize(&client_us);
    let invoker_handler_us = summarize(&invoker_us);
    Ok(ToolOverhead {
        calls,
        client_overhead_us_mean: client_call_us.mean - gateway_mean,
        client_call_us,
        gateway_handling_us_mean: gateway_mean,
        invoker_overhead_us_mean: invoker_handler_us.mean - inv_gateway_mean,
        invoker_handler_us,
        invoker_gateway_handling_us_mean: inv_gateway_mean,
        client_overhead_us: summarize(&client_overhead),
        invoker_overhead_us: summarize(&invoker_overhead),
        token_requests_during: (after.token_requests - before.token_requests)
            + (after_inv.token_requests - before_inv.token_requests),
        initializations_during: (after.initializations - before.initializations)
            + (after_inv.initializations - before_inv.initializations),
    })
}
