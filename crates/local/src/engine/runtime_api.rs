//! Running the state machine's tasks on the compiled handler binaries, the way
//! Lambda runs them: each function is a child process talking to its own Lambda
//! Runtime API (version 2018-06-01) served here on 127.0.0.1.
//!
//! This is the fidelity mode of the local engine: the very `bootstrap` binaries
//! deployed to AWS, with their real error reporting. A function error reaches
//! the state machine as Step Functions reports it: `Error` = the posted
//! `errorType`, `Cause` = the posted error body. A function runs one invocation
//! at a time (one warm instance); a process that exits is started again on the
//! next invocation (a cold start), and the invocation it was serving fails with
//! `Runtime.ExitError` (or the `errorType` it posted to `/init/error`). When the
//! engine stops waiting (a Task timeout), the process is killed, as Lambda ends
//! a timed-out sandbox, and the invocation is withdrawn.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, oneshot};

use super::in_process::function_name;
use super::invoker::{TaskFailure, TaskInvoker};

const API: &str = "/2018-06-01/runtime";

/// One function: its name (what the Task resource's function name must be), its
/// executable, and the environment it needs besides the Runtime API variables
/// (`CCX_DATA_DIR`, the gateway settings, `RUST_LOG`, ...).
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    /// Where the process's stdout and stderr go (appended); `None` inherits ours.
    pub log_file: Option<PathBuf>,
}

/// What the function posted for one invocation.
enum Answer {
    Response(Bytes),
    Error(Bytes),
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, Bytes)>>,
    queued: Notify,
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<Bytes>>,
    next_id: AtomicU64,
    function_arn: String,
}

struct FunctionHost {
    function: LambdaFunction,
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The running process; holding the lock is holding the one instance.
    process: tokio::sync::Mutex<Option<Child>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

/// A [`TaskInvoker`] over the compiled handler binaries.
pub struct RuntimeApiInvoker {
    hosts: HashMap<String, Arc<FunctionHost>>,
}

impl RuntimeApiInvoker {
    /// Binds one Runtime API per function on an ephemeral 127.0.0.1 port. The
    /// processes start on their first invocation.
    pub async fn start(functions: Vec<LambdaFunction>) -> std::io::Result<Self> {
        let mut hosts = HashMap::new();
        for function in functions {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let shared = Arc::new(Shared {
                function_arn: format!(
                    "arn:aws:lambda:local:000000000000:function:{}",
                    function.name
                ),
                ..Shared::default()
            });
            let app = Router::new()
                .route(&format!("{API}/invocation/next"), get(next))
                .route(&format!("{API}/invocation/{{id}}/response"), post(response))
                .route(&format!("{API}/invocation/{{id}}/error"), post(error))
                .route(&format!("{API}/init/error"), post(init_error))
                .with_state(shared.clone());
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            hosts.insert(
                function.name.clone(),
                Arc::new(FunctionHost {
                    function,
                    addr,
                    shared,
                    process: tokio::sync::Mutex::new(None),
                    stop: Mutex::new(Some(stop)),
                }),
            );
        }
        Ok(Self { hosts })
    }

