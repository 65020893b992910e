//! Loading a state machine definition: substitutions, parsing, validation.
//!
//! Everything the interpreter needs is checked here, once: state types, fields,
//! paths, templates, Choice rules, retriers, catchers and transitions. Anything
//! the engine does not implement (Map, Parallel, Wait, JSONata, variables,
//! heartbeats, ...) is refused with an error naming the state and the field, so a
//! definition never half-runs locally and then diverges from AWS.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::choice::Rule;
use super::path::JsonPath;
use super::payload::Template;

/// Why a definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("definition is not valid JSON: {0}")]
    Json(String),
    #[error("definition substitution ${{{0}}} has no value")]
    MissingSubstitution(String),
    #[error("state machine: {0}")]
    Machine(String),
    #[error("state '{state}': {message}")]
    State { state: String, message: String },
}

/// `InputPath` / `OutputPath`: a path, or `null` (the effective value is `{}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Path(JsonPath),
    Discard,
}

/// `ResultPath`: where the result goes in the state's input, or `null` (discard it).
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    Path(JsonPath),
    Discard,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    Full,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub result_path: ResultPath,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub resource: String,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub timeout_seconds: Option<f64>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassState {
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultPath,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceState {
    pub choices: Vec<(Rule, String)>,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailState {
    pub error: Option<String>,
    pub cause: Option<String>,
    pub error_path: Option<JsonPath>,
    pub cause_path: Option<JsonPath>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Task(TaskState),
    Pass(PassState),
    Choice(ChoiceState),
    Succeed,
    Fail(FailState),
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub input_path: Selector,
    pub output_path: Selector,
    pub kind: StateKind,
}

impl State {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
        }
    }

    /// Every state this one can go to.
    pub fn targets(&self) -> Vec<&str> {
        fn next(t: &Transition) -> Vec<&str> {
            match t {
                Transition::Next(n) => vec![n.as_str()],
                Transition::End => vec![],
            }
        }
        match &self.kind {
            StateKind::Task(t) => {
                let mut v = next(&t.transition);
                v.extend(t.catch.iter().map(|c| c.next.as_str()));
                v
            }
            StateKind::Pass(p) => next(&p.transition),
            StateKind::Choice(c) => {
                let mut v: Vec<&str> = c.choices.iter().map(|(_, n)| n.as_str()).collect();
                v.extend(c.default.as_deref());
                v
            }
            StateKind::Succeed | StateKind::Fail(_) => vec![],
        }
    }
}

/// A loaded, validated state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub start_at: String,
    /// Whole-execution timeout (`TimeoutSeconds` at the top level).
    pub timeout_seconds: Option<f64>,
    pub states: BTreeMap<String, State>,
}

/// Replaces every `${Name}` with its value. An unknown name is an error: a
/// definition with an unresolved resource would fail only when reached.
pub fn substitute(
    definition: &str,
    substitutions: &HashMap<String, String>,
) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let value = substitutions
            .get(name)
            .ok_or_else(|| DefinitionError::MissingSubstitution(name.to_string()))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

const TOP_LEVEL_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];

