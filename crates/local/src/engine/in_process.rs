//! Running the state machine's tasks in this process: each Lambda resource maps
//! to its handler in `ccx_core::handlers`, called through the same `dispatch`
//! entry point the Lambda binaries use.

use std::collections::HashMap;

use async_trait::async_trait;
use ccx_core::Deps;
use ccx_core::error::LambdaErrorPayload;
use ccx_core::handlers::{self, Handler};
use serde_json::Value;

use super::invoker::{TaskFailure, TaskInvoker};

/// The definition every runtime uses, embedded so `ccx` works outside the repository.
pub const EXECUTION_ASL: &str = include_str!("../../../../statemachine/execution.asl.json");

/// The `DefinitionSubstitutions` names of the seven functions (the infra template
/// uses the same names).
pub const FUNCTION_SUBSTITUTIONS: [(&str, Handler); 7] = [
    ("StarterFunctionArn", Handler::Starter),
    ("ValidatorFunctionArn", Handler::Validator),
    ("ToolMapperFunctionArn", Handler::ToolMapper),
    ("ToolInvokerFunctionArn", Handler::ToolInvoker),
    ("CompensationFunctionArn", Handler::Compensation),
    ("RecorderFunctionArn", Handler::Recorder),
    ("FailureRecorderFunctionArn", Handler::FailureRecorder),
];

/// `arn:aws:lambda:local:000000000000:function:<handler>`.
pub fn local_function_arn(handler: Handler) -> String {
    format!(
        "arn:aws:lambda:local:000000000000:function:{}",
        handler.name()
    )
}

/// The substitutions that point every Task at its local function ARN.
pub fn local_substitutions() -> HashMap<String, String> {
    FUNCTION_SUBSTITUTIONS
        .iter()
        .map(|(name, h)| (name.to_string(), local_function_arn(*h)))
        .collect()
}

/// The function name of a Lambda resource: the part after `:function:` of an
/// ARN (without a version or alias qualifier), or the resource itself.
pub fn function_name(resource: &str) -> &str {
    match resource.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => resource,
    }
}

/// Calls the handlers in process. A handler error becomes what Step Functions
/// reports for a failed Lambda: `Error` = the error name, `Cause` = the Lambda
/// error payload `{"errorType","errorMessage"}` with the structured
/// `{"class","code","message"}` as message.
pub struct InProcessInvoker {
    deps: Deps,
}

impl InProcessInvoker {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    pub fn deps(&self) -> &Deps {
        &self.deps
    }
}

#[async_trait]
impl TaskInvoker for InProcessInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let name = function_name(resource);
        let handler = Handler::from_name(name).ok_or_else(|| {
            TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                Some(format!(
                    "no local handler for resource '{resource}' (function '{name}')"
                )),
            )
        })?;
        // On its own task, so that a handler that panics fails this Task the way
        // a crashed Lambda process does, instead of taking the engine down.
        let deps = self.deps.clone();
        let run = tokio::spawn(async move { handlers::dispatch(handler, &deps, input).await });
        match run.await {
            Ok(result) => result.map_err(|err| {
                TaskFailure::new(err.name, Some(LambdaErrorPayload::cause_of(&err)))
            }),
            Err(join) => Err(crashed(handler, join)),
        }
    }
}

/// What Step Functions reports when a Lambda process exits mid-invocation.
fn crashed(handler: Handler, join: tokio::task::JoinError) -> TaskFailure {
    let reason = if join.is_panic() {
        let panic = join.into_panic();
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        format!("panic: {text}")
    } else {
        "cancelled".to_string()
    };
    let payload = serde_json::json!({
        "errorType": "Runtime.ExitError",
        "errorMessage": format!("{}: Runtime exited with error: {reason}", handler.name()),
    });
    TaskFailure::new("Runtime.ExitError", Some(payload.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_map_to_handler_names() {
        assert_eq!(
            function_name(&local_function_arn(Handler::ToolMapper)),
            "tool-mapper"
        );
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-1:123456789012:function:recorder:live"),
            "recorder"
        );
        assert_eq!(function_name("failure-recorder"), "failure-recorder");
        let subs = local_substitutions();
        assert_eq!(subs.len(), 7);
        assert_eq!(
            subs["FailureRecorderFunctionArn"],
            "arn:aws:lambda:local:000000000000:function:failure-recorder"
        );
    }

    /// An MCP client that panics, to crash the tool-invoker mid-invocation.
    struct PanickingMcp;

    #[async_trait]
    impl ccx_core::ports::McpClient for PanickingMcp {
        async fn call_tool(
            &self,
            _name: &str,
            _arguments: &Value,
        ) -> ccx_core::error::Result<ccx_core::ports::ToolCallResponse> {
            panic!("adapter bug");
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_the_task_like_a_crashed_lambda() {
        use ccx_core::handlers::testkit::Harness;
        let h = Harness::seeded().await;
        let mut deps = h.deps();
        deps.mcp = std::sync::Arc::new(PanickingMcp);
        let invoker = InProcessInvoker::new(deps);
        let input = serde_json::json!({
            "action_intent_id": "ai1", "tenant_id": "t1", "account_id": "a1",
            "trace_id": "trace-1", "attempt_count": 1, "idempotency_key": "k-1",
            "tool_name": "crm.create_task", "tool_arguments": {"title": "x"}
        });
        let failure = invoker
            .invoke(&local_function_arn(Handler::ToolInvoker), input)
            .await
            .unwrap_err();
        assert_eq!(failure.error, "Runtime.ExitError");
        let payload: Value = serde_json::from_str(failure.cause.as_deref().unwrap()).unwrap();
        assert_eq!(payload["errorType"], "Runtime.ExitError");
        assert!(
            payload["errorMessage"]
                .as_str()
                .unwrap()
                .contains("panic: adapter bug"),
            "{payload}"
        );
        // A handler error keeps its name and the Lambda error payload as cause.
        let failure = invoker
            .invoke(
                &local_function_arn(Handler::Validator),
                serde_json::json!({"bad": 1}),
            )
            .await
            .unwrap_err();
        assert_eq!(failure.error, "ValidationError");
        let payload: Value = serde_json::from_str(failure.cause.as_deref().unwrap()).unwrap();
        assert_eq!(payload["errorType"], "ValidationError");
        let cause: ccx_core::error::ErrorCause =
            serde_json::from_str(payload["errorMessage"].as_str().unwrap()).unwrap();
        assert_eq!(cause.code, "INVALID_HANDLER_INPUT");
    }

    #[test]
    fn the_embedded_definition_loads_with_the_local_substitutions() {
        let text =
            super::super::definition::substitute(EXECUTION_ASL, &local_substitutions()).unwrap();
        let machine = super::super::definition::StateMachine::parse(&text).unwrap();
        assert_eq!(machine.start_at, "StartExecution");
        for (_, h) in FUNCTION_SUBSTITUTIONS {
            assert!(
                text.contains(&local_function_arn(h)),
                "{h} is not referenced"
            );
        }
    }
}
