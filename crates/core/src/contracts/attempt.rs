use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Status of the one lock item per intent (`sk=EXECUTION#intent_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl AttemptStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, AttemptStatus::Running)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Running => "RUNNING",
            AttemptStatus::Succeeded => "SUCCEEDED",
            AttemptStatus::Failed => "FAILED",
            AttemptStatus::Cancelled => "CANCELLED",
        }
    }
}

/// An explicit, audited request to run a terminal intent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    pub reason: String,
    pub requested_by: String,
}

/// The execution lock and attempt record: one item per intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionAttempt {
    pub action_intent_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub status: AttemptStatus,
    /// 1 for the first run, +1 per audited replay.
    pub attempt_count: u32,
    /// Execution trace minted by the starter for the current attempt.
    pub trace_id: String,
    /// The Step Functions execution holding the lock; a retried starter of the same
    /// execution gets the lock back instead of a duplicate-start error.
    pub execution_id: String,
    pub idempotency_key: String,
    pub tool_name: String,
    pub registry_version: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayRequest>,
    /// Epoch seconds after which a RUNNING lock is considered abandoned. Removed
    /// (None) once the attempt is terminal, so terminal records never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_expires_at: Option<i64>,
}
