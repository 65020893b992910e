//! The MCP tools of the dev gateway and the rmcp [`ServerHandler`] exposing them.
//!
//! Create tools write a note or task into the gateway's SQLite store, deduped
//! on `idempotency_key`; delete tools are their compensations. Every result is
//! the JSON the tool invoker expects, both as `structuredContent` and as a text
//! block (older clients read only `content`):
//! `{"success": bool, "external_object_refs": [...], "error": {...}?}`.
//! A tool that ran and failed answers `isError: true`; an unknown tool is a
//! JSON-RPC error (-32602), as the MCP specification asks.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::store::{DeleteRefusal, GatewayStore, NewObject, StoredObject};

/// What a tool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Create,
    Delete,
}

/// A tool of the gateway: its name, and the system and object type it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub kind: ToolKind,
    pub system: &'static str,
    pub object_type: &'static str,
    pub description: &'static str,
}

/// Every tool the gateway serves.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "internal.create_note",
        kind: ToolKind::Create,
        system: "internal",
        object_type: "note",
        description: "Create a note on an account in the internal system.",
    },
    ToolSpec {
        name: "internal.create_task",
        kind: ToolKind::Create,
        system: "internal",
        object_type: "task",
        description: "Create a task on an account in the internal system.",
    },
    ToolSpec {
        name: "crm.create_task",
        kind: ToolKind::Create,
        system: "crm",
        object_type: "task",
        description: "Create a task on an account in the CRM.",
    },
    ToolSpec {
        name: "internal.delete_note",
        kind: ToolKind::Delete,
        system: "internal",
        object_type: "note",
        description: "Delete a note created by internal.create_note (compensation).",
    },
    ToolSpec {
        name: "internal.delete_task",
        kind: ToolKind::Delete,
        system: "internal",
        object_type: "task",
        description: "Delete a task created by internal.create_task (compensation).",
    },
    ToolSpec {
        name: "crm.delete_task",
        kind: ToolKind::Delete,
        system: "crm",
        object_type: "task",
        description: "Delete a task created by crm.create_task (compensation).",
    },
];

pub fn find_tool(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

fn input_schema(spec: &ToolSpec) -> JsonObject {
    let schema = match spec.kind {
        ToolKind::Create => json!({
            "type": "object",
            "properties": {
                "tenant_id": {"type": "string"},
                "account_id": {"type": "string"},
                "idempotency_key": {"type": "string", "description": "same key, same result, one write"},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "due_date": {"type": "string"},
                "priority": {"type": ["string", "number"]}
            },
            "required": ["tenant_id", "account_id", "idempotency_key"],
            "additionalProperties": true
        }),
        ToolKind::Delete => json!({
            "type": "object",
            "properties": {
                "object_id": {"type": "string"},
                "object_type": {"type": "string", "const": spec.object_type},
                "system": {"type": "string", "const": spec.system},
                "tenant_id": {"type": "string"},
                "account_id": {"type": "string"},
                "idempotency_key": {"type": "string"}
            },
            "required": ["object_id", "tenant_id", "account_id"],
            "additionalProperties": true
        }),
    };
    match schema {
        Value::Object(map) => map,
        _ => unreachable!("schema literal is an object"),
    }
}

pub fn tool_definitions() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|spec| Tool::new(spec.name, spec.description, input_schema(spec)))
        .collect()
}

/// A failure the tool reports in its result (`isError: true`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFailure {
    pub class: &'static str,
    pub code: String,
    pub message: String,
}

/// The outcome of running a tool, before it becomes a `CallToolResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub refs: Vec<Value>,
    pub failure: Option<ToolFailure>,
    /// Extra members of a successful result (`replayed`, `already_deleted`).
    pub extra: serde_json::Map<String, Value>,
}

impl ToolOutcome {
    fn failed(class: &'static str, code: &str, message: impl Into<String>) -> Self {
        Self {
            refs: vec![],
            failure: Some(ToolFailure {
                class,
                code: code.into(),
                message: message.into(),
            }),
            extra: Default::default(),
        }
    }

