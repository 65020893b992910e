//! Property tests of every handler's input parsing (`ccx_core::io::parse_input`
//! for each of the seven input types): arbitrary JSON and near-valid mutations
//! of valid inputs never panic, and every rejection is a `ValidationError`
//! (`INVALID_HANDLER_INPUT`, not retryable) whose message names the handler and
//! the problem: the missing field, the unknown field, or the invalid type and
//! the path of the field holding it.

use ccx_core::error::{ErrorClass, ExecutionError};
use ccx_core::io::{
    CompensationInput, FailureRecorderInput, InvokerInput, MapperInput, RecorderInput,
    StarterInput, ValidatorInput, parse_input,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Arbitrary JSON, a few levels deep, with keys that sometimes are real field names.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "action_intent_id",
            "tenant_id",
            "account_id",
            "trace_id",
            "execution_id",
            "execution",
            "replay",
            "tool_name",
            "attempt_count",
            "error",
        ])
        .prop_map(String::from),
        "[a-z_]{1,10}",
    ]
}

fn execution_context() -> Value {
    json!({
        "trace_id": "trace-1",
        "attempt_count": 1,
        "idempotency_key": "key-1",
        "decision_trace_id": "dec-1",
        "tool_name": "crm.create_task",
        "started_at": "2026-11-24T12:00:00Z"
    })
}

/// One handler: its name, a valid input, the fields that may be left out, the
/// string-typed fields (a number there must be refused), and its parser.
struct Case {
    handler: &'static str,
    valid: Value,
    optional: &'static [&'static str],
    strings: &'static [&'static str],
    parse: fn(&str, Value) -> Result<(), ExecutionError>,
}

fn check<T: serde::de::DeserializeOwned>(h: &str, v: Value) -> Result<(), ExecutionError> {
    parse_input::<T>(h, v).map(|_| ())
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            handler: "starter",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "execution_id": "arn:aws:states:local:0:execution:sm:run-1",
                "replay": {"reason": "fixed", "requested_by": "ops"}}),
            optional: &["replay"],
            strings: &[
                "action_intent_id",
                "tenant_id",
                "account_id",
                "execution_id",
            ],
            parse: check::<StarterInput>,
        },
        Case {
            handler: "validator",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "trace_id": "trace-1"}),
            optional: &[],
            strings: &["action_intent_id", "tenant_id", "account_id", "trace_id"],
            parse: check::<ValidatorInput>,
        },
        Case {
            handler: "tool-mapper",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "trace_id": "trace-1", "idempotency_key": "key-1", "registry_version": 1}),
            optional: &[],
            strings: &[
                "action_intent_id",
                "tenant_id",
                "trace_id",
                "idempotency_key",
            ],
            parse: check::<MapperInput>,
        },
        Case {
            handler: "tool-invoker",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "trace_id": "trace-1", "attempt_count": 1, "idempotency_key": "key-1",
                "tool_name": "crm.create_task", "tool_arguments": {"title": "x"}}),
            optional: &[],
            strings: &[
                "action_intent_id",
                "account_id",
                "idempotency_key",
                "tool_name",
            ],
            parse: check::<InvokerInput>,
        },
        Case {
            handler: "compensation",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "trace_id": "trace-1", "attempt_count": 1, "decision_trace_id": "dec-1",
                "idempotency_key": "key-1", "compensation_strategy": "AUTOMATIC",
                "compensation_tool": "crm.delete_task",
                "external_object_refs": [{"system": "crm", "object_type": "task", "object_id": "T-1"}]}),
            optional: &["compensation_tool"],
            strings: &["trace_id", "decision_trace_id", "compensation_strategy"],
            parse: check::<CompensationInput>,
        },
        Case {
            handler: "recorder",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "execution": execution_context(),
                "invocation": {"success": true, "tool_name": "crm.create_task",
                    "tool_run_ref": "toolrun/trace-1/1/crm.create_task",
                    "external_object_refs": [{"system": "crm", "object_type": "task", "object_id": "T-1"}],
                    "has_external_refs": true, "raw_response_artifact_ref": null,
                    "error_class": null, "error_code": null, "error_message": null,
                    "deduplicated": false, "duration_ms": 12},
                "compensation": {"status": "NONE", "compensated": [], "failures": []}}),
            optional: &[],
            strings: &["action_intent_id", "tenant_id", "account_id"],
            parse: check::<RecorderInput>,
        },
        Case {
            handler: "failure-recorder",
            valid: json!({"action_intent_id": "ai-1", "tenant_id": "t1", "account_id": "a1",
                "execution": execution_context(), "failed_state": "InvokeTool",
                "error": {"Error": "PermanentError",
                    "Cause": "{\"class\":\"DOWNSTREAM\",\"code\":\"HTTP_400\",\"message\":\"bad\"}"}}),
            optional: &[],
            strings: &["action_intent_id", "failed_state"],
            parse: check::<FailureRecorderInput>,
        },
    ]
}