impl StateMachine {
    /// Parses and validates a definition (substitutions already applied).
    pub fn parse(definition: &str) -> Result<StateMachine, DefinitionError> {
        let root: Value =
            serde_json::from_str(definition).map_err(|e| DefinitionError::Json(e.to_string()))?;
        let machine_err = |m: String| DefinitionError::Machine(m);
        let obj = root
            .as_object()
            .ok_or_else(|| machine_err("the definition must be a JSON object".into()))?;
        for key in obj.keys() {
            if !TOP_LEVEL_FIELDS.contains(&key.as_str()) {
                return Err(machine_err(format!(
                    "top-level field '{key}' is not supported by the local engine"
                )));
            }
        }
        check_query_language(obj).map_err(machine_err)?;
        let start_at = obj
            .get("StartAt")
            .and_then(Value::as_str)
            .ok_or_else(|| machine_err("'StartAt' must be a string".into()))?
            .to_string();
        let timeout_seconds = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => {
                Some(positive_number(v).map_err(|m| machine_err(format!("'TimeoutSeconds' {m}")))?)
            }
        };
        let states_obj = obj
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| machine_err("'States' must be an object".into()))?;
        let mut states = BTreeMap::new();
        for (name, value) in states_obj {
            let state = parse_state(name, value).map_err(|message| DefinitionError::State {
                state: name.clone(),
                message,
            })?;
            states.insert(name.clone(), state);
        }
        if !states.contains_key(&start_at) {
            return Err(machine_err(format!(
                "'StartAt' names '{start_at}', which is not a state"
            )));
        }
        for state in states.values() {
            for target in state.targets() {
                if !states.contains_key(target) {
                    return Err(DefinitionError::State {
                        state: state.name.clone(),
                        message: format!("transition to '{target}', which is not a state"),
                    });
                }
            }
        }
        // As in Step Functions, a state no transition leads to is a definition error.
        let mut reachable = std::collections::BTreeSet::from([start_at.as_str()]);
        let mut frontier = vec![start_at.as_str()];
        while let Some(name) = frontier.pop() {
            for target in states[name].targets() {
                if reachable.insert(target) {
                    frontier.push(target);
                }
            }
        }
        if let Some(orphan) = states.keys().find(|n| !reachable.contains(n.as_str())) {
            return Err(DefinitionError::State {
                state: orphan.clone(),
                message: "no transition leads to this state (unreachable)".into(),
            });
        }
        Ok(StateMachine {
            comment: obj
                .get("Comment")
                .and_then(Value::as_str)
                .map(str::to_string),
            start_at,
            timeout_seconds,
            states,
        })
    }
}

fn check_query_language(obj: &Map<String, Value>) -> Result<(), String> {
    match obj.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(s)) if s == "JSONPath" => Ok(()),
        Some(other) => Err(format!(
            "'QueryLanguage' {other} is not supported by the local engine (only \"JSONPath\")"
        )),
    }
}

fn positive_number(v: &Value) -> Result<f64, String> {
    match v.as_f64() {
        Some(n) if n > 0.0 => Ok(n),
        _ => Err(format!("must be a positive number, got {v}")),
    }
}

fn allowed_fields(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "Task" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Resource",
            "TimeoutSeconds",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        "Pass" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
            "Parameters",
            "Result",
            "ResultPath",
            "Next",
            "End",
        ],
        "Choice" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
            "Choices",
            "Default",
        ],
        "Succeed" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
        ],
        "Fail" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Error",
            "Cause",
            "ErrorPath",
            "CausePath",
        ],
        _ => &[],
    }
}

