//! ValidatePreflight: is the intent still admissible right now?
//!
//! Checked in this order, each failure a `ValidationError` (class VALIDATION) that
//! the state machine routes to the failure recorder without retrying:
//! the intent exists for this tenant and account (`INTENT_NOT_FOUND`), it has not
//! expired at the clock's now (`INTENT_EXPIRED`), the global stop is off
//! (`EXECUTION_GLOBALLY_DISABLED`), the tenant has not switched execution off
//! (`TENANT_EXECUTION_DISABLED`; no tenant config means enabled) and not this
//! action type (`ACTION_TYPE_DISABLED`). The kill switches are read here, after
//! the lock, so flipping one stops executions that started but have not yet called
//! the tool.

use tracing::info;

use crate::error::ExecutionError;
use crate::io::{ValidatorInput, ValidatorOutput};
use crate::ports::Deps;

#[tracing::instrument(
    name = "validator",
    skip_all,
    fields(action_intent_id = %input.action_intent_id, trace_id = %input.trace_id)
)]
pub async fn handle(deps: &Deps, input: ValidatorInput) -> Result<ValidatorOutput, ExecutionError> {
    let store = &deps.store;
    let intent = store
        .get_intent(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?
        // Defence in depth: a store keyed differently must still not leak across tenants.
        .filter(|i| i.tenant_id == input.tenant_id && i.account_id == input.account_id)
        .ok_or_else(|| {
            ExecutionError::validation(
                "INTENT_NOT_FOUND",
                format!(
                    "intent {} not found for tenant {} account {}",
                    input.action_intent_id, input.tenant_id, input.account_id
                ),
            )
        })?;

    let now = deps.clock.now();
    if intent.is_expired_at(now) {
        return Err(ExecutionError::validation(
            "INTENT_EXPIRED",
            format!(
                "intent {} expired at {} (checked at {now})",
                intent.action_intent_id, intent.expires_at
            ),
        ));
    }

    let global = store.get_global_controls().await?;
    if global.global_stop {
        return Err(ExecutionError::validation(
            "EXECUTION_GLOBALLY_DISABLED",
            format!(
                "execution is stopped globally{}",
                global.reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
        ));
    }

    if let Some(config) = store.get_tenant_config(&input.tenant_id).await? {
        if !config.execution_enabled {
            return Err(ExecutionError::validation(
                "TENANT_EXECUTION_DISABLED",
                format!("execution is disabled for tenant {}", input.tenant_id),
            ));
        }
        if config
            .disabled_action_types
            .iter()
            .any(|t| t == &intent.action_type)
        {
            return Err(ExecutionError::validation(
                "ACTION_TYPE_DISABLED",
                format!(
                    "action type {} is disabled for tenant {}",
                    intent.action_type, input.tenant_id
                ),
            ));
        }
    }

    info!(action_type = %intent.action_type, "preflight passed");
    Ok(ValidatorOutput {
        valid: true,
        action_type: intent.action_type,
        expires_at: intent.expires_at,
        checked_at: now,
    })
}
