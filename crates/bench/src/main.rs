//! `ccx-bench`: runs every benchmark, writes `bench/results.json`, prints the
//! table, refreshes the generated block of BENCHMARKS.md and draws the PNG.
//! `make bench` builds the binaries with the `bench-release` profile first.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use ccx_bench::harness::BenchSystem;
use ccx_bench::report::{Machine, Results};
use ccx_bench::{cold_start, cost, merge, overhead, plot, report, throughput};
use ccx_core::handlers::Handler;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks of the execution layer (see BENCHMARKS.md)")]
struct Args {
    /// Folder of the seven handler binaries.
    #[arg(long, default_value = "target/bench-build/bench-release")]
    bin_dir: PathBuf,
    /// Cargo profile the binaries were built with (reported only).
    #[arg(long, default_value = "bench-release")]
    profile: String,
    /// Cold starts per binary.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// Executions per concurrency level: `concurrency * this`, at least `--min-executions`.
    #[arg(long, default_value_t = 6)]
    executions_per_slot: usize,
    #[arg(long, default_value_t = 100)]
    min_executions: usize,
    /// Warm tool calls measured for the overhead.
    #[arg(long, default_value_t = 200)]
    overhead_calls: usize,
    #[arg(long, default_value = "bench/results.json")]
    out: PathBuf,
    #[arg(long, default_value = "bench/plot.png")]
    plot: PathBuf,
    /// The file whose generated block is refreshed (skipped if it does not exist).
    #[arg(long, default_value = "BENCHMARKS.md")]
    markdown: PathBuf,
    /// Results of an earlier run to compare with (skipped if it does not exist).
    #[arg(long, default_value = "bench/baseline.json")]
    baseline: PathBuf,
    #[arg(long)]
    skip_cold_start: bool,
    /// Whole rounds of measurements; every figure reported is the median over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measure nothing: merge these results files (medians) into `--out` and
    /// render them (for A/B runs of two builds, interleaved by hand).
    #[arg(long, num_args = 1..)]
    merge: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let results = if args.merge.is_empty() {
        let mut runs = Vec::with_capacity(args.rounds);
        for round in 1..=args.rounds.max(1) {
            eprintln!("ccx-bench: round {round} of {}", args.rounds.max(1));
            runs.push(serde_json::to_value(measure(&args).await?)?);
        }
        serde_json::from_value::<Results>(merge::median_merge(&runs))?
    } else {
        let runs = args
            .merge
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                Ok(serde_json::from_str::<serde_json::Value>(&text)?)
            })
            .collect::<Result<Vec<_>>>()?;
        serde_json::from_value::<Results>(merge::median_merge(&runs))?
    };
    render(&args, &results)
}

/// One round of every benchmark.
async fn measure(args: &Args) -> Result<Results> {
    let prices = cost::prices()?;
    let data = tempfile::tempdir()?;
    let system = Arc::new(BenchSystem::start(data.path()).await?);

    let cold = if args.skip_cold_start {
        vec![]
    } else {
        eprintln!("ccx-bench: cold start, {} runs of each binary", args.runs);
        cold_start::measure(&args.bin_dir, &Handler::ALL, args.runs, &system.gateway).await?
    };
    eprintln!("ccx-bench: cost per execution");
    let costs = cost::measure(&system, &prices).await?;
    let mut tput = Vec::new();
    for concurrency in [1usize, 8, 64] {
        let executions = (concurrency * args.executions_per_slot).max(args.min_executions);
        eprintln!("ccx-bench: throughput, {executions} executions at concurrency {concurrency}");
        tput.push(throughput::measure(&system, concurrency, executions, "tp").await?);
    }
    eprintln!("ccx-bench: tool invocation overhead");
    let over = overhead::measure(&system, args.overhead_calls).await?;
    match Arc::try_unwrap(system) {
        Ok(system) => system.shutdown().await,
        Err(_) => eprintln!("ccx-bench: the system is still shared; not shutting the gateway down"),
    }
    Ok(Results {
        generated_at: chrono::Utc::now(),
        machine: Machine::here(&args.profile),
        cold_start: cold,
        cost: costs,
        prices,
        modelled_round_trip_ms: cost::MODELLED_ROUND_TRIP_MS,
        throughput: tput,
        tool_overhead: Some(over),
    })
}

/// results.json, the PNG, the BENCHMARKS.md block and the table.
fn render(args: &Args, results: &Results) -> Result<()> {
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(results)? + "\n")
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    plot::draw(results, &args.plot)?;
    let baseline = std::fs::read_to_string(&args.baseline)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if args.markdown.exists() {
        report::update_markdown(
            &args.markdown,
            &report::markdown(results, baseline.as_ref()),
        )?;
    }
    println!("{}", report::table(results));
    println!(
        "wrote {}, {}{}",
        args.out.display(),
        args.plot.display(),
        if args.markdown.exists() {
            format!(", {}", args.markdown.display())
        } else {
            String::new()
        }
    );
    Ok(())
}
