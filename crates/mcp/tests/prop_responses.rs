//! Property test of the MCP client's response parsing (body and SSE, in
//! `wire.rs`, which exposes no pure parser, so it is driven over loopback HTTP):
//! a fake gateway completes the handshake normally, then answers `tools/call`
//! with an arbitrary status, content type and body (garbage, truncated JSON,
//! JSON-RPC results and errors of any shape, SSE streams of any of these).
//! Whatever comes back, the client never panics and never hangs: it returns a
//! response or an error named for the state machine (`TransientError`,
//! `PermanentError`, `AuthError`) with a code and a message saying what was
//! wrong. A returned response then goes through
//! `ccx_core::tool_result::interpret`, which must understand it or refuse it as
//! `MALFORMED_TOOL_RESULT`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ccx_core::ports::McpClient;
use ccx_core::tool_result;
use ccx_mcp::{ClientOptions, McpGatewayClient, StaticToken};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

/// What the fake gateway answers to the next `tools/call`. `__ID__` in the body
/// is replaced by the request's id, so that well-formed answers can match it.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
}

type Shared = Arc<Mutex<Answer>>;

async fn mcp(State(answer): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    match request.get("method").and_then(Value::as_str) {
        Some("initialize") => {
            let version = request["params"]["protocolVersion"].clone();
            let mut r = axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake", "version": "1"}}}))
            .into_response();
            r.headers_mut()
                .insert("mcp-session-id", HeaderValue::from_static("session-1"));
            r
        }
        Some("tools/call") => {
            let a = answer.lock().unwrap().clone();
            let mut headers = HeaderMap::new();
            if !a.content_type.is_empty() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                );
            }
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            (status, headers, a.body.replace("__ID__", &id.to_string())).into_response()
        }
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(vec![
                            "content",
                            "isError",
                            "structuredContent",
                            "resultType",
                            "code",
                            "message",
                            "type",
                            "text",
                            "success",
                        ])
                        .prop_map(String::from),
                        "[a-z]{1,5}",
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON-RPC message (or something like one) as text, `__ID__` for the id.
fn arb_message() -> impl Strategy<Value = String> {
    let ok_result = json!({"content": [{"type": "text", "text": "{\"success\":true,\"external_object_refs\":[]}"}],
        "structuredContent": {"success": true, "external_object_refs": []}, "isError": false});
    prop_oneof![
        // a result of any shape
        arb_json().prop_map(|r| format!(r#"{{"jsonrpc":"2.0","id":__ID__,"result":{r}}}"#)),
        // an error of any shape
        arb_json().prop_map(|e| format!(r#"{{"jsonrpc":"2.0","id":__ID__,"error":{e}}}"#)),
        // a well-formed success, possibly cut short
        (Just(ok_result.clone()), any::<prop::sample::Index>()).prop_map(|(r, cut)| {
            let full = format!(r#"{{"jsonrpc":"2.0","id":__ID__,"result":{r}}}"#);
            let at = cut.index(full.len() + 1);
            full.get(..at).unwrap_or(&full).to_string()
        }),
        // an answer to another request, or a batch with a notification first
        Just(format!(
            r#"{{"jsonrpc":"2.0","id":999999,"result":{ok_result}}}"#
        )),
        Just(format!(
            r#"[{{"jsonrpc":"2.0","method":"notifications/message","params":{{}}}},{{"jsonrpc":"2.0","id":__ID__,"result":{ok_result}}}]"#
        )),
        // anything at all
        arb_json().prop_map(|v| v.to_string()),
        ".{0,60}",
    ]
}

fn arb_answer() -> impl Strategy<Value = Answer> {
    (
        prop_oneof![
            6 => Just(200u16),
            1 => prop::sample::select(vec![202u16, 400, 401, 404, 429, 500, 503]),
        ],
        prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "text/event-stream",
            "text/html",
            "",
        ]),
        arb_message(),
        any::<bool>(),
    )
        .prop_map(|(status, content_type, message, priming)| {
            let body = if content_type == "text/event-stream" {
                // Priming event without data, then the message as one event.
                let prime = if priming { "id: 0\ndata:\n\n" } else { "" };
                format!("{prime}event: message\ndata: {message}\n\n")
            } else {
                message
            };
            Answer {
                status,
                content_type,
                body,
            }
        })
}

const NAMES: [&str; 3] = ["TransientError", "PermanentError", "AuthError"];

#[test]
fn any_gateway_answer_is_parsed_or_clearly_classified() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let answer: Shared = Arc::new(Mutex::new(Answer {
        status: 200,
        content_type: "application/json",
        body: String::new(),
    }));
    let app = Router::new()
        .route("/mcp", post(mcp))
        .with_state(answer.clone());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let client = McpGatewayClient::new(
        ClientOptions::new(format!("http://{addr}/mcp")).timeout(Duration::from_secs(5)),
        Arc::new(StaticToken::new("token")),
    )
    .unwrap();

    let mut runner = TestRunner::new(Config::with_cases(128));
    let seen = Mutex::new(std::collections::BTreeSet::new());
    runner
        .run(&arb_answer(), |a| {
            *answer.lock().unwrap() = a.clone();
            let result = rt.block_on(client.call_tool("t", &json!({"k": 1})));
            match result {
                Ok(response) => {
                    seen.lock().unwrap().insert("ok".to_string());
                    if let Err(e) = tool_result::interpret(&response) {
                        prop_assert_eq!(e.name, "PermanentError");
                        prop_assert_eq!(e.code.as_str(), tool_result::MALFORMED);
                        prop_assert!(!e.message.is_empty());
                    }
                }
                Err(e) => {
                    seen.lock()
                        .unwrap()
                        .insert(format!("{} {}", e.name, e.code));
                    prop_assert!(NAMES.contains(&e.name), "{e} for {a:?}");
                    prop_assert!(
                        !e.code.is_empty()
                            && e.code.chars().all(|c| c.is_ascii_uppercase()
                                || c.is_ascii_digit()
                                || c == '_'
                                || c == '-'),
                        "{e}"
                    );
                    prop_assert!(
                        e.message.starts_with("tools/call t") || e.message.starts_with("MCP "),
                        "{e} for {a:?}"
                    );
                    // Whether the tool may have run is what decides a retry.
                    if a.status == 200
                        && e.code == "MALFORMED_RESPONSE"
                        && e.message.contains("not valid JSON")
                    {
                        prop_assert_eq!(e.name, "TransientError");
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    // The strategy reached both outcomes and several distinct refusals.
    let seen = seen.into_inner().unwrap();
    eprintln!("outcomes seen: {seen:?}");
    assert!(seen.contains("ok"), "{seen:?}");
    assert!(seen.len() >= 5, "{seen:?}");
}