fn parse_state(name: &str, value: &Value) -> Result<State, String> {
    let obj = value.as_object().ok_or("a state must be a JSON object")?;
    let type_name = obj
        .get("Type")
        .and_then(Value::as_str)
        .ok_or("field 'Type' is missing or not a string")?;
    let allowed = allowed_fields(type_name);
    if allowed.is_empty() {
        return Err(format!(
            "type '{type_name}' is not supported by the local engine (supported: Task, Pass, Choice, Succeed, Fail)"
        ));
    }
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "field '{key}' is not supported on a {type_name} state by the local engine"
            ));
        }
    }
    check_query_language(obj)?;
    let str_field = |f: &str| -> Result<Option<String>, String> {
        match obj.get(f) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("field '{f}' must be a string, got {other}")),
        }
    };
    let input_path = selector(obj, "InputPath")?;
    let output_path = selector(obj, "OutputPath")?;
    let kind = match type_name {
        "Task" => {
            let resource = str_field("Resource")?.ok_or("field 'Resource' is required")?;
            if resource.contains("${") {
                return Err(format!(
                    "field 'Resource' has an unresolved substitution: {resource}"
                ));
            }
            StateKind::Task(TaskState {
                resource,
                parameters: template(obj, "Parameters")?,
                result_selector: template(obj, "ResultSelector")?,
                result_path: result_path(obj.get("ResultPath"), "ResultPath")?,
                timeout_seconds: match obj.get("TimeoutSeconds") {
                    None => None,
                    Some(v) => Some(
                        positive_number(v).map_err(|m| format!("field 'TimeoutSeconds' {m}"))?,
                    ),
                },
                retry: retriers(obj.get("Retry"))?,
                catch: catchers(obj.get("Catch"))?,
                transition: transition(obj)?,
            })
        }
        "Pass" => StateKind::Pass(PassState {
            parameters: template(obj, "Parameters")?,
            result: obj.get("Result").cloned(),
            result_path: result_path(obj.get("ResultPath"), "ResultPath")?,
            transition: transition(obj)?,
        }),
        "Choice" => {
            let items = obj
                .get("Choices")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or("field 'Choices' must be a non-empty array")?;
            let mut choices = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let rule_obj = item
                    .as_object()
                    .ok_or_else(|| format!("field 'Choices[{i}]' must be an object"))?;
                let next = rule_obj
                    .get("Next")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("field 'Choices[{i}].Next' is required"))?;
                let rule = Rule::compile(rule_obj, true)
                    .map_err(|m| format!("field 'Choices[{i}]': {m}"))?;
                choices.push((rule, next.to_string()));
            }
            StateKind::Choice(ChoiceState {
                choices,
                default: str_field("Default")?,
            })
        }
        "Succeed" => StateKind::Succeed,
        "Fail" => {
            let path = |f: &str| -> Result<Option<JsonPath>, String> {
                str_field(f)?
                    .map(|p| JsonPath::parse(&p).map_err(|e| format!("field '{f}': {e}")))
                    .transpose()
            };
            StateKind::Fail(FailState {
                error: str_field("Error")?,
                cause: str_field("Cause")?,
                error_path: path("ErrorPath")?,
                cause_path: path("CausePath")?,
            })
        }
        _ => unreachable!("allowed_fields refused other types"),
    };
    Ok(State {
        name: name.to_string(),
        input_path,
        output_path,
        kind,
    })
}

fn selector(obj: &Map<String, Value>, field: &str) -> Result<Selector, String> {
    match obj.get(field) {
        None => Ok(Selector::Path(JsonPath::parse("$").expect("'$' parses"))),
        Some(Value::Null) => Ok(Selector::Discard),
        Some(Value::String(p)) => JsonPath::parse(p)
            .map(Selector::Path)
            .map_err(|e| format!("field '{field}': {e}")),
        Some(other) => Err(format!(
            "field '{field}' must be a path string or null, got {other}"
        )),
    }
}

fn result_path(value: Option<&Value>, field: &str) -> Result<ResultPath, String> {
    match value {
        None => Ok(ResultPath::Path(JsonPath::parse("$").expect("'$' parses"))),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(p)) => {
            let path = JsonPath::parse_reference(p).map_err(|e| format!("field '{field}': {e}"))?;
            if path.context {
                return Err(format!(
                    "field '{field}' cannot write into the context object"
                ));
            }
            Ok(ResultPath::Path(path))
        }
        Some(other) => Err(format!(
            "field '{field}' must be a reference path or null, got {other}"
        )),
    }
}

fn template(obj: &Map<String, Value>, field: &str) -> Result<Option<Template>, String> {
    obj.get(field)
        .map(|v| Template::compile(v).map_err(|e| format!("field '{field}': {e}")))
        .transpose()
}

fn transition(obj: &Map<String, Value>) -> Result<Transition, String> {
    match (obj.get("Next"), obj.get("End")) {
        (Some(Value::String(n)), None) => Ok(Transition::Next(n.clone())),
        (None, Some(Value::Bool(true))) => Ok(Transition::End),
        (Some(_), Some(_)) => Err("fields 'Next' and 'End' are mutually exclusive".into()),
        _ => Err("needs 'Next' (a state name) or 'End': true".into()),
    }
}

