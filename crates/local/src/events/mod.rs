//! The event path of the embedded default: an `ACTION_APPROVED` event is matched
//! by the rule's pattern and turned into an execution input by its input
//! transformer. Both the rule and its evaluation come from `ccx-infra`, the very
//! definition the stack deploys; this module adds what the local bus needs on top:
//! refusing, with a reason, an event that would start a useless execution.

use ccx_infra::event_rule::{EventRuleDef, pattern, transformer};
use serde_json::Value;

/// The deployed rule, evaluated on the local bus.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    def: EventRuleDef,
}

impl EventRule {
    /// The rule the stack deploys (`ccx_infra::event_rule()`).
    pub fn deployed() -> Self {
        Self::new(ccx_infra::event_rule::event_rule())
    }

    pub fn new(def: EventRuleDef) -> Self {
        Self { def }
    }

    pub fn def(&self) -> &EventRuleDef {
        &self.def
    }

    /// Matches and transforms `event` into the execution input, or says why not.
    pub fn route(&self, event: &Value) -> Result<Value, EventError> {
        route(&self.def, event)
    }
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

/// Matches and transforms `event` into the execution input, or says why not.
pub fn route(rule: &EventRuleDef, event: &Value) -> Result<Value, EventError> {
    pattern::validate(&rule.event_pattern)?;
    let Some(obj) = event.as_object() else {
        return Err(EventError::NotAnEvent);
    };
    if !obj.contains_key("source") || !obj.contains_key("detail-type") {
        return Err(EventError::NotAnEvent);
    }
    if !rule.matches(event) {
        return Err(EventError::NoMatch {
            event_source: obj["source"].to_string(),
            detail_type: obj["detail-type"].to_string(),
        });
    }
    let input = transformer::transform(&rule.paths(), &rule.input_template, event)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn approved(data: Value) -> Value {
        json!({"source": "cc-native", "detail-type": "ACTION_APPROVED", "detail": {"data": data}})
    }

    #[test]
    fn routes_an_approved_event_into_the_execution_input() {
        let input = EventRule::deployed()
            .route(&approved(
                json!({"action_intent_id": "ai1", "tenant_id": "t1", "account_id": "a1"}),
            ))
            .unwrap();
        assert_eq!(
            input,
            json!({"action_intent_id": "ai1", "tenant_id": "t1", "account_id": "a1", "replay": null})
        );
    }

    #[test]
    fn refuses_what_would_start_a_useless_execution() {
        let rule = EventRule::deployed();
        assert_eq!(rule.route(&json!([1])), Err(EventError::NotAnEvent));
        let e = rule
            .route(&approved(
                json!({"action_intent_id": "ai1", "tenant_id": " ", "account_id": 7}),
            ))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed ACTION_APPROVED event: missing or non-string detail.data.tenant_id, detail.data.account_id; nothing started"
        );
        let other = json!({"source": "elsewhere", "detail-type": "ACTION_APPROVED", "detail": {}});
        assert!(matches!(
            rule.route(&other),
            Err(EventError::NoMatch { .. })
        ));
    }
}
