//! Sample records for tests, the demo seed and benchmarks. Public so that every
//! crate's tests build the same well-formed records instead of hand-rolling JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};

use crate::contracts::{
    ActionIntentV1, AttemptStatus, CompensationStrategy, ExecutionAttempt, IntentTarget,
    ParameterMapping, TenantConfig, ToolRegistryEntry, Transform,
};

/// A fixed instant so that tests are reproducible.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// An intent to create a CRM task, approved at `t0`, expiring one day later.
pub fn intent(tenant_id: &str, account_id: &str, action_intent_id: &str) -> ActionIntentV1 {
    let mut parameters = Map::new();
    parameters.insert("title".into(), json!("Follow up on renewal"));
    parameters.insert(
        "description".into(),
        json!("Customer asked for a call back"),
    );
    parameters.insert("priority".into(), json!("high"));
    parameters.insert("due_date".into(), json!("2026-12-01"));
    ActionIntentV1 {
        action_intent_id: action_intent_id.into(),
        tenant_id: tenant_id.into(),
        account_id: account_id.into(),
        action_type: "CREATE_CRM_TASK".into(),
        target: Some(IntentTarget {
            entity_type: "ACCOUNT".into(),
            entity_id: account_id.into(),
        }),
        parameters,
        approved_by: "user:alice".into(),
        approval_timestamp: t0(),
        expires_at: t0() + Duration::days(1),
        decision_trace_id: format!("dec-{action_intent_id}"),
        registry_version: Some(1),
        execution_policy: None,
        original_decision_id: None,
        created_at: t0(),
    }
}

fn mapping(tool_param: &str, transform: Transform, required: bool) -> ParameterMapping {
    ParameterMapping {
        tool_param: tool_param.into(),
        transform,
        required,
    }
}

/// Registry v1 of CREATE_CRM_TASK -> `crm.create_task`, compensated by `crm.delete_task`.
pub fn crm_task_registry_entry() -> ToolRegistryEntry {
    let mut m = BTreeMap::new();
    m.insert(
        "title".into(),
        mapping("title", Transform::Passthrough, true),
    );
    m.insert(
        "description".into(),
        mapping("description", Transform::Passthrough, false),
    );
    m.insert(
        "priority".into(),
        mapping("priority", Transform::Uppercase, false),
    );
    m.insert(
        "due_date".into(),
        mapping("due_date", Transform::Passthrough, false),
    );
    ToolRegistryEntry {
        action_type: "CREATE_CRM_TASK".into(),
        registry_version: 1,
        tool_name: "crm.create_task".into(),
        tool_schema_version: "1.0".into(),
        parameter_mapping: m,
        compensation_strategy: CompensationStrategy::Automatic,
        compensation_tool: Some("crm.delete_task".into()),
        created_at: t0(),
    }
}

/// Registry v1 of CREATE_INTERNAL_NOTE -> `internal.create_note` (MANUAL compensation).
pub fn internal_note_registry_entry() -> ToolRegistryEntry {
    let mut m = BTreeMap::new();
    m.insert(
        "title".into(),
        mapping("title", Transform::Passthrough, true),
    );
    m.insert("body".into(), mapping("body", Transform::Passthrough, true));
    ToolRegistryEntry {
        action_type: "CREATE_INTERNAL_NOTE".into(),
        registry_version: 1,
        tool_name: "internal.create_note".into(),
        tool_schema_version: "1.0".into(),
        parameter_mapping: m,
        compensation_strategy: CompensationStrategy::Manual,
        compensation_tool: Some("internal.delete_note".into()),
        created_at: t0(),
    }
}

pub fn tenant_enabled(tenant_id: &str) -> TenantConfig {
    TenantConfig {
        tenant_id: tenant_id.into(),
        execution_enabled: true,
        disabled_action_types: vec![],
    }
}

/// A RUNNING attempt 1 of the intent, as the starter writes it.
pub fn running_attempt(
    intent: &ActionIntentV1,
    trace_id: &str,
    execution_id: &str,
) -> ExecutionAttempt {
    ExecutionAttempt {
        action_intent_id: intent.action_intent_id.clone(),
        tenant_id: intent.tenant_id.clone(),
        account_id: intent.account_id.clone(),
        status: AttemptStatus::Running,
        attempt_count: 1,
        trace_id: trace_id.into(),
        execution_id: execution_id.into(),
        idempotency_key: format!("key-{}", intent.action_intent_id),
        tool_name: "crm.create_task".into(),
        registry_version: 1,
        started_at: t0(),
        completed_at: None,
        replay: None,
        lock_expires_at: Some(t0().timestamp() + 3600),
    }
}

/// The EventBridge event the decision layer publishes for an approved intent.
pub fn action_approved_event(tenant_id: &str, account_id: &str, action_intent_id: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("evt-{action_intent_id}"),
        "source": "cc-native",
        "detail-type": "ACTION_APPROVED",
        "account": "000000000000",
        "region": "us-east-1",
        "time": t0(),
        "resources": [],
        "detail": {
            "data": {
                "action_intent_id": action_intent_id,
                "tenant_id": tenant_id,
                "account_id": account_id
            }
        }
    })
}
