//! Configuration of the AWS adapters, read once per cold start.
//!
//! Each Lambda function is only told about the resources it may touch (the
//! infra model derives its environment from its IAM grants), so the variables a
//! function *requires* depend on the function: [`AwsConfig::for_handler`] asks
//! `ccx_infra` which ones, [`AwsConfig::from_env`] requires all of them. Either
//! way every missing or invalid variable is reported in ONE
//! `ConfigurationError`, instead of one name per failed deploy. A resource that
//! is not configured and not required fails with a `ConfigurationError` naming
//! its variable when it is first used.
//!
//! Endpoint, region and credentials are not read here: they come from
//! `aws_config`'s standard chain (`AWS_ENDPOINT_URL`, `AWS_REGION`, ...).

use std::collections::BTreeMap;

use ccx_core::ExecutionError;
use ccx_core::ports::Settings;
use ccx_infra::{Handler, TableId};

/// S3 bucket of raw tool response artifacts.
pub const ENV_ARTIFACTS_BUCKET: &str = "CCX_ARTIFACTS_BUCKET";
/// EventBridge bus that execution lifecycle events are published to.
pub const ENV_EVENT_BUS_NAME: &str = "CCX_EVENT_BUS_NAME";
/// Optional override of [`Settings::lock_ttl_seconds`].
pub const ENV_LOCK_TTL_SECONDS: &str = "CCX_LOCK_TTL_SECONDS";
/// Optional override of [`Settings::event_source`].
pub const ENV_EVENT_SOURCE: &str = "CCX_EVENT_SOURCE";

/// Every variable this crate reads as a resource name: the seven tables
/// (`CCX_TABLE_*`, named by `ccx_infra::TableId::env_var`), the bucket and the bus.
pub fn resource_variables() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TableId::ALL.iter().map(|t| t.env_var()).collect();
    names.push(ENV_ARTIFACTS_BUCKET);
    names.push(ENV_EVENT_BUS_NAME);
    names
}

/// The physical DynamoDB table of each record kind (one table per kind; tenant
/// configs and the GLOBAL controls item share the tenants table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableNames(BTreeMap<TableId, String>);

