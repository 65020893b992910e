//! Execution lifecycle events the handlers publish (EventBridge `detail-type`s).
//!
//! Events are at-least-once: a handler that retries after a publish failure
//! publishes again, so consumers dedupe on `(trace_id, attempt_count, detail_type)`.

use serde_json::Value;

use crate::error::ExecutionError;
use crate::ports::{Deps, ExecutionEvent};

pub const EXECUTION_STARTED: &str = "EXECUTION_STARTED";
pub const ACTION_EXECUTED: &str = "ACTION_EXECUTED";
pub const ACTION_FAILED: &str = "ACTION_FAILED";

/// Publish `detail` under `detail_type`; any failure becomes a `TransientError`.
pub(crate) async fn publish(
    deps: &Deps,
    detail_type: &str,
    detail: Value,
) -> Result<(), ExecutionError> {
    let event = ExecutionEvent {
        source: deps.settings.event_source.clone(),
        detail_type: detail_type.to_string(),
        detail,
    };
    deps.events
        .publish(&event)
        .await
        .map_err(super::publish_failed)
}
