//! Intrinsic functions (`"field.$": "States.Format('{}', $.x)"`).
//!
//! Parsed at load time; a function the engine does not implement is refused
//! then, naming it. Implemented: `States.Format`, `States.StringToJson`,
//! `States.JsonToString`, `States.Array`, `States.UUID`, plus the small
//! `States.ArrayLength`, `States.ArrayGetItem`, `States.MathAdd` and
//! `States.StringSplit`. Failures at run time are `States.IntrinsicFailure`
//! errors, as in AWS.

use serde_json::Value;

use super::path::{JsonPath, kind_of};

const SUPPORTED: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.UUID",
    "States.ArrayLength",
    "States.ArrayGetItem",
    "States.MathAdd",
    "States.StringSplit",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string literal: `raw` keeps the escapes (States.Format needs to tell
    /// `\{` from `{`), `text` is the unescaped value.
    Str {
        raw: String,
        text: String,
    },
    Literal(Value),
    Path(JsonPath),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
}

/// Values a path argument is resolved against.
pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
}

impl Call {
    pub fn parse(src: &str) -> Result<Call, String> {
        let mut p = Parser {
            chars: src.chars().collect(),
            pos: 0,
            src,
        };
        let call = p.call()?;
        p.skip_ws();
        if p.pos != p.chars.len() {
            return Err(format!(
                "intrinsic '{src}' has trailing text after the closing ')'"
            ));
        }
        Ok(call)
    }

    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        let fail = |m: String| Err(format!("{}: {m}", self.name));
        let args = self
            .args
            .iter()
            .map(|a| a.eval(scope))
            .collect::<Result<Vec<_>, _>>()?;
        let arity = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "{} takes {n} argument(s), got {}",
                    self.name,
                    args.len()
                ))
            }
        };
        match self.name.as_str() {
            "States.Format" => {
                let template = match self.args.first() {
                    Some(Arg::Str { raw, .. }) => raw.clone(),
                    Some(_) => match args.first() {
                        Some(Value::String(s)) => escape_for_format(s),
                        _ => return fail("the first argument must be a string".into()),
                    },
                    None => return fail("needs a template argument".into()),
                };
                format(&template, &args[1..]).or_else(fail)
            }
            "States.StringToJson" => {
                arity(1)?;
                match &args[0] {
                    Value::String(s) => serde_json::from_str(s)
                        .or_else(|e| fail(format!("argument is not valid JSON: {e}"))),
                    other => fail(format!("argument is {}, not a string", kind_of(other))),
                }
            }
            "States.JsonToString" => {
                arity(1)?;
                Ok(Value::String(args[0].to_string()))
            }
            "States.Array" => Ok(Value::Array(args)),
            "States.UUID" => {
                arity(0)?;
                Ok(Value::String(uuid::Uuid::new_v4().to_string()))
            }
            "States.ArrayLength" => {
                arity(1)?;
                match &args[0] {
                    Value::Array(items) => Ok(Value::from(items.len())),
                    other => fail(format!("argument is {}, not an array", kind_of(other))),
                }
            }
            "States.ArrayGetItem" => {
                arity(2)?;
                match (&args[0], args[1].as_u64()) {
                    (Value::Array(items), Some(i)) => items
                        .get(i as usize)
                        .cloned()
                        .ok_or_else(|| format!("{}: index {i} is out of bounds", self.name)),
                    _ => fail("expects an array and a non-negative integer index".into()),
                }
            }
            "States.MathAdd" => {
                arity(2)?;
                match (args[0].as_i64(), args[1].as_i64()) {
                    (Some(a), Some(b)) => Ok(Value::from(a + b)),
                    _ => fail("expects two integers".into()),
                }
            }
            "States.StringSplit" => {
                arity(2)?;
                match (&args[0], &args[1]) {
                    (Value::String(s), Value::String(d)) => Ok(Value::Array(
                        s.split(|c| d.contains(c))
                            .filter(|p| !p.is_empty())
                            .map(|p| Value::String(p.to_string()))
                            .collect(),
                    )),
                    _ => fail("expects two strings".into()),
                }
            }
            other => Err(format!("intrinsic function {other} is not supported")),
        }
    }

    /// Every path used by this call (and nested calls), to validate at load.
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out = Vec::new();
        for a in &self.args {
            match a {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => out.extend(c.paths()),
                _ => {}
            }
        }
        out
    }
}

impl Arg {
    fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        match self {
            Arg::Str { text, .. } => Ok(Value::String(text.clone())),
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Path(p) => {
                let root = if p.context {
                    scope.context
                } else {
                    scope.input
                };
                p.select(root).ok_or_else(|| {
                    format!(
                        "the JSONPath '{p}' could not be found in the input '{}'",
                        root
                    )
                })
            }
            Arg::Call(c) => c.eval(scope),
        }
    }
}

/// A template computed at run time has no escapes: protect its backslashes only,
/// so its `{}` placeholders still work.
fn escape_for_format(s: &str) -> String {
    s.replace('\\', "\\\\")
}

