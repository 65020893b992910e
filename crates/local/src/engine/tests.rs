//! Interpreter tests: whole (small) state machines run end to end, with the
//! expected values of the Amazon States Language specification's and the AWS
//! developer guide's own examples where they exist.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::definition::{Jitter, Retrier};
use super::*;

type Script = Box<dyn Fn(&str, &Value) -> Result<Value, TaskFailure> + Send + Sync>;

/// An invoker driven by a closure, optionally preceded by a queue of scripted
/// failures, recording every call.
struct Fake {
    calls: Mutex<Vec<(String, Value)>>,
    failures: Mutex<VecDeque<TaskFailure>>,
    script: Script,
    hang: bool,
}

impl Fake {
    fn new(
        script: impl Fn(&str, &Value) -> Result<Value, TaskFailure> + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(vec![]),
            failures: Mutex::new(VecDeque::new()),
            script: Box::new(script),
            hang: false,
        })
    }

    fn failing_first(failures: Vec<TaskFailure>, then: Value) -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(vec![]),
            failures: Mutex::new(failures.into()),
            script: Box::new(move |_, _| Ok(then.clone())),
            hang: false,
        })
    }

    fn hanging() -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(vec![]),
            failures: Mutex::new(VecDeque::new()),
            script: Box::new(|_, _| Ok(json!("never"))),
            hang: true,
        })
    }

    fn inputs(&self) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[async_trait]
impl TaskInvoker for Fake {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((resource.to_string(), input.clone()));
        if self.hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if let Some(f) = self.failures.lock().unwrap().pop_front() {
            return Err(f);
        }
        (self.script)(resource, &input)
    }
}

/// Records the delays it is asked to wait, and returns at once.
#[derive(Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

fn engine(definition: Value, invoker: Arc<Fake>) -> (Engine, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let engine = Engine::new(&definition.to_string(), &HashMap::new(), invoker)
        .unwrap()
        .with_sleeper(sleeper.clone());
    (engine, sleeper)
}

fn fail(error: &str) -> TaskFailure {
    TaskFailure::new(error, Some(format!("{error} happened")))
}

fn retries(run: &Execution) -> Vec<(String, u32, u64)> {
    run.history
        .iter()
        .filter_map(|e| match &e.detail {
            EventDetail::RetryScheduled {
                error,
                retry_count,
                delay_ms,
                ..
            } => Some((error.clone(), *retry_count, *delay_ms)),
            _ => None,
        })
        .collect()
}

/// AWS developer guide, "InputPath, ResultPath and OutputPath example": the
/// Lambda sees only `$.lambda`, its result lands at `$.data.lambdaresult`, and
/// only `$.data` is passed on.
#[tokio::test]
async fn input_result_and_output_path_example() {
    let fake =
        Fake::new(|_, input| Ok(json!(format!("Hello, {}!", input["who"].as_str().unwrap()))));
    let (engine, _) = engine(
        json!({"StartAt": "HelloWorld", "States": {"HelloWorld": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction",
            "InputPath": "$.lambda", "ResultPath": "$.data.lambdaresult", "OutputPath": "$.data", "End": true}}}),
        fake.clone(),
    );
    let run = engine
        .execute(
            "e1",
            json!({"comment": "An input comment.", "data": {"val1": 23, "val2": 17},
                   "extra": "foo", "lambda": {"who": "AWS Step Functions"}}),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(fake.inputs(), vec![json!({"who": "AWS Step Functions"})]);
    assert_eq!(
        run.output,
        Some(json!({"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}))
    );
    assert_eq!(run.state_path(), vec!["HelloWorld"]);
}

/// AWS developer guide, "Specifying state output using ResultPath": `$`
/// replaces the input, `null` discards the result, `$.taskresult` adds it.
#[tokio::test]
async fn result_path_examples() {
    let input =
        json!({"comment": "This is a test", "details": "Default example", "who": "Step Functions"});
    let cases = [
        (json!("$"), json!("Hello, Step Functions!")),
        (Value::Null, input.clone()),
        (
            json!("$.taskresult"),
            json!({"comment": "This is a test", "details": "Default example", "who": "Step Functions",
                   "taskresult": "Hello, Step Functions!"}),
        ),
    ];
    for (result_path, expected) in cases {
        let fake = Fake::new(|_, i| Ok(json!(format!("Hello, {}!", i["who"].as_str().unwrap()))));
        let (engine, _) = engine(
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r",
                "ResultPath": result_path, "End": true}}}),
            fake,
        );
        let run = engine.execute("e", input.clone()).await;
        assert_eq!(run.output, Some(expected), "ResultPath {result_path}");
    }
}

