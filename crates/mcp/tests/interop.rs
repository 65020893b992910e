//! Interop: the client against MCP servers written with the official SDKs
//! (Python `mcp`, TypeScript `@modelcontextprotocol/sdk`), so it is proven to
//! speak the protocol as the reference implementations do, not only as our dev
//! gateway does. The servers live in `tests/interop/`; `make test-interop`
//! installs the SDKs and runs these tests with `--ignored`:
//!
//! - `CCX_INTEROP_PYTHON`: a Python with `mcp` installed (the project venv)
//! - `CCX_INTEROP_NODE`: the node binary; `tests/interop/node/node_modules` installed
//!
//! Each scenario covers success, tool error, unknown tool, JSON-RPC error,
//! malformed body, slow server (timeout) and bearer-token enforcement.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ccx_core::error::ErrorClass;
use ccx_core::ports::{McpClient, ToolCallResponse};
use ccx_mcp::{ClientOptions, McpGatewayClient, StaticToken};
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

const TOKEN: &str = "interop-token";

/// A server process, killed when dropped.
struct ServerProcess {
    child: Child,
    url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through `make test-interop`")
    })
}

/// Starts `program args...`, which prints `{"port": N}` once listening.
fn spawn(program: &str, args: &[&str]) -> ServerProcess {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{program} printed {line:?}: {e}"));
    let url = format!("http://127.0.0.1:{}/mcp", info["port"]);
    ServerProcess { child, url }
}

fn python_server(stateless: bool) -> ServerProcess {
    let python = required_env("CCX_INTEROP_PYTHON");
    let script = interop_dir().join("python/server.py");
    let mut args = vec![script.to_str().unwrap(), "--token", TOKEN];
    if stateless {
        args.push("--stateless");
    }
    spawn(&python, &args)
}

fn node_server(stateless: bool) -> ServerProcess {
    let node = required_env("CCX_INTEROP_NODE");
    let script = interop_dir().join("node/server.mjs");
    let mut args = vec![script.to_str().unwrap(), "--token", TOKEN];
    if stateless {
        args.push("--stateless");
    }
    spawn(&node, &args)
}

fn client(url: &str, version: ProtocolVersion, token: &str) -> McpGatewayClient {
    client_with_timeout(url, version, token, Duration::from_secs(10))
}

fn client_with_timeout(
    url: &str,
    version: ProtocolVersion,
    token: &str,
    timeout: Duration,
) -> McpGatewayClient {
    McpGatewayClient::new(
        ClientOptions::new(url)
            .protocol_version(version)
            .timeout(timeout),
        Arc::new(StaticToken::new(token)),
    )
    .unwrap()
}

