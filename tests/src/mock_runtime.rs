//! A mock of the AWS Lambda Runtime API (version 2018-06-01) on 127.0.0.1, for
//! running the compiled handler binaries exactly as Lambda runs them.
//!
//! - `GET  /2018-06-01/runtime/invocation/next` long-polls the queue and answers
//!   the payload with the usual headers (`Lambda-Runtime-Aws-Request-Id`,
//!   `-Deadline-Ms`, `-Invoked-Function-Arn`, `-Trace-Id`);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`
//!   record the outcome of that invocation (an unknown or already answered id is
//!   `400 InvalidRequestID`, as on Lambda);
//! - `POST /2018-06-01/runtime/init/error` records an initialisation failure.
//!
//! Tests enqueue events with [`MockRuntime::invoke`] and await what the function
//! posted with [`MockRuntime::result`]. The server stops when dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

const API: &str = "/2018-06-01/runtime";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:ccx-test";

/// What the function posted for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    Response(Value),
    Error(RuntimeError),
}

/// A posted function or init error.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeError {
    /// The `Lambda-Runtime-Function-Error-Type` header, when sent.
    pub error_type_header: Option<String>,
    /// The body as posted (`{"errorType", "errorMessage", ...}`).
    pub body: Value,
}

impl RuntimeError {
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }
    pub fn error_message(&self) -> Option<&str> {
        self.body.get("errorMessage").and_then(Value::as_str)
    }
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    in_flight: Mutex<HashSet<String>>,
    results: Mutex<HashMap<String, InvocationResult>>,
    init_error: Mutex<Option<RuntimeError>>,
    answered: Notify,
    next_id: AtomicU64,
}

pub struct MockRuntime {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl MockRuntime {
    /// Bind an ephemeral port on 127.0.0.1 and serve in the background.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
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
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme, as on Lambda).
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda gives a function, pointing at this runtime.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.endpoint()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/24/[$LATEST]test".into(),
            ),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Queue one invocation; returns its request id.
    pub fn invoke(&self, payload: Value) -> String {
        let n = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("req-{n:04}");
        self.shared
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), payload));
        self.shared.queued.notify_one();
        id
    }

    /// Wait until the function answers `request_id` (or `limit` passes: a guard
    /// against a hung test, not an assertion on timing).
    pub async fn result(&self, request_id: &str, limit: Duration) -> Option<InvocationResult> {
        tokio::time::timeout(limit, async {
            loop {
                let answered = self.shared.answered.notified();
                if let Some(r) = self.shared.results.lock().unwrap().get(request_id) {
                    return r.clone();
                }
                answered.await;
            }
        })
        .await
        .ok()
    }

    /// The init error posted so far, if any.
    pub fn init_error(&self) -> Option<RuntimeError> {
        self.shared.init_error.lock().unwrap().clone()
    }

    /// Wait until the function posts an init error (same `limit` guard as [`Self::result`]).
    pub async fn wait_init_error(&self, limit: Duration) -> Option<RuntimeError> {
        tokio::time::timeout(limit, async {
            loop {
                let answered = self.shared.answered.notified();
                if let Some(e) = self.init_error() {
                    return e;
                }
                answered.await;
            }
        })
        .await
        .ok()
    }
}

impl Drop for MockRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let (id, payload) = loop {
        let queued = shared.queued.notified();
        if let Some(item) = shared.queue.lock().unwrap().pop_front() {
            break item;
        }
        queued.await;
    };
    shared.in_flight.lock().unwrap().insert(id.clone());
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
                FUNCTION_ARN.to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{id};Parent=0000000000000000;Sampled=0"),
            ),
        ],
        payload.to_string(),
    )
        .into_response()
}

fn invalid_request_id(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorType": "InvalidRequestID",
            "errorMessage": format!("invalid request id {id}")
        })),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn finish(shared: &Shared, id: &str, result: InvocationResult) -> Response {
    if !shared.in_flight.lock().unwrap().remove(id) {
        return invalid_request_id(id);
    }
    shared
        .results
        .lock()
        .unwrap()
        .insert(id.to_string(), result);
    shared.answered.notify_waiters();
    accepted()
}

fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn runtime_error(headers: &HeaderMap, body: &Bytes) -> RuntimeError {
    RuntimeError {
        error_type_header: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body_json(body),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&shared, &id, InvocationResult::Response(body_json(&body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let err = runtime_error(&headers, &body);
    finish(&shared, &id, InvocationResult::Error(err))
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *shared.init_error.lock().unwrap() = Some(runtime_error(&headers, &body));
    shared.answered.notify_waiters();
    accepted()
}
