//! The gateway's HTTP surface as other processes see it: the token endpoint,
//! the bearer check on /mcp, fault scripting and inspection through /admin,
//! and the `ccx-gateway` binary itself.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ccx_gateway::{Gateway, GatewayOptions, SessionMode};
use serde_json::{Value, json};

async fn token(
    http: &reqwest::Client,
    token_url: &str,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    http.post(token_url)
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "gateway/invoke"),
        ])
        .send()
        .await
        .unwrap()
}

/// A stateless JSON gateway lets a test speak MCP with single POSTs.
fn stateless() -> GatewayOptions {
    GatewayOptions {
        session_mode: SessionMode::Stateless,
        json_response: true,
        ..GatewayOptions::default()
    }
}

async fn tools_call(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    name: &str,
    args: Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(bearer)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_endpoint_follows_the_client_credentials_grant() {
    let gw = Gateway::start(GatewayOptions::default()).await.unwrap();
    let http = reqwest::Client::new();

    let ok = token(&http, &gw.token_url, &gw.client_id, &gw.client_secret).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "gateway/invoke");
    assert!(body["access_token"].as_str().unwrap().starts_with("gw_"));

    let bad = token(&http, &gw.token_url, &gw.client_id, "wrong").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let wrong_grant = http
        .post(&gw.token_url)
        .basic_auth(&gw.client_id, Some(&gw.client_secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_grant.status(), 400);
    assert_eq!(
        wrong_grant.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    // client_secret_post is accepted too.
    let post = http
        .post(&gw.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", gw.client_id.as_str()),
            ("client_secret", gw.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(gw.stats().tokens_issued, 2);
    assert_eq!(gw.stats().token_requests, 4);
    gw.shutdown().await;
}

#[tokio::test]
async fn mcp_endpoint_requires_a_valid_bearer_token() {
    let gw = Gateway::start(stateless()).await.unwrap();
    let http = reqwest::Client::new();
    let args = json!({"tenant_id": "t", "account_id": "a", "idempotency_key": "k", "title": "x"});

    let none = http
        .post(&gw.url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let forged = tools_call(&http, &gw.url, "gw_forged", "crm.create_task", args.clone()).await;
    assert_eq!(forged.status(), 401);
    assert!(gw.live_objects().is_empty());

    let bearer: Value = token(&http, &gw.token_url, &gw.client_id, &gw.client_secret)
        .await
        .json()
        .await
        .unwrap();
    let bearer = bearer["access_token"].as_str().unwrap();
    let ok = tools_call(&http, &gw.url, bearer, "crm.create_task", args).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["result"]["structuredContent"]["success"], true);
    assert_eq!(gw.live_objects().len(), 1);
    assert_eq!(gw.stats().unauthorized, 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints_script_faults_and_show_objects_and_writes() {
    let gw = Gateway::start(stateless()).await.unwrap();
    let http = reqwest::Client::new();
    let bearer: Value = token(&http, &gw.token_url, &gw.client_id, &gw.client_secret)
        .await
        .json()
        .await
        .unwrap();
    let bearer = bearer["access_token"].as_str().unwrap().to_string();
    let args =
        json!({"tenant_id": "t", "account_id": "a", "idempotency_key": "k-admin", "title": "x"});

    let scripted = http
        .post(format!("{}/admin/faults", gw.base_url))
        .json(&json!({"script": [{"fault": "http429", "count": 1}, {"fault": {"status": 404}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status(), 200);
    let first = tools_call(&http, &gw.url, &bearer, "crm.create_task", args.clone()).await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "1");
    let second = tools_call(&http, &gw.url, &bearer, "crm.create_task", args.clone()).await;
    assert_eq!(second.status(), 404);
    for _ in 0..2 {
        let ok = tools_call(&http, &gw.url, &bearer, "crm.create_task", args.clone()).await;
        assert_eq!(ok.status(), 200);
    }

    let objects: Value = http
        .get(format!("{}/admin/objects", gw.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let objects = objects["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["idempotency_key"], "k-admin");
    let id = objects[0]["object_id"].as_str().unwrap();
    let one: Value = http
        .get(format!("{}/admin/objects/{id}", gw.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["system"], "crm");

    let writes: Value = http
        .get(format!("{}/admin/writes", gw.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(writes["counts"]["k-admin"], 1);
    assert_eq!(writes["log"].as_array().unwrap().len(), 1);

    let bad_rates = http
        .post(format!("{}/admin/faults", gw.base_url))
        .json(&json!({"rates": {"rate_5xx": 0.9, "rate_429": 0.9}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_rates.status(), 400);

    let stats: Value = http
        .get(format!("{}/admin/stats", gw.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tool_calls"], 4);
    assert_eq!(stats["faults_injected"], 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn the_binary_serves_tokens_and_reads_fault_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccx-gateway"))
        .args([
            "--port",
            "0",
            "--client-id",
            "cli-id",
            "--client-secret",
            "cli-secret",
            "--fault-5xx",
            "1.0",
            "--stateless",
            "--json-response",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let http = reqwest::Client::new();
    let bearer: Value = token(
        &http,
        info["token_url"].as_str().unwrap(),
        "cli-id",
        "cli-secret",
    )
    .await
    .json()
    .await
    .unwrap();
    let call = tools_call(
        &http,
        info["url"].as_str().unwrap(),
        bearer["access_token"].as_str().unwrap(),
        "crm.create_task",
        json!({}),
    )
    .await;
    assert_eq!(call.status(), 503);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(dir.path().join("gateway.sqlite").exists());
}
