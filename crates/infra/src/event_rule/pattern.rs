//! EventBridge event-pattern matching (the subset our rules use, refusing the rest).
//!
//! A pattern is a JSON object mirroring the event's shape. A leaf is an array of
//! alternatives: scalars match by equality, objects are content filters
//! (`prefix`, `suffix`, `exists`, `anything-but`, `equals-ignore-case`). When the
//! event's value is an array, the leaf matches if any element matches, as on AWS.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event pattern at {path}: {message}")]
pub struct PatternError {
    pub path: String,
    pub message: String,
}

/// Checks the pattern's shape once, so a bad rule fails at load, not per event.
pub fn validate(pattern: &Value) -> Result<(), PatternError> {
    validate_at(pattern, "$")
}

fn validate_at(pattern: &Value, path: &str) -> Result<(), PatternError> {
    let err = |m: &str| PatternError {
        path: path.to_string(),
        message: m.to_string(),
    };
    match pattern {
        Value::Object(map) => {
            if map.is_empty() {
                return Err(err("empty object"));
            }
            for (k, v) in map {
                validate_at(v, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(alts) => {
            if alts.is_empty() {
                return Err(err("empty list of alternatives"));
            }
            for alt in alts {
                if let Value::Object(filter) = alt {
                    let (name, _) = filter
                        .iter()
                        .next()
                        .ok_or_else(|| err("empty content filter"))?;
                    if filter.len() != 1 {
                        return Err(err("a content filter has exactly one operator"));
                    }
                    if !matches!(
                        name.as_str(),
                        "prefix" | "suffix" | "exists" | "anything-but" | "equals-ignore-case"
                    ) {
                        return Err(err(&format!("unsupported content filter {name:?}")));
                    }
                } else if alt.is_array() {
                    return Err(err("nested arrays are not allowed"));
                }
            }
            Ok(())
        }
        _ => Err(err("leaf values must be arrays of alternatives")),
    }
}

/// True when `event` matches `pattern` (call [`validate`] on the pattern first).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(map) => map.iter().all(|(k, sub)| {
            let field = event.get(k);
            match sub {
                Value::Object(_) => field.is_some_and(|f| matches(sub, f)),
                Value::Array(alts) => leaf_matches(alts, field),
                _ => false,
            }
        }),
        _ => false,
    }
}

fn leaf_matches(alts: &[Value], field: Option<&Value>) -> bool {
    alts.iter().any(|alt| match alt {
        Value::Object(filter) => filter_matches(filter, field),
        scalar => match field {
            Some(Value::Array(items)) => items.iter().any(|i| i == scalar),
            Some(v) => v == scalar,
            None => false,
        },
    })
}

fn filter_matches(filter: &serde_json::Map<String, Value>, field: Option<&Value>) -> bool {
    let Some((op, arg)) = filter.iter().next() else {
        return false;
    };
    let values: Vec<&Value> = match field {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    };
    match op.as_str() {
        "exists" => arg.as_bool() == Some(field.is_some()),
        "prefix" => values
            .iter()
            .any(|v| matches!((v.as_str(), arg.as_str()), (Some(s), Some(p)) if s.starts_with(p))),
        "suffix" => values
            .iter()
            .any(|v| matches!((v.as_str(), arg.as_str()), (Some(s), Some(p)) if s.ends_with(p))),
        "equals-ignore-case" => values.iter().any(
            |v| matches!((v.as_str(), arg.as_str()), (Some(s), Some(p)) if s.eq_ignore_ascii_case(p)),
        ),
        "anything-but" => {
            let excluded: Vec<&Value> = match arg {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            !values.is_empty() && values.iter().all(|v| !excluded.contains(v))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule() -> Value {
        json!({"source": ["cc-native"], "detail-type": ["ACTION_APPROVED"]})
    }

    #[test]
    fn matches_source_and_detail_type() {
        let ev = json!({"source": "cc-native", "detail-type": "ACTION_APPROVED", "detail": {}});
        assert!(matches(&rule(), &ev));
        let other = json!({"source": "cc-native", "detail-type": "ACTION_REJECTED"});
        assert!(!matches(&rule(), &other));
        let missing = json!({"detail-type": "ACTION_APPROVED"});
        assert!(!matches(&rule(), &missing));
    }

    #[test]
    fn nested_fields_arrays_and_content_filters() {
        let p = json!({"detail": {"data": {"tenant_id": [{"prefix": "t-"}], "tags": ["vip"], "x": [{"exists": false}]}}});
        assert!(matches(
            &p,
            &json!({"detail": {"data": {"tenant_id": "t-1", "tags": ["a", "vip"]}}})
        ));
        assert!(!matches(
            &p,
            &json!({"detail": {"data": {"tenant_id": "u-1", "tags": ["vip"]}}})
        ));
        assert!(!matches(
            &p,
            &json!({"detail": {"data": {"tenant_id": "t-1", "tags": ["vip"], "x": 1}}})
        ));
        let ab = json!({"state": [{"anything-but": ["stopped", "pending"]}]});
        assert!(matches(&ab, &json!({"state": "running"})));
        assert!(!matches(&ab, &json!({"state": "stopped"})));
        assert!(!matches(&ab, &json!({})));
    }

    #[test]
    fn validate_rejects_malformed_patterns() {
        assert!(validate(&rule()).is_ok());
        assert!(validate(&json!({"source": "cc-native"})).is_err());
        assert!(validate(&json!({"source": []})).is_err());
        let e = validate(&json!({"source": [{"wildcard": "x*"}]})).unwrap_err();
        assert!(e.message.contains("wildcard"), "{e}");
    }
}
