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
        handlers::dispatch(handler, &self.deps, input)
            .await
            .map_err(|err| TaskFailure::new(err.name, Some(LambdaErrorPayload::cause_of(&err))))
    }
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
