//! `lambda_deps` reads the process environment, so this binary holds ONE test
//! (no other thread reads or writes the environment meanwhile). No AWS call is
//! made: clients connect lazily, and the region is set so that the SDK never
//! looks for the instance metadata service.

use ccx_core::ports::ExecutionEvent;
use ccx_infra::Handler;

fn set(name: &str, value: &str) {
    // SAFETY: the only test of this binary; nothing else touches the environment.
    unsafe { std::env::set_var(name, value) }
}

fn clear_ccx_variables() {
    for (name, _) in std::env::vars() {
        if name.starts_with("CCX_") {
            // SAFETY: as above.
            unsafe { std::env::remove_var(&name) }
        }
    }
}

#[tokio::test]
async fn lambda_deps_names_every_missing_variable_then_builds() {
    set("AWS_REGION", "us-east-1");
    set("AWS_EC2_METADATA_DISABLED", "true");
    clear_ccx_variables();

    // The invoker needs its table and bucket and the gateway: one error names all.
    let err = ccx_aws::lambda_deps(Handler::ToolInvoker)
        .await
        .err()
        .expect("nothing is configured");
    assert_eq!(err.name, "ConfigurationError");
    for name in [
        "CCX_TABLE_DEDUPE",
        "CCX_ARTIFACTS_BUCKET",
        "CCX_GATEWAY_URL",
    ] {
        assert!(err.message.contains(name), "{name} not in {}", err.message);
    }
    assert!(
        !err.message.contains("CCX_TABLE_INTENTS"),
        "{}",
        err.message
    );

    // The validator: two tables, no gateway, no bucket, no bus.
    let err = ccx_aws::lambda_deps(Handler::Validator)
        .await
        .err()
        .unwrap();
    assert!(
        err.message
            .ends_with("missing environment variables: CCX_TABLE_INTENTS, CCX_TABLE_TENANTS"),
        "{}",
        err.message
    );
    set("CCX_TABLE_INTENTS", "ccx-intents");
    set("CCX_TABLE_TENANTS", "ccx-tenants");
    let deps = ccx_aws::lambda_deps(Handler::Validator).await.unwrap();
    // Its MCP client and publisher refuse by name instead of calling out.
    let err = deps
        .mcp
        .call_tool("crm.create_task", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "MCP_CLIENT_NOT_CONFIGURED");
    let err = deps
        .events
        .publish(&ExecutionEvent {
            source: "s".into(),
            detail_type: "EXECUTION_STARTED".into(),
            detail: serde_json::json!({}),
        })
        .await
        .unwrap_err();
    assert!(
        err.message.contains("CCX_EVENT_BUS_NAME"),
        "{}",
        err.message
    );
}
