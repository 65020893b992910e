//! Differential test of the local engine against another implementation of the
//! Amazon States Language: moto server's Step Functions interpreter (LocalStack's
//! engine, switched on with `POST /moto-api/config`).
//!
//! The same `statemachine/execution.asl.json`, the same input and the same
//! scripted handler behaviour (the fake of `support/asl_fake.rs`) run in both;
//! they must take the same path and end with the same status, output, error and
//! cause. moto invokes Lambda on `MOTO_PORT`, which points at a small router
//! here that serves `POST /2015-03-31/functions/{name}/invocations` with the
//! fake handlers (a function error is answered with `X-Amz-Function-Error` and
//! the Lambda error payload, as Lambda does).
//!
//! Needs `moto_server` from the project venv (`make venv`); without it the test
//! says so and does nothing else, unless `CCX_REQUIRE_MOTO` is set (as
//! `make test-engine-differential` does), which makes its absence a failure.

#[path = "support/asl_fake.rs"]
mod asl_fake;

use ccx_tests::binaries::workspace_root;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_fake::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ccx_core::contracts::CompensationStrategy;
use ccx_core::error::{ErrorClass, ExecutionError};
use ccx_core::handlers::Handler;
use ccx_local::engine::{
    Engine, EngineOptions, Execution, FUNCTION_SUBSTITUTIONS, TaskInvoker, state_path,
};
use ccx_tests::moto::{Moto, StepFunctions};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "123456789012";

/// Both engines get the same function ARNs.
fn substitutions() -> HashMap<String, String> {
    FUNCTION_SUBSTITUTIONS
        .iter()
        .map(|(name, h)| {
            (
                name.to_string(),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}", h.name()),
            )
        })
        .collect()
}

fn definition() -> String {
    std::fs::read_to_string(workspace_root().join("statemachine/execution.asl.json"))
        .expect("statemachine/execution.asl.json is readable")
}

fn input() -> Value {
    json!({"action_intent_id": "ai-1", "tenant_id": "tenant-1", "account_id": "acc-1", "replay": null})
}

// ------------------------------------------------------------ Lambda router

type Current = Arc<Mutex<Option<Arc<dyn TaskInvoker>>>>;

async fn invoke(
    State(current): State<Current>,
    UrlPath(function): UrlPath<String>,
    body: Bytes,
) -> Response {
    let invoker = current
        .lock()
        .unwrap()
        .clone()
        .expect("a scenario is running");
    let event: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).expect("moto sends a JSON payload")
    };
    match invoker.invoke(&function, event).await {
        Ok(output) => (StatusCode::OK, output.to_string()).into_response(),
        Err(failure) => (
            StatusCode::OK,
            [
                ("X-Amz-Function-Error", "Unhandled"),
                ("Content-Type", "application/json"),
            ],
            failure.cause.unwrap_or_default(),
        )
            .into_response(),
    }
}

// ------------------------------------------------------------ moto (ccx_tests::moto)

/// What moto's run ended with, in the local engine's terms.
#[derive(Debug, PartialEq)]
struct Ending {
    path: Vec<String>,
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

fn ending_of(run: &Execution) -> Ending {
    Ending {
        path: state_path(run),
        status: run.status.as_str().to_string(),
        output: run.output.clone(),
        error: run.error.clone(),
        cause: run.cause.clone(),
    }
}

async fn moto_run(moto: &StepFunctions, machine_arn: &str, name: &str, input: &Value) -> Ending {
    let run = moto.run(machine_arn, name, input).await;
    let (error, cause) = run.failure();
    Ending {
        path: run.path(),
        status: run.status,
        output: run
            .output
            .map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s))),
        error,
        cause,
    }
}