/// AWS developer guide, ResultSelector: pick fields of the raw result, then
/// ResultPath places the selection in the input.
#[tokio::test]
async fn result_selector_then_result_path() {
    let fake = Fake::new(|_, _| {
        Ok(
            json!({"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
                  "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}),
        )
    });
    let (engine, _) = engine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r",
            "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
            "ResultPath": "$.EMROutput", "End": true}}}),
        fake,
    );
    let run = engine.execute("e", json!({"cluster": "c1"})).await;
    assert_eq!(
        run.output,
        Some(
            json!({"cluster": "c1", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
        )
    );
}

/// Parameters with paths, the context object (`$$`) and an intrinsic; the
/// task receives exactly the built object, and `$$.State.RetryCount` counts attempts.
#[tokio::test]
async fn parameters_see_the_context_object() {
    let fake = Fake::failing_first(vec![fail("Flaky")], json!({"ok": true}));
    let (engine, _) = engine(
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "r",
            "Parameters": {
                "id.$": "$.id", "static": 1,
                "execution_id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
                "original.$": "$$.Execution.Input.id", "state.$": "$$.State.Name",
                "retry.$": "$$.State.RetryCount", "machine.$": "$$.StateMachine.Id",
                "greeting.$": "States.Format('run {} of {}', $$.Execution.Name, $.id)"
            },
            "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1}],
            "ResultPath": "$.result", "End": true}}}),
        fake.clone(),
    );
    let run = engine.execute("exec-7", json!({"id": "x1"})).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let inputs = fake.inputs();
    assert_eq!(inputs.len(), 2);
    assert_eq!(
        inputs[0],
        json!({"id": "x1", "static": 1,
               "execution_id": "arn:aws:states:local:000000000000:execution:execution:exec-7",
               "name": "exec-7", "original": "x1", "state": "Call", "retry": 0,
               "machine": "arn:aws:states:local:000000000000:stateMachine:execution",
               "greeting": "run exec-7 of x1"})
    );
    assert_eq!(inputs[1]["retry"], json!(1));
    assert_eq!(
        run.execution_arn,
        "arn:aws:states:local:000000000000:execution:execution:exec-7"
    );
    assert_eq!(
        run.output,
        Some(json!({"id": "x1", "result": {"ok": true}}))
    );
}

/// A Parameters path that selects nothing is `States.Runtime`: the task is never
/// called and even a `States.ALL` catcher does not apply (as in AWS).
#[tokio::test]
async fn missing_parameters_path_fails_the_execution_with_states_runtime() {
    let fake = Fake::new(|_, _| Ok(json!({})));
    let (engine, _) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"replay.$": "$.replay"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
            "Caught": {"Type": "Succeed"}}}),
        fake.clone(),
    );
    let run = engine.execute("e", json!({"id": 1})).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    let cause = run.cause.clone().unwrap();
    assert!(
        cause.contains("state 'T'")
            && cause.contains(
                "The JSONPath '$.replay' specified for the field 'replay.$' could not be found"
            ),
        "{cause}"
    );
    assert!(fake.inputs().is_empty());
    assert_eq!(run.state_path(), vec!["T"]);
}

/// The spec's retrier example: IntervalSeconds 3, MaxAttempts 2, BackoffRate 1.5
/// retries after 3 s and then 4.5 s; the third failure goes to the catcher.
#[tokio::test]
async fn spec_retry_example_backs_off_then_catches() {
    let fake = Fake::failing_first(
        vec![
            fail("States.Timeout"),
            fail("States.Timeout"),
            fail("States.Timeout"),
        ],
        json!(1),
    );
    let (engine, sleeper) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r",
                  "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                  "End": true},
            "Recover": {"Type": "Pass", "End": true}}}),
        fake.clone(),
    );
    let run = engine.execute("e", json!({"k": "v"})).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(fake.inputs().len(), 3);
    assert_eq!(
        *sleeper.0.lock().unwrap(),
        vec![Duration::from_millis(3000), Duration::from_millis(4500)]
    );
    assert_eq!(
        retries(&run),
        vec![
            ("States.Timeout".into(), 1, 3000),
            ("States.Timeout".into(), 2, 4500)
        ]
    );
    assert_eq!(run.state_path(), vec!["T", "Recover"]);
    assert_eq!(
        run.output,
        Some(
            json!({"k": "v", "error": {"Error": "States.Timeout", "Cause": "States.Timeout happened"}})
        )
    );
}

