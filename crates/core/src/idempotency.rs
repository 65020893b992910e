//! The idempotency key: sha256 of
//! `tenant:intent:tool_name:canonical_json(arguments):registry_version`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// JSON with object keys sorted recursively and arrays kept in order, no whitespace.
/// Two argument objects that differ only in key order give the same text.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

pub fn idempotency_key(
    tenant_id: &str,
    action_intent_id: &str,
    tool_name: &str,
    arguments: &Value,
    registry_version: u32,
) -> String {
    let material = format!(
        "{tenant_id}:{action_intent_id}:{tool_name}:{}:{registry_version}",
        canonical_json(arguments)
    );
    hex::encode(Sha256::digest(material.as_bytes()))
}

/// `toolrun/{trace_id}/{attempt_count}/{tool_name}`.
pub fn tool_run_ref(trace_id: &str, attempt_count: u32, tool_name: &str) -> String {
    format!("toolrun/{trace_id}/{attempt_count}/{tool_name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_recursively_and_keeps_array_order() {
        let a = json!({"b": 1, "a": {"z": [3, 1, {"y": 1, "x": 2}], "c": null}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"z":[3,1,{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn key_is_independent_of_key_order_but_not_of_values_or_version() {
        let k1 = idempotency_key(
            "t1",
            "ai1",
            "crm.create_task",
            &json!({"a": 1, "b": "x"}),
            1,
        );
        let k2 = idempotency_key(
            "t1",
            "ai1",
            "crm.create_task",
            &json!({"b": "x", "a": 1}),
            1,
        );
        let k3 = idempotency_key(
            "t1",
            "ai1",
            "crm.create_task",
            &json!({"a": 2, "b": "x"}),
            1,
        );
        let k4 = idempotency_key(
            "t1",
            "ai1",
            "crm.create_task",
            &json!({"a": 1, "b": "x"}),
            2,
        );
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert_ne!(k1, k4);
        assert_eq!(k1.len(), 64);
    }

    #[test]
    fn key_matches_the_documented_formula() {
        let args = json!({"title": "Call back", "priority": "HIGH"});
        let expected = hex::encode(Sha256::digest(
            br#"t1:ai1:crm.create_task:{"priority":"HIGH","title":"Call back"}:3"#,
        ));
        assert_eq!(
            idempotency_key("t1", "ai1", "crm.create_task", &args, 3),
            expected
        );
    }

    #[test]
    fn strings_are_escaped_in_canonical_form() {
        assert_eq!(canonical_json(&json!({"k\"": "a\nb"})), r#"{"k\"":"a\nb"}"#);
    }

    #[test]
    fn tool_run_ref_format() {
        assert_eq!(
            tool_run_ref("tr", 2, "crm.create_task"),
            "toolrun/tr/2/crm.create_task"
        );
    }
}
