//! InvokeTool: call the tool once, through the dedupe table.
//!
//! 1. The dedupe record for the idempotency key is consulted first: a previous
//!    attempt whose external write succeeded but was never recorded (a crash, a
//!    timed-out Lambda) is replayed from it (`deduplicated: true`), never called again.
//! 2. Otherwise the tool is called with the mapped arguments (which carry the
//!    idempotency key, so adapters dedupe too). Transport and protocol errors come
//!    back already classified by the MCP client and propagate as they are: the
//!    state machine retries `TransientError` and catches the rest.
//! 3. The result is interpreted by [`crate::tool_result`]; a tool-reported failure
//!    is an output with `success: false` and its partial refs, not an error.
//! 4. A raw result over `artifact_threshold_bytes` goes to the artifact store
//!    (`{tenant}/{tool_run_ref}.json`) instead of the state.
//! 5. On success the dedupe record is written (conditional: a concurrent writer
//!    with the same key already recorded the same write).
//!
//! Logs carry the tool name, duration, success and error code, never the
//! arguments (they hold customer data).

use std::time::Instant;

use tracing::{info, warn};

use crate::contracts::ExternalWriteDedupe;
use crate::error::ExecutionError;
use crate::idempotency::tool_run_ref;
use crate::io::{InvokerInput, InvokerOutput};
use crate::ports::Deps;
use crate::tool_result::{self, ToolOutcome};

#[tracing::instrument(
    name = "tool_invoker",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.trace_id)
)]
pub async fn handle(deps: &Deps, input: InvokerInput) -> Result<InvokerOutput, ExecutionError> {
    let started = Instant::now();

    if let Some(previous) = deps.store.get_dedupe(&input.idempotency_key).await? {
        let duration_ms = elapsed_ms(started);
        info!(
            tool_name = %input.tool_name,
            duration_ms,
            success = true,
            deduplicated = true,
            previous_trace_id = %previous.trace_id,
            "tool call replayed from the dedupe table"
        );
        return Ok(InvokerOutput {
            success: true,
            tool_name: input.tool_name,
            has_external_refs: !previous.external_object_refs.is_empty(),
            tool_run_ref: previous.tool_run_ref,
            external_object_refs: previous.external_object_refs,
            raw_response_artifact_ref: previous.raw_response_artifact_ref,
            error_class: None,
            error_code: None,
            error_message: None,
            deduplicated: true,
            duration_ms,
        });
    }

    let called = deps
        .mcp
        .call_tool(&input.tool_name, &input.tool_arguments)
        .await;
    let response = match called {
        Ok(r) => r,
        Err(e) => {
            warn!(
                tool_name = %input.tool_name,
                duration_ms = elapsed_ms(started),
                success = false,
                error_name = e.name,
                error_code = %e.code,
                "tool call failed"
            );
            return Err(e);
        }
    };
    let ToolOutcome {
        success,
        external_object_refs,
        error,
    } = tool_result::interpret(&response).inspect_err(|e| {
        warn!(
            tool_name = %input.tool_name,
            duration_ms = elapsed_ms(started),
            success = false,
            error_code = %e.code,
            "tool result not understood"
        );
    })?;

    let run_ref = tool_run_ref(&input.trace_id, input.attempt_count, &input.tool_name);
    let raw = serde_json::to_vec(&response.raw).unwrap_or_default();
    let raw_response_artifact_ref = if raw.len() > deps.settings.artifact_threshold_bytes {
        Some(
            deps.artifacts
                .put(
                    &format!("{}/{run_ref}.json", input.tenant_id),
                    &raw,
                    "application/json",
                )
                .await?,
        )
    } else {
        None
    };

    if success {
        let record = ExternalWriteDedupe {
            idempotency_key: input.idempotency_key.clone(),
            tenant_id: input.tenant_id.clone(),
            action_intent_id: input.action_intent_id.clone(),
            tool_name: input.tool_name.clone(),
            trace_id: input.trace_id.clone(),
            tool_run_ref: run_ref.clone(),
            external_object_refs: external_object_refs.clone(),
            raw_response_artifact_ref: raw_response_artifact_ref.clone(),
            created_at: deps.clock.now(),
        };
        if !deps.store.put_dedupe(&record).await? {
            warn!(
                tool_name = %input.tool_name,
                "dedupe record already existed (a concurrent attempt recorded the same write)"
            );
        }
    }

    let duration_ms = elapsed_ms(started);
    info!(
        tool_name = %input.tool_name,
        duration_ms,
        success,
        error_code = error.as_ref().map(|e| e.code.as_str()).unwrap_or(""),
        external_refs = external_object_refs.len(),
        raw_response_bytes = raw.len(),
        "tool call finished"
    );
    Ok(InvokerOutput {
        success,
        tool_name: input.tool_name,
        tool_run_ref: run_ref,
        has_external_refs: !external_object_refs.is_empty(),
        external_object_refs,
        raw_response_artifact_ref,
        error_class: error.as_ref().map(|e| e.class),
        error_code: error.as_ref().map(|e| e.code.clone()),
        error_message: error.map(|e| e.message),
        deduplicated: false,
        duration_ms,
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
