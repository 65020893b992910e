//! A fake of the seven handlers for running the real state machine without them:
//! every Task input is parsed into the handler's typed input from `ccx_core::io`
//! (a mismatch panics, naming the handler: an ASL contract violation), and the
//! answer is a canned output built from the typed output structs, or a scripted
//! error reported the way Step Functions reports a Lambda function error.
//! Shared by `asl_contract.rs` and `workflow_moto.rs` (`#[path]` module).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ccx_core::contracts::{
    CompensationStatus, CompensationStrategy, ExternalObjectRef, OutcomeStatus,
};
use ccx_core::error::{ErrorClass, ExecutionError, LambdaErrorPayload};
use ccx_core::handlers::Handler;
use ccx_core::io::{
    self, CompensationInput, CompensationOutput, FailureRecorderInput, InvokerInput, InvokerOutput,
    MapperInput, MapperOutput, RecorderInput, RecorderOutput, StarterInput, StarterOutput,
    ValidatorInput, ValidatorOutput,
};
use ccx_local::engine::{Sleeper, TaskFailure, TaskInvoker, function_name};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub const TRACE: &str = "trace-0001";
pub const IDEM: &str = "idem-0001";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

pub fn crm_ref(id: &str) -> ExternalObjectRef {
    ExternalObjectRef {
        system: "crm".into(),
        object_type: "task".into(),
        object_id: id.into(),
        object_url: None,
    }
}

/// What the fake handlers answer, per scenario.
#[derive(Clone)]
pub struct Script {
    pub strategy: CompensationStrategy,
    pub tool_success: bool,
    pub tool_refs: Vec<ExternalObjectRef>,
    /// Errors each handler raises on its next calls, in order, before answering normally.
    pub errors: HashMap<Handler, VecDeque<ExecutionError>>,
    /// The tool invoker never answers (to reach `States.Timeout`).
    pub tool_hangs: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            strategy: CompensationStrategy::Automatic,
            tool_success: true,
            tool_refs: vec![crm_ref("T-1")],
            errors: HashMap::new(),
            tool_hangs: false,
        }
    }
}

impl Script {
    pub fn raise(mut self, h: Handler, errs: impl IntoIterator<Item = ExecutionError>) -> Self {
        self.errors.entry(h).or_default().extend(errs);
        self
    }
}

/// Every typed input a handler received, in call order.
#[derive(Default)]
pub struct Received {
    pub starter: Vec<StarterInput>,
    pub validator: Vec<ValidatorInput>,
    pub mapper: Vec<MapperInput>,
    pub invoker: Vec<InvokerInput>,
    pub compensation: Vec<CompensationInput>,
    pub recorder: Vec<RecorderInput>,
    pub failure_recorder: Vec<FailureRecorderInput>,
}

pub struct ContractInvoker {
    pub script: Mutex<Script>,
    pub received: Mutex<Received>,
}

/// Parses the raw Task input into the handler's type; a mismatch is a contract
/// violation of the ASL and fails the test at once.
pub fn parse<T: serde::de::DeserializeOwned>(h: Handler, input: &Value) -> T {
    io::parse_input::<T>(h.name(), input.clone()).unwrap_or_else(|e| {
        panic!(
            "ASL contract violation: the Parameters for {h} do not deserialise into its input type: {}\ninput: {input:#}",
            e.message
        )
    })
}

pub fn out<T: Serialize>(v: T) -> Result<Value, TaskFailure> {
    Ok(serde_json::to_value(v).unwrap())
}

