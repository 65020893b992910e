//! Lambda binary of the `compensation` handler. The logic lives in
//! `ccx_core::handlers`; this only builds the dependencies once per cold start
//! (embedded stores under `CCX_DATA_DIR`) and serves the Lambda Runtime API
//! (or reports a failed initialisation to its `/init/error`).

use ccx_core::handlers::Handler;
use ccx_core::{lambda, logging, store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    // TODO(ccx-mcp): pass the gateway MCP client once ccx-mcp provides it; until
    // then a tool call fails loudly with MCP_CLIENT_NOT_CONFIGURED.
    let deps = store::embedded_deps_from_env(None);
    lambda::serve(Handler::Compensation, deps).await
}
