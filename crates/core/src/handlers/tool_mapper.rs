//! MapActionToTool: turn the intent's business parameters into tool arguments
//! with the registry entry the starter pinned (`registry_version`).
//!
//! Rules, all `ValidationError`s:
//! - the entry must exist at that version (`REGISTRY_ENTRY_NOT_FOUND`) and be for
//!   the intent's action type (`REGISTRY_ACTION_TYPE_MISMATCH`);
//! - the identity arguments ([`RESERVED_TOOL_PARAMS`]) are injected from the
//!   execution, never taken from intent parameters: a mapping onto one of them is
//!   a registry error (`RESERVED_PARAMETER`), so an intent can never act for
//!   another tenant or reuse another execution's idempotency key;
//! - two mappings onto the same tool argument are a registry error
//!   (`DUPLICATE_TOOL_PARAMETER`) rather than a silent last-one-wins;
//! - every required parameter that is missing or null is reported at once
//!   (`MISSING_REQUIRED_PARAMETER`), so the author fixes the intent in one go;
//!   optional missing ones are simply not sent;
//! - UPPERCASE/LOWERCASE apply to strings only (`INVALID_PARAMETER_TYPE`);
//! - intent parameters the registry does not map are dropped;
//! - the serialised arguments must fit `max_tool_argument_bytes`
//!   (`TOOL_ARGUMENTS_TOO_LARGE`): they travel in the state machine's state.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use tracing::info;

use crate::contracts::Transform;
use crate::error::ExecutionError;
use crate::io::{MapperInput, MapperOutput};
use crate::ports::Deps;

/// Tool arguments the mapper sets itself from the execution.
pub const RESERVED_TOOL_PARAMS: [&str; 5] = [
    "tenant_id",
    "account_id",
    "idempotency_key",
    "action_intent_id",
    "trace_id",
];

