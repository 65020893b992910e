//! Smoke tests of the benchmark harness, on tiny inputs, so `make test`
//! compiles and exercises it. They assert what was counted and recorded, never
//! how long anything took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ccx_bench::cold_start::{cold_start_once, prepare_event};
use ccx_bench::harness::{ACCOUNT, BenchSystem, TENANT};
use ccx_bench::report::{self, Machine, Results};
use ccx_bench::{cost, overhead, plot, throughput};
use ccx_core::contracts::OutcomeStatus;
use ccx_core::handlers::{Handler, dispatch};
use ccx_core::ports::Store;
use ccx_core::store::embedded_deps;

async fn system() -> (tempfile::TempDir, Arc<BenchSystem>) {
    let dir = tempfile::tempdir().unwrap();
    let system = BenchSystem::start(&dir.path().join("data")).await.unwrap();
    (dir, Arc::new(system))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_counts_the_ports_of_a_real_run() {
    let (_dir, system) = system().await;
    let prices = cost::prices().unwrap();
    let costs = cost::measure(&system, &prices).await.unwrap();
    let by = |s: &str| costs.iter().find(|c| c.scenario == s).unwrap();

    let ok = by("success");
    assert_eq!(ok.status, "SUCCEEDED");
    assert_eq!(ok.state_transitions as usize, ok.state_path.len());
    for state in ["StartExecution", "InvokeTool", "RecordOutcome"] {
        assert!(
            ok.state_path.iter().any(|s| s == state),
            "{:?}",
            ok.state_path
        );
    }
    // The five task states are the Lambda invocations; one tool call; the
    // recorder's one transaction.
    assert_eq!(ok.lambda_invocations, 5);
    assert_eq!(ok.functions.len(), 5);
    assert_eq!(ok.mcp_calls, 1);
    assert_eq!(ok.store_transactions, 1);
    assert_eq!(ok.store_ops["record_terminal"].calls, 1);
    assert_eq!(ok.store_ops["create_attempt"].calls, 1);
    assert_eq!(
        ok.store_round_trips,
        ok.store_ops.values().map(|t| t.calls).sum::<u64>()
    );
    assert!(ok.read_request_units >= ok.store_reads as f64);
    assert!(ok.write_request_units >= ok.store_writes as f64 + 2.0);
    assert_eq!(
        ok.events_published, 2,
        "EXECUTION_STARTED and ACTION_EXECUTED"
    );
    assert!(ok.bytes_between_states > 0 && ok.max_state_bytes > 0);
    // Each function's round trips are what the meter attributed to it.
    let attributed: u64 = ok.functions.values().map(|f| f.round_trips).sum();
    assert_eq!(
        attributed,
        ok.store_round_trips + ok.events_published + ok.s3_puts
    );
    assert!(ok.per_million.total > ok.per_million.step_functions);

    // What was counted is what happened: the outcome is in the store.
    let outcome = system
        .raw_store
        .get_outcome(TENANT, ACCOUNT, "cost-success")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Succeeded);

    let tool = by("tool_failed");
    assert_eq!(tool.status, "FAILED");
    assert!(tool.state_path.iter().any(|s| s == "RecordOutcome"));
    assert_eq!(tool.mcp_calls, 1);
    assert!(
        !tool.store_ops.contains_key("put_dedupe"),
        "no dedupe record for a failed tool"
    );

    let pre = by("preflight_failed");
    assert!(pre.state_path.iter().any(|s| s == "RecordFailure"));
    assert_eq!(pre.mcp_calls, 0);
    assert!(pre.lambda_invocations < ok.lambda_invocations);
    let failed = system
        .raw_store
        .get_outcome(TENANT, ACCOUNT, "cost-preflight_failed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.error_code.as_deref(), Some("INTENT_EXPIRED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_and_overhead_run_every_execution_to_its_outcome() {
    let (_dir, system) = system().await;
    let t = throughput::measure(&system, 3, 6, "smoke").await.unwrap();
    assert_eq!((t.concurrency, t.executions, t.latency_ms.n), (3, 6, 6));
    assert!(t.invoke_tool_share > 0.0 && t.invoke_tool_share < 1.0);
    assert!((t.outside_tool_share + t.invoke_tool_share - 1.0).abs() < 1e-9);
    for i in 0..6 {
        let o = system
            .raw_store
            .get_outcome(TENANT, ACCOUNT, &format!("smoke-c3-{i}"))
            .await
            .unwrap()
            .expect("outcome recorded");
        assert_eq!(o.status, OutcomeStatus::Succeeded);
    }

    let calls_before = system.gateway.stats().tool_calls;
    let o = overhead::measure(&system, 4).await.unwrap();
    assert_eq!(o.calls, 4);
    assert_eq!(o.token_requests_during, 0, "token cached");
    assert_eq!(o.initializations_during, 0, "session warm");
    assert!(o.gateway_handling_us_mean > 0.0);
    // 5 warm-up + 4 measured, through the client and through the invoker.
    assert_eq!(system.gateway.stats().tool_calls - calls_before, 18);
    assert_eq!(
        system.gateway.store().writes_for_key("invoker-3").unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cold_start_event_does_real_work() {
    let (_dir, system) = system().await;
    for handler in Handler::ALL {
        let dir = tempfile::tempdir().unwrap();
        let id = format!("smoke-{}", handler.name());
        let event = prepare_event(handler, dir.path(), &system.gateway, &id)
            .await
            .unwrap();
        let deps = embedded_deps(
            dir.path(),
            ccx_bench::harness::gateway_client(&system.gateway).unwrap(),
        )
        .unwrap();
        let out = dispatch(handler, &deps, event)
            .await
            .unwrap_or_else(|e| panic!("{handler}: {e:?}"));
        match handler {
            Handler::Recorder | Handler::FailureRecorder => assert_eq!(out["written"], true),
            Handler::ToolInvoker => assert_eq!(out["success"], true),
            Handler::Compensation => assert_eq!(out["status"], "COMPLETED"),
            Handler::Validator => assert_eq!(out["valid"], true),
            _ => {}
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_cold_starts_against_the_mock_runtime() {
    // The binary of this test's profile, built first (cargo test does not
    // build other packages' executables).
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "validator"])
        .status()
        .unwrap();
    assert!(status.success());
    let (_dir, system) = system().await;
    let (took, rss_kib) = cold_start_once(
        &profile_dir.join("validator"),
        Handler::Validator,
        &system.gateway,
        0,
    )
    .await
    .unwrap();
    assert!(took.as_nanos() > 0);
    assert!(rss_kib > 0, "peak RSS read from /proc");
}

#[test]
fn the_report_replaces_its_block_and_the_plot_is_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("B.md");
    std::fs::write(
        &md,
        format!(
            "# Title\n\nhand-written\n\n{}\nold\n{}\nafter\n",
            report::BEGIN,
            report::END
        ),
    )
    .unwrap();
    let results = Results {
        generated_at: chrono::Utc::now(),
        machine: Machine::here("test"),
        cold_start: vec![],
        cost: vec![],
        prices: cost::prices().unwrap(),
        modelled_round_trip_ms: cost::MODELLED_ROUND_TRIP_MS,
        throughput: vec![],
        tool_overhead: None,
    };
    report::update_markdown(&md, &report::markdown(&results, None)).unwrap();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# Title\n\nhand-written\n"));
    assert!(!text.contains("\nold\n"));
    assert!(
        text.contains("### Cold start") && text.ends_with(&format!("{}\nafter\n", report::END))
    );
    assert!(text.contains(&results.prices.price_list_date));

    let png = dir.path().join("p.png");
    plot::draw(&results, &png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}
