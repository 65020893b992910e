//! Human-readable output of `ccx`: execution histories, outcomes, ledger timelines.

use std::fmt::Write;

use ccx_core::contracts::{ActionOutcomeV1, ExecutionAttempt, LedgerEntry};

use crate::engine::{EventDetail, Execution};

fn short(v: &Option<String>) -> String {
    match v {
        Some(s) if s.len() > 120 => format!(
            "{}...",
            &s[..s.char_indices().nth(117).map_or(s.len(), |(i, _)| i)]
        ),
        Some(s) => s.clone(),
        None => String::new(),
    }
}

/// One line per history event, like the Step Functions console's event list.
pub fn history(execution: &Execution) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "execution {}  status {}",
        execution.name,
        execution.status.as_str()
    );
    let _ = writeln!(
        s,
        "  {:>4}  {:>7}  {:<22} {:<22} detail",
        "id", "ms", "event", "state"
    );
    for e in &execution.history {
        let (kind, state, detail) = match &e.detail {
            EventDetail::ExecutionStarted { .. } => {
                ("ExecutionStarted", String::new(), String::new())
            }
            EventDetail::StateEntered {
                state, state_type, ..
            } => ("StateEntered", state.clone(), state_type.clone()),
            EventDetail::StateExited { state, .. } => ("StateExited", state.clone(), String::new()),
            EventDetail::TaskScheduled {
                state,
                resource,
                retry_count,
                ..
            } => (
                "TaskScheduled",
                state.clone(),
                format!(
                    "{} (retry {retry_count})",
                    crate::engine::function_name(resource)
                ),
            ),
            EventDetail::TaskSucceeded { state, .. } => {
                ("TaskSucceeded", state.clone(), String::new())
            }
            EventDetail::TaskFailed {
                state,
                error,
                cause,
                ..
            } => (
                "TaskFailed",
                state.clone(),
                format!("{error} {}", short(cause)),
            ),
            EventDetail::TaskTimedOut {
                state,
                timeout_seconds,
                ..
            } => (
                "TaskTimedOut",
                state.clone(),
                format!("after {timeout_seconds}s"),
            ),
            EventDetail::RetryScheduled {
                state,
                error,
                retry_count,
                delay_ms,
                scaled_delay_ms,
            } => (
                "RetryScheduled",
                state.clone(),
                format!(
                    "{error}: retry {retry_count} in {delay_ms} ms (waited {scaled_delay_ms} ms)"
                ),
            ),
            EventDetail::CatchTaken { state, error, next } => {
                ("CatchTaken", state.clone(), format!("{error} -> {next}"))
            }
            EventDetail::ExecutionSucceeded { .. } => {
                ("ExecutionSucceeded", String::new(), String::new())
            }
            EventDetail::ExecutionFailed { error, cause } => (
                "ExecutionFailed",
                String::new(),
                format!("{error} {}", short(cause)),
            ),
            EventDetail::ExecutionTimedOut { error, .. } => {
                ("ExecutionTimedOut", String::new(), error.clone())
            }
        };
        let _ = writeln!(
            s,
            "  {:>4}  {:>7}  {:<22} {:<22} {}",
            e.id, e.elapsed_ms, kind, state, detail
        );
    }
    s
}

pub fn outcome(o: &ActionOutcomeV1) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "outcome of {} (tenant {}, account {})",
        o.action_intent_id, o.tenant_id, o.account_id
    );
    let _ = writeln!(s, "  status            {:?}", o.status);
    let _ = writeln!(s, "  attempt           {}", o.attempt_count);
    let _ = writeln!(
        s,
        "  trace             {} (decision {})",
        o.trace_id, o.decision_trace_id
    );
    if let Some(t) = &o.tool_name {
        let _ = writeln!(s, "  tool              {t}");
    }
    if let Some(r) = &o.tool_run_ref {
        let _ = writeln!(s, "  tool run          {r}");
    }
    for r in &o.external_object_refs {
        let _ = writeln!(
            s,
            "  external object   {}:{}:{} {}",
            r.system,
            r.object_type,
            r.object_id,
            r.object_url.as_deref().unwrap_or("")
        );
    }
    if let Some(class) = &o.error_class {
        let _ = writeln!(
            s,
            "  error             {} {} {}",
            class,
            o.error_code.as_deref().unwrap_or(""),
            o.error_message.as_deref().unwrap_or("")
        );
    }
    if let Some(state) = &o.failed_state {
        let _ = writeln!(s, "  failed state      {state}");
    }
    let _ = writeln!(
        s,
        "  compensation      {:?} {}",
        o.compensation_status,
        o.compensation_error.as_deref().unwrap_or("")
    );
    s
}

pub fn attempt(a: &ExecutionAttempt) -> String {
    format!(
        "attempt {} of {}: {} trace {} execution {} started {}{}\n",
        a.attempt_count,
        a.action_intent_id,
        a.status.as_str(),
        a.trace_id,
        a.execution_id,
        a.started_at.to_rfc3339(),
        a.replay
            .as_ref()
            .map(|r| format!(" (replay by {}: {})", r.requested_by, r.reason))
            .unwrap_or_default()
    )
}

pub fn ledger(entries: &[LedgerEntry]) -> String {
    let mut s = String::new();
    for e in entries {
        let _ = writeln!(
            s,
            "  {}  {:<24} intent {} attempt {} decision {}  {}",
            e.timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.event_type.as_str(),
            e.action_intent_id,
            e.attempt_count,
            e.decision_trace_id,
            if e.data.is_null() {
                String::new()
            } else {
                e.data.to_string()
            }
        );
    }
    s
}