impl TableNames {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, id: TableId, name: impl Into<String>) -> Self {
        self.0.insert(id, name.into());
        self
    }

    /// All seven tables named `{prefix}-{short name}`, as the stack names them.
    pub fn with_prefix(prefix: &str) -> Self {
        TableId::ALL.iter().fold(Self::new(), |t, id| {
            t.with(*id, format!("{prefix}-{}", id.name()))
        })
    }

    /// The table's name, or a `ConfigurationError` naming its variable.
    pub fn get(&self, id: TableId) -> Result<&str, ExecutionError> {
        self.0.get(&id).map(String::as_str).ok_or_else(|| {
            ExecutionError::configuration(
                "TABLE_NOT_CONFIGURED",
                format!(
                    "the {} table is not configured for this function: set {}",
                    id.name(),
                    id.env_var()
                ),
            )
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (TableId, &str)> {
        self.0.iter().map(|(id, name)| (*id, name.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub tables: TableNames,
    pub artifacts_bucket: Option<String>,
    pub event_bus_name: Option<String>,
    pub settings: Settings,
}

impl AwsConfig {
    /// Requires every resource variable (tables, bucket, bus): for processes
    /// that run the whole flow, and for the adapter tests.
    pub fn from_env() -> Result<Self, ExecutionError> {
        Self::from_lookup(&resource_variables(), |name| std::env::var(name).ok())
    }

    /// Requires exactly the resource variables the stack gives `handler`
    /// (derived from its grants in `ccx_infra`); the others may be absent.
    pub fn for_handler(handler: Handler) -> Result<Self, ExecutionError> {
        Self::from_lookup(&required_by(handler), |name| std::env::var(name).ok())
    }

    /// Reads every resource variable through `lookup` (empty counts as unset)
    /// and fails once, naming every variable of `required` that is unset and
    /// every invalid optional value.
    pub fn from_lookup(
        required: &[&str],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ExecutionError> {
        let read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let missing: Vec<&str> = resource_variables()
            .into_iter()
            .filter(|name| required.contains(name) && read(name).is_none())
            .collect();
        let mut invalid: Vec<String> = Vec::new();

        let tables = TableId::ALL
            .iter()
            .filter_map(|id| read(id.env_var()).map(|name| (*id, name)))
            .fold(TableNames::new(), |t, (id, name)| t.with(id, name));

        let mut settings = Settings::default();
        if let Some(raw) = read(ENV_LOCK_TTL_SECONDS) {
            match raw.trim().parse::<i64>() {
                Ok(secs) if secs > 0 => settings.lock_ttl_seconds = secs,
                _ => invalid.push(format!(
                    "{ENV_LOCK_TTL_SECONDS}={raw:?} (expected a positive number of seconds)"
                )),
            }
        }
        if let Some(source) = read(ENV_EVENT_SOURCE) {
            settings.event_source = source;
        }

        if missing.is_empty() && invalid.is_empty() {
            return Ok(Self {
                tables,
                artifacts_bucket: read(ENV_ARTIFACTS_BUCKET),
                event_bus_name: read(ENV_EVENT_BUS_NAME),
                settings,
            });
        }
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!(
                "missing environment variables: {}",
                missing.join(", ")
            ));
        }
        if !invalid.is_empty() {
            problems.push(format!("invalid values: {}", invalid.join(", ")));
        }
        Err(ExecutionError::configuration(
            "AWS_CONFIG_INCOMPLETE",
            format!(
                "AWS adapter configuration incomplete: {}",
                problems.join("; ")
            ),
        ))
    }
}

/// The resource variables of `handler`'s environment (the stack also sets
/// `CCX_BACKEND` and the gateway variables; those belong to other crates).
pub fn required_by(handler: Handler) -> Vec<&'static str> {
    let ours = resource_variables();
    handler
        .def()
        .env_var_names()
        .into_iter()
        .filter(|name| ours.contains(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, String> {
        resource_variables()
            .iter()
            .map(|n| (*n, format!("value-of-{n}")))
            .collect()
    }

    #[test]
    fn reads_every_variable() {
        let env = full();
        let cfg = AwsConfig::from_lookup(&resource_variables(), |n| env.get(n).cloned()).unwrap();
        assert_eq!(
            cfg.tables.get(TableId::Attempts).unwrap(),
            "value-of-CCX_TABLE_ATTEMPTS"
        );
        assert_eq!(
            cfg.tables.get(TableId::Tenants).unwrap(),
            "value-of-CCX_TABLE_TENANTS"
        );
        assert_eq!(
            cfg.artifacts_bucket.as_deref(),
            Some("value-of-CCX_ARTIFACTS_BUCKET")
        );
        assert_eq!(
            cfg.event_bus_name.as_deref(),
            Some("value-of-CCX_EVENT_BUS_NAME")
        );
        assert_eq!(
            cfg.settings.lock_ttl_seconds,
            Settings::default().lock_ttl_seconds
        );
    }

    #[test]
    fn one_error_names_every_missing_variable() {
        let mut env = full();
        env.remove("CCX_TABLE_LEDGER");
        env.remove(ENV_EVENT_BUS_NAME);
        env.insert("CCX_TABLE_DEDUPE", "  ".into());
        let err =
            AwsConfig::from_lookup(&resource_variables(), |n| env.get(n).cloned()).unwrap_err();
        assert_eq!(err.name, "ConfigurationError");
        assert_eq!(err.code, "AWS_CONFIG_INCOMPLETE");
        assert!(
            err.message.contains(
                "missing environment variables: CCX_TABLE_DEDUPE, CCX_TABLE_LEDGER, CCX_EVENT_BUS_NAME"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn nothing_set_lists_all_nine_and_bad_ttl() {
        let err = AwsConfig::from_lookup(&resource_variables(), |n| {
            (n == ENV_LOCK_TTL_SECONDS).then(|| "soon".to_string())
        })
        .unwrap_err();
        assert_eq!(resource_variables().len(), 9);
        for name in resource_variables() {
            assert!(err.message.contains(name), "{name} not in {}", err.message);
        }
        assert!(
            err.message.contains("CCX_LOCK_TTL_SECONDS=\"soon\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_handler_requires_only_what_the_stack_gives_it() {
        assert_eq!(
            required_by(Handler::Validator),
            ["CCX_TABLE_INTENTS", "CCX_TABLE_TENANTS"]
        );
        let recorder = required_by(Handler::Recorder);
        for name in [
            "CCX_TABLE_ATTEMPTS",
            "CCX_TABLE_OUTCOMES",
            "CCX_TABLE_LEDGER",
            ENV_EVENT_BUS_NAME,
        ] {
            assert!(recorder.contains(&name), "{name} not in {recorder:?}");
        }
        // The validator's two tables suffice; the store then refuses the others by name.
        let env = HashMap::from([
            ("CCX_TABLE_INTENTS", "i".to_string()),
            ("CCX_TABLE_TENANTS", "t".to_string()),
        ]);
        let cfg = AwsConfig::from_lookup(&required_by(Handler::Validator), |n| env.get(n).cloned())
            .unwrap();
        assert_eq!(cfg.tables.get(TableId::Intents).unwrap(), "i");
        let err = cfg.tables.get(TableId::Attempts).unwrap_err();
        assert_eq!(err.code, "TABLE_NOT_CONFIGURED");
        assert!(
            err.message.contains("CCX_TABLE_ATTEMPTS"),
            "{}",
            err.message
        );
        assert!(cfg.artifacts_bucket.is_none());
        // And the validator without its tables names both at once.
        let err = AwsConfig::from_lookup(&required_by(Handler::Validator), |_| None).unwrap_err();
        assert!(
            err.message
                .contains("missing environment variables: CCX_TABLE_INTENTS, CCX_TABLE_TENANTS"),
            "{}",
            err.message
        );
    }

    #[test]
    fn optional_overrides_apply() {
        let mut env = full();
        env.insert(ENV_LOCK_TTL_SECONDS, "120".into());
        env.insert(ENV_EVENT_SOURCE, "custom.source".into());
        let cfg = AwsConfig::from_lookup(&resource_variables(), |n| env.get(n).cloned()).unwrap();
        assert_eq!(cfg.settings.lock_ttl_seconds, 120);
        assert_eq!(cfg.settings.event_source, "custom.source");
    }

    #[test]
    fn prefix_names_match_the_stack() {
        let t = TableNames::with_prefix("ccx");
        assert_eq!(t.get(TableId::Ledger).unwrap(), "ccx-ledger");
        assert_eq!(t.iter().count(), 7);
    }
}
