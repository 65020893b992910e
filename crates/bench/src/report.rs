//! What a run produces: `bench/results.json`, the table printed on stdout, and
//! the generated block of BENCHMARKS.md (between the `bench:results` markers),
//! with a before/after comparison against `bench/baseline.json` when present.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cold_start::ColdStart;
use crate::cost::{ExecutionCost, MODELLED_ROUND_TRIP_MS, Prices};
use crate::overhead::ToolOverhead;
use crate::throughput::Throughput;

pub const BEGIN: &str = "<!-- bench:results:begin -->";
pub const END: &str = "<!-- bench:results:end -->";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub os: String,
    pub arch: String,
    /// The cargo profile the binaries and the harness were built with.
    pub profile: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub machine: Machine,
    pub cold_start: Vec<ColdStart>,
    pub cost: Vec<ExecutionCost>,
    pub prices: Prices,
    pub modelled_round_trip_ms: f64,
    pub throughput: Vec<Throughput>,
    pub tool_overhead: Option<ToolOverhead>,
}

impl Machine {
    pub fn here(profile: &str) -> Machine {
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            profile: profile.into(),
        }
    }
}

fn money(v: f64) -> String {
    format!("${v:.2}")
}

/// The plain-text table `make bench` prints.
pub fn table(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cold start (spawn -> first response, median of runs)");
    let _ = writeln!(
        s,
        "  {:<18} {:>9} {:>9} {:>10} {:>10}",
        "function", "median ms", "p99 ms", "peak MiB", "binary MiB"
    );
    for c in &r.cold_start {
        let _ = writeln!(
            s,
            "  {:<18} {:>9.1} {:>9.1} {:>10.1} {:>10.1}",
            c.function,
            c.time_to_first_response_ms.median,
            c.time_to_first_response_ms.p99,
            c.peak_rss_mib.median,
            c.binary_bytes as f64 / 1048576.0
        );
    }
    let _ = writeln!(
        s,
        "\ncost per execution ({} prices of {})",
        r.prices.region, r.prices.price_list_date
    );
    let _ = writeln!(
        s,
        "  {:<17} {:>6} {:>6} {:>6} {:>4} {:>5} {:>5} {:>6} {:>7} {:>10}",
        "scenario", "states", "lambda", "reads", "wr", "txn", "RRU", "WRU", "bytes", "$/1M exec"
    );
    for c in &r.cost {
        let _ = writeln!(
            s,
            "  {:<17} {:>6} {:>6} {:>6} {:>4} {:>5} {:>5} {:>6} {:>7} {:>10}",
            c.scenario,
            c.state_transitions,
            c.lambda_invocations,
            c.store_reads,
            c.store_writes,
            c.store_transactions,
            c.read_request_units,
            c.write_request_units,
            c.bytes_between_states,
            money(c.per_million.total)
        );
    }
    let _ = writeln!(s, "\nembedded engine throughput (dev gateway on loopback)");
    let _ = writeln!(
        s,
        "  {:>11} {:>6} {:>8} {:>8} {:>8} {:>13}",
        "concurrency", "execs", "exec/s", "p50 ms", "p99 ms", "outside tool"
    );
    for t in &r.throughput {
        let _ = writeln!(
            s,
            "  {:>11} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>12.0}%",
            t.concurrency,
            t.executions,
            t.executions_per_second,
            t.latency_ms.median,
            t.latency_ms.p99,
            t.outside_tool_share * 100.0
        );
    }
    if let Some(o) = &r.tool_overhead {
        let _ = writeln!(
            s,
            "\ntool call overhead ({} warm calls): client {:.0} us mean, gateway {:.0} us, \
             client overhead {:.0} us; invoker handler {:.0} us, overhead {:.0} us",
            o.calls,
            o.client_call_us.mean,
            o.gateway_handling_us_mean,
            o.client_overhead_us_mean,
            o.invoker_handler_us.mean,
            o.invoker_overhead_us_mean
        );
    }
    s
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.pointer(path)
}

fn baseline_cost<'a>(b: &'a Value, scenario: &str) -> Option<&'a Value> {
    at(b, "/cost")?
        .as_array()?
        .iter()
        .find(|c| c["scenario"] == scenario)
}

fn before_after(before: Option<f64>, after: f64, digits: usize) -> String {
    match before {
        Some(b) if (b - after).abs() > f64::EPSILON => {
            format!("{b:.digits$} → **{after:.digits$}**")
        }
        _ => format!("{after:.digits$}"),
    }
}