/// Starts the Lambda router and moto (whose `MOTO_PORT` points at the router);
/// `None` when moto is not installed and not required.
async fn moto_with_router() -> Option<(Moto, StepFunctions, Current)> {
    let current: Current = Arc::new(Mutex::new(None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lambda_port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .with_state(current.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let moto =
        Moto::start_bin(&workspace_root().join(".venv/bin/moto_server"), lambda_port).await?;
    let sfn = moto.step_functions();
    Some((moto, sfn, current))
}

#[tokio::test]
async fn local_engine_and_moto_agree_on_every_path() {
    let Some((_server, moto, current)) = moto_with_router().await else {
        return;
    };
    let text = ccx_local::engine::definition::substitute(&definition(), &substitutions()).unwrap();
    let created = moto
        .call(
            "CreateStateMachine",
            json!({"name": "ccx-execution", "definition": text,
                   "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ccx-sfn")}),
        )
        .await;
    let machine_arn = created["stateMachineArn"].as_str().unwrap().to_string();

    let scenarios: Vec<(&str, Script, &[&str])> = vec![
        (
            "success",
            Script::default(),
            &["NoCompensation", "ExecutionSucceeded"],
        ),
        (
            "compensated",
            Script {
                tool_success: false,
                ..Script::default()
            },
            &["CompensateAction", "ActionFailed"],
        ),
        (
            "manual-compensation",
            Script {
                tool_success: false,
                strategy: CompensationStrategy::Manual,
                ..Script::default()
            },
            &["CompensateAction", "ActionFailed"],
        ),
        (
            "tool-failed-no-compensation",
            Script {
                tool_success: false,
                strategy: CompensationStrategy::None,
                ..Script::default()
            },
            &["NoCompensation", "ActionFailed"],
        ),
        (
            "duplicate-start",
            Script::default().raise(
                Handler::Starter,
                [ExecutionError::duplicate_start("LOCK_HELD", "locked")],
            ),
            &["DuplicateStartIgnored"],
        ),
        (
            "start-failed",
            Script::default().raise(
                Handler::Starter,
                [ExecutionError::validation("INTENT_NOT_FOUND", "no intent")],
            ),
            &["StartFailed"],
        ),
        (
            "validation-failed",
            Script::default().raise(
                Handler::Validator,
                [ExecutionError::validation("INTENT_EXPIRED", "expired")],
            ),
            &["ValidationFailed", "ExecutionFailed"],
        ),
        (
            "mapping-failed",
            Script::default().raise(
                Handler::ToolMapper,
                [ExecutionError::permanent(
                    ErrorClass::Validation,
                    "BAD_MAPPING",
                    "no title",
                )],
            ),
            &["MappingFailed", "ExecutionFailed"],
        ),
        (
            "compensation-errored",
            Script {
                tool_success: false,
                ..Script::default()
            }
            .raise(
                Handler::Compensation,
                [ExecutionError::permanent(
                    ErrorClass::Downstream,
                    "DELETE_REFUSED",
                    "refused",
                )],
            ),
            &["CompensationErrored", "ActionFailed"],
        ),
        (
            "tool-retried-once",
            Script::default().raise(Handler::ToolInvoker, [transient("HTTP_503")]),
            &["NoCompensation", "ExecutionSucceeded"],
        ),
    ];

    for (name, script, must_visit) in scenarios {
        let ours_invoker = Arc::new(ContractInvoker::new(script.clone()));
        let engine = Engine::new(&definition(), &substitutions(), ours_invoker)
            .unwrap()
            .with_sleeper(Arc::new(NoWait));
        let ours = ending_of(&engine.execute(name, input()).await);

        *current.lock().unwrap() = Some(Arc::new(ContractInvoker::new(script)));
        let theirs = moto_run(&moto, &machine_arn, name, &input()).await;

        assert_eq!(ours, theirs, "scenario {name}: the engines disagree");
        for state in must_visit {
            assert!(
                ours.path.iter().any(|s| s == state),
                "scenario {name} did not reach {state}: {:?}",
                ours.path
            );
        }
    }
}

// ------------------------------------------------------------ ASL semantics corpus

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:fn";

/// A generic function: answers `{"got": <event>}`, after failing with the
/// queued errors (as Lambda error payloads) first; `"SLEEP"` in the queue makes
/// that call outlive a 1 s `TimeoutSeconds`.
struct Echo {
    failures: Mutex<std::collections::VecDeque<&'static str>>,
}

impl Echo {
    fn failing(errors: &[&'static str]) -> Arc<Echo> {
        Arc::new(Echo {
            failures: Mutex::new(errors.iter().copied().collect()),
        })
    }
}

#[async_trait::async_trait]
impl TaskInvoker for Echo {
    async fn invoke(
        &self,
        _resource: &str,
        input: Value,
    ) -> Result<Value, ccx_local::engine::TaskFailure> {
        let next = self.failures.lock().unwrap().pop_front();
        if next == Some("SLEEP") {
            // Outlives a 1 s TimeoutSeconds, then answers (too late).
            tokio::time::sleep(Duration::from_secs(3)).await;
            return Ok(json!({"late": true}));
        }
        if let Some(error) = next {
            let payload = json!({"errorType": error, "errorMessage": format!("{error} raised")});
            return Err(ccx_local::engine::TaskFailure::new(
                error,
                Some(payload.to_string()),
            ));
        }
        Ok(json!({"got": input}))
    }
}

struct Case {
    name: &'static str,
    definition: Value,
    input: Value,
    failures: &'static [&'static str],
}

fn task(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": FN});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t
}

fn corpus() -> Vec<Case> {
    vec![
        Case {
            name: "input-result-output-path",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "InputPath": "$.lambda", "ResultPath": "$.data.lambdaresult", "OutputPath": "$.data", "End": true}))}}),
            input: json!({"comment": "c", "data": {"val1": 23, "val2": 17}, "extra": "foo", "lambda": {"who": "AWS Step Functions"}}),
            failures: &[],
        },
        Case {
            name: "parameters-context-intrinsics-selector",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Parameters": {
                    "flagged": true,
                    "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
                    "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id",
                    "state.$": "$$.State.Name", "machine.$": "$$.StateMachine.Id",
                    "msg.$": "States.Format('hello {} and {}', $.who, $.vals[1])",
                    // AWS keeps a `null` argument (its docs' own example); moto drops it,
                    // so the corpus leaves null out.
                    "arr.$": "States.Array('a', 1, $.vals[0])",
                    "str.$": "States.JsonToString($.obj)",
                    "obj.$": "States.StringToJson($.text)"
                },
                "ResultSelector": {"picked.$": "$.got.parts", "all.$": "$.got"},
                "ResultPath": "$.r", "End": true}))}}),
            input: json!({"who": "you", "vals": [0, 10, 20, 30, 40, 50], "obj": {"a": [1, 2]}, "text": "{\"n\": 20}"}),
            failures: &[],
        },
        Case {
            name: "retriers-share-and-exhaust-budgets",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Retry": [
                    {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 2},
                    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 1},
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5}
                ],
                "Catch": [{"ErrorEquals": ["ErrorA"], "ResultPath": "$.err", "Next": "Caught"}],
                "End": true})),
                "Caught": {"Type": "Pass", "End": true}}}),
            input: json!({"k": 1}),
            failures: &["ErrorA", "ErrorC", "ErrorB", "ErrorA"],
        },
        Case {
            name: "catch-default-result-path-replaces-input",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Catch": [
                    {"ErrorEquals": ["java.lang.Exception"], "ResultPath": "$.error-info", "Next": "Recovery"},
                    {"ErrorEquals": ["States.ALL"], "Next": "EndMachine"}],
                "End": true})),
                "Recovery": {"Type": "Pass", "End": true},
                "EndMachine": {"Type": "Pass", "End": true}}}),
            input: json!({"foo": "bar"}),
            failures: &["Other"],
        },
        Case {
            name: "catch-with-result-path",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Catch": [
                    {"ErrorEquals": ["java.lang.Exception"], "ResultPath": "$.error-info", "Next": "Recovery"},
                    {"ErrorEquals": ["States.ALL"], "Next": "EndMachine"}],
                "End": true})),
                "Recovery": {"Type": "Pass", "End": true},
                "EndMachine": {"Type": "Pass", "End": true}}}),
            input: json!({"foo": "bar"}),
            failures: &["java.lang.Exception"],
        },
        Case {
            name: "task-failed-wildcard",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": null, "Next": "Route"}],
                "End": true})),
                "Route": {"Type": "Succeed"}}}),
            input: json!({"a": 1}),
            failures: &["PermanentError"],
        },
        Case {
            name: "task-timeout-is-states-timeout",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "TimeoutSeconds": 1,
                "Catch": [
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "TaskFailedRoute"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "TimeoutRoute"}],
                "End": true})),
                "TaskFailedRoute": {"Type": "Succeed"},
                "TimeoutRoute": {"Type": "Succeed"}}}),
            input: json!({"a": 1}),
            failures: &["SLEEP"],
        },
        Case {
            name: "uncaught-error-fails-the-execution",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Catch": [{"ErrorEquals": ["Other"], "Next": "Route"}], "End": true})),
                "Route": {"Type": "Succeed"}}}),
            input: json!({}),
            failures: &["ValidationError"],
        },
        Case {
            name: "choice-spec-example-twenties",
            definition: choice_machine(),
            input: json!({"type": "Private", "value": 22}),
            failures: &[],
        },
        Case {
            name: "choice-spec-example-audit",
            definition: choice_machine(),
            input: json!({"type": "Private", "value": 5, "rating": 60, "auditThreshold": 50}),
            failures: &[],
        },
        Case {
            name: "choice-spec-example-default",
            definition: choice_machine(),
            input: json!({"type": "Private", "value": 5, "rating": 10, "auditThreshold": 50}),
            failures: &[],
        },
        Case {
            name: "choice-missing-variable-is-runtime",
            definition: choice_machine(),
            input: json!({"type": "Private", "value": 5}),
            failures: &[],
        },
        // Not compared: a Choice with no match and no Default. AWS raises
        // States.NoChoiceMatched (as the engine does); moto raises States.Runtime.
        Case {
            name: "choice-operators",
            definition: json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"And": [
                        {"Variable": "$.s", "StringMatches": "log-*.txt"},
                        {"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"},
                        {"Variable": "$.n", "IsNull": true},
                        {"Variable": "$.b", "BooleanEqualsPath": "$.b2"},
                        {"Not": {"Variable": "$.missing", "IsPresent": true}},
                        {"Variable": "$.x", "StringLessThanEquals": "b"},
                        {"Variable": "$.num", "NumericEqualsPath": "$.num2"}
                    ], "Next": "Yes"}], "Default": "No",
                    "OutputPath": "$.s"},
                "Yes": {"Type": "Succeed"}, "No": {"Type": "Succeed"}}}),
            input: json!({"s": "log-1.txt", "t": "2016-03-14T01:59:00Z", "n": null, "b": true, "b2": true,
                          "x": "a", "num": 2.5, "num2": 2.5}),
            failures: &[],
        },
        Case {
            name: "pass-result-parameters-and-null-paths",
            definition: json!({"StartAt": "P1", "States": {
                "P1": {"Type": "Pass", "Result": {"x-datum": 0.5, "y-datum": 600}, "ResultPath": "$.coords", "Next": "P2"},
                "P2": {"Type": "Pass", "Parameters": {"x.$": "$.coords.x-datum", "kept.$": "$.georefOf"},
                       "ResultPath": "$.picked", "Next": "P3"},
                "P3": {"Type": "Pass", "InputPath": null, "ResultPath": "$.empty", "Next": "P4"},
                "P4": {"Type": "Pass", "ResultPath": null, "OutputPath": "$.picked", "End": true}}}),
            input: json!({"georefOf": "Home"}),
            failures: &[],
        },
        Case {
            name: "fail-state",
            definition: json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "CustomError", "Cause": "static cause"}}}),
            input: json!({}),
            failures: &[],
        },
        // Not compared: a Parameters path that selects nothing. AWS fails the
        // execution with States.Runtime, which States.ALL does not catch (the
        // engine does, see its unit tests); moto raises a catchable "Exception".
        Case {
            name: "null-is-not-missing",
            definition: json!({"StartAt": "T", "States": {"T": task(json!({
                "Parameters": {"r.$": "$.replay"}, "End": true}))}}),
            input: json!({"replay": null}),
            failures: &[],
        },
    ]
}

