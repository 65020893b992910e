//! The interpreter: runs a loaded [`StateMachine`] one state at a time.
//!
//! Data flow per state is the spec's: `InputPath` -> `Parameters` -> task ->
//! `ResultSelector` -> `ResultPath` (into the *raw* state input) -> `OutputPath`.
//! Task failures go through `Retry` (first matching retrier; once it is
//! exhausted, no other retrier is tried) and then `Catch` (the error output
//! `{"Error","Cause"}` is placed with the catcher's `ResultPath`, `OutputPath`
//! does not apply). `States.Runtime` errors (a path that selects nothing, a
//! `ResultPath` that cannot be applied, a Choice variable that does not exist)
//! fail the execution at once: neither `States.ALL` nor a retrier applies, as
//! in AWS.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::definition::{
    DefinitionError, Jitter, ResultPath, Retrier, Selector, State, StateKind, StateMachine,
    TaskState, Transition, substitute,
};
use super::history::{EventDetail, Execution, ExecutionStatus, Recorder};
use super::invoker::{Sleeper, TaskFailure, TaskInvoker, TokioSleeper};
use super::payload::PayloadError;

pub const STATES_ALL: &str = "States.ALL";
pub const STATES_TASK_FAILED: &str = "States.TaskFailed";
pub const STATES_TIMEOUT: &str = "States.Timeout";
pub const STATES_RUNTIME: &str = "States.Runtime";
pub const STATES_INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
pub const STATES_NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";

/// Tunables of the engine. The defaults behave like Step Functions: retry
/// delays and timeouts in real seconds.
#[derive(Clone)]
pub struct EngineOptions {
    /// `$$.StateMachine.Id`; the execution ARN is derived from it.
    pub state_machine_arn: String,
    /// Multiplies every retry delay (0.01 makes a 2 s backoff 20 ms).
    pub delay_scale: f64,
    /// Multiplies every `TimeoutSeconds` (task and execution).
    pub timeout_scale: f64,
    pub sleeper: Arc<dyn Sleeper>,
    /// Upper bound of history events, a guard against definitions that loop.
    pub max_events: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            state_machine_arn: "arn:aws:states:local:000000000000:stateMachine:execution".into(),
            delay_scale: 1.0,
            timeout_scale: 1.0,
            sleeper: Arc::new(TokioSleeper),
            max_events: 25_000,
        }
    }
}

/// A loaded state machine bound to an invoker. Cheap to share: `execute` takes
/// `&self`, so several executions can run at once.
pub struct Engine {
    machine: StateMachine,
    invoker: Arc<dyn TaskInvoker>,
    options: EngineOptions,
}

/// How one state ended.
enum Step {
    Next(String, Value),
    End(Value),
    Fail {
        error: String,
        cause: Option<String>,
    },
}

impl Engine {
    /// Loads `definition_json`, applying `${Name}` substitutions first. Refuses
    /// (naming the state and the field) anything the engine does not implement.
    pub fn new(
        definition_json: &str,
        substitutions: &HashMap<String, String>,
        invoker: Arc<dyn TaskInvoker>,
    ) -> Result<Engine, DefinitionError> {
        let text = substitute(definition_json, substitutions)?;
        Ok(Engine {
            machine: StateMachine::parse(&text)?,
            invoker,
            options: EngineOptions::default(),
        })
    }

    pub fn with_options(mut self, options: EngineOptions) -> Engine {
        self.options = options;
        self
    }

    /// Scales retry delays (see [`EngineOptions::delay_scale`]).
    pub fn with_delay_scale(mut self, scale: f64) -> Engine {
        self.options.delay_scale = scale;
        self
    }

    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Engine {
        self.options.sleeper = sleeper;
        self
    }

