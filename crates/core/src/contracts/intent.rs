use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The approved action, as written by the upstream decision layer. Only the fields
/// execution uses are typed; the decision layer may store more (they are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionIntentV1 {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    /// e.g. `CREATE_INTERNAL_NOTE`, `CREATE_CRM_TASK`: the registry key.
    pub action_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<IntentTarget>,
    /// Business parameters, mapped to tool arguments by the registry entry.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    pub approved_by: String,
    pub approval_timestamp: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The decision layer's trace id; every ledger entry of execution carries it.
    pub decision_trace_id: String,
    /// Pins the registry version used to map this intent; latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_policy: Option<ExecutionPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_decision_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentTarget {
    pub entity_type: String,
    pub entity_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

impl ActionIntentV1 {
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}
