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
    // One batched read: the intent and both kill switches (BatchGetItem on
    // DynamoDB) instead of three round trips; the checks keep their order.
    let records = deps
        .store
        .get_preflight(&input.tenant_id, &input.account_id, &input.action_intent_id)
        .await?;
    let intent = records
        .intent
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

    let global = records.global;
    if global.global_stop {
        return Err(ExecutionError::validation(
            "EXECUTION_GLOBALLY_DISABLED",
            format!(
                "execution is stopped globally{}",
                global.reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
        ));
    }

    if let Some(config) = records.tenant {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::{GlobalControls, TenantConfig};
    use crate::fixtures;
    use crate::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT};
    use crate::ports::Store;

    fn input() -> ValidatorInput {
        ValidatorInput {
            action_intent_id: INTENT.into(),
            tenant_id: TENANT.into(),
            account_id: ACCOUNT.into(),
            trace_id: "trace-1".into(),
        }
    }

    async fn code_of(h: &Harness, input: ValidatorInput) -> String {
        let err = handle(&h.deps(), input).await.unwrap_err();
        assert_eq!(err.name, "ValidationError");
        assert_eq!(err.class, crate::ErrorClass::Validation);
        assert!(!err.retryable);
        err.code
    }

    #[tokio::test]
    async fn admissible_intent_passes() {
        let h = Harness::seeded().await;
        let out = handle(&h.deps(), input()).await.unwrap();
        assert_eq!(
            out,
            ValidatorOutput {
                valid: true,
                action_type: "CREATE_CRM_TASK".into(),
                expires_at: h.intent().expires_at,
                checked_at: fixtures::t0(),
            }
        );
    }

    #[tokio::test]
    async fn no_tenant_config_means_enabled() {
        let h = Harness::empty();
        h.store.put_intent(&h.intent()).await.unwrap();
        assert!(handle(&h.deps(), input()).await.unwrap().valid);
    }

    #[tokio::test]
    async fn unknown_intent_or_wrong_tenant_or_account_is_not_found() {
        let h = Harness::seeded().await;
        let mut other_account = input();
        other_account.account_id = "a2".into();
        assert_eq!(code_of(&h, other_account).await, "INTENT_NOT_FOUND");
        let mut other_tenant = input();
        other_tenant.tenant_id = "t2".into();
        assert_eq!(code_of(&h, other_tenant).await, "INTENT_NOT_FOUND");
        let mut unknown = input();
        unknown.action_intent_id = "nope".into();
        assert_eq!(code_of(&h, unknown).await, "INTENT_NOT_FOUND");
    }

    #[tokio::test]
    async fn expired_at_the_clock_instant_is_rejected() {
        let h = Harness::seeded().await;
        let expires = h.intent().expires_at;
        h.clock.set(expires - chrono::Duration::seconds(1));
        assert!(handle(&h.deps(), input()).await.is_ok());
        h.clock.set(expires);
        assert_eq!(code_of(&h, input()).await, "INTENT_EXPIRED");
    }

    #[tokio::test]
    async fn global_stop_is_rejected_with_its_reason() {
        let h = Harness::seeded().await;
        h.store
            .put_global_controls(&GlobalControls {
                global_stop: true,
                reason: Some("incident 42".into()),
            })
            .await
            .unwrap();
        let err = handle(&h.deps(), input()).await.unwrap_err();
        assert_eq!(err.code, "EXECUTION_GLOBALLY_DISABLED");
        assert!(err.message.contains("incident 42"));
    }

    #[tokio::test]
    async fn tenant_kill_switch_is_rejected() {
        let h = Harness::seeded().await;
        h.store
            .put_tenant_config(&TenantConfig {
                tenant_id: TENANT.into(),
                execution_enabled: false,
                disabled_action_types: vec![],
            })
            .await
            .unwrap();
        assert_eq!(code_of(&h, input()).await, "TENANT_EXECUTION_DISABLED");
    }

    #[tokio::test]
    async fn disabled_action_type_is_rejected_but_others_pass() {
        let h = Harness::seeded().await;
        let mut config = fixtures::tenant_enabled(TENANT);
        config.disabled_action_types = vec!["CREATE_INTERNAL_NOTE".into()];
        h.store.put_tenant_config(&config).await.unwrap();
        assert!(handle(&h.deps(), input()).await.is_ok());
        config.disabled_action_types.push("CREATE_CRM_TASK".into());
        h.store.put_tenant_config(&config).await.unwrap();
        assert_eq!(code_of(&h, input()).await, "ACTION_TYPE_DISABLED");
    }

    #[tokio::test]
    async fn validation_writes_nothing() {
        let h = Harness::seeded().await;
        h.clock.set(h.intent().expires_at);
        let _ = handle(&h.deps(), input()).await;
        assert!(h.store.list_attempts().await.unwrap().is_empty());
        assert!(h.store.list_ledger().await.unwrap().is_empty());
        assert!(h.events.events().is_empty());
    }
}
