//! The result of an execution and its event history, shaped like Step Functions'
//! `DescribeExecution` and `GetExecutionHistory`, so a run can be read, shown by
//! `ccx`, and compared with a run on AWS or moto.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
        }
    }
}

/// What happened. States and tasks are named; errors carry the Step Functions
/// error name and cause exactly as a Catch would see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventDetail {
    ExecutionStarted {
        input: Value,
    },
    StateEntered {
        state: String,
        state_type: String,
        input: Value,
    },
    StateExited {
        state: String,
        output: Value,
    },
    TaskScheduled {
        state: String,
        resource: String,
        input: Value,
        /// `$$.State.RetryCount` of this attempt (0 for the first).
        retry_count: u32,
    },
    TaskSucceeded {
        state: String,
        resource: String,
        output: Value,
    },
    TaskFailed {
        state: String,
        resource: String,
        error: String,
        cause: Option<String>,
    },
    TaskTimedOut {
        state: String,
        resource: String,
        timeout_seconds: f64,
    },
    RetryScheduled {
        state: String,
        error: String,
        /// 1 for the first retry.
        retry_count: u32,
        /// The delay the definition asks for (after backoff, bound and jitter).
        delay_ms: u64,
        /// What the engine actually waits (`delay_ms` times the engine's delay scale).
        scaled_delay_ms: u64,
    },
    CatchTaken {
        state: String,
        error: String,
        next: String,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        error: String,
        cause: Option<String>,
    },
    ExecutionTimedOut {
        error: String,
        cause: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, in order.
    pub id: u64,
    pub timestamp: DateTime<Utc>,
    /// Milliseconds since the execution started.
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub detail: EventDetail,
}

/// One finished execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub execution_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    /// The final output (`None` unless SUCCEEDED).
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: DateTime<Utc>,
    pub history: Vec<HistoryEvent>,
}

impl Execution {
    /// The names of the states entered, in order (repeats included).
    pub fn state_path(&self) -> Vec<String> {
        state_path(self)
    }

    /// The events that concern one state, in order.
    pub fn events_of<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a EventDetail> + 'a {
        self.history.iter().map(|e| &e.detail).filter(move |d| {
            matches!(d,
                EventDetail::StateEntered { state: s, .. }
                | EventDetail::StateExited { state: s, .. }
                | EventDetail::TaskScheduled { state: s, .. }
                | EventDetail::TaskSucceeded { state: s, .. }
                | EventDetail::TaskFailed { state: s, .. }
                | EventDetail::TaskTimedOut { state: s, .. }
                | EventDetail::RetryScheduled { state: s, .. }
                | EventDetail::CatchTaken { state: s, .. } if s == state)
        })
    }

    /// The inputs each attempt of a task state was scheduled with.
    pub fn task_inputs(&self, state: &str) -> Vec<Value> {
        self.events_of(state)
            .filter_map(|d| match d {
                EventDetail::TaskScheduled { input, .. } => Some(input.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The names of the states entered, in order: what the contract and the
/// differential tests compare between engines.
pub fn state_path(execution: &Execution) -> Vec<String> {
    execution
        .history
        .iter()
        .filter_map(|e| match &e.detail {
            EventDetail::StateEntered { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

/// Collects events while an execution runs. Kept outside the running future so
/// that the events survive an execution timeout, which drops that future.
pub(crate) struct Recorder {
    started: Instant,
    events: Mutex<Vec<HistoryEvent>>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Records an event and returns its id.
    pub(crate) fn push(&self, detail: EventDetail) -> u64 {
        let mut events = self.events.lock().expect("history lock");
        let id = events.len() as u64 + 1;
        events.push(HistoryEvent {
            id,
            timestamp: Utc::now(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            detail,
        });
        id
    }

    pub(crate) fn len(&self) -> usize {
        self.events.lock().expect("history lock").len()
    }

    pub(crate) fn take(&self) -> Vec<HistoryEvent> {
        std::mem::take(&mut *self.events.lock().expect("history lock"))
    }
}
