//! The result of a chaos run: a table for people, JSON for `bench/chaos.json`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use ccx_core::handlers::Handler;
use ccx_gateway::StatsSnapshot;
use serde::Serialize;
use serde_json::{Value, json};

use super::ChaosOptions;
use super::checks::{Check, Tally, Verdict};
use super::crash::CrashPoint;
use super::driver::DriveTotals;
use super::scenario::IntentPlan;

#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    pub run_id: String,
    pub options: Value,
    pub load: Value,
    pub gateway: StatsSnapshot,
    /// `"<handler> <before|after>"` -> crashes injected.
    pub crashes: BTreeMap<String, u64>,
    pub tally: Tally,
    pub checks: Vec<Check>,
    pub passed: bool,
}

impl ChaosReport {
    pub fn new(
        options: &ChaosOptions,
        run_id: &str,
        driven: &[IntentPlan],
        totals: DriveTotals,
        verdict: Verdict,
        crashes: HashMap<(Handler, CrashPoint), u64>,
        gateway: StatsSnapshot,
    ) -> Self {
        let secs = totals.elapsed.as_secs_f64();
        let concurrent = driven.iter().filter(|p| p.concurrent).count();
        let duplicated = driven.iter().filter(|p| p.copies > 1).count();
        let mut checks = verdict.checks;
        checks.push(Check {
            name: "every execution ended or was redriven to its end",
            checked: totals.executions,
            violations: totals.unresolved + totals.refused,
            examples: vec![],
        });
        let passed = checks.iter().all(Check::passed);
        ChaosReport {
            run_id: run_id.into(),
            options: json!({
                "intents": options.intents,
                "seed": options.seed,
                "concurrency": options.concurrency,
                "max_duration_s": options.max_duration.as_secs(),
                "delay_scale": options.delay_scale,
                "tool_timeout_ms": options.tool_timeout.as_millis() as u64,
                "faults": options.faults,
            }),
            load: json!({
                "intents_driven": totals.intents,
                "intents_skipped_for_time": totals.intents_skipped_for_time,
                "intents_with_duplicates": duplicated,
                "intents_with_concurrent_duplicates": concurrent,
                "events_published": totals.events_published,
                "executions": totals.executions,
                "duplicate_starts_ignored": totals.duplicates_ignored,
                "redrives": totals.redrives,
                "unresolved_executions": totals.unresolved,
                "events_refused": totals.refused,
                "elapsed_s": (secs * 10.0).round() / 10.0,
                "executions_per_s": if secs > 0.0 { (totals.executions as f64 / secs).round() } else { 0.0 },
            }),
            gateway,
            crashes: crashes
                .into_iter()
                .map(|((h, p), n)| (format!("{h} {}", p.as_str()), n))
                .collect(),
            tally: verdict.tally,
            checks,
            passed,
        }
    }

    /// The table `ccx chaos` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let l = &self.load;
        let _ = writeln!(
            out,
            "chaos run {}: {} intents, {} events ({} intents duplicated, {} raced), {} executions in {} s",
            self.run_id,
            l["intents_driven"],
            l["events_published"],
            l["intents_with_duplicates"],
            l["intents_with_concurrent_duplicates"],
            l["executions"],
            l["elapsed_s"]
        );
        let _ = writeln!(
            out,
            "gateway: {} tool calls, {} faults injected; crashes injected: {}; redrives: {}; duplicate starts ignored: {}",
            self.gateway.tool_calls,
            self.gateway.faults_injected,
            self.crashes.values().sum::<u64>(),
            l["redrives"],
            l["duplicate_starts_ignored"]
        );
        let mut by_handler: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (key, n) in &self.crashes {
            if let Some((handler, point)) = key.rsplit_once(' ') {
                let slot = by_handler.entry(handler).or_default();
                match point {
                    "before" => slot.0 += n,
                    _ => slot.1 += n,
                }
            }
        }
        let _ = writeln!(
            out,
            "crashes before/after the handler ran: {}",
            by_handler
                .iter()
                .map(|(h, (b, a))| format!("{h} {b}/{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let t = &self.tally;
        let _ = writeln!(
            out,
            "outcomes: {} SUCCEEDED, {} FAILED; external creates {}, live {}, compensated {}, left for manual undo {}; ledger entries {}",
            t.succeeded,
            t.failed,
            t.external_creates,
            t.live_objects,
            t.compensated_objects,
            t.live_objects_awaiting_manual_undo,
            t.ledger_entries
        );
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(10);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| {:<width$} | {:>8} | {:>10} | result |",
            "check", "checked", "violations"
        );
        let _ = writeln!(
            out,
            "|{}|{}|{}|--------|",
            "-".repeat(width + 2),
            "-".repeat(10),
            "-".repeat(12)
        );
        for c in &self.checks {
            let _ = writeln!(
                out,
                "| {:<width$} | {:>8} | {:>10} | {} |",
                c.name,
                c.checked,
                c.violations,
                if c.passed() { "PASS  " } else { "FAIL  " }
            );
        }
        for c in self.checks.iter().filter(|c| !c.passed()) {
            for e in &c.examples {
                let _ = writeln!(out, "  {}: {e}", c.name);
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            if self.passed {
                "chaos: every check passed"
            } else {
                "chaos: CHECKS FAILED"
            }
        );
        out
    }
}
