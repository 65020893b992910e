//! How an execution ended, in terms both engines report, and the masks that
//! make two runs comparable (part of `tests/tests/sfn_moto_differential.rs`).

use std::collections::BTreeMap;

use ccx_core::contracts::ExecutionAttempt;
use ccx_local::engine::{EventDetail, Execution};
use ccx_tests::moto::Finished;
use serde_json::{Value, json};

/// One failed task attempt (a Retry or Catch follows, or the execution fails).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    pub state: String,
    pub error: String,
    /// The Lambda error payload, parsed (see [`parse_cause`]).
    pub cause: Option<Value>,
}

impl TaskError {
    /// The `code` of the `{class, code, message}` JSON our handlers put in
    /// the payload's `errorMessage`.
    pub fn code(&self) -> Option<String> {
        let message = self.cause.as_ref()?.get("errorMessage")?.as_str()?;
        let structured: Value = serde_json::from_str(message).ok()?;
        structured.get("code")?.as_str().map(str::to_string)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// The states entered, in order.
    pub path: Vec<String>,
    /// Every failed task attempt, in order (retries included).
    pub task_errors: Vec<TaskError>,
    pub status: String,
    /// The final output of a SUCCEEDED execution.
    pub output: Option<Value>,
    /// Error and cause of a FAILED execution.
    pub error: Option<String>,
    pub cause: Option<Value>,
}

impl Ending {
    /// `(state, error)` of each failed task attempt.
    pub fn task_error_names(&self) -> Vec<(String, String)> {
        self.task_errors
            .iter()
            .map(|t| (t.state.clone(), t.error.clone()))
            .collect()
    }
}

/// A cause is compared as JSON when it is JSON. moto does not hand the Lambda
/// error payload on as the function wrote it: `lambda_eval_utils.py` parses it
/// and writes it again with Python's `json.dumps(separators=(",", ":"))`, which
/// escapes every non-ASCII character (`\u2014`) that serde_json writes as is.
/// Step Functions passes the payload through unchanged. The parsed values are
/// equal either way, so that difference (and only it) is not a disagreement.
pub fn parse_cause(cause: Option<&str>) -> Option<Value> {
    cause.map(|c| serde_json::from_str(c).unwrap_or_else(|_| Value::String(c.to_string())))
}

/// The local engine's history in the same terms.
pub fn local_ending(run: &Execution) -> Ending {
    Ending {
        path: run.state_path(),
        task_errors: run
            .history
            .iter()
            .filter_map(|e| match &e.detail {
                EventDetail::TaskFailed {
                    state,
                    error,
                    cause,
                    ..
                } => Some(TaskError {
                    state: state.clone(),
                    error: error.clone(),
                    cause: parse_cause(cause.as_deref()),
                }),
                EventDetail::TaskTimedOut { state, .. } => Some(TaskError {
                    state: state.clone(),
                    error: "States.Timeout".to_string(),
                    cause: None,
                }),
                _ => None,
            })
            .collect(),
        status: run.status.as_str().to_string(),
        output: run.output.clone(),
        error: run.error.clone(),
        cause: parse_cause(run.cause.as_deref()),
    }
}

/// How moto's execution ended, read from its history: the path from the
/// `*StateEntered` events, the task errors from the `LambdaFunctionFailed`/
/// `TimedOut` events (each belongs to the state last entered), error and cause
/// from `ExecutionFailed`.
pub fn moto_ending(run: &Finished) -> Ending {
    let text = |v: &Value, key: &str| v[key].as_str().map(str::to_string);
    let task_errors = run
        .events_in_states()
        .into_iter()
        .filter_map(|(state, e)| match e["type"].as_str().unwrap_or_default() {
            "LambdaFunctionFailed" => {
                let d = &e["lambdaFunctionFailedEventDetails"];
                Some(TaskError {
                    state,
                    error: text(d, "error").unwrap_or_default(),
                    cause: parse_cause(text(d, "cause").as_deref()),
                })
            }
            "LambdaFunctionTimedOut" => Some(TaskError {
                state,
                error: "States.Timeout".to_string(),
                cause: None,
            }),
            _ => None,
        })
        .collect();
    let (error, cause) = run.failure();
    Ending {
        path: run.path(),
        task_errors,
        status: run.status.clone(),
        output: run
            .output
            .as_deref()
            .map(|s| serde_json::from_str(s).unwrap()),
        error,
        cause: parse_cause(cause.as_deref()),
    }
}

/// Keys whose values are measurements (how long a call took), not results.
pub const MEASURED: &[&str] = &["duration_ms"];

/// The values a run mints that the other engine cannot share: the trace id the
/// starter writes, the ids the gateway gives the objects it creates, and the
/// gateway's own address (each world has its gateway, on its own port). Each
/// is replaced by a placeholder naming it, everywhere it occurs (whole strings
/// and inside longer ones such as `tool_run_ref` or `object_url`), so that
/// everything else is compared exactly. Timestamps are masked by shape (RFC
/// 3339) and measured durations by key ([`MEASURED`]).
#[derive(Default)]
pub struct Masks(BTreeMap<String, String>);

impl Masks {
    /// Masks taken from what a world stored for the scenario's intent.
    pub fn from_records(
        attempt: Option<&ExecutionAttempt>,
        object_ids: &[String],
        gateway_url: &str,
    ) -> Masks {
        let mut masks = BTreeMap::new();
        masks.insert(gateway_url.to_string(), "<gateway>".to_string());
        if let Some(a) = attempt {
            masks.insert(a.trace_id.clone(), "<trace_id>".to_string());
        }
        for (i, id) in object_ids.iter().enumerate() {
            masks.insert(id.clone(), format!("<object_id_{i}>"));
        }
        Masks(masks)
    }

    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                    return json!("<timestamp>");
                }
                let mut out = s.clone();
                for (raw, placeholder) in &self.0 {
                    out = out.replace(raw.as_str(), placeholder);
                }
                Value::String(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| match MEASURED.contains(&k.as_str()) {
                        true => (k.clone(), json!(format!("<{k}>"))),
                        false => (k.clone(), self.apply(v)),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// `e` with every output and cause masked.
    pub fn ending(&self, e: &Ending) -> Ending {
        let mask = |v: &Option<Value>| v.as_ref().map(|v| self.apply(v));
        Ending {
            output: mask(&e.output),
            cause: mask(&e.cause),
            task_errors: e
                .task_errors
                .iter()
                .map(|t| TaskError {
                    cause: mask(&t.cause),
                    ..t.clone()
                })
                .collect(),
            ..e.clone()
        }
    }
}
