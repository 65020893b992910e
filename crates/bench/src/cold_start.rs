//! Cold start of the seven Lambda binaries, the way Lambda starts them: each run
//! spawns the binary with `AWS_LAMBDA_RUNTIME_API` pointing at the mock Runtime
//! API (`ccx_tests::mock_runtime`) and the usual Lambda environment, with the
//! first event already queued and `CCX_DATA_DIR` at a freshly seeded folder in
//! which that event does real work (the steps before it were run in process).
//! Measured: spawn to the first response posted, and the peak RSS (`VmHWM`)
//! read while the process is still alive after answering.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ccx_core::error::{CaughtError, ExecutionError};
use ccx_core::handlers::{Handler, dispatch};
use ccx_core::io::{
    CompensationInput, CompensationOutput, ExecutionContext, FailureRecorderInput, InvokerInput,
    InvokerOutput, MapperInput, MapperOutput, RecorderInput, StarterInput, StarterOutput,
    ValidatorInput,
};
use ccx_core::store::embedded_deps;
use ccx_gateway::RunningGateway;
use ccx_tests::mock_runtime::{InvocationResult, MockRuntime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::harness::{ACCOUNT, TENANT, bench_intent, gateway_client, seed};
use crate::stats::{Summary, summarize};

/// Guard against a hung binary (not a measurement).
const LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdStart {
    pub function: String,
    pub runs: usize,
    /// Spawn to first response, milliseconds.
    pub time_to_first_response_ms: Summary,
    /// Peak resident set size, MiB.
    pub peak_rss_mib: Summary,
    pub binary_bytes: u64,
}

/// The event that makes `handler` do real work in `data_dir`, after running the
/// steps that precede it in process (so the store holds what it expects).
pub async fn prepare_event(
    handler: Handler,
    data_dir: &Path,
    gateway: &RunningGateway,
    intent_id: &str,
) -> Result<Value> {
    let deps = embedded_deps(data_dir, gateway_client(gateway)?)?;
    seed(deps.store.as_ref()).await?;
    deps.store.put_intent(&bench_intent(intent_id)).await?;
    let base = |trace_id: &str| ValidatorInput {
        action_intent_id: intent_id.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        trace_id: trace_id.into(),
    };
    let starter_input = StarterInput {
        action_intent_id: intent_id.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        execution_id: format!("bench-{intent_id}"),
        replay: None,
    };
    if handler == Handler::Starter {
        return Ok(serde_json::to_value(starter_input)?);
    }
    let started: StarterOutput = run(&deps, Handler::Starter, &starter_input).await?;
    let execution = ExecutionContext {
        trace_id: started.trace_id.clone(),
        attempt_count: started.attempt_count,
        idempotency_key: started.idempotency_key.clone(),
        decision_trace_id: started.decision_trace_id.clone(),
        tool_name: started.tool_name.clone(),
        started_at: started.started_at,
    };
    match handler {
        Handler::Validator => return Ok(serde_json::to_value(base(&started.trace_id))?),
        Handler::FailureRecorder => {
            let err = ExecutionError::validation("INTENT_EXPIRED", "benchmark: intent expired");
            return Ok(serde_json::to_value(FailureRecorderInput {
                action_intent_id: intent_id.into(),
                tenant_id: TENANT.into(),
                account_id: ACCOUNT.into(),
                execution,
                failed_state: "ValidatePreflight".into(),
                error: CaughtError {
                    error: err.name.into(),
                    cause: Some(err.to_cause_json()),
                },
            })?);
        }
        _ => {}
    }
    let mapper_input = MapperInput {
        action_intent_id: intent_id.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        trace_id: started.trace_id.clone(),
        idempotency_key: started.idempotency_key.clone(),
        registry_version: started.registry_version,
        action_type: Some(started.action_type.clone()),
    };
    if handler == Handler::ToolMapper {
        return Ok(serde_json::to_value(mapper_input)?);
    }
    let mapping: MapperOutput = run(&deps, Handler::ToolMapper, &mapper_input).await?;
    let invoker_input = InvokerInput {
        action_intent_id: intent_id.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        trace_id: started.trace_id.clone(),
        attempt_count: started.attempt_count,
        idempotency_key: started.idempotency_key.clone(),
        tool_name: mapping.tool_name.clone(),
        tool_arguments: mapping.tool_arguments.clone(),
    };
    if handler == Handler::ToolInvoker {
        return Ok(serde_json::to_value(invoker_input)?);
    }
    let invocation: InvokerOutput = run(&deps, Handler::ToolInvoker, &invoker_input).await?;
    match handler {
        Handler::Compensation => Ok(serde_json::to_value(CompensationInput {
            action_intent_id: intent_id.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: started.trace_id.clone(),
            attempt_count: started.attempt_count,
            decision_trace_id: started.decision_trace_id.clone(),
            idempotency_key: started.idempotency_key.clone(),
            compensation_strategy: mapping.compensation_strategy,
            compensation_tool: mapping.compensation_tool.clone(),
            external_object_refs: invocation.external_object_refs.clone(),
        })?),
        Handler::Recorder => Ok(serde_json::to_value(RecorderInput {
            action_intent_id: intent_id.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            execution,
            invocation,
            compensation: CompensationOutput::none(),
        })?),
        other => bail!("no cold-start event for {other}"),
    }
}

async fn run<I: Serialize, O: serde::de::DeserializeOwned>(
    deps: &ccx_core::Deps,
    handler: Handler,
    input: &I,
) -> Result<O> {
    let out = dispatch(handler, deps, serde_json::to_value(input)?)
        .await
        .map_err(|e| anyhow::anyhow!("{handler} (preparing the event): {e:?}"))?;
    Ok(serde_json::from_value(out)?)
}

/// `VmHWM` of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// One cold start: spawn to first response, and the peak RSS.
pub async fn cold_start_once(
    binary: &Path,
    handler: Handler,
    gateway: &RunningGateway,
    run_id: usize,
) -> Result<(Duration, u64)> {
    let dir = tempfile::tempdir()?;
    let intent_id = format!("cs-{}-{run_id}", handler.name());
    let event = prepare_event(handler, dir.path(), gateway, &intent_id).await?;
    let runtime = MockRuntime::start().await?;
    let request = runtime.invoke(event);
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(runtime.lambda_env(handler.name()))
        .env("CCX_DATA_DIR", dir.path())
        .env("RUST_LOG", "info")
        .env("CCX_GATEWAY_URL", &gateway.url)
        .env("CCX_GATEWAY_TOKEN_URL", &gateway.token_url)
        .env("CCX_GATEWAY_CLIENT_ID", &gateway.client_id)
        .env("CCX_GATEWAY_CLIENT_SECRET", &gateway.client_secret)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot spawn {}", binary.display()))?;
    let result = runtime.result(&request, LIMIT).await;
    let took = started.elapsed();
    let rss = child.id().and_then(peak_rss_kib).unwrap_or(0);
    let _ = child.kill().await;
    match result {
        Some(InvocationResult::Response(_)) => Ok((took, rss)),
        Some(InvocationResult::Error(e)) => bail!("{handler} answered an error: {:?}", e.body),
        None => bail!(
            "{handler} did not answer within {LIMIT:?} (init error: {:?})",
            runtime.init_error()
        ),
    }
}

/// `runs` cold starts of each handler's binary in `bin_dir`.
pub async fn measure(
    bin_dir: &Path,
    handlers: &[Handler],
    runs: usize,
    gateway: &RunningGateway,
) -> Result<Vec<ColdStart>> {
    let mut out = Vec::new();
    for &handler in handlers {
        let binary: PathBuf = bin_dir.join(handler.name());
        let binary_bytes = std::fs::metadata(&binary)
            .with_context(|| format!("{} is not built", binary.display()))?
            .len();
        let mut times = Vec::with_capacity(runs);
        let mut rss = Vec::with_capacity(runs);
        for run in 0..runs {
            let (t, kib) = cold_start_once(&binary, handler, gateway, run).await?;
            times.push(t.as_secs_f64() * 1000.0);
            rss.push(kib as f64 / 1024.0);
        }
        out.push(ColdStart {
            function: handler.name().into(),
            runs,
            time_to_first_response_ms: summarize(&times),
            peak_rss_mib: summarize(&rss),
            binary_bytes,
        });
    }
    Ok(out)
}
