//! Redrive: continue a failed execution from the state that failed, with the
//! same execution name (so `$$.Execution.Id` is unchanged) and that state's
//! input, as Step Functions' `RedriveExecution` does.
//!
//! Why the engine needs it: a task whose Lambda crashed or timed out after its
//! retries leaves the execution FAILED at that task with nothing recorded (the
//! starter's lock is still RUNNING and held by this execution id). An operator,
//! or an automatic redrive, resumes it there; the handlers are idempotent, so
//! the rerun neither takes a second lock (the starter reclaims by execution id)
//! nor calls the tool a second time (the invoker consults the dedupe record).
//!
//! What is redrivable: an execution that FAILED or TIMED_OUT while in a state
//! that did not exit. An execution that ended in a `Fail` state reached its
//! end by design (its failure was handled and recorded), so, unlike AWS, it is
//! refused here: rerunning a `Fail` state only fails again. The redriven run's
//! history holds the events of the redrive only.

use serde_json::Value;

use super::super::history::{EventDetail, Execution, ExecutionStatus};
use super::Engine;

/// Why an execution cannot be redriven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    #[error("execution {0} succeeded; only failed or timed-out executions can be redriven")]
    Succeeded(String),
    #[error("execution {0} has no state that was entered and did not exit")]
    NoFailedState(String),
    #[error("execution {name} ended in the Fail state '{state}', which is its designed end")]
    EndedInFailState { name: String, state: String },
    #[error("execution {name} failed in state '{state}', which this definition does not have")]
    UnknownState { name: String, state: String },
}

/// The state an execution failed in and the raw input it was entered with: the
/// last `StateEntered` without a matching `StateExited`.
pub fn failed_state(execution: &Execution) -> Option<(String, Value)> {
    let mut open: Option<(String, Value)> = None;
    for event in &execution.history {
        match &event.detail {
            EventDetail::StateEntered { state, input, .. } => {
                open = Some((state.clone(), input.clone()));
            }
            EventDetail::StateExited { state, .. }
                if open.as_ref().is_some_and(|(s, _)| s == state) =>
            {
                open = None;
            }
            _ => {}
        }
    }
    open
}

impl Engine {
    /// The state `execution` would be redriven from and its input, or why it
    /// cannot be redriven.
    pub fn redrive_target(&self, execution: &Execution) -> Result<(String, Value), RedriveError> {
        if execution.status == ExecutionStatus::Succeeded {
            return Err(RedriveError::Succeeded(execution.name.clone()));
        }
        let (state, input) = failed_state(execution)
            .ok_or_else(|| RedriveError::NoFailedState(execution.name.clone()))?;
        match self.machine.states.get(&state) {
            None => Err(RedriveError::UnknownState {
                name: execution.name.clone(),
                state,
            }),
            Some(s) if s.type_name() == "Fail" => Err(RedriveError::EndedInFailState {
                name: execution.name.clone(),
                state,
            }),
            Some(_) => Ok((state, input)),
        }
    }

    /// Redrives `failed`: reruns it from its failed state with that state's
    /// input, under the same name and execution input. Returns the redriven run.
    pub async fn redrive(&self, failed: &Execution) -> Result<Execution, RedriveError> {
        let target = self.redrive_target(failed)?;
        Ok(self
            .run_execution(&failed.name, failed.input.clone(), Some(target))
            .await)
    }
}