fn text_of(response: &ToolCallResponse) -> String {
    response
        .content
        .iter()
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What differs between the SDKs' answers to an unknown tool: the Python SDK
/// reports it as a tool result with `isError`, others as JSON-RPC -32602.
#[derive(Clone, Copy)]
enum UnknownTool {
    JsonRpcError,
    ToolError,
}

async fn scenario(
    label: &str,
    server: &ServerProcess,
    version: ProtocolVersion,
    expect_session: bool,
    unknown: UnknownTool,
) {
    let client = client(&server.url, version.clone(), TOKEN);
    let what = format!("{label} {version}");

    // success, twice over the same session/connection
    for key in ["k1", "k2"] {
        let ok = client
            .call_tool("create_task", &json!({"tenant_id": "t", "account_id": "a", "idempotency_key": key, "title": "Call back"}))
            .await
            .unwrap_or_else(|e| panic!("{what}: create_task failed: {e}"));
        assert!(!ok.is_error, "{what}: {:?}", ok.raw);
        let structured = ok
            .structured_content
            .clone()
            .unwrap_or_else(|| panic!("{what}: no structuredContent: {:?}", ok.raw));
        assert_eq!(structured["success"], true, "{what}");
        assert!(
            structured["external_object_refs"][0]["object_id"]
                .as_str()
                .unwrap()
                .ends_with(key),
            "{what}"
        );
        assert_eq!(structured["title"], "Call back", "{what}");
    }
    assert_eq!(
        client.negotiated_protocol_version().await.as_deref(),
        Some(version.as_str()),
        "{what}"
    );
    assert_eq!(
        client.session_id().await.is_some(),
        expect_session,
        "{what}: session id presence"
    );

    // tool error: a result, not an error
    let failed = client
        .call_tool("fail_task", &json!({"reason": "quota"}))
        .await
        .unwrap();
    assert!(failed.is_error, "{what}: {:?}", failed.raw);
    assert!(
        text_of(&failed).contains("task refused: quota"),
        "{what}: {:?}",
        failed.raw
    );

    // unknown tool
    let unknown_result = client.call_tool("no_such_tool", &json!({})).await;
    match unknown {
        UnknownTool::JsonRpcError => {
            let err = unknown_result.expect_err(&what);
            assert_eq!(err.name, "PermanentError", "{what}: {err}");
            assert!(err.code.starts_with("JSONRPC_"), "{what}: {err}");
            assert!(err.message.contains("no_such_tool"), "{what}: {err}");
        }
        UnknownTool::ToolError => {
            let response = unknown_result.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(response.is_error, "{what}: {:?}", response.raw);
            assert!(
                text_of(&response).contains("no_such_tool"),
                "{what}: {:?}",
                response.raw
            );
        }
    }

    // JSON-RPC error raised by the tool
    let err = client
        .call_tool("jsonrpc_error", &json!({}))
        .await
        .expect_err(&what);
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        ("PermanentError", ErrorClass::Downstream, "JSONRPC_-32001"),
        "{what}: {err}"
    );
    assert!(
        err.message.contains("refused at protocol level"),
        "{what}: {err}"
    );

    // malformed (truncated) body: the tool may have run, so it is retried
    let err = client
        .call_tool("malformed", &json!({}))
        .await
        .expect_err(&what);
    assert_eq!(
        (err.name, err.code.as_str()),
        ("TransientError", "MALFORMED_RESPONSE"),
        "{what}: {err}"
    );

    // slow server (a client of its own whose timeout is far below the server's 30 s)
    let impatient =
        client_with_timeout(&server.url, version.clone(), TOKEN, Duration::from_secs(2));
    let err = impatient
        .call_tool("slow", &json!({}))
        .await
        .expect_err(&what);
    assert_eq!(
        (err.name, err.class, err.code.as_str()),
        ("TransientError", ErrorClass::Timeout, "TIMEOUT"),
        "{what}: {err}"
    );

    // the session survives all of the above
    let ok = client
        .call_tool(
            "create_task",
            &json!({"tenant_id": "t", "account_id": "a", "idempotency_key": "k3", "title": "x"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: call after failures: {e}"));
    assert!(!ok.is_error, "{what}");

    // bearer enforcement
    let forged = client_with_timeout(
        &server.url,
        version.clone(),
        "forged",
        Duration::from_secs(10),
    );
    let err = forged
        .call_tool("create_task", &json!({}))
        .await
        .expect_err(&what);
    assert_eq!(
        (err.name, err.code.as_str()),
        ("AuthError", "HTTP_401"),
        "{what}: {err}"
    );
}

#[tokio::test]
#[ignore = "needs the Python MCP SDK: make test-interop"]
async fn python_sdk_stateful_sse() {
    let server = python_server(false);
    for version in [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ] {
        scenario(
            "python stateful-sse",
            &server,
            version,
            true,
            UnknownTool::ToolError,
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs the Python MCP SDK: make test-interop"]
async fn python_sdk_stateless_json() {
    let server = python_server(true);
    for version in [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25] {
        scenario(
            "python stateless-json",
            &server,
            version,
            false,
            UnknownTool::ToolError,
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs the Python MCP SDK: make test-interop"]
async fn python_sdk_2026_07_28() {
    for stateless in [true, false] {
        let server = python_server(stateless);
        scenario(
            "python 2026-07-28",
            &server,
            ProtocolVersion::V_2026_07_28,
            false,
            UnknownTool::ToolError,
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs the TypeScript MCP SDK: make test-interop"]
async fn typescript_sdk_stateful_sse() {
    let server = node_server(false);
    for version in [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ] {
        scenario(
            "typescript stateful-sse",
            &server,
            version,
            true,
            UnknownTool::JsonRpcError,
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs the TypeScript MCP SDK: make test-interop"]
async fn typescript_sdk_stateless_json() {
    let server = node_server(true);
    for version in [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25] {
        scenario(
            "typescript stateless-json",
            &server,
            version,
            false,
            UnknownTool::JsonRpcError,
        )
        .await;
    }
}
