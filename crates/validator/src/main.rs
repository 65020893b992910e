//! Lambda binary of the `validator` handler. The logic lives in
//! `ccx_core::handlers`; this only builds the dependencies once per cold start
//! (embedded stores under `CCX_DATA_DIR`) and serves the Lambda Runtime API
//! (or reports a failed initialisation to its `/init/error`).

use ccx_core::handlers::Handler;
use ccx_core::{lambda, logging, store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    // This handler never calls tools: the MCP client is the one that refuses.
    let deps = store::embedded_deps_from_env(None);
    lambda::serve(Handler::Validator, deps).await
}
