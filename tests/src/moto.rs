//! moto's server with its Step Functions interpreter switched on, and a client
//! of its Step Functions API (JSON 1.0) that runs an execution to its end and
//! reads its history. Shared by `tests/tests/workflow_moto.rs` (the ASL engine
//! differential) and `tests/tests/sfn_moto_differential.rs` (the whole state
//! machine on moto).
//!
//! moto's interpreter sends Lambda invocations to `localhost:$MOTO_PORT` (see
//! `moto/stepfunctions/parser/asl/utils/boto_client.py`), so each suite starts
//! moto with `MOTO_PORT` pointing at its own Lambda router.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Guard against a hung emulator; never an assertion on how long things take.
pub const LIMIT: Duration = Duration::from_secs(300);
/// Any SigV4-shaped header: moto reads the region and service from it.
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0";

/// moto's server, killed when dropped.
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

/// `false` (after saying so) when moto is missing and `CCX_REQUIRE_MOTO` is
/// unset; a failure when it is missing and required.
fn present(present: bool, missing: &str) -> bool {
    if !present {
        assert!(
            std::env::var_os("CCX_REQUIRE_MOTO").is_none(),
            "CCX_REQUIRE_MOTO is set but {missing} (make venv)"
        );
        eprintln!("{missing} (make venv): differential test not run");
    }
    present
}

impl Moto {
    /// Starts `server_script` (e.g. `tests/aws/moto_server.py`: moto's app with
    /// DynamoDB requests serialised, as `make test-aws` runs it) with `python`,
    /// its output in `log`. `None` when `python` has no moto and
    /// `CCX_REQUIRE_MOTO` is unset.
    pub async fn start_script(
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
        if !present(has_moto, &format!("{} has no moto", python.display())) {
            return None;
        }
        Some(Moto::launch(python, &[server_script.as_os_str()], lambda_port, Some(log)).await)
    }

    /// Starts the `moto_server` executable `bin`, its output discarded. `None`
    /// when it does not exist and `CCX_REQUIRE_MOTO` is unset.
    pub async fn start_bin(bin: &Path, lambda_port: u16) -> Option<Moto> {
        if !present(bin.exists(), &format!("{} does not exist", bin.display())) {
            return None;
        }
        Some(Moto::launch(bin, &[], lambda_port, None).await)
    }

    /// Runs `program args -H 127.0.0.1 -p <free port>` with
    /// `MOTO_PORT=lambda_port`, then switches the interpreter on
    /// (`POST /moto-api/config`).
    async fn launch(program: &Path, args: &[&OsStr], lambda_port: u16, log: Option<&Path>) -> Moto {
        let http = reqwest::Client::new();
        let config = json!({"stepfunctions": {"execute_state_machine": true},
                            "lambda": {"use_docker": false}});
        let output = || match log {
            Some(log) => {
                let file = std::fs::File::create(log).unwrap();
                (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        // A port found free can be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let (stdout, stderr) = output();
            let child = Command::new(program)
                .args(args)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_PORT", lambda_port.to_string())
                .stdout(stdout)
                .stderr(stderr)
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
                    return moto;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _ = moto.child.kill();
        }
        panic!(
            "moto's server did not start; its log:\n{}",
            log.and_then(|log| std::fs::read_to_string(log).ok())
                .unwrap_or_default()
        );
    }

    /// A client of this server's Step Functions API.
    pub fn step_functions(&self) -> StepFunctions {
        StepFunctions::new(&self.url)
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
    pub fn new(url: impl Into<String>) -> StepFunctions {
        StepFunctions {
            url: url.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Calls `AWSStepFunctions.{target}`; a failure unless it succeeds.
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

    /// Starts an execution of `machine_arn`, waits for its end
    /// (`DescribeExecution`) and reads its history (`GetExecutionHistory`).
    pub async fn run(&self, machine_arn: &str, name: &str, input: &Value) -> Finished {
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
                tokio::time::sleep(Duration::from_millis(100)).await;
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
        Finished {
            status: described["status"].as_str().unwrap().to_string(),
            output: described["output"].as_str().map(str::to_string),
            events: history["events"].as_array().unwrap().clone(),
        }
    }
}

/// An execution that has ended, as moto describes it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: String,
    /// The output as moto holds it (JSON text), when there is one.
    pub output: Option<String>,
    /// The `GetExecutionHistory` events, in order.
    pub events: Vec<Value>,
}

impl Finished {
    /// Each event with the name of the state entered last before it (or at
    /// it, for a `*StateEntered` event); `""` before the first.
    pub fn events_in_states(&self) -> Vec<(String, &Value)> {
        let mut state = String::new();
        self.events
            .iter()
            .map(|e| {
                if e["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("StateEntered"))
                {
                    state = e["stateEnteredEventDetails"]["name"]
                        .as_str()
                        .unwrap()
                        .to_string();
                }
                (state.clone(), e)
            })
            .collect()
    }

    /// The states entered, in order (the `*StateEntered` events).
    pub fn path(&self) -> Vec<String> {
        self.events_in_states()
            .into_iter()
            .filter(|(_, e)| {
                e["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("StateEntered"))
            })
            .map(|(state, _)| state)
            .collect()
    }

    /// Error and cause of a failed execution (its `ExecutionFailed` event).
    pub fn failure(&self) -> (Option<String>, Option<String>) {
        let details = self
            .events
            .iter()
            .find(|e| e["type"] == "ExecutionFailed")
            .map(|e| &e["executionFailedEventDetails"]);
        let text = |key: &str| details.and_then(|d| d[key].as_str().map(str::to_string));
        (text("error"), text("cause"))
    }
}
