//! The records the execution layer reads and writes, and their key patterns.
//!
//! Field names are snake_case JSON, as in the reference system. Every store
//! implementation (SQLite, DynamoDB) persists these records whole; the key
//! helpers in [`keys`] are the single source of the pk/sk patterns.

mod attempt;
mod dedupe;
mod intent;
pub mod keys;
mod ledger;
mod outcome;
mod registry;
mod tenant;

pub use attempt::{AttemptStatus, ExecutionAttempt, ReplayRequest};
pub use dedupe::ExternalWriteDedupe;
pub use intent::{ActionIntentV1, ExecutionPolicy, IntentTarget};
pub use ledger::{LedgerEntry, LedgerEventType};
pub use outcome::{ActionOutcomeV1, CompensationStatus, ExternalObjectRef, OutcomeStatus};
pub use registry::{CompensationStrategy, ParameterMapping, ToolRegistryEntry, Transform};
pub use tenant::{GlobalControls, TenantConfig};
