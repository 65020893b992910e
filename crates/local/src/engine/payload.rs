//! Payload templates: `Parameters` and `ResultSelector`.
//!
//! A template is JSON in which a field whose name ends in `.$` takes its value
//! from a path (`$.x` on the input, `$$.x` on the context object) or from an
//! intrinsic function; the `.$` is dropped from the name. Templates are compiled
//! at load time. A path that selects nothing is a `States.Runtime` error at run
//! time, as in AWS (the execution fails; Catch does not apply).

use serde_json::{Map, Value};

use super::intrinsics::{Call, Scope};
use super::path::JsonPath;

#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Static(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// `"name.$": "$.path"`; `field` is the original name, for error messages.
    Path {
        field: String,
        path: JsonPath,
    },
    Intrinsic {
        field: String,
        call: Call,
    },
}

impl Template {
    /// Compiles a template; the error names the offending field.
    pub fn compile(value: &Value) -> Result<Template, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, v) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Value::String(expr) = v else {
                            return Err(format!(
                                "field '{key}' ends in '.$' so its value must be a path or an intrinsic function string"
                            ));
                        };
                        let t = if expr.starts_with('$') {
                            Template::Path {
                                field: key.clone(),
                                path: JsonPath::parse(expr)
                                    .map_err(|e| format!("field '{key}': {e}"))?,
                            }
                        } else if expr.starts_with("States.") {
                            Template::Intrinsic {
                                field: key.clone(),
                                call: Call::parse(expr)
                                    .map_err(|e| format!("field '{key}': {e}"))?,
                            }
                        } else {
                            return Err(format!(
                                "field '{key}': '{expr}' is neither a path nor an intrinsic function"
                            ));
                        };
                        dynamic = true;
                        fields.push((name.to_string(), t));
                    } else {
                        let t = Template::compile(v)?;
                        dynamic |= !matches!(t, Template::Static(_));
                        fields.push((key.clone(), t));
                    }
                }
                if dynamic {
                    Ok(Template::Object(fields))
                } else {
                    Ok(Template::Static(value.clone()))
                }
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| matches!(t, Template::Static(_))) {
                    Ok(Template::Static(value.clone()))
                } else {
                    Ok(Template::Array(items))
                }
            }
            other => Ok(Template::Static(other.clone())),
        }
    }

    /// Evaluates against the effective input and the context object.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, PayloadError> {
        match self {
            Template::Static(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut out = Map::new();
                for (name, t) in fields {
                    out.insert(name.clone(), t.eval(input, context)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|t| t.eval(input, context))
                    .collect::<Result<_, _>>()?,
            )),
            Template::Path { field, path } => {
                let root = if path.context { context } else { input };
                path.select(root).ok_or_else(|| PayloadError::Runtime(format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{root}'"
                )))
            }
            Template::Intrinsic { field, call } => call
                .eval(&Scope { input, context })
                .map_err(|e| PayloadError::Intrinsic(format!("field '{field}': {e}"))),
        }
    }
}

/// Why a template could not be evaluated; the engine turns it into the error name.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadError {
    /// `States.Runtime`.
    Runtime(String),
    /// `States.IntrinsicFailure`.
    Intrinsic(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: Value, input: Value, context: Value) -> Result<Value, PayloadError> {
        Template::compile(&template).unwrap().eval(&input, &context)
    }

    /// The Parameters example of the Amazon States Language specification.
    #[test]
    fn spec_parameters_example() {
        let template = json!({
            "flagged": true,
            "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
            "weekday.$": "$$.DayOfWeek",
            "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"
        });
        let input = json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]});
        let out = run(template, input, json!({"DayOfWeek": "TUESDAY"})).unwrap();
        assert_eq!(
            out,
            json!({
                "flagged": true,
                "parts": {"first": 0, "last3": [30, 40, 50]},
                "weekday": "TUESDAY",
                "formattedOutput": "Today is TUESDAY"
            })
        );
    }

    /// The ResultSelector example of the AWS docs (an EMR createCluster.sync result).
    #[test]
    fn aws_result_selector_example() {
        let template =
            json!({"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"});
        let raw = json!({
            "resourceType": "elasticmapreduce",
            "resource": "createCluster.sync",
            "output": {
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": "1234"},
                "ClusterId": "AKIAIOSFODNN7EXAMPLE"
            }
        });
        assert_eq!(
            run(template, raw, json!({})).unwrap(),
            json!({"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"})
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error_naming_the_field() {
        let err = run(json!({"x.$": "$.nope"}), json!({"a": 1}), json!({})).unwrap_err();
        match err {
            PayloadError::Runtime(m) => {
                assert!(m.contains("'$.nope'") && m.contains("'x.$'"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_valued_path_is_not_missing() {
        let out = run(
            json!({"r.$": "$.replay"}),
            json!({"replay": null}),
            json!({}),
        )
        .unwrap();
        assert_eq!(out, json!({"r": null}));
    }

    #[test]
    fn static_templates_and_arrays() {
        let out = run(
            json!({"list": [{"a.$": "$.a"}, 2], "s": "lit"}),
            json!({"a": "A"}),
            json!({}),
        )
        .unwrap();
        assert_eq!(out, json!({"list": [{"a": "A"}, 2], "s": "lit"}));
        assert!(Template::compile(&json!({"x.$": 3})).is_err());
        assert!(Template::compile(&json!({"x.$": "nope"})).is_err());
        assert!(Template::compile(&json!({"x.$": "States.Hash($.a, 'MD5')"})).is_err());
    }
}
