//! Assertions on a synthesised template, in the manner of CDK's
//! `aws-cdk-lib/assertions`: `Template::from_json(..).has_resource_properties(type,
//! props)` with `Match.objectLike` semantics, `resource_count_is`, and helpers to
//! read IAM statements out of roles. Failures panic with the closest candidates, so
//! a test failure says what the template holds instead.

use serde_json::{Map, Value};

/// A template under test.
pub struct Template {
    json: Value,
}

impl Template {
    pub fn from_json(json: Value) -> Self {
        Self { json }
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn resources(&self) -> &Map<String, Value> {
        self.json["Resources"]
            .as_object()
            .expect("the template has a Resources object")
    }

    /// The resource with logical id `id` (panics when missing).
    pub fn resource(&self, id: &str) -> &Value {
        self.resources()
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id}"))
    }

    /// `(logical id, resource)` of every resource of `resource_type`.
    pub fn find_resources(&self, resource_type: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == resource_type)
            .map(|(id, r)| (id.as_str(), r))
            .collect()
    }

    pub fn resource_count_is(&self, resource_type: &str, count: usize) {
        let found = self.find_resources(resource_type).len();
        assert_eq!(
            found, count,
            "expected {count} {resource_type}, found {found}"
        );
    }

    /// Some resource of `resource_type` has properties matching `expected`
    /// object-like (see [`object_like`]). Returns its logical id.
    pub fn has_resource_properties(&self, resource_type: &str, expected: &Value) -> &str {
        let candidates = self.find_resources(resource_type);
        candidates
            .iter()
            .find(|(_, r)| object_like(expected, &r["Properties"]))
            .map(|(id, _)| *id)
            .unwrap_or_else(|| {
                panic!(
                    "no {resource_type} has properties like {expected:#}; candidates: {:?}",
                    candidates.iter().map(|(id, _)| id).collect::<Vec<_>>()
                )
            })
    }

    /// The `Allow` statements of every inline policy of role `role_id`. A statement
    /// wrapped in `Fn::If` counts with its `then` branch: the test must hold for
    /// the configuration that grants the most.
    pub fn allow_statements(&self, role_id: &str) -> Vec<&Value> {
        let role = self.resource(role_id);
        assert_eq!(role["Type"], "AWS::IAM::Role", "{role_id} is not a role");
        let mut out = Vec::new();
        for policy in role["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for st in policy["PolicyDocument"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let st = match st.get("Fn::If") {
                    Some(branches) => &branches[1],
                    None => st,
                };
                if st["Effect"] == "Allow" {
                    out.push(st);
                }
            }
        }
        out
    }
}

/// `Action` or `Resource` of a statement as a list (IAM accepts a single value).
pub fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// CDK's `Match.objectLike`: every key of `expected` is in `actual` with a matching
/// value (objects recursively object-like, arrays of the same length element-wise
/// object-like, scalars equal); `actual` may have more keys.
pub fn object_like(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| object_like(ev, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| object_like(ev, av))
        }
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_like_allows_extra_keys_but_not_different_values() {
        let actual = json!({"a": 1, "b": {"c": [ {"d": 2, "e": 3} ]}});
        assert!(object_like(&json!({"b": {"c": [{"d": 2}]}}), &actual));
        assert!(!object_like(&json!({"b": {"c": [{"d": 3}]}}), &actual));
        assert!(!object_like(&json!({"z": 1}), &actual));
        assert!(!object_like(&json!({"b": {"c": []}}), &actual));
    }

    #[test]
    fn allow_statements_unwrap_conditions() {
        let t = Template::from_json(json!({"Resources": {"R": {
            "Type": "AWS::IAM::Role",
            "Properties": {"Policies": [{"PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "a:B", "Resource": "x"},
                {"Fn::If": ["C", {"Effect": "Allow", "Action": "c:D", "Resource": "*"}, {"Ref": "AWS::NoValue"}]},
                {"Effect": "Deny", "Action": "e:F", "Resource": "*"}
            ]}}]}
        }}}));
        let actions: Vec<&Value> = t
            .allow_statements("R")
            .iter()
            .map(|s| &s["Action"])
            .collect();
        assert_eq!(actions, [&json!("a:B"), &json!("c:D")]);
    }
}