fn choice_machine() -> Value {
    json!({"StartAt": "ChoiceStateX", "States": {
        "ChoiceStateX": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "IsNumeric": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"},
            {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"}],
            "Default": "RecordEvent"},
        "Public": {"Type": "Succeed"},
        "ValueInTwenties": {"Type": "Succeed"},
        "StartAudit": {"Type": "Succeed"},
        "RecordEvent": {"Type": "Succeed"}}})
}

/// The local engine and moto agree on the ASL semantics the engine implements:
/// paths, Parameters (context object, intrinsics), ResultSelector, ResultPath,
/// OutputPath, Retry budgets, Catch, Choice rules, Pass and Fail. Causes of
/// `States.Runtime` are compared by error name only (their wording differs).
#[tokio::test]
async fn local_engine_and_moto_agree_on_asl_semantics() {
    let Some((_server, moto, current)) = moto_with_router().await else {
        return;
    };
    for (i, case) in corpus().into_iter().enumerate() {
        let created = moto
            .call(
                "CreateStateMachine",
                json!({"name": format!("sem-{i}"), "definition": case.definition.to_string(),
                       "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ccx-sfn")}),
            )
            .await;
        let machine_arn = created["stateMachineArn"].as_str().unwrap().to_string();
        let engine = Engine::new(
            &case.definition.to_string(),
            &HashMap::new(),
            Echo::failing(case.failures),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
        .with_options(EngineOptions {
            state_machine_arn: machine_arn.clone(),
            sleeper: Arc::new(NoWait),
            ..EngineOptions::default()
        });
        let mut ours = ending_of(&engine.execute(case.name, case.input.clone()).await);

        *current.lock().unwrap() = Some(Echo::failing(case.failures));
        let mut theirs = moto_run(&moto, &machine_arn, case.name, &case.input).await;
        if ours.error.as_deref() == Some("States.Runtime") {
            ours.cause = None;
            theirs.cause = None;
        }
        assert_eq!(ours, theirs, "case {}: the engines disagree", case.name);
    }
}
