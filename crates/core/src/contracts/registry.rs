use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Transform {
    Passthrough,
    Uppercase,
    Lowercase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompensationStrategy {
    Automatic,
    Manual,
    None,
}

/// How one intent parameter becomes one tool argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterMapping {
    /// Name of the tool argument the parameter is written to.
    pub tool_param: String,
    #[serde(default = "default_transform")]
    pub transform: Transform,
    #[serde(default)]
    pub required: bool,
}

fn default_transform() -> Transform {
    Transform::Passthrough
}

/// A versioned registry entry (`pk=ACTION_TYPE#type, sk=REGISTRY_VERSION#n`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRegistryEntry {
    pub action_type: String,
    pub registry_version: u32,
    pub tool_name: String,
    pub tool_schema_version: String,
    /// Intent parameter name -> mapping. BTreeMap: stable order in logs and hashes.
    pub parameter_mapping: BTreeMap<String, ParameterMapping>,
    pub compensation_strategy: CompensationStrategy,
    /// Tool that undoes one external object (AUTOMATIC only), called once per ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation_tool: Option<String>,
    pub created_at: DateTime<Utc>,
}
