//! Unauthenticated inspection and control endpoints for tests and chaos runs
//! in other processes (the gateway binds loopback by default).
//!
//! - `GET  /admin/objects[?all=true]`  live (or all) objects
//! - `GET  /admin/objects/{id}`         one object (the `object_url` of refs)
//! - `GET  /admin/writes`               writes per idempotency key and the log
//! - `GET  /admin/stats`                counters (token requests, tool calls, faults)
//! - `POST /admin/faults`               `{"script":[{"fault":"http5xx","count":2}], "rates":{...}, "clear":true}`
//! - `POST /admin/tokens/revoke`        revoke every issued token
//! - `POST /admin/sessions/expire`      drop every MCP session (clients then get 404)

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::GatewayState;
use crate::faults::{Fault, Faults};

pub fn router() -> Router<Arc<GatewayState>> {
    Router::new()
        .route("/admin/objects", get(list_objects))
        .route("/admin/objects/{id}", get(get_object))
        .route("/admin/writes", get(writes))
        .route("/admin/stats", get(stats))
        .route("/admin/faults", post(set_faults))
        .route("/admin/tokens/revoke", post(revoke_tokens))
        .route("/admin/sessions/expire", post(expire_sessions))
}

fn internal(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn list_objects(
    State(state): State<Arc<GatewayState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let all = query.get("all").is_some_and(|v| v == "true");
    let objects = if all {
        state.store.all_objects()
    } else {
        state.store.live_objects()
    };
    match objects {
        Ok(objects) => Json(json!({ "objects": objects })).into_response(),
        Err(e) => internal(e),
    }
}

async fn get_object(State(state): State<Arc<GatewayState>>, Path(id): Path<String>) -> Response {
    match state.store.get_object(&id) {
        Ok(Some(object)) => Json(object).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
        Err(e) => internal(e),
    }
}

async fn writes(State(state): State<Arc<GatewayState>>) -> Response {
    match (state.store.write_counts(), state.store.write_log()) {
        (Ok(counts), Ok(log)) => Json(json!({ "counts": counts, "log": log })).into_response(),
        (Err(e), _) | (_, Err(e)) => internal(e),
    }
}

async fn stats(State(state): State<Arc<GatewayState>>) -> Json<serde_json::Value> {
    Json(json!(state.stats.snapshot(&state)))
}

#[derive(Debug, Deserialize)]
struct ScriptEntry {
    fault: Fault,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    #[serde(default)]
    clear: bool,
    #[serde(default)]
    script: Vec<ScriptEntry>,
    #[serde(default)]
    rates: Option<Faults>,
}

async fn set_faults(
    State(state): State<Arc<GatewayState>>,
    Json(request): Json<FaultRequest>,
) -> Response {
    if let Some(rates) = request.rates
        && let Err(e) = state.faults.set_rates(rates)
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    }
    if request.clear {
        state.faults.clear_script();
    }
    for entry in request.script {
        state.faults.script(entry.fault, entry.count);
    }
    Json(json!({"rates": state.faults.rates()})).into_response()
}

async fn revoke_tokens(State(state): State<Arc<GatewayState>>) -> StatusCode {
    state.tokens.revoke_all();
    StatusCode::NO_CONTENT
}

async fn expire_sessions(State(state): State<Arc<GatewayState>>) -> StatusCode {
    state.expire_sessions().await;
    StatusCode::NO_CONTENT
}
