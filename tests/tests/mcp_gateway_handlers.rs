//! The real tool-invoker and compensation handlers over the real MCP client and
//! the dev gateway: exactly one external write per idempotency key across the
//! retries the state machine makes, and compensation of a partial write.

use std::sync::Arc;
use std::time::Duration;

use ccx_core::contracts::{CompensationStatus, CompensationStrategy};
use ccx_core::handlers::testkit::{ACCOUNT, Harness, INTENT, TENANT};
use ccx_core::handlers::{compensation, tool_invoker};
use ccx_core::io::{CompensationInput, InvokerInput};
use ccx_core::ports::{Deps, McpClient, Store};
use ccx_gateway::{Fault, Faults, Gateway, GatewayOptions, RunningGateway};
use ccx_mcp::{ClientOptions, McpGatewayClient, OAuthClientCredentials, StaticSecret};
use serde_json::json;

async fn gateway() -> RunningGateway {
    Gateway::start(GatewayOptions {
        faults: Faults {
            timeout_delay: Duration::from_secs(30),
            ..Faults::default()
        },
        ..GatewayOptions::default()
    })
    .await
    .unwrap()
}

/// Deps whose MCP client gives up after `timeout` per HTTP exchange.
fn deps_over(h: &Harness, gw: &RunningGateway, timeout: Duration) -> Deps {
    let tokens = OAuthClientCredentials::new(
        gw.token_url.clone(),
        gw.client_id.clone(),
        Arc::new(StaticSecret::new(gw.client_secret.clone())),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let client: Arc<dyn McpClient> = Arc::new(
        McpGatewayClient::new(
            ClientOptions::new(gw.url.clone()).timeout(timeout),
            Arc::new(tokens),
        )
        .unwrap(),
    );
    let mut deps = h.deps();
    deps.mcp = client;
    deps
}

fn invoker_input(key: &str) -> InvokerInput {
    InvokerInput {
        action_intent_id: INTENT.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        trace_id: "trace-1".into(),
        attempt_count: 1,
        idempotency_key: key.into(),
        tool_name: "crm.create_task".into(),
        tool_arguments: json!({
            "title": "Renewal call",
            "priority": "HIGH",
            "tenant_id": TENANT,
            "account_id": ACCOUNT,
            "idempotency_key": key,
        }),
    }
}

#[tokio::test]
async fn retries_after_a_timeout_and_a_503_write_exactly_once() {
    let h = Harness::seeded().await;
    let gw = gateway().await;
    // The gateway holds its answer for 30 s; the first invocation gives up after 2.
    let impatient = deps_over(&h, &gw, Duration::from_secs(2));
    let deps = deps_over(&h, &gw, Duration::from_secs(10));

    // The gateway writes, then answers too late: a retryable TIMEOUT.
    gw.script_faults(Fault::Timeout, 1);
    let err = tool_invoker::handle(&impatient, invoker_input("idem-1"))
        .await
        .unwrap_err();
    assert_eq!((err.name, err.code.as_str()), ("TransientError", "TIMEOUT"));
    assert!(h.store.get_dedupe("idem-1").await.unwrap().is_none());

    // The state machine retries; this time a 503.
    gw.script_faults(Fault::Http5xx, 1);
    let err = tool_invoker::handle(&deps, invoker_input("idem-1"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("TransientError", "HTTP_503")
    );

    // Third attempt gets through: the gateway replays the write it already made.
    let out = tool_invoker::handle(&deps, invoker_input("idem-1"))
        .await
        .unwrap();
    assert!(out.success);
    assert!(!out.deduplicated);
    let objects = gw.live_objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(out.external_object_refs[0].object_id, objects[0].object_id);
    assert_eq!(out.external_object_refs[0].system, "crm");
    assert_eq!(gw.writes_for_key("idem-1"), 1);
    let dedupe = h
        .store
        .get_dedupe("idem-1")
        .await
        .unwrap()
        .expect("dedupe written");
    assert_eq!(dedupe.external_object_refs, out.external_object_refs);

    // A rerun is answered from the dedupe table without calling the gateway.
    let calls_before = gw.stats().tool_calls;
    let replay = tool_invoker::handle(&deps, invoker_input("idem-1"))
        .await
        .unwrap();
    assert!(replay.deduplicated);
    assert_eq!(replay.external_object_refs, out.external_object_refs);
    assert_eq!(gw.stats().tool_calls, calls_before);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_partial_write_is_kept_and_compensated_idempotently() {
    let h = Harness::seeded().await;
    let gw = gateway().await;
    let deps = deps_over(&h, &gw, Duration::from_secs(10));

    gw.script_faults(Fault::Partial, 1);
    let out = tool_invoker::handle(&deps, invoker_input("idem-2"))
        .await
        .unwrap();
    assert!(!out.success);
    assert!(out.has_external_refs);
    assert_eq!(out.error_code.as_deref(), Some("INJECTED_PARTIAL_FAILURE"));
    assert_eq!(gw.live_objects().len(), 1);
    assert!(h.store.get_dedupe("idem-2").await.unwrap().is_none());

    let input = CompensationInput {
        action_intent_id: INTENT.into(),
        tenant_id: TENANT.into(),
        account_id: ACCOUNT.into(),
        trace_id: "trace-1".into(),
        attempt_count: 1,
        decision_trace_id: "decision-1".into(),
        idempotency_key: "idem-2".into(),
        compensation_strategy: CompensationStrategy::Automatic,
        compensation_tool: Some("crm.delete_task".into()),
        external_object_refs: out.external_object_refs.clone(),
    };
    let compensated = compensation::handle(&deps, input.clone()).await.unwrap();
    assert_eq!(compensated.status, CompensationStatus::Completed);
    assert_eq!(compensated.compensated, out.external_object_refs);
    assert!(gw.live_objects().is_empty());

    // A retried compensation deletes nothing more and still completes.
    let again = compensation::handle(&deps, input).await.unwrap();
    assert_eq!(again.status, CompensationStatus::Completed);
    let key = compensation::compensation_key("idem-2", &out.external_object_refs[0].object_id);
    assert_eq!(gw.writes_for_key(&key), 1);
    gw.shutdown().await;
}