    pub fn machine(&self) -> &StateMachine {
        &self.machine
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Runs one execution to its end and returns it with its history.
    pub async fn execute(&self, name: &str, input: Value) -> Execution {
        self.run_execution(name, input, None).await
    }

    /// Runs an execution named `name` whose `$$.Execution.Input` is `input`,
    /// from `StartAt`, or from `resume = (state, that state's raw input)` when
    /// an execution is redriven (see [`redrive`]).
    async fn run_execution(
        &self,
        name: &str,
        input: Value,
        resume: Option<(String, Value)>,
    ) -> Execution {
        let recorder = Recorder::new();
        let start_date = Utc::now();
        let execution_arn = match self.options.state_machine_arn.split_once(":stateMachine:") {
            Some((prefix, sm)) => format!("{prefix}:execution:{sm}:{name}"),
            None => format!("{}:{name}", self.options.state_machine_arn),
        };
        let run = Run {
            engine: self,
            recorder: &recorder,
            execution: json!({
                "Id": execution_arn,
                "Name": name,
                "StartTime": timestamp(start_date),
                "Input": input,
                "RoleArn": "arn:aws:iam::000000000000:role/ccx-local",
            }),
        };
        recorder.push(EventDetail::ExecutionStarted {
            input: input.clone(),
        });
        let (start, start_input) =
            resume.unwrap_or_else(|| (self.machine.start_at.clone(), input.clone()));
        let outcome = match self.machine.timeout_seconds {
            Some(secs) => {
                let limit = Duration::from_secs_f64(secs * self.options.timeout_scale);
                tokio::time::timeout(limit, run.run(start, start_input))
                    .await
                    .ok()
            }
            None => Some(run.run(start, start_input).await),
        };
        let (status, output, error, cause) = match outcome {
            Some(Ok(output)) => {
                recorder.push(EventDetail::ExecutionSucceeded {
                    output: output.clone(),
                });
                (ExecutionStatus::Succeeded, Some(output), None, None)
            }
            Some(Err((error, cause))) => {
                recorder.push(EventDetail::ExecutionFailed {
                    error: error.clone(),
                    cause: cause.clone(),
                });
                (ExecutionStatus::Failed, None, Some(error), cause)
            }
            None => {
                let cause = Some(format!(
                    "the execution ran longer than its TimeoutSeconds ({})",
                    self.machine.timeout_seconds.unwrap_or_default()
                ));
                recorder.push(EventDetail::ExecutionTimedOut {
                    error: STATES_TIMEOUT.into(),
                    cause: cause.clone(),
                });
                (
                    ExecutionStatus::TimedOut,
                    None,
                    Some(STATES_TIMEOUT.to_string()),
                    cause,
                )
            }
        };
        Execution {
            execution_arn,
            name: name.to_string(),
            status,
            input,
            output,
            error,
            cause,
            start_date,
            stop_date: Utc::now(),
            history: recorder.take(),
        }
    }
}

mod redrive;
pub use redrive::RedriveError;

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One running execution.
struct Run<'a> {
    engine: &'a Engine,
    recorder: &'a Recorder,
    /// `$$.Execution`.
    execution: Value,
}

type Failure = (String, Option<String>);

