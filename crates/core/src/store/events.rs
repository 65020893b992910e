//! Execution lifecycle events on the embedded default: appended to a JSONL file
//! (what `ccx` shows), or kept in memory (tests).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use crate::error::{ExecutionError, Result};
use crate::ports::{EventPublisher, ExecutionEvent};

pub struct JsonlEventPublisher {
    path: Arc<PathBuf>,
    // Serialises appends from concurrent executions in this process.
    lock: Arc<Mutex<()>>,
}

impl JsonlEventPublisher {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Arc::new(path.into()),
            lock: Arc::new(Mutex::new(())),
        }
    }
}

#[async_trait]
impl EventPublisher for JsonlEventPublisher {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()> {
        let line = json!({
            "time": chrono::Utc::now(),
            "source": event.source,
            "detail-type": event.detail_type,
            "detail": event.detail,
        })
        .to_string();
        let (path, lock) = (self.path.clone(), self.lock.clone());
        // File I/O and the lock that orders it run on the blocking pool: under
        // many concurrent executions they would otherwise stall the executor.
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path.as_path())
                .and_then(|mut f| {
                    writeln!(f, "{line}")?;
                    f.flush()
                })
                .map_err(|e| {
                    ExecutionError::store_unavailable(format!(
                        "cannot append event to {}: {e}",
                        path.display()
                    ))
                })
        })
        .await
        .map_err(|e| ExecutionError::store_unavailable(format!("event writer failed: {e}")))?
    }
}

/// Keeps published events in memory; tests read them back with [`Self::events`].
#[derive(Default)]
pub struct RecordingEventPublisher {
    events: Mutex<Vec<ExecutionEvent>>,
    fail_next: Mutex<u32>,
}

impl RecordingEventPublisher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn events(&self) -> Vec<ExecutionEvent> {
        self.events.lock().unwrap().clone()
    }
    pub fn detail_types(&self) -> Vec<String> {
        self.events().into_iter().map(|e| e.detail_type).collect()
    }
    /// Make the next `n` publishes fail with a TransientError (bus outage).
    pub fn fail_next(&self, n: u32) {
        *self.fail_next.lock().unwrap() = n;
    }
}

#[async_trait]
impl EventPublisher for RecordingEventPublisher {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()> {
        {
            let mut fail = self.fail_next.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(ExecutionError::transient(
                    crate::error::ErrorClass::Downstream,
                    "EVENT_BUS_UNAVAILABLE",
                    "injected event bus failure",
                ));
            }
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}
