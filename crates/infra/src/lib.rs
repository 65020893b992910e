//! Infrastructure as a typed Rust model, the CDK equivalent of this project.
//!
//! The model (tables, functions with their grants, the event rule) is plain data;
//! [`synth`] turns it plus the state machine definition
//! (`statemachine/execution.asl.json`) into the CloudFormation template that `make
//! synth` writes to `infra/template.json`. Tests assert on that template with
//! [`assertions::Template`], as CDK's assertions library does.
//!
//! Other crates depend on this one for shared definitions:
//! - [`tables()`]: table names, keys, GSIs and TTL, also as DynamoDB `CreateTable`
//!   input ([`TableDef::create_table_input`]) for the emulator tests;
//! - [`event_rule()`]: the ACTION_APPROVED pattern and input transformer the local
//!   engine applies (also written to `infra/event_rule.json`).
//!
//! Kept to `serde` and `serde_json` so depending on it costs nothing.

pub mod assertions;
pub mod cfn;
pub mod event_rule;
pub mod functions;
pub mod iam;
pub mod stack;
pub mod tables;

use std::path::{Path, PathBuf};

pub use event_rule::{EventRuleDef, event_rule};
pub use functions::{FunctionDef, Grant, Handler, functions};
pub use iam::ARTIFACT_OBJECT_PATTERN;
pub use stack::{StackOptions, SynthError, synth};
pub use tables::{GsiDef, TableDef, TableId, tables};

/// Repository-relative paths of the files `make synth` reads and writes.
pub mod paths {
    pub const DEFINITION: &str = "statemachine/execution.asl.json";
    pub const TEMPLATE: &str = "infra/template.json";
    pub const EVENT_RULE: &str = "infra/event_rule.json";
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/infra sits two levels below the workspace root")
        .to_path_buf()
}

/// The generated files, as text, for the definition file under `root`.
pub struct Outputs {
    pub template: String,
    pub event_rule: String,
}

/// Reads the definition under `root` and renders both generated files.
pub fn render(root: &Path, opts: &StackOptions) -> Result<Outputs, Box<dyn std::error::Error>> {
    let path = root.join(paths::DEFINITION);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let definition: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let template = synth(&definition, opts)?;
    Ok(Outputs {
        template: cfn::to_canonical_json(&template),
        event_rule: cfn::to_canonical_json(&serde_json::to_value(event_rule())?),
    })
}
