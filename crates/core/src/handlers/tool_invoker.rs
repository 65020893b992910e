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
//!    (`{tenant}/{tool_run_ref}.json`) instead of the state (best effort, see
//!    [`store_raw`]).
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
        store_raw(deps, &input, &run_ref, &raw).await
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

/// Store the raw result under `{tenant}/{tool_run_ref}.json`. A failure here is
/// logged, not raised: the tool has already run, and failing the step would make
/// the state machine call it again before the dedupe record exists. The raw
/// response is an audit aid; the external write happening once is the contract.
async fn store_raw(deps: &Deps, input: &InvokerInput, run_ref: &str, raw: &[u8]) -> Option<String> {
    let key = format!("{}/{run_ref}.json", input.tenant_id);
    match deps.artifacts.put(&key, raw, "application/json").await {
        Ok(reference) => Some(reference),
        Err(e) => {
            warn!(
                tool_name = %input.tool_name,
                error_code = %e.code,
                raw_response_bytes = raw.len(),
                "raw tool response not stored; the outcome will have no artifact ref"
            );
            None
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::fixtures;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT, object_ref, responses};
    use crate::ports::{ArtifactStore, Store};
    use serde_json::json;

    const KEY: &str = "key-1";

    fn input() -> InvokerInput {
        InvokerInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: "trace-1".into(),
            attempt_count: 1,
            idempotency_key: KEY.into(),
            tool_name: "crm.create_task".into(),
            tool_arguments: json!({"title": "Follow up", "idempotency_key": KEY}),
        }
    }

    #[tokio::test]
    async fn success_calls_once_and_writes_the_dedupe_record() {
        let h = Harness::seeded().await;
        let task = object_ref("crm", "task", "T-1");
        h.mcp
            .respond(responses::success(std::slice::from_ref(&task)));

        let out = handle(&h.deps(), input()).await.unwrap();
        assert!(out.success);
        assert!(!out.deduplicated);
        assert_eq!(out.tool_run_ref, "toolrun/trace-1/1/crm.create_task");
        assert_eq!(out.external_object_refs, vec![task.clone()]);
        assert!(out.has_external_refs);
        assert_eq!(out.raw_response_artifact_ref, None);
        assert_eq!(
            (out.error_class, out.error_code, out.error_message),
            (None, None, None)
        );

        let calls = h.mcp.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "crm.create_task");
        assert_eq!(calls[0].arguments, input().tool_arguments);

        let d = h.store.get_dedupe(KEY).await.unwrap().unwrap();
        assert_eq!(d.external_object_refs, vec![task]);
        assert_eq!(d.tool_run_ref, out.tool_run_ref);
        assert_eq!(d.trace_id, "trace-1");
        assert_eq!(d.tenant_id, TENANT);
        assert_eq!(d.created_at, fixtures::t0());
    }

    #[tokio::test]
    async fn a_recorded_external_write_is_replayed_without_calling() {
        let h = Harness::seeded().await;
        let task = object_ref("crm", "task", "T-1");
        h.mcp
            .respond(responses::success(std::slice::from_ref(&task)));
        let first = handle(&h.deps(), input()).await.unwrap();

        // A later attempt (new trace) with the same key: the tool is not called again.
        let mut retry = input();
        retry.trace_id = "trace-2".into();
        retry.attempt_count = 2;
        let out = handle(&h.deps(), retry).await.unwrap();
        assert_eq!(h.mcp.calls().len(), 1, "no second call");
        assert!(out.success);
        assert!(out.deduplicated);
        assert_eq!(out.tool_run_ref, first.tool_run_ref, "the run that wrote");
        assert_eq!(out.external_object_refs, vec![task]);
        assert_eq!(h.store.list_dedupe().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn dedupe_written_by_an_earlier_attempt_short_circuits_the_first_call() {
        let h = Harness::seeded().await;
        h.store
            .put_dedupe(&ExternalWriteDedupe {
                idempotency_key: KEY.into(),
                tenant_id: TENANT.into(),
                action_intent_id: INTENT.into(),
                tool_name: "crm.create_task".into(),
                trace_id: "trace-0".into(),
                tool_run_ref: "toolrun/trace-0/1/crm.create_task".into(),
                external_object_refs: vec![],
                raw_response_artifact_ref: Some("mem://t1/raw.json".into()),
                created_at: fixtures::t0(),
            })
            .await
            .unwrap();
        let out = handle(&h.deps(), input()).await.unwrap();
        assert!(h.mcp.calls().is_empty());
        assert!(out.deduplicated && out.success && !out.has_external_refs);
        assert_eq!(
            out.raw_response_artifact_ref.as_deref(),
            Some("mem://t1/raw.json")
        );
    }

    #[tokio::test]
    async fn tool_reported_failure_is_a_result_with_partial_refs_and_no_dedupe() {
        let h = Harness::seeded().await;
        let partial = object_ref("crm", "task", "T-1");
        h.mcp.respond(responses::failure(
            std::slice::from_ref(&partial),
            "CRM_VALIDATION",
            "due_date in the past",
        ));
        let out = handle(&h.deps(), input()).await.unwrap();
        assert!(!out.success);
        assert_eq!(out.external_object_refs, vec![partial]);
        assert!(out.has_external_refs);
        assert_eq!(out.error_class, Some(ErrorClass::Downstream));
        assert_eq!(out.error_code.as_deref(), Some("CRM_VALIDATION"));
        assert_eq!(out.error_message.as_deref(), Some("due_date in the past"));
        assert_eq!(h.store.get_dedupe(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn is_error_text_is_a_failed_result() {
        let h = Harness::seeded().await;
        h.mcp
            .respond(responses::text("permission denied on object", true));
        let out = handle(&h.deps(), input()).await.unwrap();
        assert!(!out.success && !out.has_external_refs);
        assert_eq!(out.error_code.as_deref(), Some("TOOL_ERROR"));
        assert_eq!(
            out.error_message.as_deref(),
            Some("permission denied on object")
        );
        assert_eq!(h.store.get_dedupe(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn classified_client_errors_propagate_unchanged_and_write_nothing() {
        let h = Harness::seeded().await;
        let errors = [
            ExecutionError::transient(ErrorClass::RateLimit, "HTTP_429", "slow down"),
            ExecutionError::auth("HTTP_401", "token rejected"),
            ExecutionError::permanent(ErrorClass::Downstream, "JSONRPC_ERROR", "unknown tool"),
        ];
        for e in errors {
            h.mcp.fail(e.clone());
            assert_eq!(handle(&h.deps(), input()).await.unwrap_err(), e);
        }
        assert_eq!(h.store.get_dedupe(KEY).await.unwrap(), None);
        assert!(h.artifacts.keys().is_empty());
    }

    #[tokio::test]
    async fn an_unintelligible_success_is_a_permanent_error() {
        let h = Harness::seeded().await;
        h.mcp.respond(responses::text("Task created :)", false));
        let e = handle(&h.deps(), input()).await.unwrap_err();
        assert_eq!(
            (e.name, e.code.as_str()),
            ("PermanentError", "MALFORMED_TOOL_RESULT")
        );
        assert_eq!(h.store.get_dedupe(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_large_raw_result_is_stored_as_an_artifact() {
        let h = Harness::seeded().await;
        let mut resp = responses::success(&[object_ref("crm", "task", "T-1")]);
        resp.raw["debug"] = json!("z".repeat(20 * 1024));
        h.mcp.respond(resp.clone());

        let out = handle(&h.deps(), input()).await.unwrap();
        let key = "t1/toolrun/trace-1/1/crm.create_task.json";
        assert_eq!(h.artifacts.keys(), [key]);
        let reference = out.raw_response_artifact_ref.clone().unwrap();
        assert_eq!(reference, format!("mem://{key}"));
        let body = h.artifacts.get(&reference).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            resp.raw
        );
        let d = h.store.get_dedupe(KEY).await.unwrap().unwrap();
        assert_eq!(d.raw_response_artifact_ref, Some(reference));
    }

    #[tokio::test]
    async fn an_artifact_outage_after_the_call_does_not_cause_a_second_call() {
        let h = Harness::seeded().await;
        h.artifacts.fail_next(1);
        let mut resp = responses::success(&[object_ref("crm", "task", "T-1")]);
        resp.raw["debug"] = json!("z".repeat(20 * 1024));
        h.mcp.respond(resp);

        let out = handle(&h.deps(), input()).await.unwrap();
        assert!(out.success);
        assert_eq!(out.raw_response_artifact_ref, None);
        let d = h.store.get_dedupe(KEY).await.unwrap().unwrap();
        assert_eq!(
            d.external_object_refs.len(),
            1,
            "the write is recorded for dedupe"
        );
        assert_eq!(h.mcp.calls().len(), 1);
    }

    #[tokio::test]
    async fn a_small_raw_result_stays_inline() {
        let h = Harness::seeded().await;
        h.mcp.respond(responses::success(&[]));
        let out = handle(&h.deps(), input()).await.unwrap();
        assert_eq!(out.raw_response_artifact_ref, None);
        assert!(h.artifacts.keys().is_empty());
        assert!(!out.has_external_refs);
    }
}