/// The spec's multi-retrier example: ErrorA and ErrorB share the first
/// retrier's budget (MaxAttempts 2), ErrorC has its own; once the matching
/// retrier is exhausted no later retrier is tried.
#[tokio::test]
async fn retriers_keep_separate_budgets() {
    let fake = Fake::failing_first(
        vec![
            fail("ErrorA"),
            fail("ErrorC"),
            fail("ErrorB"),
            fail("ErrorA"),
        ],
        json!("done"),
    );
    let (engine, _) = engine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r",
            "Retry": [
                {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
                {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}
            ],
            "End": true}}}),
        fake.clone(),
    );
    let run = engine.execute("e", json!({})).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("ErrorA"));
    assert_eq!(run.cause.as_deref(), Some("ErrorA happened"));
    assert_eq!(
        retries(&run),
        vec![
            ("ErrorA".into(), 1, 1000),
            ("ErrorC".into(), 2, 5000),
            ("ErrorB".into(), 3, 2000)
        ]
    );
    assert_eq!(fake.inputs().len(), 4);
}

#[tokio::test]
async fn max_attempts_zero_never_retries_and_delay_scale_shrinks_waits() {
    let fake = Fake::failing_first(vec![fail("X"), fail("Y")], json!("ok"));
    let (engine, sleeper) = engine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r",
            "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 2}, {"ErrorEquals": ["Y"], "MaxAttempts": 0}],
            "End": true}}}),
        fake,
    );
    let engine = engine.with_delay_scale(0.01);
    let run = engine.execute("e", json!({})).await;
    assert_eq!(run.error.as_deref(), Some("Y"));
    assert_eq!(*sleeper.0.lock().unwrap(), vec![Duration::from_millis(20)]);
    let scaled: Vec<u64> = run
        .history
        .iter()
        .filter_map(|e| match e.detail {
            EventDetail::RetryScheduled {
                scaled_delay_ms, ..
            } => Some(scaled_delay_ms),
            _ => None,
        })
        .collect();
    assert_eq!(scaled, vec![20]);
}

#[test]
fn retry_delay_backoff_bound_and_jitter() {
    let mut r = Retrier {
        error_equals: vec!["E".into()],
        interval_seconds: 1.0,
        max_attempts: 5,
        backoff_rate: 2.0,
        max_delay_seconds: Some(5.0),
        jitter: Jitter::None,
    };
    let delays: Vec<f64> = (0..5).map(|n| retry_delay(&r, n, 0.9)).collect();
    assert_eq!(delays, vec![1.0, 2.0, 4.0, 5.0, 5.0]);
    r.jitter = Jitter::Full;
    assert_eq!(retry_delay(&r, 2, 0.5), 2.0);
    assert_eq!(retry_delay(&r, 4, 0.0), 0.0);
    assert!(retry_delay(&r, 4, 0.999) <= 5.0);
}

/// The spec's Catch example: a matched error is placed at the catcher's
/// ResultPath (`$.error-info`); the `States.ALL` catcher without ResultPath
/// replaces the whole input with the error output.
#[tokio::test]
async fn spec_catch_example() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r",
              "Catch": [
                  {"ErrorEquals": ["java.lang.Exception"], "ResultPath": "$.error-info", "Next": "RecoveryState"},
                  {"ErrorEquals": ["States.ALL"], "Next": "EndMachine"}],
              "End": true},
        "RecoveryState": {"Type": "Pass", "End": true},
        "EndMachine": {"Type": "Pass", "End": true}}});
    let (e, _) = engine(
        def.clone(),
        Fake::failing_first(vec![fail("java.lang.Exception")], json!(0)),
    );
    let run = e.execute("e", json!({"foo": "bar"})).await;
    assert_eq!(run.state_path(), vec!["T", "RecoveryState"]);
    assert_eq!(
        run.output,
        Some(
            json!({"foo": "bar", "error-info": {"Error": "java.lang.Exception", "Cause": "java.lang.Exception happened"}})
        )
    );
    let (e, _) = engine(
        def,
        Fake::failing_first(vec![TaskFailure::new("Other", None)], json!(0)),
    );
    let run = e.execute("e", json!({"foo": "bar"})).await;
    assert_eq!(run.state_path(), vec!["T", "EndMachine"]);
    assert_eq!(run.output, Some(json!({"Error": "Other", "Cause": ""})));
    assert!(run.history.iter().any(|h| matches!(&h.detail,
        EventDetail::CatchTaken { state, error, next } if state == "T" && error == "Other" && next == "EndMachine")));
}

