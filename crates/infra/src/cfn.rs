//! CloudFormation intrinsic functions and the deterministic JSON writer.
//!
//! The template is plain `serde_json::Value`; these helpers keep the intrinsic
//! spelling in one place so a typo (`Fn::GetAtt` vs `Fn::Getatt`) cannot hide in a
//! builder.

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

/// `{"Ref": name}`: a parameter's value or a resource's primary identifier.
pub fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `{"Fn::GetAtt": [resource, attribute]}`.
pub fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

/// `{"Fn::Sub": template}`: `${Param}`, `${Resource}`, `${Resource.Attr}` and the
/// pseudo parameters (`${AWS::Region}`, ...) are substituted.
pub fn sub(template: &str) -> Value {
    json!({ "Fn::Sub": template })
}

/// `{"Fn::If": [condition, then, else]}`.
pub fn if_(condition: &str, then: Value, otherwise: Value) -> Value {
    json!({ "Fn::If": [condition, then, otherwise] })
}

/// `{"Ref": "AWS::NoValue"}`: removes the property when used inside `Fn::If`.
pub fn no_value() -> Value {
    r#ref("AWS::NoValue")
}

/// Serialises `value` with every object's keys in sorted order, whatever
/// `serde_json` features other crates switch on (`preserve_order` would otherwise
/// make the output depend on which packages were built together), pretty-printed
/// with two spaces and a trailing newline. This is what makes "synth, then no git
/// diff" a meaningful check.
pub fn to_canonical_json(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(&Sorted(value)).expect("a Value always serialises");
    out.push('\n');
    out
}

struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut m = serializer.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(k, &Sorted(&map[k]))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut s = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    s.serialize_element(&Sorted(item))?;
                }
                s.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": {"z": 1, "a": [ {"y": 2, "x": 3} ]}, "a": true});
        let text = to_canonical_json(&v);
        let a = text.find("\"a\": true").unwrap();
        let b = text.find("\"b\"").unwrap();
        assert!(a < b, "{text}");
        assert!(text.find("\"x\"").unwrap() < text.find("\"y\"").unwrap());
        assert!(text.ends_with("}\n"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn intrinsics_have_cloudformation_spelling() {
        assert_eq!(get_att("Q", "Arn"), json!({"Fn::GetAtt": ["Q", "Arn"]}));
        assert_eq!(r#ref("P"), json!({"Ref": "P"}));
        assert_eq!(sub("${A}-x"), json!({"Fn::Sub": "${A}-x"}));
        assert_eq!(
            if_("C", json!(1), no_value()),
            json!({"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]})
        );
    }
}
