//! The EventBridge rule that starts an execution: its event pattern and input
//! transformer. This is the one definition shared by the template (the
//! `AWS::Events::Rule`) and the local engine, which reads it from here or from
//! `infra/event_rule.json` (written by `make synth`) so that both start executions
//! from the same events with the same input.

pub mod pattern;
pub mod transformer;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Source of the upstream decision layer's events.
pub const EVENT_SOURCE: &str = "cc-native";
/// The detail-type that starts an execution.
pub const DETAIL_TYPE_APPROVED: &str = "ACTION_APPROVED";

/// Pattern plus transformer, in EventBridge's own field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventRuleDef {
    /// EventBridge event pattern (`{"source": [...], "detail-type": [...]}`).
    pub event_pattern: Value,
    /// `InputTransformer.InputPathsMap`: placeholder -> JSONPath into the event.
    pub input_paths_map: serde_json::Map<String, Value>,
    /// `InputTransformer.InputTemplate`: placeholders are `<name>`, substituted as
    /// JSON values (strings arrive quoted).
    pub input_template: String,
}

/// The rule: `ACTION_APPROVED` from `cc-native` becomes the state machine input
/// `{"action_intent_id", "tenant_id", "account_id", "replay": null}`.
pub fn event_rule() -> EventRuleDef {
    let mut paths = serde_json::Map::new();
    for field in ["action_intent_id", "tenant_id", "account_id"] {
        paths.insert(
            field.into(),
            Value::String(format!("$.detail.data.{field}")),
        );
    }
    EventRuleDef {
        event_pattern: json!({
            "source": [EVENT_SOURCE],
            "detail-type": [DETAIL_TYPE_APPROVED],
        }),
        input_paths_map: paths,
        input_template: concat!(
            r#"{"action_intent_id": <action_intent_id>, "#,
            r#""tenant_id": <tenant_id>, "#,
            r#""account_id": <account_id>, "#,
            r#""replay": null}"#
        )
        .into(),
    }
}

impl EventRuleDef {
    /// The `InputTransformer` property of an `AWS::Events::Rule` target.
    pub fn input_transformer(&self) -> Value {
        json!({
            "InputPathsMap": self.input_paths_map,
            "InputTemplate": self.input_template,
        })
    }

    /// Does `event` match the pattern? EventBridge semantics for the subset in
    /// [`pattern`] (exact values, nested objects, content filters).
    pub fn matches(&self, event: &Value) -> bool {
        pattern::matches(&self.event_pattern, event)
    }

    /// `InputPathsMap` as placeholder -> path strings.
    pub fn paths(&self) -> std::collections::BTreeMap<String, String> {
        self.input_paths_map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    }

    /// The execution input EventBridge would send for `event`, or `None` when the
    /// event does not match the pattern. A path that resolves to nothing becomes
    /// `null`, as EventBridge does for JSON templates.
    pub fn transform(&self, event: &Value) -> Option<Value> {
        if !self.matches(event) {
            return None;
        }
        transformer::transform(&self.paths(), &self.input_template, event).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved() -> Value {
        json!({
            "source": "cc-native",
            "detail-type": "ACTION_APPROVED",
            "detail": {"data": {"action_intent_id": "ai_1", "tenant_id": "t1", "account_id": "a1", "extra": 1}}
        })
    }

    #[test]
    fn approved_event_becomes_execution_input() {
        assert_eq!(
            event_rule().transform(&approved()).unwrap(),
            json!({"action_intent_id": "ai_1", "tenant_id": "t1", "account_id": "a1", "replay": null})
        );
    }

    #[test]
    fn other_detail_types_and_sources_do_not_match() {
        let rule = event_rule();
        let mut e = approved();
        e["detail-type"] = json!("ACTION_REJECTED");
        assert!(rule.transform(&e).is_none());
        let mut e = approved();
        e["source"] = json!("cc-native.execution");
        assert!(!rule.matches(&e));
    }

    #[test]
    fn missing_field_becomes_null() {
        let mut e = approved();
        e["detail"]["data"]
            .as_object_mut()
            .unwrap()
            .remove("account_id");
        assert_eq!(
            event_rule().transform(&e).unwrap()["account_id"],
            Value::Null
        );
    }

    #[test]
    fn round_trips_through_json() {
        let rule = event_rule();
        let text = serde_json::to_string(&rule).unwrap();
        assert!(text.contains("\"EventPattern\""));
        assert_eq!(serde_json::from_str::<EventRuleDef>(&text).unwrap(), rule);
    }
}