/// The generated block of BENCHMARKS.md.
pub fn markdown(r: &Results, baseline: Option<&Value>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "_Generated by `make bench` on {} ({} CPUs, {}/{}, profile `{}`). \
         Where a baseline exists (`bench/baseline.json`, the run before the optimisations), \
         cells read `before → **after**`._\n",
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        r.machine.cpus,
        r.machine.os,
        r.machine.arch,
        r.machine.profile
    );
    let b = baseline;

    let _ = writeln!(s, "### Cold start\n");
    let _ = writeln!(
        s,
        "| function | runs | median ms | min ms | p99 ms | peak RSS MiB (median) | binary MiB |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for c in &r.cold_start {
        let prev = b.and_then(|b| {
            at(b, "/cold_start")?
                .as_array()?
                .iter()
                .find(|x| x["function"] == c.function.as_str())
                .and_then(|x| x["time_to_first_response_ms"]["median"].as_f64())
        });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            c.function,
            c.runs,
            before_after(prev, c.time_to_first_response_ms.median, 1),
            c.time_to_first_response_ms.min,
            c.time_to_first_response_ms.p99,
            c.peak_rss_mib.median,
            c.binary_bytes as f64 / 1048576.0
        );
    }

    let _ = writeln!(s, "\n### Cost per execution\n");
    let _ = writeln!(
        s,
        "| | {} |\n|---|{}",
        r.cost
            .iter()
            .map(|c| format!("{} ({})", c.scenario, c.status))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(r.cost.len())
    );
    type Cell = fn(&ExecutionCost) -> f64;
    let rows: [(&str, &str, Cell, usize); 17] = [
        (
            "state transitions",
            "/state_transitions",
            |c| c.state_transitions as f64,
            0,
        ),
        (
            "Lambda invocations",
            "/lambda_invocations",
            |c| c.lambda_invocations as f64,
            0,
        ),
        ("store reads", "/store_reads", |c| c.store_reads as f64, 0),
        (
            "store writes",
            "/store_writes",
            |c| c.store_writes as f64,
            0,
        ),
        (
            "store transactions",
            "/store_transactions",
            |c| c.store_transactions as f64,
            0,
        ),
        (
            "store round trips",
            "/store_round_trips",
            |c| c.store_round_trips as f64,
            0,
        ),
        (
            "read request units",
            "/read_request_units",
            |c| c.read_request_units,
            0,
        ),
        (
            "write request units",
            "/write_request_units",
            |c| c.write_request_units,
            0,
        ),
        (
            "events (PutEvents)",
            "/events_published",
            |c| c.events_published as f64,
            0,
        ),
        ("S3 PUTs", "/s3_puts", |c| c.s3_puts as f64, 0),
        (
            "bytes between states",
            "/bytes_between_states",
            |c| c.bytes_between_states as f64,
            0,
        ),
        (
            "largest state, bytes",
            "/max_state_bytes",
            |c| c.max_state_bytes as f64,
            0,
        ),
        (
            "Lambda GB-s, measured",
            "/lambda_gb_seconds_measured",
            |c| c.lambda_gb_seconds_measured,
            4,
        ),
        (
            "Lambda GB-s, modelled",
            "/lambda_gb_seconds_modelled",
            |c| c.lambda_gb_seconds_modelled,
            4,
        ),
        (
            "$ DynamoDB / 1M",
            "/per_million/dynamodb",
            |c| c.per_million.dynamodb,
            2,
        ),
        (
            "$ Step Functions / 1M",
            "/per_million/step_functions",
            |c| c.per_million.step_functions,
            2,
        ),
        (
            "$ Lambda (req + GB-s modelled) / 1M",
            "",
            |c| c.per_million.lambda_requests + c.per_million.lambda_duration_modelled,
            2,
        ),
    ];
    for (label, path, get, digits) in rows {
        let cells: Vec<String> = r
            .cost
            .iter()
            .map(|c| {
                let prev = b
                    .and_then(|b| baseline_cost(b, &c.scenario))
                    .and_then(|bc| {
                        if path.is_empty() {
                            Some(
                                bc.pointer("/per_million/lambda_requests")?.as_f64()?
                                    + bc.pointer("/per_million/lambda_duration_modelled")?
                                        .as_f64()?,
                            )
                        } else {
                            bc.pointer(path)?.as_f64()
                        }
                    });
                before_after(prev, get(c), digits)
            })
            .collect();
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }
    let extra: [(&str, Cell); 2] = [
        ("$ EventBridge + S3 / 1M", |c| {
            c.per_million.eventbridge + c.per_million.s3
        }),
        ("**$ total / 1M executions**", |c| c.per_million.total),
    ];
    for (label, get) in extra {
        let cells: Vec<String> = r
            .cost
            .iter()
            .map(|c| {
                let prev = b
                    .and_then(|b| baseline_cost(b, &c.scenario))
                    .and_then(|bc| {
                        if label.contains("total") {
                            bc.pointer("/per_million/total")?.as_f64()
                        } else {
                            Some(
                                bc.pointer("/per_million/eventbridge")?.as_f64()?
                                    + bc.pointer("/per_million/s3")?.as_f64()?,
                            )
                        }
                    });
                before_after(prev, get(c), 2)
            })
            .collect();
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\nPrices: {} ({}, price list of {}). Modelled Lambda time adds {MODELLED_ROUND_TRIP_MS} ms per \
         store/S3/EventBridge round trip to the measured in-process time.\n",
        r.prices.source, r.prices.region, r.prices.price_list_date
    );
    if let Some(success) = r.cost.iter().find(|c| c.scenario == "success") {
        let _ = writeln!(
            s,
            "Store calls of the successful execution, by operation:\n"
        );
        let _ = writeln!(
            s,
            "| operation | calls | items | bytes | RRU | WRU |\n|---|---:|---:|---:|---:|---:|"
        );
        for (op, t) in &success.store_ops {
            let _ = writeln!(
                s,
                "| `{op}` | {} | {} | {} | {} | {} |",
                t.calls, t.items, t.bytes, t.read_request_units, t.write_request_units
            );
        }
        if let Some(ops) = b
            .and_then(|b| baseline_cost(b, "success"))
            .and_then(|c| c.get("store_ops")?.as_object())
        {
            let list: Vec<String> = ops
                .iter()
                .map(|(op, t)| format!("`{op}` ×{}", t["calls"]))
                .collect();
            let _ = writeln!(s, "\nBaseline, for comparison: {}.", list.join(", "));
        }
        let _ = writeln!(s, "\nPer function (successful execution):\n");
        let _ = writeln!(
            s,
            "| function | invocations | input bytes | output bytes | ms (in process) | round trips |\n|---|---:|---:|---:|---:|---:|"
        );
        for (f, t) in &success.functions {
            let _ = writeln!(
                s,
                "| {f} | {} | {} | {} | {:.2} | {} |",
                t.invocations, t.input_bytes, t.output_bytes, t.duration_ms, t.round_trips
            );
        }
    }

    let _ = writeln!(s, "\n### Throughput of the embedded engine\n");
    let _ = writeln!(
        s,
        "| concurrency | executions | exec/s | p50 ms | p99 ms | InvokeTool share | MCP call share | outside the tool call |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for t in &r.throughput {
        let prev = |field: &str| {
            b.and_then(|b| {
                at(b, "/throughput")?
                    .as_array()?
                    .iter()
                    .find(|x| x["concurrency"] == t.concurrency)
                    .and_then(|x| x.pointer(field)?.as_f64())
            })
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.0}% | {:.0}% | {:.0}% |",
            t.concurrency,
            t.executions,
            before_after(prev("/executions_per_second"), t.executions_per_second, 1),
            before_after(prev("/latency_ms/median"), t.latency_ms.median, 1),
            before_after(prev("/latency_ms/p99"), t.latency_ms.p99, 1),
            t.invoke_tool_share * 100.0,
            t.mcp_call_share * 100.0,
            t.outside_tool_share * 100.0
        );
    }

    if let Some(o) = &r.tool_overhead {
        let prev =
            |field: &str| b.and_then(|b| b.pointer(&format!("/tool_overhead{field}"))?.as_f64());
        let _ = writeln!(s, "\n### Tool invocation overhead\n");
        let _ = writeln!(
            s,
            "{} sequential `crm.create_task` calls each, token cached and session warm \
             ({} token requests and {} MCP initialisations during the measured calls).\n",
            o.calls, o.token_requests_during, o.initializations_during
        );
        let _ = writeln!(s, "| | mean µs | p50 µs | p99 µs |\n|---|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| MCP client `call_tool` | {} | {:.0} | {:.0} |",
            before_after(prev("/client_call_us/mean"), o.client_call_us.mean, 0),
            o.client_call_us.median,
            o.client_call_us.p99
        );
        let _ = writeln!(
            s,
            "| gateway's own handling (reported) | {:.0} | | |",
            o.gateway_handling_us_mean
        );
        let _ = writeln!(
            s,
            "| **client overhead** (client − gateway) | {} | | |",
            before_after(
                prev("/client_overhead_us_mean"),
                o.client_overhead_us_mean,
                0
            )
        );
        let _ = writeln!(
            s,
            "| tool-invoker handler (dedupe read + call + dedupe write) | {} | {:.0} | {:.0} |",
            before_after(
                prev("/invoker_handler_us/mean"),
                o.invoker_handler_us.mean,
                0
            ),
            o.invoker_handler_us.median,
            o.invoker_handler_us.p99
        );
        let _ = writeln!(
            s,
            "| **invoker overhead** (handler − gateway) | {} | | |",
            before_after(
                prev("/invoker_overhead_us_mean"),
                o.invoker_overhead_us_mean,
                0
            )
        );
    }
    s
}

/// Replace the generated block of `path` (kept between [`BEGIN`] and [`END`]).
pub fn update_markdown(path: &Path, block: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (Some(a), Some(z)) = (text.find(BEGIN), text.find(END)) else {
        anyhow::bail!("{} has no {BEGIN} ... {END} block", path.display());
    };
    let updated = format!("{}{BEGIN}\n{block}{}", &text[..a], &text[z..]);
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}
