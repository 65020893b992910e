//! The Lambda side of moto's Step Functions interpreter.
//!
//! moto 5.2 runs a state machine for real when `POST /moto-api/config
//! {"stepfunctions":{"execute_state_machine":true}}` is set: its interpreter
//! (LocalStack's, `moto/stepfunctions/parser/`) evaluates a Lambda Task by
//! calling the Lambda `Invoke` API with boto3 at
//! `http://localhost:$MOTO_PORT` (`parser/asl/utils/boto_client.py`), with the
//! Task's resource ARN as `FunctionName`. So moto is started with `MOTO_PORT`
//! pointing here, and this router:
//!
//! - serves `POST /2015-03-31/functions/{name-or-arn}/invocations` by handing
//!   the payload to the compiled handler binary of that function (a
//!   [`TaskInvoker`], normally `ccx_local`'s `RuntimeApiInvoker`: one warm
//!   process per function polling a Lambda Runtime API), and answers as Lambda's
//!   Invoke API does: `200` and the function's response; on a function error
//!   `200` with `X-Amz-Function-Error: Unhandled` and the error payload the
//!   function posted (`{"errorType","errorMessage"}`), which moto's
//!   `state_task_lambda.py` turns into the Step Functions error
//!   `Error = errorType`, `Cause = the payload` (re-serialised compactly by
//!   Python's `json.dumps`); an unknown function is `404
//!   ResourceNotFoundException`;
//! - forwards every other request, unchanged, to moto itself (responses that
//!   embed `MOTO_PORT`, other service integrations).
//!
//! Because the interpreter only ever reaches Lambda through this `Invoke` call,
//! the functions need not exist in moto's Lambda backend; the ARNs in the
//! definition are resolved here, by the function name at their end. Only the
//! synchronous `RequestResponse` invocation type is served (all a Task uses).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ccx_local::engine::{TaskFailure, TaskInvoker};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Invoke API path of one function (a name, or a percent-encoded ARN).
pub const INVOKE_ROUTE: &str = "/2015-03-31/functions/{function}/invocations";

#[derive(Clone)]
struct Routes {
    functions: Arc<dyn TaskInvoker>,
    upstream: String,
    http: reqwest::Client,
}

/// A running router; stops when dropped or on [`LambdaRouter::shutdown`].
pub struct LambdaRouter {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl LambdaRouter {
    /// Serves on `listener` (bound by the caller first, so that its port can be
    /// given to moto as `MOTO_PORT` before moto exists); everything that is not
    /// a Lambda invocation goes to `upstream` (moto's own `http://host:port`).
    pub fn serve(
        listener: tokio::net::TcpListener,
        functions: Arc<dyn TaskInvoker>,
        upstream: impl Into<String>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let routes = Routes {
            functions,
            upstream: upstream.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        };
        let app = Router::new()
            .route(INVOKE_ROUTE, post(invoke).fallback(forward))
            .fallback(forward)
            .with_state(routes);
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
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for LambdaRouter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Lambda's `Invoke` (RequestResponse): the payload goes to the function, its
/// answer comes back as Lambda would return it.
async fn invoke(
    State(routes): State<Routes>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    if invocation_type != "RequestResponse" {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("this router serves only RequestResponse invocations, not {invocation_type}"),
        );
    }
    // moto's interpreter sends `{}` for a Task without input; treat an empty
    // body the same way.
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("could not parse request body into json: {e}"),
                );
            }
        }
    };
    match routes.functions.invoke(&function, payload).await {
        Ok(output) => lambda_answer(None, output.to_string()),
        Err(failure) if failure.error == "Lambda.ResourceNotFoundException" => aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            failure.cause.as_deref().unwrap_or("Function not found"),
        ),
        Err(failure) => lambda_answer(Some("Unhandled"), error_payload(&failure)),
    }
}

/// The body of a function error: what the function posted to the Runtime API
/// when there is such a body (the invoker's `Cause`), else the Lambda-shaped
/// `{"errorType","errorMessage"}` built from the failure.
pub fn error_payload(failure: &TaskFailure) -> String {
    let posted = failure
        .cause
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .filter(|v| v.get("errorType").is_some());
    match posted {
        Some(_) => failure.cause.clone().unwrap_or_default(),
        None => json!({
            "errorType": failure.error,
            "errorMessage": failure.cause.clone().unwrap_or_default(),
        })
        .to_string(),
    }
}

fn lambda_answer(function_error: Option<&str>, body: String) -> Response {
    let mut response = (
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("x-amz-executed-version", "$LATEST"),
        ],
        body,
    )
        .into_response();
    if let Some(kind) = function_error {
        response.headers_mut().insert(
            "x-amz-function-error",
            kind.parse().expect("a valid header value"),
        );
    }
    response
}