/// Replaces each unescaped `{}` in `template` (escapes still present) with the next argument.
fn format(template: &str, args: &[Value]) -> Result<Value, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '{' if chars.get(i + 1) == Some(&'}') => {
                let arg = args.get(next).ok_or_else(|| {
                    format!(
                        "the template has more '{{}}' placeholders than arguments ({})",
                        args.len()
                    )
                })?;
                match arg {
                    Value::String(s) => out.push_str(s),
                    Value::Number(_) | Value::Bool(_) | Value::Null => {
                        out.push_str(&arg.to_string())
                    }
                    other => {
                        return Err(format!(
                            "argument {} is {}; only strings, numbers, booleans and null can be formatted",
                            next + 1,
                            kind_of(other)
                        ));
                    }
                }
                next += 1;
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if next != args.len() {
        return Err(format!(
            "the template has {next} placeholder(s) but {} argument(s) were given",
            args.len()
        ));
    }
    Ok(Value::String(out))
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn err<T>(&self, m: &str) -> Result<T, String> {
        Err(format!(
            "intrinsic '{}': {m} (at character {})",
            self.src, self.pos
        ))
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn call(&mut self) -> Result<Call, String> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '.' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !name.starts_with("States.") {
            return self.err("expected a function name starting with 'States.'");
        }
        if !SUPPORTED.contains(&name.as_str()) {
            return Err(format!(
                "intrinsic function {name} is not supported by the local engine (supported: {})",
                SUPPORTED.join(", ")
            ));
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            return self.err("expected '(' after the function name");
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(Call { name, args });
                }
                _ => return self.err("expected ',' or ')'"),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => {
                let start = self.pos;
                let mut depth = 0i32;
                let mut quote: Option<char> = None;
                while let Some(c) = self.peek() {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => depth -= 1,
                        (None, ',' | ')') if depth == 0 => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                let raw: String = self.chars[start..self.pos].iter().collect();
                JsonPath::parse(raw.trim())
                    .map(Arg::Path)
                    .map_err(|e| format!("intrinsic '{}': {e}", self.src))
            }
            Some('S') => Ok(Arg::Call(Box::new(self.call()?))),
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c == ',' || c == ')' || c.is_whitespace() {
                        break;
                    }
                    self.pos += 1;
                }
                let raw: String = self.chars[start..self.pos].iter().collect();
                match serde_json::from_str::<Value>(&raw) {
                    Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                        Ok(Arg::Literal(v))
                    }
                    _ => self.err(&format!("'{raw}' is not a literal, path or function")),
                }
            }
            None => self.err("unexpected end of input"),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1; // opening quote
        let mut raw = String::new();
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated string literal"),
                Some('\\') => {
                    let Some(next) = self.chars.get(self.pos + 1).copied() else {
                        return self.err("dangling '\\' in a string literal");
                    };
                    if !matches!(next, '\'' | '{' | '}' | '\\') {
                        return self.err(&format!("unknown escape '\\{next}'"));
                    }
                    raw.push('\\');
                    raw.push(next);
                    text.push(next);
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::Str { raw, text });
                }
                Some(c) => {
                    raw.push(c);
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, input: Value) -> Result<Value, String> {
        let ctx = json!({"Execution": {"Name": "run-1"}});
        Call::parse(src)?.eval(&Scope {
            input: &input,
            context: &ctx,
        })
    }

    // The examples below are those of the AWS "Intrinsic functions" page.

    #[test]
    fn format_example() {
        assert_eq!(
            eval(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval("States.Format('Today is {}', $$.Execution.Name)", json!({})).unwrap(),
            json!("Today is run-1")
        );
    }

    #[test]
    fn format_escapes_and_scalars() {
        assert_eq!(
            eval(
                r"States.Format('\{\} {} \'{}\' {}', 1, true, null)",
                json!({})
            )
            .unwrap(),
            json!("{} 1 'true' null")
        );
        assert!(
            eval("States.Format('{} {}', 1)", json!({}))
                .unwrap_err()
                .contains("placeholders")
        );
        assert!(
            eval("States.Format('{}', $.o)", json!({"o": {}}))
                .unwrap_err()
                .contains("an object")
        );
    }

    #[test]
    fn string_to_json_example() {
        assert_eq!(
            eval(
                "States.StringToJson($.someString)",
                json!({"someString": "{\"number\": 20}"})
            )
            .unwrap(),
            json!({"number": 20})
        );
    }

    #[test]
    fn json_to_string_example() {
        assert_eq!(
            eval(
                "States.JsonToString($.someJson)",
                json!({"someJson": {"name": "Foo", "year": 2020}})
            )
            .unwrap(),
            json!("{\"name\":\"Foo\",\"year\":2020}")
        );
    }

    #[test]
    fn array_example() {
        assert_eq!(
            eval("States.Array($.Id)", json!({"Id": 123456})).unwrap(),
            json!([123456])
        );
        assert_eq!(
            eval(
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"random": "abcdefg"}})
            )
            .unwrap(),
            json!(["Foo", 2020, {"random": "abcdefg"}, null])
        );
    }

    #[test]
    fn uuid_and_nested_calls() {
        let v = eval("States.UUID()", json!({})).unwrap();
        assert!(uuid::Uuid::parse_str(v.as_str().unwrap()).is_ok());
        assert_eq!(
            eval(
                "States.ArrayLength(States.Array(1, 2, $.x))",
                json!({"x": 3})
            )
            .unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.MathAdd($.a, -1)", json!({"a": 5})).unwrap(),
            json!(4)
        );
        assert_eq!(
            eval("States.StringSplit('a,b,,c', ',')", json!({})).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            eval("States.ArrayGetItem($.l, 1)", json!({"l": [7, 8]})).unwrap(),
            json!(8)
        );
    }

    #[test]
    fn unsupported_functions_are_refused_at_parse_time() {
        let err = Call::parse("States.Hash($.x, 'SHA-256')").unwrap_err();
        assert!(
            err.contains("States.Hash") && err.contains("not supported"),
            "{err}"
        );
        assert!(Call::parse("States.Format('x'").is_err());
        assert!(Call::parse("Foo()").is_err());
    }

    #[test]
    fn missing_path_argument_is_an_error() {
        let err = eval("States.Array($.nope)", json!({})).unwrap_err();
        assert!(err.contains("$.nope"), "{err}");
    }
}