#[tracing::instrument(
    name = "tool_mapper",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.trace_id)
)]
pub async fn handle(deps: &Deps, input: MapperInput) -> Result<MapperOutput, ExecutionError> {
    let store = &deps.store;
    let (t, a, id) = (&input.tenant_id, &input.account_id, &input.action_intent_id);
    // With the action type the starter pinned, the intent and the registry
    // entry are one batched read; without it, the entry's key comes from the intent.
    let (intent, entry) = match &input.action_type {
        Some(action_type) => {
            store
                .get_intent_and_registry_entry(t, a, id, action_type, input.registry_version)
                .await?
        }
        None => match store.get_intent(t, a, id).await? {
            Some(intent) => {
                let entry = store
                    .get_registry_entry(&intent.action_type, Some(input.registry_version))
                    .await?;
                (Some(intent), entry)
            }
            None => (None, None),
        },
    };
    let intent = intent.ok_or_else(|| {
        ExecutionError::validation(
            "INTENT_NOT_FOUND",
            format!(
                "intent {} not found for tenant {} account {}",
                input.action_intent_id, input.tenant_id, input.account_id
            ),
        )
    })?;
    let entry = entry.ok_or_else(|| {
        ExecutionError::validation(
            "REGISTRY_ENTRY_NOT_FOUND",
            format!(
                "no registry entry for action type {} version {}",
                input.action_type.as_deref().unwrap_or(&intent.action_type),
                input.registry_version
            ),
        )
    })?;
    if entry.action_type != intent.action_type {
        return Err(ExecutionError::validation(
            "REGISTRY_ACTION_TYPE_MISMATCH",
            format!(
                "registry entry {} v{} is for action type {}, the intent is {}",
                entry.tool_name, entry.registry_version, entry.action_type, intent.action_type
            ),
        ));
    }

    let mut seen = BTreeSet::new();
    for (param, mapping) in &entry.parameter_mapping {
        if RESERVED_TOOL_PARAMS.contains(&mapping.tool_param.as_str()) {
            return Err(ExecutionError::validation(
                "RESERVED_PARAMETER",
                format!(
                    "registry {} v{} maps intent parameter {param} onto {}, which the mapper sets from the execution",
                    entry.action_type, entry.registry_version, mapping.tool_param
                ),
            ));
        }
        if !seen.insert(mapping.tool_param.as_str()) {
            return Err(ExecutionError::validation(
                "DUPLICATE_TOOL_PARAMETER",
                format!(
                    "registry {} v{} maps more than one intent parameter onto {}",
                    entry.action_type, entry.registry_version, mapping.tool_param
                ),
            ));
        }
    }

    let mut args = Map::new();
    let mut missing = Vec::new();
    let mut wrong_type = Vec::new();
    for (param, mapping) in &entry.parameter_mapping {
        let value = match intent.parameters.get(param) {
            None | Some(Value::Null) => {
                if mapping.required {
                    missing.push(param.as_str());
                }
                continue;
            }
            Some(v) => v,
        };
        let mapped = match (mapping.transform, value) {
            (Transform::Passthrough, v) => v.clone(),
            (Transform::Uppercase, Value::String(s)) => Value::String(s.to_uppercase()),
            (Transform::Lowercase, Value::String(s)) => Value::String(s.to_lowercase()),
            (t, v) => {
                wrong_type.push(format!(
                    "{param} ({t:?} needs a string, got {})",
                    json_type(v)
                ));
                continue;
            }
        };
        args.insert(mapping.tool_param.clone(), mapped);
    }
    if !missing.is_empty() {
        return Err(ExecutionError::validation(
            "MISSING_REQUIRED_PARAMETER",
            format!(
                "intent {} lacks required parameter(s): {}",
                intent.action_intent_id,
                missing.join(", ")
            ),
        ));
    }
    if !wrong_type.is_empty() {
        return Err(ExecutionError::validation(
            "INVALID_PARAMETER_TYPE",
            format!(
                "intent {} has parameter(s) of the wrong type: {}",
                intent.action_intent_id,
                wrong_type.join(", ")
            ),
        ));
    }

    for (k, v) in [
        ("tenant_id", &input.tenant_id),
        ("account_id", &input.account_id),
        ("idempotency_key", &input.idempotency_key),
        ("action_intent_id", &input.action_intent_id),
        ("trace_id", &input.trace_id),
    ] {
        args.insert(k.to_string(), Value::String(v.clone()));
    }
    let tool_arguments = Value::Object(args);

    let size = serde_json::to_vec(&tool_arguments)
        .map(|b| b.len())
        .unwrap_or(usize::MAX);
    if size > deps.settings.max_tool_argument_bytes {
        return Err(ExecutionError::validation(
            "TOOL_ARGUMENTS_TOO_LARGE",
            format!(
                "tool arguments for {} are {size} bytes, over the {} byte limit",
                entry.tool_name, deps.settings.max_tool_argument_bytes
            ),
        ));
    }

    info!(
        tool_name = %entry.tool_name,
        registry_version = entry.registry_version,
        argument_bytes = size,
        "mapped action to tool"
    );
    Ok(MapperOutput {
        tool_name: entry.tool_name,
        tool_arguments,
        tool_schema_version: entry.tool_schema_version,
        registry_version: entry.registry_version,
        compensation_strategy: entry.compensation_strategy,
        compensation_tool: entry.compensation_tool,
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::{CompensationStrategy, ParameterMapping, ToolRegistryEntry};
    use crate::fixtures;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT};
    use crate::ports::Store;
    use serde_json::json;

    fn input() -> MapperInput {
        MapperInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: "trace-1".into(),
            idempotency_key: "key-1".into(),
            registry_version: 1,
            action_type: None,
        }
    }

    #[tokio::test]
    async fn the_pinned_action_type_gives_the_same_mapping_in_one_read() {
        let h = Harness::seeded().await;
        let unbatched = handle(&h.deps(), input()).await.unwrap();
        let batched = handle(
            &h.deps(),
            MapperInput {
                action_type: Some("CREATE_CRM_TASK".into()),
                ..input()
            },
        )
        .await
        .unwrap();
        assert_eq!(batched, unbatched);

        // A pinned type that is not the intent's never maps it.
        let mut note = fixtures::internal_note_registry_entry();
        note.registry_version = 1;
        h.store.put_registry_entry(&note).await.unwrap();
        let err = handle(
            &h.deps(),
            MapperInput {
                action_type: Some("CREATE_INTERNAL_NOTE".into()),
                ..input()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "REGISTRY_ACTION_TYPE_MISMATCH");
        let err = handle(
            &h.deps(),
            MapperInput {
                action_type: Some("NO_SUCH_TYPE".into()),
                ..input()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "REGISTRY_ENTRY_NOT_FOUND");
    }

    async fn with_params(h: &Harness, params: serde_json::Value) {
        let mut intent = h.intent();
        intent.parameters = params.as_object().unwrap().clone();
        h.store.put_intent(&intent).await.unwrap();
    }

    async fn with_mapping(h: &Harness, edit: impl FnOnce(&mut ToolRegistryEntry)) {
        let mut entry = fixtures::crm_task_registry_entry();
        edit(&mut entry);
        h.store.put_registry_entry(&entry).await.unwrap();
    }

    fn mapping(tool_param: &str, transform: Transform, required: bool) -> ParameterMapping {
        ParameterMapping {
            tool_param: tool_param.into(),
            transform,
            required,
        }
    }

    async fn err(h: &Harness) -> ExecutionError {
        let e = handle(&h.deps(), input()).await.unwrap_err();
        assert_eq!(e.name, "ValidationError");
        e
    }

    #[tokio::test]
    async fn maps_transforms_injects_identity_and_drops_unmapped() {
        let h = Harness::seeded().await;
        with_params(
            &h,
            json!({
                "title": "Follow up",
                "priority": "high",
                "due_date": "2026-12-01",
                "internal_score": 0.93,
                "tenant_id": "t-evil",
                "idempotency_key": "forged"
            }),
        )
        .await;
        let out = handle(&h.deps(), input()).await.unwrap();
        assert_eq!(
            out.tool_arguments,
            json!({
                "title": "Follow up",
                "priority": "HIGH",
                "due_date": "2026-12-01",
                "tenant_id": TENANT,
                "account_id": ACCOUNT,
                "idempotency_key": "key-1",
                "action_intent_id": INTENT,
                "trace_id": "trace-1"
            }),
            "optional description absent, internal_score dropped, identity from the input"
        );
        assert_eq!(out.tool_name, "crm.create_task");
        assert_eq!(out.tool_schema_version, "1.0");
        assert_eq!(out.registry_version, 1);
        assert_eq!(out.compensation_strategy, CompensationStrategy::Automatic);
        assert_eq!(out.compensation_tool.as_deref(), Some("crm.delete_task"));
    }

    #[tokio::test]
    async fn lowercase_and_passthrough_of_non_strings() {
        let h = Harness::seeded().await;
        with_mapping(&h, |e| {
            e.parameter_mapping.insert(
                "owner".into(),
                mapping("owner_email", Transform::Lowercase, false),
            );
            e.parameter_mapping.insert(
                "tags".into(),
                mapping("labels", Transform::Passthrough, false),
            );
        })
        .await;
        with_params(
            &h,
            json!({"title": "x", "owner": "Bob@Example.COM", "tags": ["a", {"b": 1}]}),
        )
        .await;
        let out = handle(&h.deps(), input()).await.unwrap();
        assert_eq!(out.tool_arguments["owner_email"], "bob@example.com");
        assert_eq!(out.tool_arguments["labels"], json!(["a", {"b": 1}]));
    }

    #[tokio::test]
    async fn uses_the_pinned_registry_version_not_the_latest() {
        let h = Harness::seeded().await;
        with_mapping(&h, |e| {
            e.registry_version = 2;
            e.tool_name = "crm.create_task_v2".into();
        })
        .await;
        let out = handle(&h.deps(), input()).await.unwrap();
        assert_eq!(
            (out.tool_name.as_str(), out.registry_version),
            ("crm.create_task", 1)
        );
    }

    #[tokio::test]
    async fn unknown_registry_version_is_rejected() {
        let h = Harness::seeded().await;
        let mut i = input();
        i.registry_version = 9;
        let e = handle(&h.deps(), i).await.unwrap_err();
        assert_eq!(
            (e.name, e.code.as_str()),
            ("ValidationError", "REGISTRY_ENTRY_NOT_FOUND")
        );
    }

    #[tokio::test]
    async fn unknown_intent_is_rejected() {
        let h = Harness::empty();
        assert_eq!(err(&h).await.code, "INTENT_NOT_FOUND");
    }

    #[tokio::test]
    async fn every_missing_or_null_required_parameter_is_named_at_once() {
        let h = Harness::seeded().await;
        with_mapping(&h, |e| {
            e.parameter_mapping
                .insert("body".into(), mapping("body", Transform::Passthrough, true));
        })
        .await;
        with_params(&h, json!({"title": null, "priority": "low"})).await;
        let e = err(&h).await;
        assert_eq!(e.code, "MISSING_REQUIRED_PARAMETER");
        assert!(e.message.ends_with("body, title"), "{}", e.message);
    }

    #[tokio::test]
    async fn case_transform_of_a_non_string_is_rejected() {
        let h = Harness::seeded().await;
        with_params(&h, json!({"title": "x", "priority": 3})).await;
        let e = err(&h).await;
        assert_eq!(e.code, "INVALID_PARAMETER_TYPE");
        assert!(
            e.message
                .contains("priority (Uppercase needs a string, got number)"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn mapping_onto_a_reserved_argument_is_rejected() {
        for reserved in RESERVED_TOOL_PARAMS {
            let h = Harness::seeded().await;
            with_mapping(&h, |e| {
                e.parameter_mapping.insert(
                    "customer".into(),
                    mapping(reserved, Transform::Passthrough, false),
                );
            })
            .await;
            let e = err(&h).await;
            assert_eq!(e.code, "RESERVED_PARAMETER", "{reserved}");
            assert!(e.message.contains(reserved));
        }
    }

    #[tokio::test]
    async fn two_mappings_onto_one_argument_are_rejected() {
        let h = Harness::seeded().await;
        with_mapping(&h, |e| {
            e.parameter_mapping.insert(
                "subject".into(),
                mapping("title", Transform::Passthrough, false),
            );
        })
        .await;
        assert_eq!(err(&h).await.code, "DUPLICATE_TOOL_PARAMETER");
    }

    #[tokio::test]
    async fn arguments_over_the_limit_are_rejected() {
        let h = Harness::seeded().await;
        with_params(
            &h,
            json!({"title": "x", "description": "d".repeat(200 * 1024)}),
        )
        .await;
        let e = err(&h).await;
        assert_eq!(e.code, "TOOL_ARGUMENTS_TOO_LARGE");
        assert!(e.message.contains("204800 byte limit"), "{}", e.message);

        with_params(
            &h,
            json!({"title": "x", "description": "d".repeat(100 * 1024)}),
        )
        .await;
        assert!(handle(&h.deps(), input()).await.is_ok());
    }
}