fn error_equals(obj: &Map<String, Value>, what: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = obj
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{what}: 'ErrorEquals' must be a non-empty array of strings"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{what}: 'ErrorEquals' holds a non-string"))
        })
        .collect::<Result<_, _>>()?;
    if list.len() > 1 && list.iter().any(|e| e == "States.ALL") {
        return Err(format!(
            "{what}: 'States.ALL' must appear alone in 'ErrorEquals'"
        ));
    }
    Ok(list)
}

fn check_all_last(lists: &[&Vec<String>], what: &str) -> Result<(), String> {
    for (i, l) in lists.iter().enumerate() {
        if l.iter().any(|e| e == "States.ALL") && i + 1 != lists.len() {
            return Err(format!("a {what} on 'States.ALL' must be the last one"));
        }
    }
    Ok(())
}

fn retriers(value: Option<&Value>) -> Result<Vec<Retrier>, String> {
    let Some(value) = value else {
        return Ok(vec![]);
    };
    let items = value.as_array().ok_or("field 'Retry' must be an array")?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("field 'Retry[{i}]'");
        let obj = item
            .as_object()
            .ok_or_else(|| format!("{what} must be an object"))?;
        for key in obj.keys() {
            if ![
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
            .contains(&key.as_str())
            {
                return Err(format!(
                    "{what}: field '{key}' is not supported by the local engine"
                ));
            }
        }
        let num = |f: &str, default: f64, min: f64| -> Result<f64, String> {
            match obj.get(f) {
                None => Ok(default),
                Some(v) => match v.as_f64() {
                    Some(n) if n >= min => Ok(n),
                    _ => Err(format!("{what}: '{f}' must be a number >= {min}, got {v}")),
                },
            }
        };
        let max_attempts = num("MaxAttempts", 3.0, 0.0)?;
        if max_attempts.fract() != 0.0 {
            return Err(format!("{what}: 'MaxAttempts' must be an integer"));
        }
        out.push(Retrier {
            error_equals: error_equals(obj, &what)?,
            interval_seconds: num("IntervalSeconds", 1.0, 1.0)?,
            max_attempts: max_attempts as u32,
            backoff_rate: num("BackoffRate", 2.0, 1.0)?,
            max_delay_seconds: match obj.get("MaxDelaySeconds") {
                None => None,
                Some(v) => {
                    Some(positive_number(v).map_err(|m| format!("{what}: 'MaxDelaySeconds' {m}"))?)
                }
            },
            jitter: match obj.get("JitterStrategy").map(|v| v.as_str()) {
                None | Some(Some("NONE")) => Jitter::None,
                Some(Some("FULL")) => Jitter::Full,
                Some(_) => {
                    return Err(format!(
                        "{what}: 'JitterStrategy' must be \"FULL\" or \"NONE\""
                    ));
                }
            },
        });
    }
    check_all_last(
        &out.iter().map(|r| &r.error_equals).collect::<Vec<_>>(),
        "retrier",
    )?;
    Ok(out)
}