/// A Lambda service error, as the REST-JSON protocol carries it.
fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", error_type),
        ],
        json!({"Type": "User", "message": message}).to_string(),
    )
        .into_response()
}

/// Hop-by-hop headers and those the HTTP client sets itself.
fn passes_through(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection" | "keep-alive"
    )
}

/// Everything else goes to moto as it came, and moto's answer comes back as is.
async fn forward(State(routes): State<Routes>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut outbound = routes
        .http
        .request(parts.method.clone(), format!("{}{path}", routes.upstream))
        .body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| passes_through(n)) {
        outbound = outbound.header(name, value);
    }
    let answer = match outbound.send().await {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!(
                    "lambda router: moto at {} did not answer: {e}",
                    routes.upstream
                ),
            )
                .into_response();
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in headers.iter().filter(|(n, _)| passes_through(n)) {
        response.headers_mut().append(name, value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    /// `echo` answers `{"echo": payload}`; `fails` fails as a binary does (its
    /// posted error payload as the cause); `crashes` as a process that exited
    /// without posting; anything else does not exist.
    struct Functions;

    #[async_trait]
    impl TaskInvoker for Functions {
        async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
            match ccx_local::engine::function_name(resource) {
                "echo" => Ok(json!({"echo": input})),
                "fails" => Err(TaskFailure::new(
                    "TransientError",
                    Some(r#"{"errorType":"TransientError","errorMessage":"{\"code\":\"HTTP_503\"}"}"#.into()),
                )),
                "crashes" => Err(TaskFailure::new("Lambda.Unknown", Some("cannot start".into()))),
                _ => Err(TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    Some(format!("Function not found: {resource}")),
                )),
            }
        }
    }

    /// A stand-in for moto that echoes what reached it.
    async fn upstream() -> String {
        let app = Router::new().fallback(|request: Request| async move {
            let target = request
                .headers()
                .get("x-amz-target")
                .map(|v| v.to_str().unwrap().to_string());
            let uri = request.uri().to_string();
            let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                StatusCode::IM_A_TEAPOT,
                [("x-upstream", "moto")],
                json!({"uri": uri, "target": target, "body": String::from_utf8_lossy(&body)})
                    .to_string(),
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn router() -> LambdaRouter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        LambdaRouter::serve(listener, Arc::new(Functions), upstream().await).unwrap()
    }

    async fn invoke(router: &LambdaRouter, function: &str, body: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                router.url()
            ))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn invocations_are_answered_as_lambda_answers_them() {
        let router = router().await;
        // boto3 sends the ARN percent-encoded, as moto's interpreter does.
        let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho";
        let ok = invoke(&router, arn, r#"{"n":1}"#).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().get("x-amz-function-error").is_none());
        assert_eq!(ok.json::<Value>().await.unwrap(), json!({"echo": {"n": 1}}));

        let failed = invoke(&router, "fails", "{}").await;
        assert_eq!(failed.status(), StatusCode::OK);
        assert_eq!(failed.headers()["x-amz-function-error"], "Unhandled");
        let payload: Value = failed.json().await.unwrap();
        assert_eq!(payload["errorType"], json!("TransientError"));
        assert_eq!(payload["errorMessage"], json!(r#"{"code":"HTTP_503"}"#));

        // No posted payload: one in Lambda's shape is made from the failure.
        let crashed = invoke(&router, "crashes", "{}").await;
        assert_eq!(crashed.headers()["x-amz-function-error"], "Unhandled");
        assert_eq!(
            crashed.json::<Value>().await.unwrap(),
            json!({"errorType": "Lambda.Unknown", "errorMessage": "cannot start"})
        );

        let missing = invoke(&router, "nope", "{}").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );

        let garbage = invoke(&router, "echo", "not json").await;
        assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            garbage.headers()["x-amzn-errortype"],
            "InvalidRequestContentException"
        );
    }

    #[tokio::test]
    async fn everything_else_reaches_moto_unchanged() {
        let router = router().await;
        let answer = reqwest::Client::new()
            .post(format!("{}/?Action=Anything", router.url()))
            .header("X-Amz-Target", "AWSStepFunctions.ListStateMachines")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(answer.headers()["x-upstream"], "moto");
        assert_eq!(
            answer.json::<Value>().await.unwrap(),
            json!({"uri": "/?Action=Anything",
                   "target": "AWSStepFunctions.ListStateMachines", "body": "{}"})
        );
        // A GET on the Invoke path is not an invocation either: it goes on.
        let get = reqwest::Client::new()
            .get(format!(
                "{}/2015-03-31/functions/echo/invocations",
                router.url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), StatusCode::IM_A_TEAPOT);
    }
}