    /// The JSON payload: `{"success", "external_object_refs", "error"?}`.
    pub fn payload(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("success".into(), Value::Bool(self.failure.is_none()));
        out.insert(
            "external_object_refs".into(),
            Value::Array(self.refs.clone()),
        );
        if let Some(f) = &self.failure {
            out.insert(
                "error".into(),
                json!({"class": f.class, "code": f.code, "message": f.message}),
            );
        }
        for (k, v) in &self.extra {
            out.insert(k.clone(), v.clone());
        }
        Value::Object(out)
    }

    pub fn into_result(self) -> CallToolResult {
        let payload = self.payload();
        if self.failure.is_some() {
            CallToolResult::structured_error(payload)
        } else {
            CallToolResult::structured(payload)
        }
    }
}

/// Runs the gateway's tools against its store.
#[derive(Clone)]
pub struct ToolRunner {
    pub store: Arc<GatewayStore>,
    /// Base of `object_url`s, e.g. `http://127.0.0.1:4000`.
    pub base_url: Arc<str>,
}

fn arg_string(args: &JsonObject, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn require(args: &JsonObject, keys: &[&str]) -> Result<Vec<String>, ToolOutcome> {
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| arg_string(args, k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ToolOutcome::failed(
            "VALIDATION",
            "INVALID_ARGUMENTS",
            format!(
                "missing or empty required argument(s): {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(keys
        .iter()
        .map(|k| arg_string(args, k).unwrap_or_default())
        .collect())
}

impl ToolRunner {
    pub fn object_ref(&self, object: &StoredObject) -> Value {
        json!({
            "system": object.system,
            "object_type": object.object_type,
            "object_id": object.object_id,
            "object_url": format!("{}/admin/objects/{}", self.base_url, object.object_id),
        })
    }

    /// Runs `spec` with `args`, applying a tool-level fault if one was decided.
    ///
    /// An injected `ToolError` stands for the downstream refusing a *new*
    /// request. A key this tool already wrote under is answered from the
    /// idempotency record first, as an idempotent API does, so a retry of a
    /// call whose answer was lost gets the first result, never a failure
    /// claiming nothing was written. (Found by `ccx chaos`: a timed-out create
    /// retried into an injected tool error was recorded FAILED with its write live.)
    pub fn run(&self, spec: &ToolSpec, args: &JsonObject, fault: Option<Fault>) -> ToolOutcome {
        let already_written = || {
            spec.kind == ToolKind::Create
                && arg_string(args, "idempotency_key").is_some_and(|key| {
                    matches!(self.store.created_for_key(spec.name, &key), Ok(Some(_)))
                })
        };
        if fault == Some(Fault::ToolError) && !already_written() {
            return ToolOutcome::failed(
                "DOWNSTREAM",
                "INJECTED_TOOL_ERROR",
                format!("{}: injected tool failure, nothing written", spec.name),
            );
        }
        let mut outcome = match spec.kind {
            ToolKind::Create => self.create(spec, args),
            ToolKind::Delete => self.delete(spec, args),
        };
        if fault == Some(Fault::Partial) && outcome.failure.is_none() {
            outcome.failure = Some(ToolFailure {
                class: "DOWNSTREAM",
                code: "INJECTED_PARTIAL_FAILURE".into(),
                message: format!(
                    "{}: injected failure after writing {} object(s)",
                    spec.name,
                    outcome.refs.len()
                ),
            });
            outcome.extra.clear();
        }
        outcome
    }

    fn create(&self, spec: &ToolSpec, args: &JsonObject) -> ToolOutcome {
        let ids = match require(args, &["tenant_id", "account_id", "idempotency_key"]) {
            Ok(v) => v,
            Err(e) => return e,
        };
        let title = arg_string(args, "title");
        let body = arg_string(args, "body");
        if title.is_none() && body.is_none() {
            return ToolOutcome::failed(
                "VALIDATION",
                "INVALID_ARGUMENTS",
                "a title or a body is required",
            );
        }
        const KNOWN: &[&str] = &[
            "tenant_id",
            "account_id",
            "idempotency_key",
            "title",
            "body",
            "due_date",
            "priority",
        ];
        let attributes: JsonObject = args
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let new = NewObject {
            system: spec.system.into(),
            object_type: spec.object_type.into(),
            tenant_id: ids[0].clone(),
            account_id: ids[1].clone(),
            title,
            body,
            due_date: arg_string(args, "due_date"),
            priority: arg_string(args, "priority"),
            attributes: Value::Object(attributes),
            created_by_tool: spec.name.into(),
            idempotency_key: ids[2].clone(),
        };
        let object_id = format!(
            "{}_{}_{}",
            spec.system,
            spec.object_type,
            uuid::Uuid::new_v4().simple()
        );
        match self.store.create_object(&new, &object_id) {
            Ok(created) => {
                let mut extra = serde_json::Map::new();
                extra.insert("replayed".into(), Value::Bool(!created.written));
                ToolOutcome {
                    refs: vec![self.object_ref(&created.object)],
                    failure: None,
                    extra,
                }
            }
            Err(e) => ToolOutcome::failed("DOWNSTREAM", "STORE_FAILED", e.to_string()),
        }
    }

    fn delete(&self, spec: &ToolSpec, args: &JsonObject) -> ToolOutcome {
        let ids = match require(args, &["object_id", "tenant_id", "account_id"]) {
            Ok(v) => v,
            Err(e) => return e,
        };
        for (key, expected) in [("system", spec.system), ("object_type", spec.object_type)] {
            if let Some(given) = arg_string(args, key)
                && given != expected
            {
                return ToolOutcome::failed(
                    "VALIDATION",
                    "INVALID_ARGUMENTS",
                    format!(
                        "{} deletes {expected} objects only, got {key}={given}",
                        spec.name
                    ),
                );
            }
        }
        let key = arg_string(args, "idempotency_key")
            .unwrap_or_else(|| format!("{}:{}", spec.name, ids[0]));
        match self.store.delete_object(
            spec.name,
            &key,
            &ids[0],
            spec.system,
            spec.object_type,
            &ids[1],
            &ids[2],
        ) {
            Ok(Ok(deleted)) => {
                let mut extra = serde_json::Map::new();
                extra.insert("already_deleted".into(), Value::Bool(!deleted.written));
                ToolOutcome {
                    refs: vec![self.object_ref(&deleted.object)],
                    failure: None,
                    extra,
                }
            }
            Ok(Err(DeleteRefusal::NotFound)) => ToolOutcome::failed(
                "VALIDATION",
                "OBJECT_NOT_FOUND",
                format!("no {}/{} with id {}", spec.system, spec.object_type, ids[0]),
            ),
            Ok(Err(DeleteRefusal::Mismatch(message))) => {
                ToolOutcome::failed("VALIDATION", "OBJECT_MISMATCH", message)
            }
            Err(e) => ToolOutcome::failed("DOWNSTREAM", "STORE_FAILED", e.to_string()),
        }
    }
}

/// The rmcp server handler: lists the tools and dispatches `tools/call`.
#[derive(Clone)]
pub struct GatewayServer {
    pub runner: ToolRunner,
}

/// The tool-level fault decided by the HTTP layer for this request, if any.
fn tool_fault(context: &RequestContext<RoleServer>) -> Option<Fault> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Fault>())
        .copied()
        .filter(|f| f.is_tool_level())
}

impl ServerHandler for GatewayServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "ccx-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Development MCP gateway of the execution layer")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_definitions()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_definitions().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(spec) = find_tool(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        };
        let args = request.arguments.unwrap_or_default();
        let fault = tool_fault(&context);
        let runner = self.runner.clone();
        // SQLite calls block; keep them off the async workers.
        let outcome = tokio::task::spawn_blocking(move || runner.run(spec, &args, fault))
            .await
            .map_err(|e| ErrorData::internal_error(format!("tool task failed: {e}"), None))?;
        tracing::info!(
            tool = spec.name,
            success = outcome.failure.is_none(),
            ?fault,
            "tools/call"
        );
        Ok(outcome.into_result().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> ToolRunner {
        ToolRunner {
            store: Arc::new(GatewayStore::open(None).unwrap()),
            base_url: Arc::from("http://gw"),
        }
    }

    fn args(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_returns_ref_and_replays_on_same_key() {
        let r = runner();
        let spec = find_tool("crm.create_task").unwrap();
        let a =
            args(json!({"tenant_id":"t","account_id":"a","idempotency_key":"k","title":"Call"}));
        let first = r.run(spec, &a, None).payload();
        let second = r.run(spec, &a, None).payload();
        assert_eq!(first["success"], true);
        assert_eq!(first["external_object_refs"][0]["system"], "crm");
        assert_eq!(first["external_object_refs"][0]["object_type"], "task");
        assert_eq!(
            first["external_object_refs"],
            second["external_object_refs"]
        );
        assert_eq!(second["replayed"], true);
        assert_eq!(r.store.writes_for_key("k").unwrap(), 1);
    }

    #[test]
    fn partial_fault_writes_then_fails_with_the_ref() {
        let r = runner();
        let spec = find_tool("internal.create_note").unwrap();
        let a = args(json!({"tenant_id":"t","account_id":"a","idempotency_key":"k","body":"x"}));
        let out = r.run(spec, &a, Some(Fault::Partial));
        let payload = out.payload();
        assert_eq!(payload["success"], false);
        assert_eq!(payload["error"]["code"], "INJECTED_PARTIAL_FAILURE");
        let id = payload["external_object_refs"][0]["object_id"]
            .as_str()
            .unwrap();
        assert!(r.store.get_object(id).unwrap().is_some());
        let tool_error = r.run(
            spec,
            &args(json!({"tenant_id":"t","account_id":"a","idempotency_key":"k2","body":"x"})),
            Some(Fault::ToolError),
        );
        assert_eq!(tool_error.payload()["external_object_refs"], json!([]));
        assert_eq!(r.store.writes_for_key("k2").unwrap(), 0);
    }

    #[test]
    fn missing_arguments_are_a_validation_failure() {
        let r = runner();
        let spec = find_tool("internal.create_task").unwrap();
        let out = r.run(spec, &args(json!({"title": "x"})), None).payload();
        assert_eq!(out["success"], false);
        assert_eq!(out["error"]["class"], "VALIDATION");
        assert!(
            out["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tenant_id")
        );
    }

    #[test]
    fn delete_checks_system_and_is_idempotent() {
        let r = runner();
        let create = find_tool("internal.create_task").unwrap();
        let created = r
            .run(
                create,
                &args(json!({"tenant_id":"t","account_id":"a","idempotency_key":"k","title":"x"})),
                None,
            )
            .payload();
        let id = created["external_object_refs"][0]["object_id"].clone();
        let wrong = find_tool("crm.delete_task").unwrap();
        let del_args =
            args(json!({"object_id": id, "tenant_id":"t","account_id":"a","idempotency_key":"c"}));
        assert_eq!(
            r.run(wrong, &del_args, None).payload()["error"]["code"],
            "OBJECT_MISMATCH"
        );
        let delete = find_tool("internal.delete_task").unwrap();
        assert_eq!(
            r.run(delete, &del_args, None).payload()["already_deleted"],
            false
        );
        assert_eq!(
            r.run(delete, &del_args, None).payload()["already_deleted"],
            true
        );
        assert!(r.store.live_objects().unwrap().is_empty());
    }
}