fn catchers(value: Option<&Value>) -> Result<Vec<Catcher>, String> {
    let Some(value) = value else {
        return Ok(vec![]);
    };
    let items = value.as_array().ok_or("field 'Catch' must be an array")?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("field 'Catch[{i}]'");
        let obj = item
            .as_object()
            .ok_or_else(|| format!("{what} must be an object"))?;
        for key in obj.keys() {
            if !["ErrorEquals", "ResultPath", "Next", "Comment"].contains(&key.as_str()) {
                return Err(format!(
                    "{what}: field '{key}' is not supported by the local engine"
                ));
            }
        }
        out.push(Catcher {
            error_equals: error_equals(obj, &what)?,
            result_path: result_path(obj.get("ResultPath"), &format!("Catch[{i}].ResultPath"))?,
            next: obj
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{what}: 'Next' is required"))?
                .to_string(),
        });
    }
    check_all_last(
        &out.iter().map(|c| &c.error_equals).collect::<Vec<_>>(),
        "catcher",
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value) -> Result<StateMachine, DefinitionError> {
        StateMachine::parse(&v.to_string())
    }

    fn one_state(state: Value) -> Result<StateMachine, DefinitionError> {
        if state.to_string().contains("\"Done\"") {
            load(json!({"StartAt": "S", "States": {"S": state, "Done": {"Type": "Succeed"}}}))
        } else {
            load(json!({"StartAt": "S", "States": {"S": state}}))
        }
    }

    #[test]
    fn substitutions_are_applied_and_missing_ones_refused() {
        let subs = HashMap::from([("A".to_string(), "arn:a".to_string())]);
        assert_eq!(
            substitute(r#"{"R":"${A}","S":"x${A}y"}"#, &subs).unwrap(),
            r#"{"R":"arn:a","S":"xarn:ay"}"#
        );
        assert_eq!(
            substitute(r#"{"R":"${B}"}"#, &subs).unwrap_err(),
            DefinitionError::MissingSubstitution("B".into())
        );
    }

    #[test]
    fn unsupported_state_types_are_refused_naming_the_state() {
        for t in ["Map", "Parallel", "Wait"] {
            let err = one_state(json!({"Type": t, "End": true})).unwrap_err();
            assert_eq!(
                err,
                DefinitionError::State {
                    state: "S".into(),
                    message: format!(
                        "type '{t}' is not supported by the local engine (supported: Task, Pass, Choice, Succeed, Fail)"
                    )
                }
            );
        }
    }

    #[test]
    fn unsupported_fields_are_refused_naming_state_and_field() {
        for field in [
            "HeartbeatSeconds",
            "ItemsPath",
            "Arguments",
            "Assign",
            "Output",
            "TimeoutSecondsPath",
        ] {
            let err = one_state(json!({"Type": "Task", "Resource": "r", "Next": "Done", field: 1}))
                .unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("state 'S'") && msg.contains(&format!("'{field}'")),
                "{msg}"
            );
        }
        let err = one_state(
            json!({"Type": "Task", "Resource": "r", "End": true, "QueryLanguage": "JSONata"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("JSONata"), "{err}");
        let err = load(json!({"StartAt": "S", "QueryLanguage": "JSONata", "States": {"S": {"Type": "Succeed"}}})).unwrap_err();
        assert!(err.to_string().contains("JSONata"), "{err}");
        let err = one_state(json!({"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 1, "Whatever": 1}]}))
        .unwrap_err();
        assert!(err.to_string().contains("'Whatever'"), "{err}");
    }

    #[test]
    fn transitions_and_retriers_are_validated() {
        let err = one_state(json!({"Type": "Pass", "Next": "Nowhere"})).unwrap_err();
        assert!(err.to_string().contains("'Nowhere'"), "{err}");
        let err = load(
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("state 'B'") && err.to_string().contains("unreachable"),
            "{err}"
        );
        let err = one_state(json!({"Type": "Pass"})).unwrap_err();
        assert!(err.to_string().contains("'Next'"), "{err}");
        let err = one_state(json!({"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}))
        .unwrap_err();
        assert!(err.to_string().contains("last"), "{err}");
        let err = one_state(
            json!({"Type": "Task", "Resource": "r", "End": true, "ResultPath": "$.a[*]"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("reference path"), "{err}");
        let err =
            one_state(json!({"Type": "Task", "Resource": "${Missing}", "End": true})).unwrap_err();
        assert!(err.to_string().contains("unresolved"), "{err}");
    }

    #[test]
    fn retrier_defaults_follow_the_spec() {
        let m = one_state(json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["X"]}]})).unwrap();
        let StateKind::Task(t) = &m.states["S"].kind else {
            panic!()
        };
        assert_eq!(
            t.retry[0],
            Retrier {
                error_equals: vec!["X".into()],
                interval_seconds: 1.0,
                max_attempts: 3,
                backoff_rate: 2.0,
                max_delay_seconds: None,
                jitter: Jitter::None
            }
        );
        assert_eq!(
            t.result_path,
            ResultPath::Path(JsonPath::parse("$").unwrap())
        );
    }
}
