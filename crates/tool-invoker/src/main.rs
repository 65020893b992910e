//! Lambda binary of the `tool-invoker` handler. The logic lives in
//! `ccx_core::handlers`; this only builds the dependencies once per cold start
//! (embedded stores under `CCX_DATA_DIR`) and serves the Lambda Runtime API
//! (or reports a failed initialisation to its `/init/error`).

use ccx_core::handlers::Handler;
use ccx_core::{lambda, logging, store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    // The gateway client (CCX_GATEWAY_URL, token endpoint, client credentials).
    let deps = match ccx_mcp::client_from_env().await {
        Ok(mcp) => store::embedded_deps_from_env(Some(mcp)),
        Err(e) => Err(e),
    };
    lambda::serve(Handler::ToolInvoker, deps).await
}
