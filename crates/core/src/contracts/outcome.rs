use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ErrorClass;

/// A reference to an object the tool created or touched in the external system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalObjectRef {
    pub system: String,
    pub object_type: String,
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutcomeStatus {
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompensationStatus {
    /// Nothing to undo, or the registry says compensation is NONE.
    None,
    /// MANUAL strategy: a human has to undo the partial writes.
    Pending,
    Completed,
    Failed,
}

/// The recorded result of one execution attempt (`sk=OUTCOME#intent_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcomeV1 {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub trace_id: String,
    pub decision_trace_id: String,
    pub status: OutcomeStatus,
    pub attempt_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_run_ref: Option<String>,
    #[serde(default)]
    pub external_object_refs: Vec<ExternalObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_response_artifact_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The state whose failure ended the execution (failure recorder only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_state: Option<String>,
    pub compensation_status: CompensationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation_error: Option<String>,
    pub idempotency_key: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}
