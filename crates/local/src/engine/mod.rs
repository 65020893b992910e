//! `ccx_local::engine`: a local interpreter of the Amazon States Language, for
//! the one definition in `statemachine/execution.asl.json`.
//!
//! It implements what that definition uses and refuses the rest at load time,
//! naming the state and the field: Task, Choice, Pass, Succeed, Fail; InputPath,
//! Parameters (paths, `$$` context paths, intrinsic functions), ResultSelector,
//! ResultPath, OutputPath; Retry (ErrorEquals, IntervalSeconds, MaxAttempts,
//! BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch; `States.ALL`,
//! `States.TaskFailed`, `States.Timeout` (Task `TimeoutSeconds`), and
//! `States.Runtime` for data errors.
//!
//! ```no_run
//! # async fn demo(deps: ccx_core::Deps) {
//! use std::sync::Arc;
//! use ccx_local::engine::{Engine, InProcessInvoker, EXECUTION_ASL, local_substitutions};
//! let engine = Engine::new(EXECUTION_ASL, &local_substitutions(), Arc::new(InProcessInvoker::new(deps)))
//!     .expect("the definition loads")
//!     .with_delay_scale(0.01); // retries wait 1/100 of their real delay
//! let run = engine
//!     .execute("run-1", serde_json::json!({"action_intent_id": "ai_1", "tenant_id": "t1",
//!         "account_id": "a1", "replay": null}))
//!     .await;
//! println!("{} via {:?}", run.status.as_str(), run.state_path());
//! # }
//! ```
//!
//! Fidelity: `tests/tests/workflow_moto.rs` runs the production definition and
//! a corpus of small definitions (the spec's examples among them) both here and
//! in moto's Step Functions interpreter, and requires the same path, status,
//! output, error and cause. Where moto departs from AWS's documented behaviour
//! the engine follows AWS, and the corpus leaves the case out: a Parameters
//! path that selects nothing is an uncatchable `States.Runtime` (moto: a
//! catchable `Exception`); a Choice without match or Default raises
//! `States.NoChoiceMatched` (moto: `States.Runtime`); `States.Array` keeps a
//! `null` argument (moto drops it).
//!
//! Modules: [`definition`] (load and validate), [`path`] (JSONPath),
//! [`payload`] (Parameters / ResultSelector templates), [`intrinsics`],
//! [`choice`] (rules), [`interpreter`] (the run loop, Retry and Catch),
//! [`history`] (the execution record), [`invoker`] (the task and sleep seams),
//! [`in_process`] (tasks mapped to `ccx_core::handlers`), [`runtime_api`]
//! (tasks run by the compiled handler binaries over the Lambda Runtime API).

pub mod choice;
pub mod definition;
pub mod history;
pub mod in_process;
pub mod interpreter;
pub mod intrinsics;
pub mod invoker;
pub mod path;
pub mod payload;
pub mod runtime_api;

pub use definition::{DefinitionError, StateMachine};
pub use history::{EventDetail, Execution, ExecutionStatus, HistoryEvent, state_path};
pub use in_process::{
    EXECUTION_ASL, FUNCTION_SUBSTITUTIONS, InProcessInvoker, function_name, local_function_arn,
    local_substitutions,
};
pub use interpreter::{Engine, EngineOptions, error_matches, retry_delay};
pub use invoker::{Sleeper, TaskFailure, TaskInvoker, TokioSleeper};
pub use runtime_api::{LambdaFunction, RuntimeApiInvoker};

#[cfg(test)]
mod tests;