impl Run<'_> {
    async fn run(&self, start: String, input: Value) -> Result<Value, Failure> {
        let machine = &self.engine.machine;
        let mut current = start;
        let mut data = input;
        loop {
            if self.recorder.len() >= self.engine.options.max_events {
                return Err((
                    STATES_RUNTIME.into(),
                    Some(format!(
                        "the execution exceeded {} history events (a loop in the definition?)",
                        self.engine.options.max_events
                    )),
                ));
            }
            let state = &machine.states[&current];
            let entered_id = self.recorder.push(EventDetail::StateEntered {
                state: state.name.clone(),
                state_type: state.type_name().into(),
                input: data.clone(),
            });
            let entered_at = Utc::now();
            let step = match self.run_state(state, &data, entered_at).await {
                Ok(step) => step,
                Err(StateError(cause)) => {
                    return Err((
                        STATES_RUNTIME.into(),
                        Some(format!(
                            "An error occurred while executing the state '{}' (entered at the event id #{entered_id}). {cause}",
                            state.name
                        )),
                    ));
                }
            };
            match step {
                Step::Next(next, output) => {
                    self.recorder.push(EventDetail::StateExited {
                        state: state.name.clone(),
                        output: output.clone(),
                    });
                    current = next;
                    data = output;
                }
                Step::End(output) => {
                    self.recorder.push(EventDetail::StateExited {
                        state: state.name.clone(),
                        output: output.clone(),
                    });
                    return Ok(output);
                }
                Step::Fail { error, cause } => return Err((error, cause)),
            }
        }
    }

    fn context(&self, state: &State, entered_at: DateTime<Utc>, retry_count: u32) -> Value {
        let sm_arn = &self.engine.options.state_machine_arn;
        json!({
            "Execution": self.execution,
            "StateMachine": {
                "Id": sm_arn,
                "Name": sm_arn.rsplit(':').next().unwrap_or_default(),
            },
            "State": {
                "Name": state.name,
                "EnteredTime": timestamp(entered_at),
                "RetryCount": retry_count,
            },
        })
    }

    async fn run_state(
        &self,
        state: &State,
        raw: &Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let context = self.context(state, entered_at, 0);
        match &state.kind {
            StateKind::Task(task) => self.run_task(state, task, raw, entered_at).await,
            StateKind::Pass(pass) => {
                let effective = select(&state.input_path, raw, &context, "InputPath")?;
                let result = match (&pass.parameters, &pass.result) {
                    (Some(params), _) => {
                        params.eval(&effective, &context).map_err(payload_error)?
                    }
                    (None, Some(result)) => result.clone(),
                    (None, None) => effective,
                };
                let output = apply_result_path(&pass.result_path, raw, result)?;
                let output = select(&state.output_path, &output, &context, "OutputPath")?;
                Ok(transition(&pass.transition, output))
            }
            StateKind::Choice(choice) => {
                let effective = select(&state.input_path, raw, &context, "InputPath")?;
                let mut next = None;
                for (rule, target) in &choice.choices {
                    if rule.eval(&effective, &context).map_err(StateError)? {
                        next = Some(target.clone());
                        break;
                    }
                }
                let Some(next) = next.or_else(|| choice.default.clone()) else {
                    return Ok(Step::Fail {
                        error: STATES_NO_CHOICE_MATCHED.into(),
                        cause: Some(format!(
                            "no Choice rule of state '{}' matched and it has no Default",
                            state.name
                        )),
                    });
                };
                let output = select(&state.output_path, &effective, &context, "OutputPath")?;
                Ok(Step::Next(next, output))
            }
            StateKind::Succeed => {
                let effective = select(&state.input_path, raw, &context, "InputPath")?;
                let output = select(&state.output_path, &effective, &context, "OutputPath")?;
                Ok(Step::End(output))
            }
            StateKind::Fail(fail) => {
                let from_path = |path: &Option<super::path::JsonPath>,
                                 fixed: &Option<String>,
                                 field: &str|
                 -> Result<Option<String>, StateError> {
                    match path {
                        None => Ok(fixed.clone()),
                        Some(p) => match p.select(if p.context { &context } else { raw }) {
                            Some(Value::String(s)) => Ok(Some(s)),
                            Some(other) => Err(StateError(format!(
                                "The {field} '{p}' selected {other}, not a string"
                            ))),
                            None => Err(StateError(format!(
                                "The {field} '{p}' could not be found in the input '{raw}'"
                            ))),
                        },
                    }
                };
                let error = from_path(&fail.error_path, &fail.error, "ErrorPath")?;
                let cause = from_path(&fail.cause_path, &fail.cause, "CausePath")?;
                Ok(Step::Fail {
                    error: error.unwrap_or_default(),
                    cause,
                })
            }
        }
    }

    async fn run_task(
        &self,
        state: &State,
        task: &TaskState,
        raw: &Value,
        entered_at: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let options = &self.engine.options;
        let effective = select(
            &state.input_path,
            raw,
            &self.context(state, entered_at, 0),
            "InputPath",
        )?;
        let mut retries_used = vec![0u32; task.retry.len()];
        let mut retry_count = 0u32;
        loop {
            let context = self.context(state, entered_at, retry_count);
            let attempt: Result<Value, TaskFailure> = match &task.parameters {
                None => Ok(effective.clone()),
                Some(params) => match params.eval(&effective, &context) {
                    Ok(v) => Ok(v),
                    Err(PayloadError::Runtime(m)) => return Err(StateError(m)),
                    Err(PayloadError::Intrinsic(m)) => {
                        Err(TaskFailure::new(STATES_INTRINSIC_FAILURE, Some(m)))
                    }
                },
            };
            let attempt = match attempt {
                Err(f) => Err(f),
                Ok(input) => {
                    self.recorder.push(EventDetail::TaskScheduled {
                        state: state.name.clone(),
                        resource: task.resource.clone(),
                        input: input.clone(),
                        retry_count,
                    });
                    let call = self.engine.invoker.invoke(&task.resource, input);
                    match task.timeout_seconds {
                        None => call.await,
                        Some(secs) => {
                            let limit = Duration::from_secs_f64(secs * options.timeout_scale);
                            match tokio::time::timeout(limit, call).await {
                                Ok(r) => r,
                                Err(_) => {
                                    self.recorder.push(EventDetail::TaskTimedOut {
                                        state: state.name.clone(),
                                        resource: task.resource.clone(),
                                        timeout_seconds: secs,
                                    });
                                    Err(TaskFailure::new(STATES_TIMEOUT, None))
                                }
                            }
                        }
                    }
                }
            };
            let failure = match attempt {
                Ok(result) => {
                    self.recorder.push(EventDetail::TaskSucceeded {
                        state: state.name.clone(),
                        resource: task.resource.clone(),
                        output: result.clone(),
                    });
                    let result = match &task.result_selector {
                        Some(t) => t.eval(&result, &context).map_err(payload_error)?,
                        None => result,
                    };
                    let output = apply_result_path(&task.result_path, raw, result)?;
                    let output = select(&state.output_path, &output, &context, "OutputPath")?;
                    return Ok(transition(&task.transition, output));
                }
                Err(failure) => failure,
            };
            if failure.error != STATES_TIMEOUT {
                self.recorder.push(EventDetail::TaskFailed {
                    state: state.name.clone(),
                    resource: task.resource.clone(),
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                });
            }
            // Retry: the first retrier that matches decides, exhausted or not.
            if let Some(i) = task
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, &failure.error))
            {
                let retrier = &task.retry[i];
                if retries_used[i] < retrier.max_attempts {
                    let delay = retry_delay(retrier, retries_used[i], rand::random::<f64>());
                    let scaled = delay * options.delay_scale;
                    retries_used[i] += 1;
                    retry_count += 1;
                    self.recorder.push(EventDetail::RetryScheduled {
                        state: state.name.clone(),
                        error: failure.error.clone(),
                        retry_count,
                        delay_ms: (delay * 1000.0).round() as u64,
                        scaled_delay_ms: (scaled * 1000.0).round() as u64,
                    });
                    options.sleeper.sleep(Duration::from_secs_f64(scaled)).await;
                    continue;
                }
            }
            // Catch.
            if let Some(catcher) = task
                .catch
                .iter()
                .find(|c| error_matches(&c.error_equals, &failure.error))
            {
                let error_output = json!({
                    "Error": failure.error,
                    // AWS binds an empty string when there is no cause.
                    "Cause": failure.cause.clone().unwrap_or_default(),
                });
                let output = apply_result_path(&catcher.result_path, raw, error_output)?;
                self.recorder.push(EventDetail::CatchTaken {
                    state: state.name.clone(),
                    error: failure.error.clone(),
                    next: catcher.next.clone(),
                });
                return Ok(Step::Next(catcher.next.clone(), output));
            }
            return Ok(Step::Fail {
                error: failure.error,
                cause: failure.cause,
            });
        }
    }
}

