//! Choice rules: comparisons, `And` / `Or` / `Not`, and the `...Path` variants.
//!
//! Semantics follow the spec and AWS: a comparison whose variable holds a value
//! of the wrong type is simply false; a variable (or a `...Path` operand) that
//! does not exist is a `States.Runtime` error, except for `IsPresent`, which is
//! how a definition tests for presence.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::path::JsonPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl Op {
    /// Parses an operator name; the bool says whether it is a `...Path` variant.
    fn parse(name: &str) -> Option<(Op, bool)> {
        use Op::*;
        let (base, is_path) = match name.strip_suffix("Path") {
            Some(b) => (b, true),
            None => (name, false),
        };
        let op = match base {
            "StringEquals" => StringEquals,
            "StringLessThan" => StringLessThan,
            "StringGreaterThan" => StringGreaterThan,
            "StringLessThanEquals" => StringLessThanEquals,
            "StringGreaterThanEquals" => StringGreaterThanEquals,
            "StringMatches" if !is_path => StringMatches,
            "NumericEquals" => NumericEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "BooleanEquals" => BooleanEquals,
            "TimestampEquals" => TimestampEquals,
            "TimestampLessThan" => TimestampLessThan,
            "TimestampGreaterThan" => TimestampGreaterThan,
            "TimestampLessThanEquals" => TimestampLessThanEquals,
            "TimestampGreaterThanEquals" => TimestampGreaterThanEquals,
            "IsNull" if !is_path => IsNull,
            "IsPresent" if !is_path => IsPresent,
            "IsNumeric" if !is_path => IsNumeric,
            "IsString" if !is_path => IsString,
            "IsBoolean" if !is_path => IsBoolean,
            "IsTimestamp" if !is_path => IsTimestamp,
            _ => return None,
        };
        Some((op, is_path))
    }

    fn operand_ok(self, v: &Value) -> bool {
        use Op::*;
        match self {
            StringEquals
            | StringLessThan
            | StringGreaterThan
            | StringLessThanEquals
            | StringGreaterThanEquals
            | StringMatches => v.is_string(),
            NumericEquals
            | NumericLessThan
            | NumericGreaterThan
            | NumericLessThanEquals
            | NumericGreaterThanEquals => v.is_number(),
            TimestampEquals
            | TimestampLessThan
            | TimestampGreaterThan
            | TimestampLessThanEquals
            | TimestampGreaterThanEquals => v.as_str().and_then(timestamp).is_some(),
            BooleanEquals | IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => {
                v.is_boolean()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: JsonPath,
        op: Op,
        operand: Operand,
    },
}

impl Rule {
    /// Compiles a rule object. `top_level` rules carry `Next` (handled by the
    /// caller); nested ones must not.
    pub fn compile(obj: &Map<String, Value>, top_level: bool) -> Result<Rule, String> {
        let mut keys: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "Comment")
            .collect();
        if top_level {
            keys.retain(|k| *k != "Next");
        } else if obj.contains_key("Next") {
            return Err("a nested Choice rule must not have 'Next'".into());
        }
        if keys.iter().any(|k| *k == "Assign" || *k == "Condition") {
            return Err("'Assign' and JSONata 'Condition' are not supported".into());
        }
        let sub_rules = |v: &Value, what: &str| -> Result<Vec<Rule>, String> {
            let items = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("'{what}' must be a non-empty array of rules"))?;
            items
                .iter()
                .map(|r| {
                    r.as_object()
                        .ok_or_else(|| format!("'{what}' holds a rule that is not an object"))
                        .and_then(|o| Rule::compile(o, false))
                })
                .collect()
        };
        match keys.as_slice() {
            ["And"] => return Ok(Rule::And(sub_rules(&obj["And"], "And")?)),
            ["Or"] => return Ok(Rule::Or(sub_rules(&obj["Or"], "Or")?)),
            ["Not"] => {
                let inner = obj["Not"]
                    .as_object()
                    .ok_or("'Not' must hold one rule object")?;
                return Ok(Rule::Not(Box::new(Rule::compile(inner, false)?)));
            }
            _ => {}
        }
        let variable = match obj.get("Variable") {
            Some(Value::String(v)) => JsonPath::parse(v).map_err(|e| format!("'Variable': {e}"))?,
            Some(_) => return Err("'Variable' must be a string path".into()),
            None => {
                return Err(format!(
                    "a Choice rule needs 'Variable' and one comparison, or 'And'/'Or'/'Not' (found fields {keys:?})"
                ));
            }
        };
        let ops: Vec<&str> = keys.iter().copied().filter(|k| *k != "Variable").collect();
        let [op_name] = ops.as_slice() else {
            return Err(format!(
                "a Choice rule needs exactly one comparison operator besides 'Variable' (found {ops:?})"
            ));
        };
        let (op, is_path) = Op::parse(op_name)
            .ok_or_else(|| format!("unknown or unsupported Choice operator '{op_name}'"))?;
        let raw = &obj[*op_name];
        let operand = if is_path {
            let p = raw
                .as_str()
                .ok_or_else(|| format!("'{op_name}' must be a path string"))?;
            Operand::Path(JsonPath::parse(p).map_err(|e| format!("'{op_name}': {e}"))?)
        } else {
            if !op.operand_ok(raw) {
                return Err(format!("'{op_name}' has a value of the wrong type: {raw}"));
            }
            Operand::Literal(raw.clone())
        };
        Ok(Rule::Compare {
            variable,
            op,
            operand,
        })
    }

    /// Evaluates against the effective input; `Err` is a `States.Runtime` cause.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(input, context)?),
            Rule::Compare {
                variable,
                op,
                operand,
            } => {
                let select = |p: &JsonPath| p.select(if p.context { context } else { input });
                let value = select(variable);
                if *op == Op::IsPresent {
                    return Ok(value.is_some() == (operand == &Operand::Literal(Value::Bool(true))));
                }
                let value = value.ok_or_else(|| {
                    format!(
                        "Invalid path '{variable}': The choice state's condition path references an undefined value."
                    )
                })?;
                let expected = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => select(p).ok_or_else(|| {
                        format!(
                            "Invalid path '{p}': The choice state's condition path references an undefined value."
                        )
                    })?,
                };
                Ok(compare(*op, &value, &expected))
            }
        }
    }
}

