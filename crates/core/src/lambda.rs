//! The Lambda side of a handler: the Runtime API loop around [`dispatch`].
//!
//! The event is taken as raw JSON and parsed by the handler's typed input, so a
//! contract mismatch is a `ValidationError` like any other, not a runtime
//! deserialisation failure. The service's error type is [`ExecutionError`], whose
//! `From` impl for `Diagnostic` makes `errorType` the Step Functions error name
//! (what Retry and Catch match) and `errorMessage` the JSON `{class, code, message}`
//! the failure recorder reads. (`lambda_runtime` itself logs each such error.)

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ExecutionError;
use crate::handlers::{Handler, dispatch};
use crate::ports::Deps;

/// Serve `handler` until the runtime shuts the process down. `deps` are built once
/// per cold start by the caller and shared by every invocation.
pub async fn run(handler: Handler, deps: Deps) -> Result<(), lambda_runtime::Error> {
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        dispatch(handler, deps, event.payload).await
    }))
    .await
}

/// What a binary's `main` calls: serve `handler` with the dependencies it built,
/// or, if building them failed, report that to the Runtime API's `/init/error`
/// (so the console shows `ConfigurationError` and its code instead of a bare
/// `Runtime.ExitError`) and exit with the error.
pub async fn serve(
    handler: Handler,
    deps: Result<Deps, ExecutionError>,
) -> Result<(), lambda_runtime::Error> {
    match deps {
        Ok(deps) => run(handler, deps).await,
        Err(err) => {
            tracing::error!(
                handler = handler.name(),
                error_name = err.name,
                error_code = %err.code,
                message = %err.message,
                "initialisation failed"
            );
            if let Err(report) = report_init_error(&err).await {
                tracing::warn!(%report, "could not report the init error to the Runtime API");
            }
            Err(err.into())
        }
    }
}

/// POST the error to `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error`.
/// A plain HTTP/1.1 request: this runs once, before the runtime client exists.
async fn report_init_error(err: &ExecutionError) -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| std::io::Error::other("AWS_LAMBDA_RUNTIME_API is not set"))?;
    let body = json!({
        "errorType": err.name,
        "errorMessage": err.to_cause_json(),
    })
    .to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\
         Host: {api}\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&api).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let status_line = String::from_utf8_lossy(&response);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("202") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "Runtime API answered {status_line:?}"
        )))
    }
}
