//! moto's server with its Step Functions interpreter switched on, and the
//! Step Functions API calls the differential test makes (part of
//! `tests/tests/sfn_moto_differential.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::ending::{Ending, TaskError, parse_cause};

/// Guard against a hung emulator; never an assertion on how long things take.
const LIMIT: Duration = Duration::from_secs(300);
/// Any SigV4-shaped header: moto reads the region and service from it.
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0";

/// moto's server (`tests/aws/moto_server.py`: moto's app with DynamoDB requests
/// serialised, as `make test-aws` runs it), killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
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
    /// Starts `server_script` with `python` and `MOTO_PORT=lambda_port` (where
    /// moto's interpreter sends Lambda invocations: `localhost:$MOTO_PORT`,
    /// see `moto/stepfunctions/parser/asl/utils/boto_client.py`), then switches
    /// the interpreter on. `None` when `python` has no moto and
    /// `CCX_REQUIRE_MOTO` is unset.
    pub async fn start(
        python: &Path,
        server_script: &Path,
        lambda_port: u16,
        log: &Path,
    ) -> Option<Moto> {
        let has_moto = Command::new(python)
            .args(["-c", "import moto.server"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_moto {
            assert!(
                std::env::var_os("CCX_REQUIRE_MOTO").is_none(),
                "CCX_REQUIRE_MOTO is set but {} has no moto (make venv)",
                python.display()
            );
            eprintln!("moto is not installed (make venv): differential test not run");
            return None;
        }
        let http = reqwest::Client::new();
        let config = json!({"stepfunctions": {"execute_state_machine": true},
                            "lambda": {"use_docker": false}});
        // A port found free can be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let file = std::fs::File::create(log).unwrap();
            let child = Command::new(python)
                .arg(server_script)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_PORT", lambda_port.to_string())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .expect("start moto's server");
            let mut moto = Moto {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            for _ in 0..150 {
                if moto.child.try_wait().unwrap().is_some() {
                    break;
                }
                let sent = http
                    .post(format!("{}/moto-api/config", moto.url))
                    .json(&config)
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return Some(moto);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _ = moto.child.kill();
        }
        panic!(
            "moto's server did not start; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

/// The python of the project venv, or `CCX_SFN_PYTHON`.
pub fn python(workspace: &Path) -> PathBuf {
    std::env::var_os("CCX_SFN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join(".venv/bin/python"))
}

/// The Step Functions API (JSON 1.0) at `url`.
pub struct StepFunctions {
    pub url: String,
    pub http: reqwest::Client,
}

impl StepFunctions {
    pub async fn call(&self, target: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/", self.url))
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

    /// Starts an execution of `machine_arn`, waits for its end, and reads how
    /// it ended from `DescribeExecution` and `GetExecutionHistory`: the path
    /// from the `*StateEntered` events, the task errors from the
    /// `LambdaFunctionFailed`/`TimedOut` events (each belongs to the state last
    /// entered), error and cause from `ExecutionFailed`.
    pub async fn run(&self, machine_arn: &str, name: &str, input: &Value) -> Ending {
        let started = self
            .call(
                "StartExecution",
                json!({"stateMachineArn": machine_arn, "name": name, "input": input.to_string()}),
            )
            .await;
        let arn = started["executionArn"].as_str().unwrap().to_string();
        let described = tokio::time::timeout(LIMIT, async {
            loop {
                let d = self
                    .call("DescribeExecution", json!({"executionArn": arn}))
                    .await;
                if d["status"] != "RUNNING" {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the moto execution finishes");
        let history = self
            .call(
                "GetExecutionHistory",
                json!({"executionArn": arn, "maxResults": 1000}),
            )
            .await;
        let text = |v: &Value, key: &str| v[key].as_str().map(str::to_string);
        let mut path: Vec<String> = Vec::new();
        let mut task_errors = Vec::new();
        let mut failure = None;
        for e in history["events"].as_array().unwrap() {
            let state = || path.last().cloned().unwrap_or_default();
            match e["type"].as_str().unwrap_or_default() {
                t if t.ends_with("StateEntered") => {
                    path.push(text(&e["stateEnteredEventDetails"], "name").unwrap())
                }
                "LambdaFunctionFailed" => {
                    let d = &e["lambdaFunctionFailedEventDetails"];
                    task_errors.push(TaskError {
                        state: state(),
                        error: text(d, "error").unwrap_or_default(),
                        cause: parse_cause(text(d, "cause").as_deref()),
                    })
                }
                "LambdaFunctionTimedOut" => task_errors.push(TaskError {
                    state: state(),
                    error: "States.Timeout".to_string(),
                    cause: None,
                }),
                "ExecutionFailed" => failure = Some(e["executionFailedEventDetails"].clone()),
                _ => {}
            }
        }
        Ending {
            path,
            task_errors,
            status: text(&described, "status").unwrap(),
            output: described["output"]
                .as_str()
                .map(|s| serde_json::from_str(s).unwrap()),
            error: failure.as_ref().and_then(|f| text(f, "error")),
            cause: parse_cause(failure.as_ref().and_then(|f| text(f, "cause")).as_deref()),
        }
    }
}