/// A `States.Runtime` failure inside a state; its text becomes the cause.
struct StateError(String);

fn payload_error(e: PayloadError) -> StateError {
    match e {
        PayloadError::Runtime(m) | PayloadError::Intrinsic(m) => StateError(m),
    }
}

fn transition(t: &Transition, output: Value) -> Step {
    match t {
        Transition::Next(n) => Step::Next(n.clone(), output),
        Transition::End => Step::End(output),
    }
}

fn select(
    selector: &Selector,
    value: &Value,
    context: &Value,
    field: &str,
) -> Result<Value, StateError> {
    match selector {
        Selector::Discard => Ok(json!({})),
        Selector::Path(p) => p
            .select(if p.context { context } else { value })
            .ok_or_else(|| {
                StateError(format!(
                    "Invalid path '{p}' in {field}: no value at that path in '{value}'"
                ))
            }),
    }
}

fn apply_result_path(rp: &ResultPath, raw: &Value, result: Value) -> Result<Value, StateError> {
    match rp {
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::Path(p) => p
            .set(raw.clone(), result)
            .map_err(|m| StateError(format!("ResultPath: {m}"))),
    }
}

/// Whether an `ErrorEquals` list matches an error name. `States.ALL` matches
/// everything but `States.Runtime`; `States.TaskFailed` everything but
/// `States.Timeout` (and `States.Runtime`).
pub fn error_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|e| {
        e == error
            || (e == STATES_ALL && error != STATES_RUNTIME)
            || (e == STATES_TASK_FAILED && error != STATES_TIMEOUT && error != STATES_RUNTIME)
    })
}

/// The delay before retry number `retries_done + 1`, in seconds:
/// `IntervalSeconds * BackoffRate^retries_done`, bounded by `MaxDelaySeconds`,
/// then, with `JitterStrategy: FULL`, scaled by `random` (uniform in [0, 1)).
pub fn retry_delay(r: &Retrier, retries_done: u32, random: f64) -> f64 {
    let mut delay = r.interval_seconds * r.backoff_rate.powi(retries_done as i32);
    if let Some(max) = r.max_delay_seconds {
        delay = delay.min(max);
    }
    match r.jitter {
        Jitter::None => delay,
        Jitter::Full => delay * random.clamp(0.0, 1.0),
    }
}