/// A rejection is a clear, non-retryable ValidationError naming the handler.
fn assert_clear_rejection(handler: &str, err: &ExecutionError) {
    assert_eq!(err.name, "ValidationError", "{err}");
    assert_eq!(err.class, ErrorClass::Validation);
    assert_eq!(err.code, "INVALID_HANDLER_INPUT");
    assert!(!err.retryable);
    assert!(
        err.message.starts_with(&format!("{handler}: ")) && err.message.len() > handler.len() + 30,
        "{err}"
    );
}

#[test]
fn the_valid_inputs_parse() {
    for case in cases() {
        (case.parse)(case.handler, case.valid.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", case.handler));
    }
}

/// A mutation of a valid input and what it must do.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    AddUnknown(String, Value),
    WrongType(usize, Value),
    Replace(usize, Value),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        ("[a-z]{1,8}", arb_json()).prop_map(|(k, v)| Mutation::AddUnknown(format!("zz_{k}"), v)),
        (
            any::<usize>(),
            prop_oneof![
                any::<i64>().prop_map(|n| json!(n)),
                any::<bool>().prop_map(Value::Bool),
                Just(json!([])),
                Just(json!({})),
            ]
        )
            .prop_map(|(i, v)| Mutation::WrongType(i, v)),
        (any::<usize>(), arb_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Anything at all: parsed or refused clearly, never a panic.
    #[test]
    fn arbitrary_json_is_parsed_or_clearly_refused(value in arb_json()) {
        for case in cases() {
            if let Err(err) = (case.parse)(case.handler, value.clone()) {
                assert_clear_rejection(case.handler, &err);
            }
        }
    }

    /// Near-valid inputs: each kind of mutation is refused naming what is wrong.
    #[test]
    fn near_valid_inputs_are_refused_naming_the_problem(
        which in 0usize..7,
        mutation in arb_mutation(),
    ) {
        let case = &cases()[which];
        let mut obj = case.valid.as_object().cloned().expect("valid inputs are objects");
        let keys: Vec<String> = obj.keys().cloned().collect();
        let outcome = match &mutation {
            Mutation::Remove(i) => {
                let field = &keys[i % keys.len()];
                obj.remove(field);
                let result = (case.parse)(case.handler, Value::Object(obj));
                if case.optional.contains(&field.as_str()) {
                    prop_assert!(result.is_ok(), "{field} is optional: {result:?}");
                } else {
                    let err = result.expect_err("a required field was removed");
                    prop_assert!(
                        err.message.contains(&format!("missing field `{field}`")),
                        "{}", err.message
                    );
                    assert_clear_rejection(case.handler, &err);
                }
                None
            }
            Mutation::AddUnknown(field, v) => {
                obj.insert(field.clone(), v.clone());
                let err = (case.parse)(case.handler, Value::Object(obj))
                    .expect_err("unknown fields are refused");
                prop_assert!(
                    err.message.contains(&format!("unknown field `{field}`")),
                    "{}", err.message
                );
                Some(err)
            }
            Mutation::WrongType(i, v) => {
                let field = case.strings[i % case.strings.len()];
                obj.insert(field.to_string(), v.clone());
                let err = (case.parse)(case.handler, Value::Object(obj))
                    .expect_err("a string field holding another type is refused");
                prop_assert!(
                    err.message.contains(&format!(" at {field}: "))
                        && (err.message.contains("invalid type")
                            || err.message.contains("invalid value"))
                        && err.message.contains("expected"),
                    "{}", err.message
                );
                Some(err)
            }
            Mutation::Replace(i, v) => {
                let field = &keys[i % keys.len()];
                obj.insert(field.clone(), v.clone());
                (case.parse)(case.handler, Value::Object(obj)).err()
            }
        };
        if let Some(err) = outcome {
            assert_clear_rejection(case.handler, &err);
        }
    }

    /// A nested context (the recorders' `execution`) is checked as strictly.
    #[test]
    fn nested_contexts_are_checked_too(which in 5usize..7, drop in 0usize..6) {
        let case = &cases()[which];
        let mut valid = case.valid.clone();
        let ctx = valid["execution"].as_object_mut().expect("an execution context");
        let field = ctx.keys().nth(drop).cloned().expect("six fields");
        ctx.remove(&field);
        let err = (case.parse)(case.handler, valid).expect_err("a context field is required");
        prop_assert!(
            err.message.contains(&format!("missing field `{field}`"))
                && err.message.contains(" at execution: "),
            "{}", err.message
        );
        assert_clear_rejection(case.handler, &err);
    }
}
