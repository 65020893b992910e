//! EventBridge input transformer: `InputPathsMap` + `InputTemplate`.
//!
//! Placeholders `<name>` are replaced by the value the path selects. Inside a
//! quoted JSON string the value's text is spliced in (escaped); elsewhere its
//! JSON form is. A path that selects nothing yields `null`, as on AWS; the caller
//! then rejects the execution input if a required field is null.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("input path {path:?} for {name:?} is not a simple JSONPath ($.a.b.c)")]
    BadPath { name: String, path: String },
    #[error("input template uses <{0}>, which InputPathsMap does not define")]
    UnknownPlaceholder(String),
    #[error("input template does not produce valid JSON: {0}")]
    NotJson(String),
}

/// Resolves a simple JSONPath (`$`, `$.a.b`) against `doc`.
pub fn select<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$')?;
    if rest.is_empty() {
        return Some(doc);
    }
    let rest = rest.strip_prefix('.')?;
    rest.split('.').try_fold(doc, |v, key| v.get(key))
}

fn valid_path(path: &str) -> bool {
    path == "$"
        || path.strip_prefix("$.").is_some_and(|r| {
            !r.is_empty()
                && r.split('.').all(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
        })
}

pub fn transform(
    input_paths_map: &BTreeMap<String, String>,
    input_template: &str,
    event: &Value,
) -> Result<Value, TransformError> {
    for (name, path) in input_paths_map {
        if !valid_path(path) {
            return Err(TransformError::BadPath {
                name: name.clone(),
                path: path.clone(),
            });
        }
    }
    let mut out = String::with_capacity(input_template.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = input_template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '<'
            && let Some(end) = input_template[i + 1..].find('>')
        {
            let name = &input_template[i + 1..i + 1 + end];
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                let path = input_paths_map
                    .get(name)
                    .ok_or_else(|| TransformError::UnknownPlaceholder(name.to_string()))?;
                let value = select(event, path).cloned().unwrap_or(Value::Null);
                if in_string {
                    let text = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let quoted = Value::String(text).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                } else {
                    out.push_str(&value.to_string());
                }
                for _ in 0..=end {
                    chars.next();
                }
                continue;
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    serde_json::from_str(&out).map_err(|e| TransformError::NotJson(format!("{e}: {out}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths() -> BTreeMap<String, String> {
        [
            ("action_intent_id", "$.detail.data.action_intent_id"),
            ("tenant_id", "$.detail.data.tenant_id"),
            ("account_id", "$.detail.data.account_id"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const TEMPLATE: &str = r#"{"action_intent_id": <action_intent_id>, "tenant_id": <tenant_id>, "account_id": <account_id>, "replay": null}"#;

    #[test]
    fn builds_the_execution_input() {
        let ev = json!({"detail": {"data": {"action_intent_id": "ai1", "tenant_id": "t1", "account_id": "a1", "extra": 1}}});
        assert_eq!(
            transform(&paths(), TEMPLATE, &ev).unwrap(),
            json!({"action_intent_id": "ai1", "tenant_id": "t1", "account_id": "a1", "replay": null})
        );
    }

    #[test]
    fn missing_fields_become_null_and_quotes_are_escaped() {
        let ev = json!({"detail": {"data": {"action_intent_id": "a\"i", "tenant_id": 7}}});
        let out = transform(&paths(), TEMPLATE, &ev).unwrap();
        assert_eq!(out["action_intent_id"], json!("a\"i"));
        assert_eq!(out["tenant_id"], json!(7));
        assert_eq!(out["account_id"], Value::Null);
        let quoted = transform(
            &paths(),
            r#"{"msg": "intent <action_intent_id> for <tenant_id>"}"#,
            &ev,
        )
        .unwrap();
        assert_eq!(quoted["msg"], json!("intent a\"i for 7"));
    }

    #[test]
    fn refuses_unknown_placeholders_and_bad_paths() {
        let ev = json!({});
        assert_eq!(
            transform(&paths(), r#"{"x": <nope>}"#, &ev).unwrap_err(),
            TransformError::UnknownPlaceholder("nope".into())
        );
        let mut bad = paths();
        bad.insert("x".into(), "detail.data".into());
        assert!(matches!(
            transform(&bad, TEMPLATE, &ev),
            Err(TransformError::BadPath { .. })
        ));
    }
}