    /// Stops every process and server.
    pub async fn shutdown(&self) {
        for host in self.hosts.values() {
            if let Some(mut child) = host.process.lock().await.take() {
                let _ = child.kill().await;
            }
            if let Some(stop) = host.stop.lock().unwrap().take() {
                let _ = stop.send(());
            }
        }
    }
}

impl Drop for RuntimeApiInvoker {
    fn drop(&mut self) {
        // Children are `kill_on_drop`; stop the servers.
        for host in self.hosts.values() {
            if let Some(stop) = host.stop.lock().unwrap().take() {
                let _ = stop.send(());
            }
        }
    }
}

impl FunctionHost {
    fn spawn(&self) -> std::io::Result<Child> {
        let f = &self.function;
        let mut cmd = Command::new(&f.binary);
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &f.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", f.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local/[$LATEST]ccx")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .envs(f.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(path) = &f.log_file {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        cmd.spawn()
    }
}

#[async_trait]
impl TaskInvoker for RuntimeApiInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let name = function_name(resource);
        let host = self.hosts.get(name).ok_or_else(|| {
            TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                Some(format!("Function not found: {resource}")),
            )
        })?;
        let mut process = CancelKills {
            process: host.process.lock().await,
            shared: &host.shared,
            id: None,
            done: false,
        };
        let running = match process.process.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        if !running {
            *host.shared.init_error.lock().unwrap() = None;
            *process.process = Some(host.spawn().map_err(|e| {
                TaskFailure::new(
                    "Lambda.Unknown",
                    Some(format!(
                        "cannot start {}: {e}",
                        host.function.binary.display()
                    )),
                )
            })?);
        }
        let n = host.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("{name}-{n:06}");
        process.id = Some(id.clone());
        let (tx, rx) = oneshot::channel();
        host.shared.pending.lock().unwrap().insert(id.clone(), tx);
        host.shared
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), Bytes::from(input.to_string())));
        host.shared.queued.notify_one();
        let child = process.process.as_mut().expect("started above");
        let result = tokio::select! {
            answer = rx => match answer {
                Ok(Answer::Response(body)) => serde_json::from_slice(&body).map_err(|e| {
                    TaskFailure::new("Lambda.Unknown", Some(format!("the function returned invalid JSON: {e}")))
                }),
                Ok(Answer::Error(body)) => Err(function_error(&body, "Lambda.Unknown")),
                Err(_) => Err(TaskFailure::new("Lambda.Unknown", Some("the invocation was dropped".into()))),
            },
            status = child.wait() => {
                host.shared.pending.lock().unwrap().remove(&id);
                host.shared.queue.lock().unwrap().retain(|(queued, _)| *queued != id);
                *process.process = None;
                let init = host.shared.init_error.lock().unwrap().clone();
                Err(match init {
                    Some(body) => function_error(&body, "Runtime.InitError"),
                    None => {
                        let message = format!(
                            "RequestId: {id} Error: Runtime exited {}",
                            status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
                        );
                        TaskFailure::new(
                            "Runtime.ExitError",
                            Some(json!({"errorType": "Runtime.ExitError", "errorMessage": message}).to_string()),
                        )
                    }
                })
            }
        };
        process.done = true;
        result
    }
}

/// Holds a function's instance during one invocation. If the engine stops
/// waiting (a Task `TimeoutSeconds`), the process is killed, as Lambda ends a
/// timed-out sandbox: the next invocation starts a fresh one instead of queueing
/// behind a call nobody waits for.
struct CancelKills<'a> {
    process: tokio::sync::MutexGuard<'a, Option<Child>>,
    shared: &'a Shared,
    /// The invocation in flight, withdrawn on cancel so no later process runs it.
    id: Option<String>,
    done: bool,
}

impl Drop for CancelKills<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(id) = &self.id {
            self.shared.pending.lock().unwrap().remove(id);
            self.shared.queue.lock().unwrap().retain(|(q, _)| q != id);
        }
        if let Some(mut child) = self.process.take() {
            let _ = child.start_kill();
        }
    }
}

/// Step Functions' view of a function error: `Error` is the posted `errorType`,
/// `Cause` the posted body as is.
fn function_error(body: &Bytes, fallback: &str) -> TaskFailure {
    let text = String::from_utf8_lossy(body).into_owned();
    let error = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| fallback.to_string());
    TaskFailure::new(error, Some(text))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let (id, payload) = loop {
        let queued = shared.queued.notified();
        if let Some(item) = shared.queue.lock().unwrap().pop_front() {
            break item;
        }
        queued.await;
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 900_000;
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", id.clone()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                shared.function_arn.clone(),
            ),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{id};Parent=0000000000000000;Sampled=0"),
            ),
        ],
        payload,
    )
        .into_response()
}

