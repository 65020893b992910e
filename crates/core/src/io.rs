//! Typed input and output of every handler.
//!
//! Inputs are exactly what the state machine's `Parameters` pass (see
//! `statemachine/execution.asl.json`) and reject unknown fields, so a drift between
//! the ASL and the code fails loudly (the contract test in `tests/` proves every
//! path). Outputs land under their own `ResultPath`; optional output fields are
//! serialised as `null` rather than omitted, because a later `Parameters` path
//! that points at a missing field is a runtime error in Step Functions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contracts::{
    CompensationStatus, CompensationStrategy, ExternalObjectRef, OutcomeStatus, ReplayRequest,
};
use crate::error::{CaughtError, ErrorClass, ExecutionError};

/// Parse a handler input from the raw event, turning serde's message into a
/// `ValidationError` (never a panic, never an opaque Rust error type). The
/// message names the offending field's path when there is one (`at
/// execution.attempt_count: invalid type ...`), since serde alone does not say
/// where a wrong type was found.
pub fn parse_input<T: serde::de::DeserializeOwned>(
    handler: &str,
    value: Value,
) -> Result<T, ExecutionError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!(" at {path}")
        };
        ExecutionError::validation(
            "INVALID_HANDLER_INPUT",
            format!("{handler}: input does not match its contract{at}: {inner}"),
        )
    })
}

// ---------------------------------------------------------------- starter

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarterInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    /// `$$.Execution.Id`: lets a retried starter of the same execution reclaim its lock.
    pub execution_id: String,
    /// Present only for an audited rerun of a terminal intent.
    #[serde(default)]
    pub replay: Option<ReplayRequest>,
}

/// Lands at `$.execution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarterOutput {
    pub trace_id: String,
    pub attempt_count: u32,
    pub idempotency_key: String,
    pub registry_version: u32,
    pub tool_name: String,
    pub action_type: String,
    pub decision_trace_id: String,
    pub started_at: DateTime<Utc>,
    pub replay: bool,
}

// ---------------------------------------------------------------- validator

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub trace_id: String,
}

/// Lands at `$.validation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorOutput {
    pub valid: bool,
    pub action_type: String,
    pub expires_at: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- tool-mapper

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapperInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub trace_id: String,
    pub idempotency_key: String,
    pub registry_version: u32,
    /// The action type the starter pinned (`$.execution.action_type`). With it
    /// the mapper reads the intent and the registry entry in one batched read;
    /// without it (an older definition) it reads the intent first.
    #[serde(default)]
    pub action_type: Option<String>,
}

/// Lands at `$.mapping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapperOutput {
    pub tool_name: String,
    pub tool_arguments: Value,
    pub tool_schema_version: String,
    pub registry_version: u32,
    pub compensation_strategy: CompensationStrategy,
    pub compensation_tool: Option<String>,
}

// ---------------------------------------------------------------- tool-invoker

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokerInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub trace_id: String,
    pub attempt_count: u32,
    pub idempotency_key: String,
    pub tool_name: String,
    pub tool_arguments: Value,
}

/// Lands at `$.invocation`. A tool that ran and reported failure is a result
/// (`success: false`), not an error: its partial refs are kept for compensation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokerOutput {
    pub success: bool,
    pub tool_name: String,
    pub tool_run_ref: String,
    pub external_object_refs: Vec<ExternalObjectRef>,
    /// Lets the CheckCompensation Choice test for partial writes without indexing.
    pub has_external_refs: bool,
    pub raw_response_artifact_ref: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// True when the result was replayed from the dedupe table instead of calling.
    pub deduplicated: bool,
    pub duration_ms: u64,
}

// ---------------------------------------------------------------- compensation

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompensationInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub trace_id: String,
    pub attempt_count: u32,
    pub decision_trace_id: String,
    pub idempotency_key: String,
    pub compensation_strategy: CompensationStrategy,
    pub compensation_tool: Option<String>,
    pub external_object_refs: Vec<ExternalObjectRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompensationFailure {
    pub object_ref: ExternalObjectRef,
    pub reason: String,
}

/// Lands at `$.compensation` (the NoCompensation Pass state writes the NONE form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompensationOutput {
    pub status: CompensationStatus,
    #[serde(default)]
    pub compensated: Vec<ExternalObjectRef>,
    #[serde(default)]
    pub failures: Vec<CompensationFailure>,
    /// Set by the `CompensationErrored` Pass state: the compensation step itself
    /// failed (its retries ran out), and this Catch error is the reason the
    /// outcome's compensation is FAILED. Absent when the handler answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
}

impl CompensationOutput {
    pub fn none() -> Self {
        Self {
            status: CompensationStatus::None,
            compensated: vec![],
            failures: vec![],
            error: None,
        }
    }
}

// ---------------------------------------------------------------- recorders

/// What the starter established, passed to the recorders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionContext {
    pub trace_id: String,
    pub attempt_count: u32,
    pub idempotency_key: String,
    pub decision_trace_id: String,
    pub tool_name: String,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub execution: ExecutionContext,
    pub invocation: InvokerOutput,
    pub compensation: CompensationOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecorderInput {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub execution: ExecutionContext,
    /// The state whose error was caught (set by a Pass state on each Catch route).
    pub failed_state: String,
    /// The Catch result: `{"Error": name, "Cause": errorMessage}`.
    pub error: CaughtError,
}

/// Lands at `$.outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderOutput {
    pub status: OutcomeStatus,
    /// False when a retried recorder found its own earlier write already committed.
    pub written: bool,
    pub error_class: Option<ErrorClass>,
    pub error_code: Option<String>,
    pub compensation_status: CompensationStatus,
}