fn timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

fn compare(op: Op, value: &Value, expected: &Value) -> bool {
    use Op::*;
    let flag = || expected.as_bool().unwrap_or(false);
    match op {
        IsNull => value.is_null() == flag(),
        IsNumeric => value.is_number() == flag(),
        IsString => value.is_string() == flag(),
        IsBoolean => value.is_boolean() == flag(),
        IsTimestamp => value.as_str().and_then(timestamp).is_some() == flag(),
        IsPresent => unreachable!("handled before the value is read"),
        BooleanEquals => match (value.as_bool(), expected.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(s), Some(pattern)) => wildcard_match(pattern, s),
            _ => false,
        },
        StringEquals
        | StringLessThan
        | StringGreaterThan
        | StringLessThanEquals
        | StringGreaterThanEquals => {
            let (Some(a), Some(b)) = (value.as_str(), expected.as_str()) else {
                return false;
            };
            ordering_matches(op, a.cmp(b))
        }
        NumericEquals
        | NumericLessThan
        | NumericGreaterThan
        | NumericLessThanEquals
        | NumericGreaterThanEquals => {
            let (Some(a), Some(b)) = (value.as_f64(), expected.as_f64()) else {
                return false;
            };
            match a.partial_cmp(&b) {
                Some(o) => ordering_matches(op, o),
                None => false,
            }
        }
        TimestampEquals
        | TimestampLessThan
        | TimestampGreaterThan
        | TimestampLessThanEquals
        | TimestampGreaterThanEquals => {
            let (Some(a), Some(b)) = (
                value.as_str().and_then(timestamp),
                expected.as_str().and_then(timestamp),
            ) else {
                return false;
            };
            ordering_matches(op, a.cmp(&b))
        }
    }
}

