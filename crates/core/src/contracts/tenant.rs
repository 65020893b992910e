use serde::{Deserialize, Serialize};

/// Per-tenant kill switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub tenant_id: String,
    /// false stops every execution for the tenant.
    pub execution_enabled: bool,
    /// Action types the tenant has switched off.
    #[serde(default)]
    pub disabled_action_types: Vec<String>,
}

/// The global stop: one switch that halts execution for every tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalControls {
    pub global_stop: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