fn finish(shared: &Shared, id: &str, answer: Answer) -> Response {
    match shared.pending.lock().unwrap().remove(id) {
        Some(tx) => {
            // The engine may have stopped waiting (a Task timeout): drop the answer.
            let _ = tx.send(answer);
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "errorType": "InvalidRequestID",
                "errorMessage": format!("invalid request id {id}")
            })),
        )
            .into_response(),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&shared, &id, Answer::Response(body))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish(&shared, &id, Answer::Error(body))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    *shared.init_error.lock().unwrap() = Some(body);
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function written in shell against the Runtime API with curl: it echoes
    /// `{"echo": <event>, "pid": <its pid>}`, fails with a posted error for
    /// `{"fail": true}`, exits for `{"exit": true}`, hangs for `{"hang": true}`.
    const FUNCTION: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\r\n')
  rm -f "$headers"
  case "$event" in
    *'"exit":true'*) exit 3 ;;
    *'"hang":true'*) sleep 30 ;;
    *'"fail":true'*)
      curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
        -d "{\"errorType\":\"TransientError\",\"errorMessage\":\"{\\\"class\\\":\\\"DOWNSTREAM\\\",\\\"code\\\":\\\"X\\\",\\\"message\\\":\\\"m\\\"}\"}" \
        "$api/invocation/$id/error" ;;
    *) curl -sS -o /dev/null -X POST -d "{\"echo\":$event,\"pid\":$$}" "$api/invocation/$id/response" ;;
  esac
done
"#;

    fn curl_available() -> bool {
        std::process::Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    async fn shell_function(dir: &std::path::Path) -> RuntimeApiInvoker {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("bootstrap");
        std::fs::write(&path, FUNCTION).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        RuntimeApiInvoker::start(vec![LambdaFunction {
            name: "echo".into(),
            binary: path,
            env: vec![],
            log_file: Some(dir.join("echo.log")),
        }])
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn responses_errors_and_exits_come_back_as_step_functions_sees_them() {
        if !curl_available() {
            eprintln!("curl is not installed: the shell function cannot run; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let invoker = shell_function(dir.path()).await;
        let arn = "arn:aws:lambda:local:000000000000:function:echo";

        let out = invoker.invoke(arn, json!({"n": 1})).await.unwrap();
        assert_eq!(out["echo"], json!({"n": 1}));
        let first_pid = out["pid"].clone();
        // The same warm process serves the next invocation.
        let out = invoker.invoke(arn, json!({"n": 2})).await.unwrap();
        assert_eq!(out["echo"], json!({"n": 2}));
        assert_eq!(out["pid"], first_pid);

        let err = invoker
            .invoke(arn, json!({"fail": true}))
            .await
            .unwrap_err();
        assert_eq!(err.error, "TransientError");
        let cause: Value = serde_json::from_str(err.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["errorType"], json!("TransientError"));
        assert_eq!(
            cause["errorMessage"],
            json!(r#"{"class":"DOWNSTREAM","code":"X","message":"m"}"#)
        );

        let err = invoker
            .invoke(arn, json!({"exit": true}))
            .await
            .unwrap_err();
        assert_eq!(err.error, "Runtime.ExitError");
        // A new process (cold start) serves the next invocation.
        let out = invoker.invoke(arn, json!({"n": 3})).await.unwrap();
        assert_eq!(out["echo"], json!({"n": 3}));
        let third_pid = out["pid"].clone();
        assert_ne!(third_pid, first_pid);

        // The engine gives up on a hanging call (what a Task timeout does): the
        // instance is killed and the next call gets a fresh one.
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            invoker.invoke(arn, json!({"hang": true})),
        )
        .await;
        assert!(gave_up.is_err());
        let out = invoker.invoke(arn, json!({"n": 4})).await.unwrap();
        assert_eq!(out["echo"], json!({"n": 4}));
        assert_ne!(out["pid"], third_pid);

        let err = invoker
            .invoke("arn:aws:lambda:local:000000000000:function:nope", json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");
        invoker.shutdown().await;
    }
}
