//! JSONPath as the Amazon States Language uses it.
//!
//! Paths are parsed once, when the definition is loaded, so a path the engine
//! cannot evaluate is refused at load time rather than in the middle of an
//! execution. Supported: `$`, `$$` (the context object), `.name`, `['name']`,
//! `["name"]`, `[n]` (negative counts from the end), `[*]` / `.*`, and slices
//! `[start:end]`. Refused: recursive descent `..`, filters `?()`, unions `,`
//! and script expressions `@`.
//!
//! A *reference path* (what `ResultPath` and Choice `Variable` accept in the
//! spec) identifies a single node: only fields and non-negative indexes.

use std::fmt;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>),
}

/// A parsed JSONPath. `context` is true for `$$...` paths, which select from the
/// context object instead of the state's input.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    raw: String,
    pub context: bool,
    pub segments: Vec<Segment>,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl JsonPath {
    /// Parses a path; the error says what is wrong (the caller adds the state and field).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (context, rest) = if let Some(rest) = raw.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("path '{raw}' does not start with '$'"));
        };
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        let mut segments = Vec::new();
        let unsupported = |what: &str| {
            Err(format!(
                "path '{raw}' uses {what}, which the local engine does not support"
            ))
        };
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    if i < chars.len() && chars[i] == '.' {
                        return unsupported("recursive descent '..'");
                    }
                    if i < chars.len() && chars[i] == '*' {
                        segments.push(Segment::Wildcard);
                        i += 1;
                        continue;
                    }
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name.is_empty() {
                        return Err(format!("path '{raw}' has an empty field name"));
                    }
                    if name.contains(['(', ')', '@', '?', ',', ' ']) {
                        return unsupported("an expression in a field name");
                    }
                    segments.push(Segment::Field(name));
                }
                '[' => {
                    let close = match chars[i..].iter().position(|c| *c == ']') {
                        Some(p) => i + p,
                        None => return Err(format!("path '{raw}' has an unclosed '['")),
                    };
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if let Some(q) = inner.chars().next().filter(|c| *c == '\'' || *c == '"') {
                        // A quoted field name may contain ']' only if we find the matching quote.
                        let body_start = i + 2;
                        let end_quote = chars[body_start..]
                            .iter()
                            .position(|c| *c == q)
                            .map(|p| body_start + p)
                            .ok_or_else(|| format!("path '{raw}' has an unclosed quote"))?;
                        let name: String = chars[body_start..end_quote].iter().collect();
                        let after = end_quote + 1;
                        if after >= chars.len() || chars[after] != ']' {
                            return unsupported("a union or expression in brackets");
                        }
                        segments.push(Segment::Field(name));
                        i = after + 1;
                        continue;
                    }
                    if inner == "*" {
                        segments.push(Segment::Wildcard);
                    } else if inner.starts_with('?') || inner.starts_with('(') {
                        return unsupported("a filter or script expression");
                    } else if inner.contains(',') {
                        return unsupported("a union ','");
                    } else if let Some((a, b)) = inner.split_once(':') {
                        if b.contains(':') {
                            return unsupported("a slice step");
                        }
                        let bound = |s: &str| -> Result<Option<i64>, String> {
                            let s = s.trim();
                            if s.is_empty() {
                                Ok(None)
                            } else {
                                s.parse::<i64>().map(Some).map_err(|_| {
                                    format!("path '{raw}' has a bad slice bound '{s}'")
                                })
                            }
                        };
                        segments.push(Segment::Slice(bound(a)?, bound(b)?));
                    } else {
                        let n = inner
                            .parse::<i64>()
                            .map_err(|_| format!("path '{raw}' has a bad index '{inner}'"))?;
                        segments.push(Segment::Index(n));
                    }
                    i = close + 1;
                }
                c => {
                    return Err(format!(
                        "path '{raw}' has an unexpected character '{c}' (expected '.' or '[')"
                    ));
                }
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            context,
            segments,
        })
    }

    /// Parses a reference path (single node: fields and non-negative indexes only).
    pub fn parse_reference(raw: &str) -> Result<Self, String> {
        let path = Self::parse(raw)?;
        if !path.is_reference() {
            return Err(format!(
                "'{raw}' is not a reference path (only '.field', ['field'] and [n] are allowed)"
            ));
        }
        Ok(path)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn is_reference(&self) -> bool {
        self.segments.iter().all(|s| match s {
            Segment::Field(_) => true,
            Segment::Index(n) => *n >= 0,
            _ => false,
        })
    }

    /// True when the path can select several nodes (its result is then an array).
    pub fn is_indefinite(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Wildcard | Segment::Slice(..)))
    }

    /// Selects from `root`. A definite path gives the node or `None` when it does
    /// not exist; an indefinite path gives the array of all matches (maybe empty).
    pub fn select(&self, root: &Value) -> Option<Value> {
        let mut current: Vec<&Value> = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                match (segment, value) {
                    (Segment::Field(name), Value::Object(map)) => {
                        if let Some(v) = map.get(name) {
                            next.push(v);
                        }
                    }
                    (Segment::Index(n), Value::Array(items)) => {
                        let idx = if *n < 0 { items.len() as i64 + n } else { *n };
                        if idx >= 0
                            && let Some(v) = items.get(idx as usize)
                        {
                            next.push(v);
                        }
                    }
                    (Segment::Wildcard, Value::Array(items)) => next.extend(items.iter()),
                    (Segment::Wildcard, Value::Object(map)) => next.extend(map.values()),
                    (Segment::Slice(a, b), Value::Array(items)) => {
                        let len = items.len() as i64;
                        let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                        let start = a.map(norm).unwrap_or(0);
                        let end = b.map(norm).unwrap_or(len);
                        if start < end {
                            next.extend(items[start as usize..end as usize].iter());
                        }
                    }
                    _ => {}
                }
            }
            current = next;
        }
        if self.is_indefinite() {
            Some(Value::Array(current.into_iter().cloned().collect()))
        } else {
            current.into_iter().next().cloned()
        }
    }

    /// Writes `value` at this reference path inside `root`, creating missing
    /// objects on the way (the `ResultPath` rule). `$` replaces the whole root.
    pub fn set(&self, root: Value, value: Value) -> Result<Value, String> {
        if self.is_root() {
            return Ok(value);
        }
        let mut root = root;
        let mut node = &mut root;
        let last = self.segments.len() - 1;
        for (i, segment) in self.segments.iter().enumerate() {
            let is_last = i == last;
            match segment {
                Segment::Field(name) => {
                    let map = match node {
                        Value::Object(map) => map,
                        other => {
                            return Err(format!(
                                "cannot set '{}': the node before '{name}' is {}, not an object",
                                self.raw,
                                kind_of(other)
                            ));
                        }
                    };
                    if is_last {
                        map.insert(name.clone(), value);
                        return Ok(root);
                    }
                    node = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(n) => {
                    let items = match node {
                        Value::Array(items) => items,
                        other => {
                            return Err(format!(
                                "cannot set '{}': the node before [{n}] is {}, not an array",
                                self.raw,
                                kind_of(other)
                            ));
                        }
                    };
                    let len = items.len();
                    let slot = items.get_mut(*n as usize).ok_or_else(|| {
                        format!(
                            "cannot set '{}': index {n} is out of bounds (length {len})",
                            self.raw
                        )
                    })?;
                    if is_last {
                        *slot = value;
                        return Ok(root);
                    }
                    node = slot;
                }
                _ => return Err(format!("'{}' is not a reference path", self.raw)),
            }
        }
        unreachable!("the loop returns on the last segment")
    }
}

pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, v: &Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().select(v)
    }

    /// The reference-path example of the AWS "Paths" page.
    #[test]
    fn reference_paths_from_the_aws_docs() {
        let input = json!({"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}});
        assert_eq!(sel("$.foo", &input), Some(json!(123)));
        assert_eq!(sel("$.bar", &input), Some(json!(["a", "b", "c"])));
        assert_eq!(sel("$.car.cdr", &input), Some(json!(true)));
        assert_eq!(sel("$", &input), Some(input.clone()));
        assert_eq!(sel("$.nope", &input), None);
        assert!(JsonPath::parse("$.car.cdr").unwrap().is_reference());
    }

    /// The slice example of the AWS input/output processing page: `$.a[0:2]` on `{"a":[1,2,3,4]}`.
    #[test]
    fn slices_and_wildcards_select_arrays() {
        let input = json!({"a": [1, 2, 3, 4]});
        assert_eq!(sel("$.a[0:2]", &input), Some(json!([1, 2])));
        assert_eq!(sel("$.a[-3:]", &input), Some(json!([2, 3, 4])));
        assert_eq!(sel("$.a[*]", &input), Some(json!([1, 2, 3, 4])));
        assert_eq!(sel("$.a[-1]", &input), Some(json!(4)));
        let input = json!({"xs": [{"id": 1}, {"id": 2}]});
        assert_eq!(sel("$.xs[*].id", &input), Some(json!([1, 2])));
        assert_eq!(sel("$['xs'][1][\"id\"]", &input), Some(json!(2)));
        assert_eq!(sel("$.missing[*]", &input), Some(json!([])));
        assert!(!JsonPath::parse("$.a[*]").unwrap().is_reference());
    }

    #[test]
    fn unsupported_syntax_is_refused_with_a_reason() {
        for bad in [
            "$..a",
            "$.a[?(@.b)]",
            "$.a[0,1]",
            "a.b",
            "$.a[0:4:2]",
            "$.a[",
        ] {
            let err = JsonPath::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert!(JsonPath::parse_reference("$.a[*]").is_err());
    }

    #[test]
    fn context_paths_are_flagged() {
        let p = JsonPath::parse("$$.Execution.Id").unwrap();
        assert!(p.context);
        assert_eq!(
            p.segments,
            vec![
                Segment::Field("Execution".into()),
                Segment::Field("Id".into())
            ]
        );
    }

    #[test]
    fn set_creates_missing_objects_and_replaces_leaves() {
        let p = JsonPath::parse_reference("$.master.detail").unwrap();
        let out = p
            .set(json!({"master": {"detail": [1, 2, 3]}}), json!("x"))
            .unwrap();
        assert_eq!(out, json!({"master": {"detail": "x"}}));
        let out = p.set(json!({}), json!(1)).unwrap();
        assert_eq!(out, json!({"master": {"detail": 1}}));
        let out = JsonPath::parse_reference("$")
            .unwrap()
            .set(json!({"a": 1}), json!(2))
            .unwrap();
        assert_eq!(out, json!(2));
        let err = p.set(json!({"master": "str"}), json!(1)).unwrap_err();
        assert!(err.contains("not an object"), "{err}");
        let out = JsonPath::parse_reference("$.l[1]")
            .unwrap()
            .set(json!({"l": [0, 0]}), json!(9))
            .unwrap();
        assert_eq!(out, json!({"l": [0, 9]}));
    }
}
