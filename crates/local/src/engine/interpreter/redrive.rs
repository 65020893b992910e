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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::engine::{TaskFailure, TaskInvoker};

    /// Fails the first `failures` calls with `Lambda.Unknown`, then echoes
    /// `{"seen": input}`; records every input.
    struct FlakyOnce {
        failures: Mutex<u32>,
        inputs: Mutex<Vec<Value>>,
    }

    #[async_trait]
    impl TaskInvoker for FlakyOnce {
        async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskFailure> {
            self.inputs.lock().unwrap().push(input.clone());
            let mut left = self.failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(TaskFailure::new("Lambda.Unknown", None));
            }
            Ok(json!({"seen": input}))
        }
    }

    const DEFINITION: &str = r#"{
      "StartAt": "First",
      "States": {
        "First": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.first", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:local:0:function:work",
                 "Parameters": {"n.$": "$.first.n", "id.$": "$$.Execution.Name"},
                 "ResultPath": "$.work",
                 "Catch": [{"ErrorEquals": ["Refused"], "Next": "Refused"}],
                 "End": true},
        "Refused": {"Type": "Fail", "Error": "Refused"}
      }
    }"#;

    fn engine(failures: u32) -> (Engine, Arc<FlakyOnce>) {
        let invoker = Arc::new(FlakyOnce {
            failures: Mutex::new(failures),
            inputs: Mutex::new(vec![]),
        });
        let engine = Engine::new(DEFINITION, &HashMap::new(), invoker.clone()).unwrap();
        (engine, invoker)
    }

    #[tokio::test]
    async fn a_failed_task_is_rerun_with_its_input_under_the_same_name() {
        let (engine, invoker) = engine(1);
        let failed = engine.execute("run-1", json!({"x": 1})).await;
        assert_eq!(failed.status, ExecutionStatus::Failed);
        assert_eq!(failed.error.as_deref(), Some("Lambda.Unknown"));
        let (state, input) = engine.redrive_target(&failed).unwrap();
        assert_eq!(state, "Work");
        assert_eq!(input, json!({"x": 1, "first": {"n": 1}}));

        let redriven = engine.redrive(&failed).await.unwrap();
        assert_eq!(redriven.status, ExecutionStatus::Succeeded);
        assert_eq!(redriven.name, "run-1");
        assert_eq!(redriven.execution_arn, failed.execution_arn);
        assert_eq!(
            redriven.state_path(),
            ["Work"],
            "the Pass state is not rerun"
        );
        assert_eq!(
            redriven.output.as_ref().unwrap()["work"],
            json!({"seen": {"n": 1, "id": "run-1"}})
        );
        let inputs = invoker.inputs.lock().unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0], inputs[1], "the rerun gets the same task input");

        assert_eq!(
            engine.redrive_target(&redriven),
            Err(RedriveError::Succeeded("run-1".into()))
        );
    }

    #[tokio::test]
    async fn an_execution_ended_by_a_fail_state_is_not_redriven() {
        struct Refuse;
        #[async_trait]
        impl TaskInvoker for Refuse {
            async fn invoke(&self, _: &str, _: Value) -> Result<Value, TaskFailure> {
                Err(TaskFailure::new("Refused", None))
            }
        }
        let engine = Engine::new(DEFINITION, &HashMap::new(), Arc::new(Refuse)).unwrap();
        let failed = engine.execute("run-2", json!({})).await;
        assert_eq!(failed.error.as_deref(), Some("Refused"));
        assert_eq!(
            engine.redrive(&failed).await.unwrap_err(),
            RedriveError::EndedInFailState {
                name: "run-2".into(),
                state: "Refused".into()
            }
        );
    }
}
