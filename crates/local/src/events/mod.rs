//! The event path of the embedded default: an `ACTION_APPROVED` event is matched
//! by the rule's pattern and turned into an execution input by its input
//! transformer, the very definition the infrastructure deploys (`ccx-infra`).

pub mod pattern;
pub mod transformer;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// An EventBridge rule as far as routing is concerned.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventRule {
    pub event_pattern: Value,
    pub input_paths_map: BTreeMap<String, String>,
    pub input_template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not a JSON object with \"source\", \"detail-type\" and \"detail\"")]
    NotAnEvent,
    #[error(
        "event does not match the rule (source {event_source}, detail-type {detail_type}): nothing started"
    )]
    NoMatch {
        event_source: String,
        detail_type: String,
    },
    #[error("malformed ACTION_APPROVED event: {0}; nothing started")]
    Malformed(String),
    #[error(transparent)]
    Pattern(#[from] pattern::PatternError),
    #[error(transparent)]
    Transform(#[from] transformer::TransformError),
}

/// Fields every execution input must carry as non-empty strings.
const REQUIRED: [&str; 3] = ["action_intent_id", "tenant_id", "account_id"];

impl EventRule {
    /// Matches and transforms `event` into the execution input, or says why not.
    pub fn route(&self, event: &Value) -> Result<Value, EventError> {
        pattern::validate(&self.event_pattern)?;
        let Some(obj) = event.as_object() else {
            return Err(EventError::NotAnEvent);
        };
        if !obj.contains_key("source") || !obj.contains_key("detail-type") {
            return Err(EventError::NotAnEvent);
        }
        if !pattern::matches(&self.event_pattern, event) {
            return Err(EventError::NoMatch {
                event_source: obj["source"].to_string(),
                detail_type: obj["detail-type"].to_string(),
            });
        }
        let input = transformer::transform(&self.input_paths_map, &self.input_template, event)?;
        let bad: Vec<String> = REQUIRED
            .iter()
            .filter(|f| {
                input
                    .get(**f)
                    .and_then(Value::as_str)
                    .is_none_or(|s| s.trim().is_empty())
            })
            .map(|f| format!("detail.data.{f}"))
            .collect();
        if !bad.is_empty() {
            return Err(EventError::Malformed(format!(
                "missing or non-string {}",
                bad.join(", ")
            )));
        }
        Ok(input)
    }
}
