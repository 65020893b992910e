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
    let intent = deps
        .store
        .get_intent(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?
        .ok_or_else(|| {
            ExecutionError::validation(
                "INTENT_NOT_FOUND",
                format!(
                    "intent {} not found for tenant {} account {}",
                    input.action_intent_id, input.tenant_id, input.account_id
                ),
            )
        })?;
    let entry = deps
        .store
        .get_registry_entry(&intent.action_type, Some(input.registry_version))
        .await?
        .ok_or_else(|| {
            ExecutionError::validation(
                "REGISTRY_ENTRY_NOT_FOUND",
                format!(
                    "no registry entry for action type {} version {}",
                    intent.action_type, input.registry_version
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