#[async_trait]
impl TaskInvoker for ContractInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let h = Handler::from_name(function_name(resource))
            .unwrap_or_else(|| panic!("resource {resource} is not one of the seven functions"));
        {
            let mut rec = self.received.lock().unwrap();
            // Parse first: even a call that is scripted to fail must get a valid input.
            match h {
                Handler::Starter => rec.starter.push(parse(h, &input)),
                Handler::Validator => rec.validator.push(parse(h, &input)),
                Handler::ToolMapper => rec.mapper.push(parse(h, &input)),
                Handler::ToolInvoker => rec.invoker.push(parse(h, &input)),
                Handler::Compensation => rec.compensation.push(parse(h, &input)),
                Handler::Recorder => rec.recorder.push(parse(h, &input)),
                Handler::FailureRecorder => rec.failure_recorder.push(parse(h, &input)),
            }
        }
        let (scripted_error, script) = {
            let mut s = self.script.lock().unwrap();
            let e = s.errors.get_mut(&h).and_then(VecDeque::pop_front);
            (e, s.clone())
        };
        if let Some(err) = scripted_error {
            // What Step Functions reports for a Lambda function error.
            return Err(TaskFailure::new(
                err.name,
                Some(LambdaErrorPayload::cause_of(&err)),
            ));
        }
        if h == Handler::ToolInvoker && script.tool_hangs {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!("the Task timeout fires first");
        }
        let rec = self.received.lock().unwrap();
        match h {
            Handler::Starter => out(StarterOutput {
                trace_id: TRACE.into(),
                attempt_count: 1,
                idempotency_key: IDEM.into(),
                registry_version: 3,
                tool_name: "crm.create_task".into(),
                action_type: "CREATE_TASK".into(),
                decision_trace_id: "decision-0001".into(),
                started_at: t0(),
                replay: rec.starter.last().unwrap().replay.is_some(),
            }),
            Handler::Validator => out(ValidatorOutput {
                valid: true,
                action_type: "CREATE_TASK".into(),
                expires_at: t0() + chrono::Duration::hours(1),
                checked_at: t0(),
            }),
            Handler::ToolMapper => out(MapperOutput {
                tool_name: "crm.create_task".into(),
                tool_arguments: json!({"title": "Call back", "account": "acc-1"}),
                tool_schema_version: "1".into(),
                registry_version: 3,
                compensation_strategy: script.strategy,
                compensation_tool: match script.strategy {
                    CompensationStrategy::Automatic => Some("crm.delete_task".into()),
                    _ => None,
                },
            }),
            Handler::ToolInvoker => {
                let i = rec.invoker.last().unwrap();
                out(InvokerOutput {
                    success: script.tool_success,
                    tool_name: i.tool_name.clone(),
                    tool_run_ref: format!(
                        "toolrun/{}/{}/{}",
                        i.trace_id, i.attempt_count, i.tool_name
                    ),
                    has_external_refs: !script.tool_refs.is_empty(),
                    external_object_refs: script.tool_refs.clone(),
                    raw_response_artifact_ref: None,
                    error_class: (!script.tool_success).then_some(ErrorClass::Downstream),
                    error_code: (!script.tool_success).then(|| "TOOL_REPORTED_FAILURE".into()),
                    error_message: (!script.tool_success).then(|| "quota exceeded".into()),
                    deduplicated: false,
                    duration_ms: 12,
                })
            }
            Handler::Compensation => {
                let c = rec.compensation.last().unwrap();
                out(CompensationOutput {
                    status: match c.compensation_strategy {
                        CompensationStrategy::Manual => CompensationStatus::Pending,
                        _ => CompensationStatus::Completed,
                    },
                    compensated: c.external_object_refs.clone(),
                    failures: vec![],
                    error: None,
                })
            }
            Handler::Recorder => {
                let r = rec.recorder.last().unwrap();
                out(RecorderOutput {
                    status: if r.invocation.success {
                        OutcomeStatus::Succeeded
                    } else {
                        OutcomeStatus::Failed
                    },
                    written: true,
                    error_class: r.invocation.error_class,
                    error_code: r.invocation.error_code.clone(),
                    compensation_status: r.compensation.status,
                })
            }
            Handler::FailureRecorder => {
                let f = rec.failure_recorder.last().unwrap();
                let cause = f.error.structured();
                out(RecorderOutput {
                    status: OutcomeStatus::Failed,
                    written: true,
                    error_class: Some(cause.class),
                    error_code: Some(cause.code),
                    compensation_status: CompensationStatus::None,
                })
            }
        }
    }
}

pub struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: Duration) {}
}

impl ContractInvoker {
    pub fn new(script: Script) -> Self {
        Self {
            script: Mutex::new(script),
            received: Mutex::new(Received::default()),
        }
    }
}

pub fn transient(code: &str) -> ExecutionError {
    ExecutionError::transient(ErrorClass::Downstream, code, "gateway returned 503")
}
