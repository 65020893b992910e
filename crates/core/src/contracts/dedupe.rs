use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ExternalObjectRef;

/// Written by the invoker after a successful external write (`pk=IDEMPOTENCY_KEY#k`),
/// consulted before every call: a success that was not recorded is replayed from
/// here instead of calling the tool again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalWriteDedupe {
    pub idempotency_key: String,
    pub tenant_id: String,
    pub action_intent_id: String,
    pub tool_name: String,
    pub trace_id: String,
    pub tool_run_ref: String,
    pub external_object_refs: Vec<ExternalObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_response_artifact_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}