/// `TimeoutSeconds` on a Task raises `States.Timeout`, which `States.TaskFailed`
/// does not match but `States.ALL` does.
#[tokio::test(start_paused = true)]
async fn task_timeout_is_states_timeout_not_task_failed() {
    let (engine, _) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 5,
                  "Catch": [
                      {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "TaskFailedRoute"},
                      {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TimeoutRoute"}],
                  "End": true},
            "TaskFailedRoute": {"Type": "Succeed"},
            "TimeoutRoute": {"Type": "Succeed"}}}),
        Fake::hanging(),
    );
    let run = engine.execute("e", json!({})).await;
    assert_eq!(run.state_path(), vec!["T", "TimeoutRoute"]);
    assert_eq!(
        run.output,
        Some(json!({"error": {"Error": "States.Timeout", "Cause": ""}}))
    );
    assert!(run.history.iter().any(|h| matches!(&h.detail,
        EventDetail::TaskTimedOut { timeout_seconds, .. } if *timeout_seconds == 5.0)));
}

#[tokio::test]
async fn task_failed_matches_task_errors() {
    let (engine, _) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r",
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": null, "Next": "Route"}],
                  "End": true},
            "Route": {"Type": "Succeed"}}}),
        Fake::failing_first(vec![fail("PermanentError")], json!(0)),
    );
    let run = engine.execute("e", json!({"a": 1})).await;
    assert_eq!(run.state_path(), vec!["T", "Route"]);
    assert_eq!(run.output, Some(json!({"a": 1})));
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_gives_timed_out() {
    let (engine, _) = engine(
        json!({"StartAt": "T", "TimeoutSeconds": 10, "States": {
            "T": {"Type": "Task", "Resource": "r", "End": true}}}),
        Fake::hanging(),
    );
    let run = engine.execute("e", json!({})).await;
    assert_eq!(run.status, ExecutionStatus::TimedOut);
    assert_eq!(run.error.as_deref(), Some("States.Timeout"));
    assert!(matches!(
        run.history.last().unwrap().detail,
        EventDetail::ExecutionTimedOut { .. }
    ));
    assert_eq!(run.state_path(), vec!["T"]);
}

/// The spec's Choice example as a state machine: `{"type":"Private","value":22}`
/// goes to ValueInTwenties; a value outside every rule goes to the Default.
#[tokio::test]
async fn spec_choice_state_example() {
    let def = json!({"StartAt": "ChoiceStateX", "States": {
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
        "RecordEvent": {"Type": "Succeed"}}});
    let (e, _) = engine(def, Fake::new(|_, _| Ok(json!(0))));
    let path = |input: Value| {
        let e = &e;
        async move { e.execute("e", input).await }
    };
    assert_eq!(
        path(json!({"type": "Private", "value": 22}))
            .await
            .state_path(),
        vec!["ChoiceStateX", "ValueInTwenties"]
    );
    assert_eq!(
        path(json!({"type": "Public"})).await.state_path(),
        vec!["ChoiceStateX", "Public"]
    );
    assert_eq!(
        path(json!({"type": "Private", "value": 5, "rating": 60, "auditThreshold": 50}))
            .await
            .state_path(),
        vec!["ChoiceStateX", "StartAudit"]
    );
    assert_eq!(
        path(json!({"type": "Private", "value": 5, "rating": 10, "auditThreshold": 50}))
            .await
            .state_path(),
        vec!["ChoiceStateX", "RecordEvent"]
    );
    // `$.rating` is read only when the earlier rules are false; missing, it is a runtime error.
    let run = path(json!({"type": "Private", "value": 5})).await;
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert!(run.cause.unwrap().contains("Invalid path '$.rating'"));
}

#[tokio::test]
async fn choice_without_default_fails_with_no_choice_matched() {
    let (e, _) = engine(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "S"}]},
            "S": {"Type": "Succeed"}}}),
        Fake::new(|_, _| Ok(json!(0))),
    );
    let run = e.execute("e", json!({"x": false})).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("States.NoChoiceMatched"));
}

