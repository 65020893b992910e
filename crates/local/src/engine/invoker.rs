//! How a Task state reaches its resource, and how the engine waits.
//!
//! The engine knows nothing about Lambda: a [`TaskInvoker`] gets the resource
//! (after definition substitutions) and the Task's effective input, and returns
//! the raw result or a [`TaskFailure`] with the Step Functions error name.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

/// A failed task: `error` is the name Retry and Catch match on; `cause` is what
/// a Catch hands on as `Cause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: Option<String>,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<Option<String>>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

#[async_trait]
pub trait TaskInvoker: Send + Sync {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure>;
}

/// Waits between retries. Injectable so tests record delays instead of sleeping.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

/// Real waiting on the tokio timer.
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
