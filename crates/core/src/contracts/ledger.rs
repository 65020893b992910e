use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LedgerEventType {
    ExecutionStarted,
    ReplayRequested,
    ActionExecuted,
    ActionFailed,
    CompensationCompleted,
    CompensationFailed,
    CompensationPending,
}

impl LedgerEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerEventType::ExecutionStarted => "EXECUTION_STARTED",
            LedgerEventType::ReplayRequested => "REPLAY_REQUESTED",
            LedgerEventType::ActionExecuted => "ACTION_EXECUTED",
            LedgerEventType::ActionFailed => "ACTION_FAILED",
            LedgerEventType::CompensationCompleted => "COMPENSATION_COMPLETED",
            LedgerEventType::CompensationFailed => "COMPENSATION_FAILED",
            LedgerEventType::CompensationPending => "COMPENSATION_PENDING",
        }
    }

    /// Position of the event within one execution trace, used in the sort key.
    pub fn seq(self) -> u32 {
        match self {
            LedgerEventType::ReplayRequested => 5,
            LedgerEventType::ExecutionStarted => 10,
            LedgerEventType::CompensationPending
            | LedgerEventType::CompensationCompleted
            | LedgerEventType::CompensationFailed => 80,
            LedgerEventType::ActionExecuted | LedgerEventType::ActionFailed => 90,
        }
    }
}

/// Append-only audit record (`pk=TENANT#t`). Entry ids are deterministic, so a
/// retried writer produces the same id and the store's conditional put makes the
/// second write a no-op instead of a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub action_intent_id: String,
    /// Execution trace (minted by the starter).
    pub trace_id: String,
    /// The decision layer's trace, correlating execution with the decision.
    pub decision_trace_id: String,
    pub attempt_count: u32,
    pub event_type: LedgerEventType,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub data: Value,
}

impl LedgerEntry {
    pub fn deterministic_id(trace_id: &str, attempt_count: u32, event: LedgerEventType) -> String {
        let digest = Sha256::digest(format!("{trace_id}:{attempt_count}:{}", event.as_str()));
        hex::encode(&digest[..16])
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant_id: &str,
        account_id: &str,
        action_intent_id: &str,
        trace_id: &str,
        decision_trace_id: &str,
        attempt_count: u32,
        event_type: LedgerEventType,
        timestamp: DateTime<Utc>,
        data: Value,
    ) -> Self {
        Self {
            entry_id: Self::deterministic_id(trace_id, attempt_count, event_type),
            tenant_id: tenant_id.into(),
            account_id: account_id.into(),
            action_intent_id: action_intent_id.into(),
            trace_id: trace_id.into(),
            decision_trace_id: decision_trace_id.into(),
            attempt_count,
            event_type,
            timestamp,
            data,
        }
    }
}
