//! The MCP client against the dev gateway started in-process on 127.0.0.1:0:
//! results, tool failures, every failure classification, token refresh and
//! caching, session expiry, and each supported protocol version and server mode.

use std::sync::Arc;
use std::time::Duration;

use ccx_core::error::{ErrorClass, ExecutionError};
use ccx_core::ports::{McpClient, TokenProvider};
use ccx_gateway::{Fault, Faults, Gateway, GatewayOptions, RunningGateway, SessionMode};
use ccx_mcp::{
    ClientOptions, GatewayConfig, McpGatewayClient, OAuthClientCredentials, StaticSecret,
    StaticToken, client_from_config,
};
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

async fn gateway(options: GatewayOptions) -> RunningGateway {
    Gateway::start(options).await.expect("gateway starts")
}

fn tokens_for(gw: &RunningGateway) -> Arc<OAuthClientCredentials> {
    Arc::new(
        OAuthClientCredentials::new(
            gw.token_url.clone(),
            gw.client_id.clone(),
            Arc::new(StaticSecret::new(gw.client_secret.clone())),
            Some("gateway/invoke".into()),
            Duration::from_secs(5),
        )
        .unwrap(),
    )
}

fn client_with(
    gw: &RunningGateway,
    version: ProtocolVersion,
    timeout: Duration,
) -> McpGatewayClient {
    McpGatewayClient::new(
        ClientOptions::new(gw.url.clone())
            .protocol_version(version)
            .timeout(timeout),
        tokens_for(gw),
    )
    .unwrap()
}

fn client(gw: &RunningGateway) -> McpGatewayClient {
    client_with(gw, ProtocolVersion::V_2025_11_25, Duration::from_secs(5))
}

fn task_args(key: &str) -> Value {
    json!({
        "tenant_id": "tenant-1",
        "account_id": "account-1",
        "idempotency_key": key,
        "title": "Follow up on renewal",
        "due_date": "2026-12-01",
        "priority": "HIGH"
    })
}

/// The JSON payload of a tool result, read from the text block as an older
/// client would (and checked equal to structuredContent when both are there).
fn payload(response: &ccx_core::ports::ToolCallResponse) -> Value {
    let text = response.content[0]["text"].as_str().expect("text block");
    let from_text: Value = serde_json::from_str(text).unwrap();
    if let Some(structured) = &response.structured_content {
        assert_eq!(structured, &from_text);
    }
    from_text
}

async fn expect_err(client: &McpGatewayClient, tool: &str, args: Value) -> ExecutionError {
    client
        .call_tool(tool, &args)
        .await
        .expect_err("call must fail")
}

#[tokio::test]
async fn creates_a_task_and_replays_the_same_key_without_a_second_write() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);

    let first = client
        .call_tool("crm.create_task", &task_args("key-1"))
        .await
        .unwrap();
    assert!(!first.is_error);
    let body = payload(&first);
    assert_eq!(body["success"], true);
    let reference = &body["external_object_refs"][0];
    assert_eq!(reference["system"], "crm");
    assert_eq!(reference["object_type"], "task");
    assert_eq!(first.raw["isError"], false);

    let objects = gw.live_objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(
        objects[0].object_id,
        reference["object_id"].as_str().unwrap()
    );
    assert_eq!(objects[0].title.as_deref(), Some("Follow up on renewal"));
    assert_eq!(objects[0].priority.as_deref(), Some("HIGH"));
    assert_eq!(objects[0].tenant_id, "tenant-1");

    let second = client
        .call_tool("crm.create_task", &task_args("key-1"))
        .await
        .unwrap();
    assert_eq!(
        payload(&second)["external_object_refs"],
        body["external_object_refs"]
    );
    assert_eq!(gw.writes_for_key("key-1"), 1);
    assert_eq!(gw.live_objects().len(), 1);
    // One token, one session (issued by the stateful gateway) for both calls.
    assert_eq!(gw.stats().tokens_issued, 1);
    assert_eq!(gw.stats().initializations, 1);
    assert!(client.session_id().await.is_some());
    gw.shutdown().await;
}

