//! Interpreting an MCP `CallToolResult` as a tool outcome. Pure: no I/O.
//!
//! A tool that ran and reported failure is a result (`success: false` with its
//! partial external refs kept for compensation), not an error. Only a result
//! claiming success that cannot be understood is an error: `PermanentError`
//! `MALFORMED_TOOL_RESULT`, because retrying the same call would return the same
//! thing and we cannot tell what was written.
//!
//! Accepted shapes (the payload comes from `structuredContent` when present, else
//! from the first text content block whose text is a JSON object):
//!
//! 1. `{"success": bool, "external_object_refs": [{system, object_type, object_id,
//!    object_url?}], "error": {"class"?, "code", "message"}}`, where the error may
//!    instead be given as top-level `error_code` / `error_message` (and
//!    `error_class`);
//! 2. the legacy single object `{"external_object_id", "object_type", "system"?,
//!    "object_url"?}` (success; `system` defaults to [`UNKNOWN_SYSTEM`]);
//! 3. `isError: true` with plain text: failure, class DOWNSTREAM, code TOOL_ERROR,
//!    message = the text. With `isError` and a JSON payload of shape 1, the
//!    payload's error and refs are used and success is forced to false.

use serde_json::{Map, Value};

use crate::contracts::ExternalObjectRef;
use crate::error::{ErrorClass, ExecutionError};
use crate::ports::ToolCallResponse;

/// `system` of a legacy single-object result that does not name its system.
pub const UNKNOWN_SYSTEM: &str = "unknown";
/// Code of a tool-reported failure that carries no code of its own.
pub const DEFAULT_TOOL_ERROR_CODE: &str = "TOOL_ERROR";
pub const MALFORMED: &str = "MALFORMED_TOOL_RESULT";

/// What the tool said it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    pub success: bool,
    /// On failure: whatever the tool wrote before failing (kept for compensation).
    pub external_object_refs: Vec<ExternalObjectRef>,
    /// Present exactly when `success` is false.
    pub error: Option<ToolError>,
}

/// A failure the tool itself reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
}

pub fn interpret(response: &ToolCallResponse) -> Result<ToolOutcome, ExecutionError> {
    let payload = payload(response)?;
    if response.is_error {
        return Ok(match payload {
            Some(Value::Object(obj)) if obj.contains_key("success") || has_error(&obj) => {
                let refs = refs_lenient(&obj);
                let error = error_of(&obj).unwrap_or_else(|| text_error(response));
                failure(refs, error)
            }
            _ => failure(vec![], text_error(response)),
        });
    }
    let Some(payload) = payload else {
        return Err(malformed(if response.content.is_empty() {
            "result has no structuredContent and no content blocks".to_string()
        } else {
            format!(
                "result has no structuredContent and no text content block holding a JSON object (first block: {})",
                excerpt(&response.content[0].to_string())
            )
        }));
    };
    let Value::Object(obj) = payload else {
        return Err(malformed(format!(
            "result payload is not a JSON object: {}",
            excerpt(&payload.to_string())
        )));
    };
    if let Some(success) = obj.get("success") {
        let Some(success) = success.as_bool() else {
            return Err(malformed(format!(
                "`success` must be a boolean, got {}",
                excerpt(&success.to_string())
            )));
        };
        let mut refs = refs_strict(&obj)?;
        if let Some(legacy) = legacy_ref(&obj)? {
            refs.push(legacy);
        }
        if success {
            return Ok(ToolOutcome {
                success: true,
                external_object_refs: refs,
                error: None,
            });
        }
        let error = error_of(&obj).unwrap_or_else(|| ToolError {
            class: ErrorClass::Downstream,
            code: DEFAULT_TOOL_ERROR_CODE.into(),
            message: "tool reported success=false without an error message".into(),
        });
        return Ok(failure(refs, error));
    }
    if let Some(legacy) = legacy_ref(&obj)? {
        return Ok(ToolOutcome {
            success: true,
            external_object_refs: vec![legacy],
            error: None,
        });
    }
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    Err(malformed(format!(
        "result JSON has neither `success` nor `external_object_id` (keys: [{}])",
        keys.join(", ")
    )))
}

fn failure(refs: Vec<ExternalObjectRef>, error: ToolError) -> ToolOutcome {
    ToolOutcome {
        success: false,
        external_object_refs: refs,
        error: Some(error),
    }
}

fn malformed(message: String) -> ExecutionError {
    ExecutionError::permanent(ErrorClass::Downstream, MALFORMED, message)
}

