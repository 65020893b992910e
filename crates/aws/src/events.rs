//! Execution lifecycle events on EventBridge.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use ccx_core::error::Result;
use ccx_core::ports::{EventPublisher, ExecutionEvent};
use ccx_core::{ErrorClass, ExecutionError};

use crate::sdk_error::service_error;

#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                service_error(
                    "EventBridge PutEvents",
                    &format!("bus {}", self.bus_name),
                    "EVENT_PUBLISH_FAILED",
                    &e,
                )
            })?;
        // PutEvents succeeds at the HTTP level even when an entry is rejected:
        // the per-entry result carries the error.
        if out.failed_entry_count() > 0 {
            let (code, message) = out
                .entries()
                .iter()
                .find_map(|e| e.error_code().map(|c| (c, e.error_message().unwrap_or(""))))
                .unwrap_or(("Unknown", "no error detail"));
            let text = format!(
                "EventBridge rejected {} event on bus {}: {code}: {message}",
                event.detail_type, self.bus_name
            );
            return Err(
                if code.contains("Throttl") || code.contains("InternalFailure") {
                    ExecutionError::transient(
                        ErrorClass::RateLimit,
                        "EVENT_PUBLISH_UNAVAILABLE",
                        text,
                    )
                } else {
                    ExecutionError::permanent(ErrorClass::Downstream, "EVENT_PUBLISH_FAILED", text)
                },
            );
        }
        Ok(())
    }
}
