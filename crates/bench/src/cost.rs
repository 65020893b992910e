//! Cost per execution: what one real run through the engine counted
//! ([`crate::metering`]), priced with AWS's published prices (`bench/prices.json`,
//! which states the region and the date of the price list).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use ccx_local::engine::{EventDetail, Execution};
use serde::{Deserialize, Serialize};

use crate::metering::{OpTotals, Snapshot};

/// The price list, checked in next to the results so a reader sees what was used.
pub const PRICES_JSON: &str = include_str!("../../../bench/prices.json");

/// On AWS every DynamoDB, S3 and EventBridge call is a network round trip that
/// the Lambda is billed for while it waits. The modelled duration adds this
/// much per call to the measured in-process time (a same-region DynamoDB
/// GetItem/PutItem typically takes single-digit milliseconds).
pub const MODELLED_ROUND_TRIP_MS: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub region: String,
    pub price_list_date: String,
    pub source: String,
    pub dynamodb_on_demand_per_million_write_request_units: f64,
    pub dynamodb_on_demand_per_million_read_request_units: f64,
    pub step_functions_standard_per_thousand_state_transitions: f64,
    pub lambda_per_million_requests: f64,
    pub lambda_arm64_per_gb_second: f64,
    pub eventbridge_per_million_put_events: f64,
    pub s3_standard_per_thousand_put_requests: f64,
    pub s3_standard_per_thousand_get_requests: f64,
}

pub fn prices() -> Result<Prices> {
    serde_json::from_str(PRICES_JSON).context("bench/prices.json is not a price list")
}

/// Memory of each function as deployed (`ccx-infra`), in MB.
pub fn memory_mb() -> BTreeMap<String, u32> {
    ccx_infra::functions()
        .into_iter()
        .map(|f| (f.handler.name().to_string(), f.memory_mb))
        .collect()
}

/// Dollars per million executions, by service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dollars {
    pub dynamodb: f64,
    pub step_functions: f64,
    pub lambda_requests: f64,
    /// GB-s at the deployed memory sizes for the measured (in-process) durations.
    pub lambda_duration_measured: f64,
    /// GB-s with [`MODELLED_ROUND_TRIP_MS`] added per store/S3/EventBridge call.
    pub lambda_duration_modelled: f64,
    pub eventbridge: f64,
    pub s3: f64,
    /// Everything, with the modelled Lambda duration.
    pub total: f64,
}

/// One execution, counted and priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionCost {
    pub scenario: String,
    pub status: String,
    pub state_path: Vec<String>,
    /// Step Functions Standard bills each state entered (and each retry).
    pub state_transitions: u64,
    pub lambda_invocations: u64,
    pub store_reads: u64,
    pub store_writes: u64,
    pub store_transactions: u64,
    /// Reads + writes + transactions: DynamoDB requests (network round trips).
    pub store_round_trips: u64,
    pub read_request_units: f64,
    pub write_request_units: f64,
    pub events_published: u64,
    pub s3_puts: u64,
    pub mcp_calls: u64,
    /// JSON bytes of every task's input and output (what crosses the state boundary).
    pub bytes_between_states: u64,
    /// The largest state any state entered with (Step Functions caps it at 256 KiB).
    pub max_state_bytes: u64,
    pub lambda_gb_seconds_measured: f64,
    pub lambda_gb_seconds_modelled: f64,
    pub store_ops: BTreeMap<String, OpTotals>,
    /// Per function: invocations, payload bytes, measured time, round trips.
    pub functions: BTreeMap<String, FunctionCost>,
    pub per_million: Dollars,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCost {
    pub invocations: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub duration_ms: f64,
    pub round_trips: u64,
}

fn json_len(v: &serde_json::Value) -> u64 {
    serde_json::to_vec(v).map(|b| b.len() as u64).unwrap_or(0)
}