/// `structuredContent`, else the first text block whose text is a JSON object.
fn payload(response: &ToolCallResponse) -> Result<Option<Value>, ExecutionError> {
    if let Some(structured) = &response.structured_content
        && !structured.is_null()
    {
        return Ok(Some(structured.clone()));
    }
    Ok(texts(response)
        .filter_map(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .find(Value::is_object))
}

fn texts(response: &ToolCallResponse) -> impl Iterator<Item = &str> {
    response.content.iter().filter_map(|block| {
        (block.get("type").and_then(Value::as_str) == Some("text"))
            .then(|| block.get("text").and_then(Value::as_str))
            .flatten()
    })
}

fn text_error(response: &ToolCallResponse) -> ToolError {
    let text: Vec<&str> = texts(response).collect();
    let message = if text.is_empty() {
        "tool reported an error without a message".to_string()
    } else {
        text.join("\n")
    };
    ToolError {
        class: ErrorClass::Downstream,
        code: DEFAULT_TOOL_ERROR_CODE.into(),
        message,
    }
}

fn has_error(obj: &Map<String, Value>) -> bool {
    obj.contains_key("error") || obj.contains_key("error_code") || obj.contains_key("error_message")
}

/// `error: {class?, code, message}` (or a bare message string), else top-level
/// `error_class`/`error_code`/`error_message`.
fn error_of(obj: &Map<String, Value>) -> Option<ToolError> {
    let (class, code, message) = match obj.get("error") {
        Some(Value::Object(e)) => (e.get("class"), e.get("code"), e.get("message")),
        Some(message @ Value::String(_)) => {
            (obj.get("error_class"), obj.get("error_code"), Some(message))
        }
        _ => (
            obj.get("error_class"),
            obj.get("error_code"),
            obj.get("error_message"),
        ),
    };
    if code.is_none() && message.is_none() {
        return None;
    }
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    Some(ToolError {
        class: class
            .and_then(|c| serde_json::from_value::<ErrorClass>(c.clone()).ok())
            .unwrap_or(ErrorClass::Downstream),
        code: str_of(code).unwrap_or_else(|| DEFAULT_TOOL_ERROR_CODE.into()),
        message: str_of(message).unwrap_or_else(|| "tool reported failure".into()),
    })
}

fn parse_ref(v: &Value) -> Result<ExternalObjectRef, String> {
    let obj = v.as_object().ok_or("is not an object")?;
    let field = |name: &str| -> Result<String, String> {
        obj.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("lacks a non-empty string `{name}`"))
    };
    Ok(ExternalObjectRef {
        system: field("system")?,
        object_type: field("object_type")?,
        object_id: field("object_id")?,
        object_url: obj
            .get("object_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Refs of a result claiming an outcome: any unreadable ref is malformed, since
/// we could not compensate or audit an object we cannot name.
fn refs_strict(obj: &Map<String, Value>) -> Result<Vec<ExternalObjectRef>, ExecutionError> {
    match obj.get("external_object_refs") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                parse_ref(v).map_err(|why| {
                    malformed(format!(
                        "external_object_refs[{i}] {why}: {}",
                        excerpt(&v.to_string())
                    ))
                })
            })
            .collect(),
        Some(other) => Err(malformed(format!(
            "external_object_refs must be an array, got {}",
            excerpt(&other.to_string())
        ))),
    }
}

/// Refs of an `isError` result: keep what can be read, the failure stands anyway.
fn refs_lenient(obj: &Map<String, Value>) -> Vec<ExternalObjectRef> {
    let mut refs: Vec<ExternalObjectRef> = obj
        .get("external_object_refs")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| parse_ref(v).ok()).collect())
        .unwrap_or_default();
    if let Ok(Some(legacy)) = legacy_ref(obj) {
        refs.push(legacy);
    }
    refs
}

/// The legacy `{"external_object_id", "object_type", "system"?, "object_url"?}`.
fn legacy_ref(obj: &Map<String, Value>) -> Result<Option<ExternalObjectRef>, ExecutionError> {
    let Some(id) = obj.get("external_object_id") else {
        return Ok(None);
    };
    let id = id
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("external_object_id must be a non-empty string".into()))?;
    let object_type = obj
        .get("object_type")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            malformed(format!(
                "legacy result with external_object_id {id} lacks a string object_type"
            ))
        })?;
    Ok(Some(ExternalObjectRef {
        system: obj
            .get("system")
            .and_then(Value::as_str)
            .unwrap_or(UNKNOWN_SYSTEM)
            .to_string(),
        object_type: object_type.to_string(),
        object_id: id.to_string(),
        object_url: obj
            .get("object_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    }))
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