fn ordering_matches(op: Op, o: std::cmp::Ordering) -> bool {
    use Op::*;
    use std::cmp::Ordering::*;
    match op {
        StringEquals | NumericEquals | TimestampEquals => o == Equal,
        StringLessThan | NumericLessThan | TimestampLessThan => o == Less,
        StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => o == Greater,
        StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => o != Greater,
        StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
            o != Less
        }
        _ => false,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn wildcard_match(pattern: &str, s: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Char(n)),
                None => toks.push(Tok::Char('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic two-pointer wildcard matching with backtracking to the last star.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < toks.len() && toks[p] == Tok::Char(s[i]) {
            p += 1;
            i += 1;
        } else if p < toks.len() && toks[p] == Tok::Star {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    while p < toks.len() && toks[p] == Tok::Star {
        p += 1;
    }
    p == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        Rule::compile(v.as_object().unwrap(), false).unwrap()
    }

    fn check(v: Value, input: Value) -> Result<bool, String> {
        rule(v).eval(&input, &json!({}))
    }

    /// The Choice example of the spec: `{"type": "Private", "value": 22}` goes to
    /// ValueInTwenties (the `Not` rule is false, the `And` rule is true).
    #[test]
    fn spec_choice_example() {
        let input = json!({"type": "Private", "value": 22});
        let not_private = rule(json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}}));
        assert!(!not_private.eval(&input, &json!({})).unwrap());
        let twenties = rule(json!({"And": [
            {"Variable": "$.value", "IsPresent": true},
            {"Variable": "$.value", "IsNumeric": true},
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30}
        ]}));
        assert!(twenties.eval(&input, &json!({})).unwrap());
        assert!(!twenties.eval(&json!({"value": 30}), &json!({})).unwrap());
        assert!(!twenties.eval(&json!({}), &json!({})).unwrap());
    }

    /// The rating example of the spec: `NumericGreaterThanPath` against `$.auditThreshold`.
    #[test]
    fn path_variants_compare_two_paths() {
        let r = json!({"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold"});
        assert!(check(r.clone(), json!({"rating": 53, "auditThreshold": 50})).unwrap());
        assert!(!check(r.clone(), json!({"rating": 50, "auditThreshold": 50})).unwrap());
        let err = check(r, json!({"rating": 53})).unwrap_err();
        assert!(err.contains("$.auditThreshold"), "{err}");
        assert!(
            check(
                json!({"Variable": "$.a", "StringEqualsPath": "$.b"}),
                json!({"a": "x", "b": "x"})
            )
            .unwrap()
        );
        assert!(
            check(
                json!({"Variable": "$.a", "BooleanEqualsPath": "$.b"}),
                json!({"a": false, "b": false})
            )
            .unwrap()
        );
    }

    #[test]
    fn type_mismatch_is_false_and_missing_variable_is_runtime_error() {
        assert!(
            !check(
                json!({"Variable": "$.v", "StringEquals": "1"}),
                json!({"v": 1})
            )
            .unwrap()
        );
        assert!(
            !check(
                json!({"Variable": "$.v", "NumericEquals": 1}),
                json!({"v": "1"})
            )
            .unwrap()
        );
        assert!(
            !check(
                json!({"Variable": "$.v", "BooleanEquals": false}),
                json!({"v": null})
            )
            .unwrap()
        );
        let err = check(json!({"Variable": "$.v", "StringEquals": "1"}), json!({})).unwrap_err();
        assert!(err.contains("Invalid path '$.v'"), "{err}");
        assert!(!check(json!({"Variable": "$.v", "IsPresent": true}), json!({})).unwrap());
        assert!(check(json!({"Variable": "$.v", "IsPresent": false}), json!({})).unwrap());
    }

    #[test]
    fn string_and_numeric_orderings() {
        let inp = json!({"s": "b", "n": 2.5});
        for (op, lit, want) in [
            ("StringLessThan", json!("c"), true),
            ("StringGreaterThan", json!("c"), false),
            ("StringLessThanEquals", json!("b"), true),
            ("StringGreaterThanEquals", json!("a"), true),
        ] {
            assert_eq!(
                check(json!({"Variable": "$.s", op: lit}), inp.clone()).unwrap(),
                want,
                "{op}"
            );
        }
        for (op, lit, want) in [
            ("NumericEquals", json!(2.5), true),
            ("NumericLessThan", json!(3), true),
            ("NumericGreaterThan", json!(2), true),
            ("NumericLessThanEquals", json!(2.5), true),
            ("NumericGreaterThanEquals", json!(3), false),
        ] {
            assert_eq!(
                check(json!({"Variable": "$.n", op: lit}), inp.clone()).unwrap(),
                want,
                "{op}"
            );
        }
    }

    #[test]
    fn type_tests_and_timestamps() {
        let inp = json!({"n": null, "t": "2016-03-14T01:59:00Z", "b": true});
        assert!(check(json!({"Variable": "$.n", "IsNull": true}), inp.clone()).unwrap());
        assert!(check(json!({"Variable": "$.b", "IsBoolean": true}), inp.clone()).unwrap());
        assert!(check(json!({"Variable": "$.t", "IsString": true}), inp.clone()).unwrap());
        assert!(check(json!({"Variable": "$.t", "IsTimestamp": true}), inp.clone()).unwrap());
        assert!(
            check(
                json!({"Variable": "$.b", "IsTimestamp": false}),
                inp.clone()
            )
            .unwrap()
        );
        assert!(
            check(
                json!({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}),
                inp.clone()
            )
            .unwrap()
        );
        assert!(
            check(
                json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00+00:00"}),
                inp
            )
            .unwrap()
        );
    }

    /// The StringMatches examples of the AWS docs: `log-*.txt` and `*.log`.
    #[test]
    fn string_matches_wildcards() {
        let r = |p: &str, s: &str| {
            check(
                json!({"Variable": "$.s", "StringMatches": p}),
                json!({"s": s}),
            )
            .unwrap()
        };
        assert!(r("log-*.txt", "log-2024-01.txt"));
        assert!(!r("log-*.txt", "log-2024-01.csv"));
        assert!(r("*.log", "app.log"));
        assert!(r("a\\*b", "a*b"));
        assert!(!r("a\\*b", "axxb"));
        assert!(r("*", ""));
        assert!(r("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn and_or_short_circuit() {
        // The Or stops at the first true rule, so the missing $.x is never read.
        assert!(
            check(
                json!({"Or": [{"Variable": "$.a", "BooleanEquals": true}, {"Variable": "$.x", "BooleanEquals": true}]}),
                json!({"a": true})
            )
            .unwrap()
        );
        assert!(
            !check(
                json!({"And": [{"Variable": "$.a", "BooleanEquals": false}, {"Variable": "$.x", "BooleanEquals": true}]}),
                json!({"a": true})
            )
            .unwrap()
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let bad = |v: Value| Rule::compile(v.as_object().unwrap(), false).unwrap_err();
        assert!(bad(json!({"Variable": "$.a", "StringEquals": 1})).contains("wrong type"));
        assert!(bad(json!({"Variable": "$.a", "Frobnicate": 1})).contains("Frobnicate"));
        assert!(bad(json!({"Variable": "$.a"})).contains("exactly one"));
        assert!(bad(json!({"And": []})).contains("non-empty"));
        assert!(
            bad(json!({"Variable": "$.a", "StringMatchesPath": "$.b"}))
                .contains("StringMatchesPath")
        );
        assert!(bad(json!({"Variable": "$.a", "IsNull": true, "Next": "X"})).contains("Next"));
    }
}
