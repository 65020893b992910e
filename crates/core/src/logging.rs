//! Structured logs for every runtime: JSON lines on stdout (what CloudWatch and
//! the local engine collect), filtered by `RUST_LOG` (default `info`).
//!
//! Handlers run inside a span carrying `trace_id` and `action_intent_id`; the
//! current span's fields are included in every line so that one execution's logs
//! can be found across the seven functions. Handlers never log secrets or tool
//! arguments (customer data), only names, codes, counts and durations.

use tracing_subscriber::EnvFilter;

/// Install the JSON subscriber. Safe to call more than once (later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .flatten_event(true)
        .try_init();
}
