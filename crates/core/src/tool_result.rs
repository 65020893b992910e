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
//!    message = the text. With `isError` and a JSON payload, its readable refs
//!    (either form) and its error, if any, are used; success is forced to false.

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
        // Whatever the payload says, the tool failed; keep what it says it wrote.
        let (refs, error) = match &payload {
            Some(Value::Object(obj)) => (refs_lenient(obj), error_of(obj)),
            _ => (vec![], None),
        };
        return Ok(failure(refs, error.unwrap_or_else(|| text_error(response))));
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
    let text: Vec<&str> = texts(response).filter(|t| !t.trim().is_empty()).collect();
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
    // Blank strings count as absent: an outcome must never carry an empty code
    // or message (the failure taxonomy and the audit rely on both).
    let str_of = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn structured(payload: Value) -> ToolCallResponse {
        ToolCallResponse {
            is_error: false,
            content: vec![],
            structured_content: Some(payload.clone()),
            raw: json!({ "structuredContent": payload }),
        }
    }

    fn text_blocks(is_error: bool, texts: &[&str]) -> ToolCallResponse {
        let content: Vec<Value> = texts
            .iter()
            .map(|t| json!({"type": "text", "text": t}))
            .collect();
        ToolCallResponse {
            is_error,
            raw: json!({ "content": content, "isError": is_error }),
            content,
            structured_content: None,
        }
    }

    fn r(id: &str) -> ExternalObjectRef {
        ExternalObjectRef {
            system: "crm".into(),
            object_type: "task".into(),
            object_id: id.into(),
            object_url: None,
        }
    }

    fn malformed_message(resp: &ToolCallResponse) -> String {
        let err = interpret(resp).unwrap_err();
        assert_eq!(err.name, "PermanentError");
        assert_eq!(err.code, MALFORMED);
        assert_eq!(err.class, ErrorClass::Downstream);
        err.message
    }

    #[test]
    fn structured_success_with_refs() {
        let out = interpret(&structured(json!({
            "success": true,
            "external_object_refs": [
                {"system": "crm", "object_type": "task", "object_id": "T-1",
                 "object_url": "https://crm/T-1"},
                {"system": "crm", "object_type": "task", "object_id": "T-2"}
            ]
        })))
        .unwrap();
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.external_object_refs.len(), 2);
        assert_eq!(
            out.external_object_refs[0].object_url.as_deref(),
            Some("https://crm/T-1")
        );
        assert_eq!(out.external_object_refs[1], r("T-2"));
    }

    #[test]
    fn success_without_refs_is_a_success_with_no_refs() {
        let out = interpret(&structured(json!({"success": true}))).unwrap();
        assert!(out.success);
        assert!(out.external_object_refs.is_empty());
    }

    #[test]
    fn json_in_a_text_block_is_read_when_there_is_no_structured_content() {
        let payload = json!({"success": true, "external_object_refs": [
            {"system": "crm", "object_type": "task", "object_id": "T-9"}]});
        let out = interpret(&text_blocks(false, &["working...", &payload.to_string()])).unwrap();
        assert!(out.success);
        assert_eq!(out.external_object_refs, vec![r("T-9")]);
    }

    #[test]
    fn reported_failure_keeps_partial_refs_and_nested_error() {
        let out = interpret(&structured(json!({
            "success": false,
            "external_object_refs": [{"system": "crm", "object_type": "task", "object_id": "T-1"}],
            "error": {"class": "RATE_LIMIT", "code": "CRM_QUOTA", "message": "quota exceeded"}
        })))
        .unwrap();
        assert!(!out.success);
        assert_eq!(out.external_object_refs, vec![r("T-1")]);
        assert_eq!(
            out.error,
            Some(ToolError {
                class: ErrorClass::RateLimit,
                code: "CRM_QUOTA".into(),
                message: "quota exceeded".into()
            })
        );
    }

    #[test]
    fn reported_failure_with_top_level_error_fields_defaults_class_to_downstream() {
        let out = interpret(&structured(json!({
            "success": false,
            "error_code": "DUPLICATE_TASK",
            "error_message": "a task with that title exists"
        })))
        .unwrap();
        let e = out.error.unwrap();
        assert_eq!(e.class, ErrorClass::Downstream);
        assert_eq!(e.code, "DUPLICATE_TASK");
        assert_eq!(e.message, "a task with that title exists");
    }

    #[test]
    fn blank_error_code_and_message_get_the_defaults() {
        let r = ToolCallResponse {
            is_error: true,
            content: vec![],
            structured_content: Some(json!({"error_code": "", "error_message": "  "})),
            raw: json!({}),
        };
        let e = interpret(&r).unwrap().error.unwrap();
        assert_eq!(e.code, DEFAULT_TOOL_ERROR_CODE);
        assert_eq!(e.message, "tool reported failure");
    }

    #[test]
    fn reported_failure_without_error_details_gets_the_default_code() {
        let out = interpret(&structured(json!({"success": false}))).unwrap();
        let e = out.error.unwrap();
        assert_eq!(e.code, DEFAULT_TOOL_ERROR_CODE);
        assert!(e.message.contains("success=false"));
    }

    #[test]
    fn unknown_error_class_is_downstream_not_a_parse_failure() {
        let out = interpret(&structured(json!({
            "success": false, "error": {"class": "WEIRD", "code": "X", "message": "m"}
        })))
        .unwrap();
        assert_eq!(out.error.unwrap().class, ErrorClass::Downstream);
    }

    #[test]
    fn legacy_single_object_form() {
        let out = interpret(&structured(json!({
            "external_object_id": "N-1", "object_type": "note",
            "system": "internal", "object_url": "https://notes/N-1"
        })))
        .unwrap();
        assert!(out.success);
        assert_eq!(
            out.external_object_refs,
            vec![ExternalObjectRef {
                system: "internal".into(),
                object_type: "note".into(),
                object_id: "N-1".into(),
                object_url: Some("https://notes/N-1".into())
            }]
        );
    }

    #[test]
    fn legacy_form_without_system_uses_unknown() {
        let out = interpret(&text_blocks(
            false,
            &[r#"{"external_object_id": "N-2", "object_type": "note"}"#],
        ))
        .unwrap();
        assert_eq!(out.external_object_refs[0].system, UNKNOWN_SYSTEM);
        assert_eq!(out.external_object_refs[0].object_id, "N-2");
    }

    #[test]
    fn legacy_form_without_object_type_is_malformed() {
        let msg = malformed_message(&structured(json!({"external_object_id": "N-3"})));
        assert!(msg.contains("object_type"), "{msg}");
    }

    #[test]
    fn is_error_with_plain_text_is_a_downstream_tool_error() {
        let out = interpret(&text_blocks(true, &["CRM said no", "field title too long"])).unwrap();
        assert!(!out.success);
        assert!(out.external_object_refs.is_empty());
        assert_eq!(
            out.error,
            Some(ToolError {
                class: ErrorClass::Downstream,
                code: DEFAULT_TOOL_ERROR_CODE.into(),
                message: "CRM said no\nfield title too long".into()
            })
        );
    }

    #[test]
    fn is_error_without_any_text_still_fails_with_a_message() {
        let out = interpret(&text_blocks(true, &[])).unwrap();
        assert!(!out.success);
        assert!(out.error.unwrap().message.contains("without a message"));
    }

    #[test]
    fn is_error_with_a_json_report_keeps_its_error_and_partial_refs() {
        let report = json!({
            "success": true,
            "external_object_refs": [
                {"system": "crm", "object_type": "task", "object_id": "T-1"},
                {"object_id": "broken"}
            ],
            "error": {"code": "PARTIAL_WRITE", "message": "second write failed"}
        });
        let out = interpret(&text_blocks(true, &[&report.to_string()])).unwrap();
        assert!(!out.success, "isError wins over success:true");
        assert_eq!(
            out.external_object_refs,
            vec![r("T-1")],
            "unreadable refs dropped"
        );
        assert_eq!(out.error.unwrap().code, "PARTIAL_WRITE");
    }

    #[test]
    fn is_error_with_a_legacy_object_keeps_it_as_a_partial_ref() {
        let out = interpret(&text_blocks(
            true,
            &[r#"{"external_object_id": "N-1", "object_type": "note", "system": "internal"}"#],
        ))
        .unwrap();
        assert!(!out.success);
        assert_eq!(out.external_object_refs[0].object_id, "N-1");
        assert_eq!(out.error.unwrap().code, DEFAULT_TOOL_ERROR_CODE);
    }

    #[test]
    fn is_error_with_json_that_is_not_a_report_uses_the_text() {
        let out = interpret(&text_blocks(true, &[r#"{"detail": "boom"}"#])).unwrap();
        assert_eq!(out.error.unwrap().message, r#"{"detail": "boom"}"#);
    }

    #[test]
    fn plain_text_success_is_malformed() {
        let msg = malformed_message(&text_blocks(false, &["Task created!"]));
        assert!(
            msg.contains("no text content block holding a JSON object"),
            "{msg}"
        );
        assert!(msg.contains("Task created!"), "{msg}");
    }

    #[test]
    fn empty_result_is_malformed() {
        let msg = malformed_message(&text_blocks(false, &[]));
        assert!(msg.contains("no content blocks"), "{msg}");
    }

    #[test]
    fn json_without_success_or_object_id_is_malformed_and_names_its_keys() {
        let msg = malformed_message(&structured(json!({"id": "T-1", "ok": true})));
        assert!(msg.contains("keys: [id, ok]"), "{msg}");
    }

    #[test]
    fn non_object_payload_is_malformed() {
        let msg = malformed_message(&structured(json!([1, 2])));
        assert!(msg.contains("not a JSON object"), "{msg}");
    }

    #[test]
    fn non_boolean_success_is_malformed() {
        let msg = malformed_message(&structured(json!({"success": "yes"})));
        assert!(msg.contains("`success` must be a boolean"), "{msg}");
    }

    #[test]
    fn unreadable_ref_in_a_success_is_malformed_and_names_the_index() {
        let msg = malformed_message(&structured(json!({
            "success": true,
            "external_object_refs": [
                {"system": "crm", "object_type": "task", "object_id": "T-1"},
                {"system": "crm", "object_type": "task"}
            ]
        })));
        assert!(msg.contains("external_object_refs[1]"), "{msg}");
        assert!(msg.contains("object_id"), "{msg}");
    }

    #[test]
    fn refs_that_are_not_an_array_are_malformed() {
        let msg = malformed_message(&structured(json!({
            "success": true, "external_object_refs": {"object_id": "T-1"}
        })));
        assert!(msg.contains("must be an array"), "{msg}");
    }

    #[test]
    fn long_payloads_are_cut_in_messages() {
        let long = "x".repeat(5000);
        let msg = malformed_message(&text_blocks(false, &[&long]));
        assert!(msg.len() < 600, "{}", msg.len());
        assert!(msg.ends_with("...)"), "{msg}");
    }
}
