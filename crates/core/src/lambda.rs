//! The Lambda side of a handler: the Runtime API loop around [`dispatch`].
//!
//! The event is taken as raw JSON and parsed by the handler's typed input, so a
//! contract mismatch is a `ValidationError` like any other, not a runtime
//! deserialisation failure. The service's error type is [`ExecutionError`], whose
//! `From` impl for `Diagnostic` makes `errorType` the Step Functions error name
//! (what Retry and Catch match) and `errorMessage` the JSON `{class, code, message}`
//! the failure recorder reads.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::error::ExecutionError;
use crate::handlers::{Handler, dispatch};
use crate::ports::Deps;

/// Serve `handler` until the runtime shuts the process down. `deps` are built once
/// per cold start by the caller and shared by every invocation.
pub async fn run(handler: Handler, deps: Deps) -> Result<(), lambda_runtime::Error> {
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = dispatch(handler, deps, event.payload).await;
        if let Err(e) = &result {
            tracing::warn!(
                handler = handler.name(),
                error_name = e.name,
                error_code = %e.code,
                request_id = %event.context.request_id,
                "handler failed"
            );
        }
        result.map_err(|e: ExecutionError| e)
    }))
    .await
}