/// Pass: `Result` placed with `ResultPath` (the spec's "$.coords" example),
/// `Parameters` evaluated against the input, `InputPath: null` gives `{}`.
#[tokio::test]
async fn pass_state_result_parameters_and_null_paths() {
    let (e, _) = engine(
        json!({"StartAt": "P1", "States": {
            "P1": {"Type": "Pass", "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                   "ResultPath": "$.coords", "Next": "P2"},
            "P2": {"Type": "Pass", "Parameters": {"x.$": "$.coords.x-datum", "kept.$": "$.georefOf"},
                   "ResultPath": "$.picked", "Next": "P3"},
            "P3": {"Type": "Pass", "InputPath": null, "ResultPath": "$.empty", "OutputPath": "$.empty", "Next": "Done"},
            "Done": {"Type": "Succeed", "OutputPath": "$"}}}),
        Fake::new(|_, _| Ok(json!(0))),
    );
    let run = e.execute("e", json!({"georefOf": "Home"})).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(run.output, Some(json!({})));
    let p2_exit = run
        .history
        .iter()
        .find_map(|h| match &h.detail {
            EventDetail::StateExited { state, output } if state == "P2" => Some(output.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        p2_exit,
        json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
               "picked": {"x": 0.381018, "kept": "Home"}})
    );
}

#[tokio::test]
async fn fail_state_reports_error_and_cause_including_paths() {
    let (e, _) = engine(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "static cause"}}}),
        Fake::new(|_, _| Ok(json!(0))),
    );
    let run = e.execute("e", json!({"e": "CustomError"})).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("CustomError"));
    assert_eq!(run.cause.as_deref(), Some("static cause"));
    assert_eq!(run.output, None);
    assert!(matches!(
        run.history.last().unwrap().detail,
        EventDetail::ExecutionFailed { .. }
    ));
}

/// A ResultSelector path missing from the result is `States.Runtime` after the
/// task succeeded; the catcher does not apply.
#[tokio::test]
async fn result_selector_miss_is_runtime_and_uncatchable() {
    let (e, _) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "ResultSelector": {"v.$": "$.missing"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": true},
            "C": {"Type": "Succeed"}}}),
        Fake::new(|_, _| Ok(json!({"present": 1}))),
    );
    let run = e.execute("e", json!({})).await;
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert_eq!(run.state_path(), vec!["T"]);
}

#[tokio::test]
async fn intrinsic_failure_is_a_catchable_task_error() {
    let fake = Fake::new(|_, _| Ok(json!(0)));
    let (e, _) = engine(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"v.$": "States.StringToJson($.s)"},
                  "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "ResultPath": "$.err", "Next": "C"}], "End": true},
            "C": {"Type": "Succeed"}}}),
        fake.clone(),
    );
    let run = e.execute("e", json!({"s": "not json"})).await;
    assert_eq!(run.state_path(), vec!["T", "C"]);
    assert_eq!(
        run.output.unwrap()["err"]["Error"],
        json!("States.IntrinsicFailure")
    );
    assert!(fake.inputs().is_empty());
}

#[tokio::test]
async fn history_is_ordered_and_complete() {
    let (e, _) = engine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "res-1", "Next": "S"}, "S": {"Type": "Succeed"}}}),
        Fake::new(|_, _| Ok(json!({"r": 1}))),
    );
    let run = e.execute("e", json!({"i": 1})).await;
    let kinds: Vec<String> = run
        .history
        .iter()
        .map(|h| {
            serde_json::to_value(&h.detail).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ExecutionStarted",
            "StateEntered",
            "TaskScheduled",
            "TaskSucceeded",
            "StateExited",
            "StateEntered",
            "StateExited",
            "ExecutionSucceeded"
        ]
    );
    let ids: Vec<u64> = run.history.iter().map(|h| h.id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<u64>>());
    assert!(
        run.history
            .windows(2)
            .all(|w| w[0].elapsed_ms <= w[1].elapsed_ms)
    );
    assert_eq!(run.task_inputs("T"), vec![json!({"i": 1})]);
    // The record round-trips through JSON (what `ccx` prints and reads back).
    let back: Execution = serde_json::from_value(serde_json::to_value(&run).unwrap()).unwrap();
    assert_eq!(back, run);
}

#[tokio::test]
async fn looping_definitions_are_stopped() {
    let (e, _) = engine(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}),
        Fake::new(|_, _| Ok(json!(0))),
    );
    let e = e.with_options(EngineOptions {
        max_events: 50,
        ..EngineOptions::default()
    });
    let run = e.execute("e", json!({})).await;
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert!(run.cause.unwrap().contains("50 history events"));
}
