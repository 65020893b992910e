//! Lambda binary of the `compensation` handler. The logic lives in
//! `ccx_core::handlers`; this only builds the dependencies once per cold start
//! (`CCX_BACKEND=aws`: DynamoDB, S3, EventBridge; `embedded` or unset: the
//! stores under `CCX_DATA_DIR`; see `ccx_aws::bootstrap`) and serves the Lambda
//! Runtime API (or reports a failed initialisation to its `/init/error`).

use ccx_core::handlers::Handler;
use ccx_core::{lambda, logging};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let deps = ccx_aws::bootstrap::deps_for(Handler::Compensation).await;
    lambda::serve(Handler::Compensation, deps).await
}