/// Count and price one finished execution from what the meter saw during it.
pub fn execution_cost(
    scenario: &str,
    execution: &Execution,
    seen: &Snapshot,
    prices: &Prices,
) -> ExecutionCost {
    let mut transitions = 0u64;
    let mut max_state = 0u64;
    for e in &execution.history {
        match &e.detail {
            EventDetail::StateEntered { input, .. } => {
                transitions += 1;
                max_state = max_state.max(json_len(input));
            }
            EventDetail::RetryScheduled { .. } => transitions += 1,
            _ => {}
        }
    }
    let memory = memory_mb();
    let mut gb_s_measured = 0.0;
    let mut gb_s_modelled = 0.0;
    let mut bytes = 0;
    for (function, t) in &seen.lambda {
        let gb = f64::from(*memory.get(function).unwrap_or(&256)) / 1024.0;
        gb_s_measured += gb * t.billed_ms as f64 / 1000.0;
        let extra_ms = t.round_trips as f64 * MODELLED_ROUND_TRIP_MS;
        gb_s_modelled += gb * (t.billed_ms as f64 + extra_ms) / 1000.0;
        bytes += t.input_bytes + t.output_bytes;
    }
    let m = 1_000_000.0;
    let mut d = Dollars {
        dynamodb: seen.read_request_units
            * prices.dynamodb_on_demand_per_million_read_request_units
            + seen.write_request_units * prices.dynamodb_on_demand_per_million_write_request_units,
        step_functions: transitions as f64
            * prices.step_functions_standard_per_thousand_state_transitions
            * 1000.0,
        lambda_requests: seen.lambda_invocations as f64 * prices.lambda_per_million_requests,
        lambda_duration_measured: gb_s_measured * prices.lambda_arm64_per_gb_second * m,
        lambda_duration_modelled: gb_s_modelled * prices.lambda_arm64_per_gb_second * m,
        eventbridge: seen.event_billing_units as f64 * prices.eventbridge_per_million_put_events,
        s3: seen.artifact_puts as f64 * prices.s3_standard_per_thousand_put_requests * 1000.0
            + seen.artifact_gets as f64 * prices.s3_standard_per_thousand_get_requests * 1000.0,
        total: 0.0,
    };
    d.total = d.dynamodb
        + d.step_functions
        + d.lambda_requests
        + d.lambda_duration_modelled
        + d.eventbridge
        + d.s3;
    ExecutionCost {
        scenario: scenario.to_string(),
        status: execution.status.as_str().to_string(),
        state_path: execution.state_path(),
        state_transitions: transitions,
        lambda_invocations: seen.lambda_invocations,
        store_reads: seen.store_reads,
        store_writes: seen.store_writes,
        store_transactions: seen.store_transactions,
        store_round_trips: seen.store_reads + seen.store_writes + seen.store_transactions,
        read_request_units: seen.read_request_units,
        write_request_units: seen.write_request_units,
        events_published: seen.events_published,
        s3_puts: seen.artifact_puts,
        mcp_calls: seen.mcp_calls,
        bytes_between_states: bytes,
        max_state_bytes: max_state,
        lambda_gb_seconds_measured: gb_s_measured,
        lambda_gb_seconds_modelled: gb_s_modelled,
        store_ops: seen.store_ops.clone(),
        functions: seen
            .lambda
            .iter()
            .map(|(f, t)| {
                (
                    f.clone(),
                    FunctionCost {
                        invocations: t.invocations,
                        input_bytes: t.input_bytes,
                        output_bytes: t.output_bytes,
                        duration_ms: t.duration.as_secs_f64() * 1000.0,
                        round_trips: t.round_trips,
                    },
                )
            })
            .collect(),
        per_million: d,
    }
}

/// The scenarios priced: one successful execution and two failed ones (a tool
/// that reports failure, and an intent refused by the preflight).
pub async fn measure(
    system: &crate::harness::BenchSystem,
    prices: &Prices,
) -> Result<Vec<ExecutionCost>> {
    use ccx_local::engine::ExecutionStatus;

    // Warm-up: the MCP client fetches its token and opens its session once per
    // process (cold-start work), not per execution.
    system.add_intent("cost-warmup").await?;
    system.run("cost-warmup").await?;

    let mut out = Vec::new();
    let scenarios: [(&str, ExecutionStatus); 3] = [
        ("success", ExecutionStatus::Succeeded),
        ("tool_failed", ExecutionStatus::Failed),
        ("preflight_failed", ExecutionStatus::Failed),
    ];
    for (scenario, expected) in scenarios {
        let id = format!("cost-{scenario}");
        let mut intent = crate::harness::bench_intent(&id);
        match scenario {
            "tool_failed" => system
                .gateway
                .script_faults(ccx_gateway::Fault::ToolError, 1),
            "preflight_failed" => {
                intent.expires_at = chrono::Utc::now() - chrono::Duration::hours(1)
            }
            _ => {}
        }
        ccx_core::ports::Store::put_intent(system.raw_store.as_ref(), &intent).await?;
        system.meter.reset();
        let (execution, _) = system.run(&id).await?;
        anyhow::ensure!(
            execution.status == expected,
            "{scenario}: expected {}, ended {} via {:?}",
            expected.as_str(),
            execution.status.as_str(),
            execution.state_path()
        );
        out.push(execution_cost(
            scenario,
            &execution,
            &system.meter.snapshot(),
            prices,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_list_parses_and_states_its_date() {
        let p = prices().unwrap();
        assert_eq!(p.region, "us-east-1");
        assert!(p.price_list_date.len() == 10, "{}", p.price_list_date);
        assert!(p.dynamodb_on_demand_per_million_write_request_units > 0.0);
    }

    #[test]
    fn deployed_memory_covers_the_seven_functions() {
        let m = memory_mb();
        assert_eq!(m.len(), 7);
        assert_eq!(m["tool-invoker"], 512);
        assert_eq!(m["starter"], 256);
    }
}
