//! `ccx seed --file FILE`: loads registry entries, tenant configs, intents and
//! the global controls into the embedded store.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ccx_core::contracts::{ActionIntentV1, GlobalControls, TenantConfig, ToolRegistryEntry};
use ccx_core::ports::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub global_controls: Option<GlobalControls>,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    #[serde(default)]
    pub registry: Vec<ToolRegistryEntry>,
    #[serde(default)]
    pub intents: Vec<ActionIntentV1>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedCounts {
    pub tenants: usize,
    pub registry: usize,
    pub intents: usize,
    pub global_controls: bool,
}

impl SeedFile {
    pub fn read(path: &Path) -> Result<SeedFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read seed file {}", path.display()))?;
        let seed: SeedFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid seed file", path.display()))?;
        seed.check()?;
        Ok(seed)
    }

    /// Catches what serde cannot: entries that would be unusable once stored.
    pub fn check(&self) -> Result<()> {
        for e in &self.registry {
            if e.tool_name.trim().is_empty() {
                bail!(
                    "registry entry {} v{} has an empty tool_name",
                    e.action_type,
                    e.registry_version
                );
            }
        }
        for i in &self.intents {
            if i.action_intent_id.trim().is_empty()
                || i.tenant_id.trim().is_empty()
                || i.account_id.trim().is_empty()
            {
                bail!(
                    "intent {:?} needs non-empty action_intent_id, tenant_id and account_id",
                    i.action_intent_id
                );
            }
        }
        Ok(())
    }

    pub async fn apply(&self, store: &dyn Store) -> Result<SeedCounts> {
        if let Some(g) = &self.global_controls {
            store.put_global_controls(g).await?;
        }
        for t in &self.tenants {
            store.put_tenant_config(t).await?;
        }
        for r in &self.registry {
            store.put_registry_entry(r).await?;
        }
        for i in &self.intents {
            store.put_intent(i).await?;
        }
        Ok(SeedCounts {
            tenants: self.tenants.len(),
            registry: self.registry.len(),
            intents: self.intents.len(),
            global_controls: self.global_controls.is_some(),
        })
    }
}
