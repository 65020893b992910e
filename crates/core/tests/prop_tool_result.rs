//! Property tests of the MCP tool result interpretation
//! (`ccx_core::tool_result::interpret`): whatever a gateway answers, it never
//! panics, a failure is a result with its error (never an exception), and a
//! result claiming success that cannot be understood is a `PermanentError`
//! `MALFORMED_TOOL_RESULT` whose message says what is wrong.

use ccx_core::error::ErrorClass;
use ccx_core::ports::ToolCallResponse;
use ccx_core::tool_result::{MALFORMED, interpret};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys of the payload shapes the interpreter reads, and some others.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "success",
            "external_object_refs",
            "error",
            "error_code",
            "error_message",
            "error_class",
            "external_object_id",
            "object_type",
            "system",
            "object_id",
            "object_url",
            "code",
            "message",
            "class",
        ])
        .prop_map(String::from),
        "[a-z]{1,6}",
    ]
}

/// A valid success payload with one field replaced by anything.
fn near_valid_payload() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "success",
            "external_object_refs",
            "error",
            "external_object_id",
        ]),
        arb_json(),
        any::<bool>(),
    )
        .prop_map(|(field, value, success)| {
            let mut payload = json!({
                "success": success,
                "external_object_refs": [{"system": "crm", "object_type": "task", "object_id": "T-1"}],
                "error": {"class": "DOWNSTREAM", "code": "QUOTA", "message": "quota exceeded"}
            });
            payload[field] = value;
            payload
        })
}

fn arb_content_block() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_json(),
        ".{0,40}".prop_map(|t| json!({"type": "text", "text": t})),
        near_valid_payload().prop_map(|p| json!({"type": "text", "text": p.to_string()})),
        arb_json().prop_map(|p| json!({"type": "text", "text": p.to_string()})),
    ]
}

fn arb_response() -> impl Strategy<Value = ToolCallResponse> {
    (
        any::<bool>(),
        prop::collection::vec(arb_content_block(), 0..3),
        prop::option::of(prop_oneof![arb_json(), near_valid_payload()]),
    )
        .prop_map(|(is_error, content, structured_content)| ToolCallResponse {
            is_error,
            raw: json!({"isError": is_error, "content": content, "structuredContent": structured_content}),
            content,
            structured_content,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_response_is_understood_or_clearly_refused(response in arb_response()) {
        match interpret(&response) {
            Ok(outcome) => {
                // An error is present exactly when the tool did not succeed.
                prop_assert_eq!(outcome.success, outcome.error.is_none());
                if response.is_error {
                    prop_assert!(!outcome.success, "isError is never a success");
                }
                if let Some(e) = &outcome.error {
                    prop_assert!(!e.code.is_empty());
                }
                for r in &outcome.external_object_refs {
                    prop_assert!(!r.object_id.is_empty(), "{r:?}");
                }
            }
            Err(err) => {
                prop_assert!(!response.is_error, "a tool-reported failure is a result: {err}");
                prop_assert_eq!(err.name, "PermanentError");
                prop_assert_eq!(err.class, ErrorClass::Downstream);
                prop_assert_eq!(err.code.as_str(), MALFORMED);
                prop_assert!(!err.retryable);
                prop_assert!(err.message.len() > 15, "{}", err.message);
            }
        }
    }

    /// A success payload with one field made wrong: still a clear verdict.
    #[test]
    fn near_valid_payloads_never_pass_silently(payload in near_valid_payload(), as_text in any::<bool>()) {
        let response = if as_text {
            ToolCallResponse {
                is_error: false,
                content: vec![json!({"type": "text", "text": payload.to_string()})],
                structured_content: None,
                raw: Value::Null,
            }
        } else {
            ToolCallResponse {
                is_error: false,
                content: vec![],
                structured_content: Some(payload.clone()),
                raw: Value::Null,
            }
        };
        match interpret(&response) {
            Ok(outcome) => {
                // Accepted only if `success` is a real boolean (or absent with a legacy ref).
                match payload.get("success") {
                    Some(Value::Bool(b)) => prop_assert_eq!(outcome.success, *b),
                    _ => prop_assert!(payload.get("external_object_id").is_some_and(Value::is_string)),
                }
            }
            Err(err) => {
                prop_assert_eq!(err.code.as_str(), MALFORMED);
                // The message names the field or shape that is wrong.
                let names_it = ["success", "external_object_refs", "external_object_id", "object", "JSON"]
                    .iter()
                    .any(|w| err.message.contains(w));
                prop_assert!(names_it, "{}", err.message);
            }
        }
    }
}
