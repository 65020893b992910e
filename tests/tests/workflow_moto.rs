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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
use ccx_local::engine::{Engine, Execution, FUNCTION_SUBSTITUTIONS, TaskInvoker, state_path};
use serde_json::{Value, json};

/// Guard against a hung emulator; never an assertion on how long things take.
const LIMIT: Duration = Duration::from_secs(120);
const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "123456789012";
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

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

type Current = Arc<Mutex<Option<Arc<ContractInvoker>>>>;

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

// ------------------------------------------------------------ moto server

struct Moto {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    async fn start(lambda_port: u16) -> Option<Moto> {
        let bin = workspace_root().join(".venv/bin/moto_server");
        if !bin.exists() {
            return None;
        }
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", lambda_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            http: reqwest::Client::new(),
        };
        let url = format!("http://127.0.0.1:{port}/moto-api/config");
        let config = json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}});
        let ready = tokio::time::timeout(LIMIT, async {
            loop {
                if let Ok(r) = moto.http.post(&url).json(&config).send().await
                    && r.status().is_success()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "moto_server did not come up");
        Some(moto)
    }

    async fn call(&self, target: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.port))
            .header("X-Amz-Target", format!("AWSStepFunctions.{target}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("Authorization", AUTH)
            .body(body.to_string())
            .send()
            .await
            .expect("moto answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{target} failed: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }
}

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

async fn moto_run(moto: &Moto, machine_arn: &str, name: &str) -> Ending {
    let started = moto
        .call(
            "StartExecution",
            json!({"stateMachineArn": machine_arn, "name": name, "input": input().to_string()}),
        )
        .await;
    let arn = started["executionArn"].as_str().unwrap().to_string();
    let described = tokio::time::timeout(LIMIT, async {
        loop {
            let d = moto
                .call("DescribeExecution", json!({"executionArn": arn}))
                .await;
            if d["status"] != "RUNNING" {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the moto execution finishes");
    let history = moto
        .call(
            "GetExecutionHistory",
            json!({"executionArn": arn, "maxResults": 1000}),
        )
        .await;
    let path = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("StateEntered"))
        })
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Error and cause of a failed execution are on its ExecutionFailed event.
    let failure = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "ExecutionFailed")
        .map(|e| e["executionFailedEventDetails"].clone());
    Ending {
        path,
        status: described["status"].as_str().unwrap().to_string(),
        output: described["output"]
            .as_str()
            .map(|s| serde_json::from_str(s).unwrap()),
        error: failure
            .as_ref()
            .and_then(|f| f["error"].as_str().map(str::to_string)),
        cause: failure
            .as_ref()
            .and_then(|f| f["cause"].as_str().map(str::to_string)),
    }
}

#[tokio::test]
async fn local_engine_and_moto_agree_on_every_path() {
    let current: Current = Arc::new(Mutex::new(None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lambda_port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .with_state(current.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let Some(moto) = Moto::start(lambda_port).await else {
        assert!(
            std::env::var_os("CCX_REQUIRE_MOTO").is_none(),
            "CCX_REQUIRE_MOTO is set but .venv/bin/moto_server does not exist"
        );
        eprintln!("moto_server is not installed (run `make venv`): differential test not run");
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
        let theirs = moto_run(&moto, &machine_arn, name).await;

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