#[tokio::test]
async fn compensation_deletes_the_object_and_tolerates_a_second_delete() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);
    let created = client
        .call_tool(
            "internal.create_note",
            &json!({
                "tenant_id": "t", "account_id": "a", "idempotency_key": "k", "body": "met the CFO"
            }),
        )
        .await
        .unwrap();
    let reference = payload(&created)["external_object_refs"][0].clone();
    let delete_args = json!({
        "object_id": reference["object_id"], "object_type": "note", "system": "internal",
        "tenant_id": "t", "account_id": "a", "idempotency_key": "comp-k"
    });
    let deleted = client
        .call_tool("internal.delete_note", &delete_args)
        .await
        .unwrap();
    assert!(!deleted.is_error);
    assert_eq!(payload(&deleted)["already_deleted"], false);
    let again = client
        .call_tool("internal.delete_note", &delete_args)
        .await
        .unwrap();
    assert!(!again.is_error);
    assert_eq!(payload(&again)["already_deleted"], true);
    assert!(gw.live_objects().is_empty());
    assert_eq!(gw.writes_for_key("comp-k"), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn tool_reported_failures_are_results_not_errors() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);

    // Invalid arguments: the tool ran and refused.
    let refused = client
        .call_tool(
            "internal.create_task",
            &json!({"tenant_id": "t", "account_id": "a", "idempotency_key": "k0"}),
        )
        .await
        .unwrap();
    assert!(refused.is_error);
    let body = payload(&refused);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["class"], "VALIDATION");
    assert_eq!(body["error"]["code"], "INVALID_ARGUMENTS");

    // Injected tool error: nothing written.
    gw.script_faults(Fault::ToolError, 1);
    let failed = client
        .call_tool("crm.create_task", &task_args("k1"))
        .await
        .unwrap();
    assert!(failed.is_error);
    assert_eq!(payload(&failed)["error"]["code"], "INJECTED_TOOL_ERROR");
    assert_eq!(payload(&failed)["external_object_refs"], json!([]));
    assert_eq!(gw.writes_for_key("k1"), 0);

    // Injected partial failure: one object written, reported with its ref.
    gw.script_faults(Fault::Partial, 1);
    let partial = client
        .call_tool("crm.create_task", &task_args("k2"))
        .await
        .unwrap();
    assert!(partial.is_error);
    let body = payload(&partial);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "INJECTED_PARTIAL_FAILURE");
    let partial_id = body["external_object_refs"][0]["object_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        gw.live_objects()
            .iter()
            .map(|o| o.object_id.clone())
            .collect::<Vec<_>>(),
        vec![partial_id]
    );
    assert_eq!(gw.writes_for_key("k2"), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn unknown_tool_is_a_permanent_jsonrpc_error() {
    let gw = gateway(GatewayOptions::default()).await;
    let err = expect_err(&client(&gw), "crm.create_opportunity", task_args("k")).await;
    assert_eq!(err.name, "PermanentError");
    assert_eq!(err.class, ErrorClass::Downstream);
    assert_eq!(err.code, "JSONRPC_-32602");
    assert!(
        err.message.contains("crm.create_opportunity"),
        "{}",
        err.message
    );
    assert!(!err.retryable);
    gw.shutdown().await;
}

#[tokio::test]
async fn http_failures_are_classified_and_a_later_call_succeeds() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);

    gw.script_faults(Fault::Http5xx, 1);
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str(), err.retryable),
        ("TransientError", ErrorClass::Downstream, "HTTP_503", true)
    );

    gw.script_faults(Fault::Http429, 1);
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        ("TransientError", ErrorClass::RateLimit, "HTTP_429")
    );
    assert!(err.message.contains("Retry-After 1"), "{}", err.message);

    gw.script_faults(Fault::Status(502), 1);
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.code.as_str()),
        ("TransientError", "HTTP_502")
    );

    gw.script_faults(Fault::Status(400), 1);
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        ("PermanentError", ErrorClass::Downstream, "HTTP_400")
    );
    assert!(err.message.contains("text/html"), "{}", err.message);

    // A body that is not JSON says nothing about whether the tool ran: retried.
    gw.script_faults(Fault::Malformed, 1);
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        (
            "TransientError",
            ErrorClass::Downstream,
            "MALFORMED_RESPONSE"
        )
    );
    assert!(err.message.contains("not valid JSON"), "{}", err.message);

    assert_eq!(gw.writes_for_key("k"), 0);
    let ok = client
        .call_tool("crm.create_task", &task_args("k"))
        .await
        .unwrap();
    assert!(!ok.is_error);
    assert_eq!(gw.writes_for_key("k"), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_slow_gateway_is_a_retryable_timeout_and_the_retry_does_not_write_twice() {
    let gw = gateway(GatewayOptions {
        faults: Faults {
            timeout_delay: Duration::from_secs(30),
            ..Faults::default()
        },
        ..GatewayOptions::default()
    })
    .await;
    // Impatient enough to give up on the held answer, patient enough that the
    // handshake before it never times out on a loaded machine.
    let impatient = client_with(&gw, ProtocolVersion::V_2025_11_25, Duration::from_secs(2));
    gw.script_faults(Fault::Timeout, 1);
    let err = expect_err(&impatient, "crm.create_task", task_args("slow")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str(), err.retryable),
        ("TransientError", ErrorClass::Timeout, "TIMEOUT", true)
    );

    let client = client(&gw);
    let retry = client
        .call_tool("crm.create_task", &task_args("slow"))
        .await
        .unwrap();
    assert!(!retry.is_error);
    assert_eq!(gw.writes_for_key("slow"), 1);
    assert_eq!(gw.live_objects().len(), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = McpGatewayClient::new(
        ClientOptions::new(format!("http://{addr}/mcp")).timeout(Duration::from_secs(2)),
        Arc::new(StaticToken::new("t")),
    )
    .unwrap();
    let err = client
        .call_tool("crm.create_task", &task_args("k"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        (
            "TransientError",
            ErrorClass::Downstream,
            "CONNECTION_FAILED"
        )
    );
}

#[tokio::test]
async fn revoked_token_is_refreshed_once_and_the_call_goes_through() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);
    client
        .call_tool("crm.create_task", &task_args("a"))
        .await
        .unwrap();
    assert_eq!(gw.stats().tokens_issued, 1);

    gw.revoke_tokens();
    let after = client
        .call_tool("crm.create_task", &task_args("b"))
        .await
        .unwrap();
    assert!(!after.is_error);
    assert_eq!(gw.stats().tokens_issued, 2);
    assert_eq!(gw.stats().unauthorized, 1);
    assert_eq!(gw.writes_for_key("b"), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_token_refused_twice_is_an_auth_error() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = McpGatewayClient::new(
        ClientOptions::new(gw.url.clone()),
        Arc::new(StaticToken::new("forged")),
    )
    .unwrap();
    let err = expect_err(&client, "crm.create_task", task_args("k")).await;
    assert_eq!(
        (err.name, err.class, err.code.as_str(), err.retryable),
        ("AuthError", ErrorClass::Auth, "HTTP_401", false)
    );
    // The first refusal was retried exactly once.
    assert_eq!(gw.stats().unauthorized, 2);
    assert!(gw.live_objects().is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_auth_error_from_the_token_endpoint() {
    let gw = gateway(GatewayOptions::default()).await;
    let tokens = OAuthClientCredentials::new(
        gw.token_url.clone(),
        gw.client_id.clone(),
        Arc::new(StaticSecret::new("wrong")),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let err = tokens.token().await.unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("AuthError", "TOKEN_REQUEST_REJECTED")
    );
    assert!(err.message.contains("401"), "{}", err.message);
    gw.shutdown().await;
}

#[tokio::test]
async fn tokens_are_cached_shared_by_concurrent_callers_and_refetched_after_invalidate() {
    let gw = gateway(GatewayOptions::default()).await;
    let tokens = tokens_for(&gw);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for h in handles {
        seen.push(h.await.unwrap());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "all callers got the same token");
    assert_eq!(gw.stats().token_requests, 1);
    assert_eq!(tokens.token().await.unwrap(), seen[0]);
    assert_eq!(gw.stats().token_requests, 1);

    tokens.invalidate().await;
    let fresh = tokens.token().await.unwrap();
    assert_ne!(fresh, seen[0]);
    assert_eq!(gw.stats().token_requests, 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn short_lived_tokens_are_not_cached_past_their_lifetime_margin() {
    // expires_in = 0: the cache must refetch on every call rather than reuse.
    let gw = gateway(GatewayOptions {
        token_ttl: Duration::from_secs(0),
        ..GatewayOptions::default()
    })
    .await;
    let tokens = tokens_for(&gw);
    tokens.token().await.unwrap();
    tokens.token().await.unwrap();
    assert_eq!(gw.stats().token_requests, 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn an_expired_session_is_reinitialised_transparently() {
    let gw = gateway(GatewayOptions::default()).await;
    let client = client(&gw);
    client
        .call_tool("crm.create_task", &task_args("s1"))
        .await
        .unwrap();
    gw.expire_sessions().await;
    let after = client
        .call_tool("crm.create_task", &task_args("s2"))
        .await
        .unwrap();
    assert!(!after.is_error);
    assert_eq!(gw.writes_for_key("s2"), 1);
    gw.shutdown().await;
}

async fn round_trip(options: GatewayOptions, version: ProtocolVersion) {
    let stateful = options.session_mode == SessionMode::Stateful;
    let gw = gateway(options).await;
    let client = client_with(&gw, version.clone(), Duration::from_secs(5));
    let key = format!("rt-{version}");
    for _ in 0..2 {
        let response = client
            .call_tool("internal.create_task", &task_args(&key))
            .await
            .unwrap();
        assert!(!response.is_error, "{version}: {:?}", response.raw);
        assert_eq!(payload(&response)["success"], true, "{version}");
    }
    let err = expect_err(&client, "no.such_tool", json!({})).await;
    assert!(err.code.starts_with("JSONRPC_"), "{version}: {err}");
    assert_eq!(gw.writes_for_key(&key), 1, "{version}");
    assert_eq!(
        client.negotiated_protocol_version().await.as_deref(),
        Some(version.as_str())
    );
    if version.has_initialize() {
        // One handshake for all calls; a session only where the server keeps them.
        assert_eq!(gw.stats().initializations, 1, "{version}");
        assert_eq!(client.session_id().await.is_some(), stateful, "{version}");
    } else {
        assert_eq!(gw.stats().initializations, 0, "{version}");
        assert_eq!(client.session_id().await, None, "{version}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_supported_protocol_version_against_a_stateful_sse_gateway() {
    for version in [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
        ProtocolVersion::V_2026_07_28,
    ] {
        round_trip(GatewayOptions::default(), version).await;
    }
}

#[tokio::test]
async fn every_supported_protocol_version_against_a_stateless_json_gateway() {
    for version in [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
        ProtocolVersion::V_2026_07_28,
    ] {
        round_trip(
            GatewayOptions {
                session_mode: SessionMode::Stateless,
                json_response: true,
                ..GatewayOptions::default()
            },
            version,
        )
        .await;
    }
}

#[tokio::test]
async fn client_from_config_talks_to_the_gateway() {
    let gw = gateway(GatewayOptions::default()).await;
    let env = [
        ("CCX_GATEWAY_URL", gw.url.clone()),
        ("CCX_GATEWAY_TOKEN_URL", gw.token_url.clone()),
        ("CCX_GATEWAY_CLIENT_ID", gw.client_id.clone()),
        ("CCX_GATEWAY_CLIENT_SECRET", gw.client_secret.clone()),
        ("CCX_MCP_PROTOCOL_VERSION", "2025-06-18".to_string()),
        ("CCX_MCP_TIMEOUT_MS", "4000".to_string()),
    ];
    let config = GatewayConfig::from_lookup(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let client: Arc<dyn McpClient> = Arc::new(client_from_config(&config, None).unwrap());
    let response = client
        .call_tool("crm.create_task", &task_args("cfg"))
        .await
        .unwrap();
    assert!(!response.is_error);
    assert_eq!(gw.writes_for_key("cfg"), 1);
    gw.shutdown().await;
}
