//! The seven Lambda functions: sizing, and what each one touches. The grants are
//! the single source of both the IAM policy and the environment of a function, so
//! a function can never be told about a table it may not read, nor be allowed a
//! table it is not told about.

use serde::Serialize;

use crate::tables::TableId;

/// One handler binary (crate `crates/<name>`, zip `target/lambda/<name>/bootstrap.zip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handler {
    Starter,
    Validator,
    ToolMapper,
    ToolInvoker,
    Compensation,
    Recorder,
    FailureRecorder,
}

impl Handler {
    pub const ALL: [Handler; 7] = [
        Handler::Starter,
        Handler::Validator,
        Handler::ToolMapper,
        Handler::ToolInvoker,
        Handler::Compensation,
        Handler::Recorder,
        Handler::FailureRecorder,
    ];

    /// The crate / binary name, also the suffix of the function name.
    pub fn name(self) -> &'static str {
        match self {
            Handler::Starter => "starter",
            Handler::Validator => "validator",
            Handler::ToolMapper => "tool-mapper",
            Handler::ToolInvoker => "tool-invoker",
            Handler::Compensation => "compensation",
            Handler::Recorder => "recorder",
            Handler::FailureRecorder => "failure-recorder",
        }
    }

    /// PascalCase stem of logical ids and of the ASL substitution variable.
    pub fn pascal(self) -> &'static str {
        match self {
            Handler::Starter => "Starter",
            Handler::Validator => "Validator",
            Handler::ToolMapper => "ToolMapper",
            Handler::ToolInvoker => "ToolInvoker",
            Handler::Compensation => "Compensation",
            Handler::Recorder => "Recorder",
            Handler::FailureRecorder => "FailureRecorder",
        }
    }

    /// `${...}` variable the state machine definition uses for this function's ARN.
    pub fn asl_substitution(self) -> String {
        format!("{}FunctionArn", self.pascal())
    }

    pub fn function_logical_id(self) -> String {
        format!("{}Function", self.pascal())
    }
    pub fn role_logical_id(self) -> String {
        format!("{}Role", self.pascal())
    }
    pub fn dlq_logical_id(self) -> String {
        format!("{}DeadLetterQueue", self.pascal())
    }
    pub fn dlq_alarm_logical_id(self) -> String {
        format!("{}DeadLetterAlarm", self.pascal())
    }
    pub fn log_group_logical_id(self) -> String {
        format!("{}LogGroup", self.pascal())
    }

    /// Where `make build` (cargo-lambda) leaves the zip, relative to the repository.
    pub fn zip_path(self) -> String {
        format!("target/lambda/{}/bootstrap.zip", self.name())
    }

    pub fn def(self) -> FunctionDef {
        functions()
            .into_iter()
            .find(|f| f.handler == self)
            .expect("every Handler has a definition")
    }
}

/// Something a function is allowed to do, at the finest grain IAM offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Grant {
    /// DynamoDB operations (without the `dynamodb:` prefix) on one table.
    /// A transaction (`TransactWriteItems`) is authorised per item by the item
    /// operations (`PutItem`, `UpdateItem`, `ConditionCheckItem`), which is why
    /// the recorders list those.
    Table(TableId, &'static [&'static str]),
    /// DynamoDB operations on one global secondary index of a table.
    TableIndex(TableId, &'static str, &'static [&'static str]),
    /// `s3:PutObject` under [`crate::ARTIFACT_OBJECT_PATTERN`] of the artifacts bucket.
    PutArtifacts,
    /// `secretsmanager:GetSecretValue` on the gateway client secret (stack parameter).
    ReadGatewaySecret,
    /// `events:PutEvents` on the stack's event bus.
    PublishEvents,
}

/// A function as deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionDef {
    pub handler: Handler,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub description: &'static str,
    pub grants: Vec<Grant>,
}

/// Every function of the stack, in pipeline order.
pub fn functions() -> Vec<FunctionDef> {
    use Grant::*;
    use TableId::*;
    vec![
        FunctionDef {
            handler: Handler::Starter,
            memory_mb: 256,
            timeout_seconds: 15,
            description: "Takes the execution lock, mints the trace and the idempotency key",
            grants: vec![
                // The intent and its attempt are read in one BatchGetItem.
                Table(Intents, &["BatchGetItem", "GetItem"]),
                Table(Registry, &["GetItem", "Query"]),
                Table(
                    Attempts,
                    &["BatchGetItem", "GetItem", "PutItem", "UpdateItem"],
                ),
                // A duplicate start of a terminal intent reads its outcome.
                Table(Outcomes, &["GetItem"]),
                Table(Ledger, &["PutItem"]),
                PublishEvents,
            ],
        },
        FunctionDef {
            handler: Handler::Validator,
            memory_mb: 256,
            timeout_seconds: 15,
            description: "Preflight: intent exists, not expired, kill switches off",
            // The intent and both kill switches are read in one BatchGetItem.
            grants: vec![
                Table(Intents, &["BatchGetItem", "GetItem"]),
                Table(Tenants, &["BatchGetItem", "GetItem"]),
            ],
        },
        FunctionDef {
            handler: Handler::ToolMapper,
            memory_mb: 256,
            timeout_seconds: 15,
            description: "Maps the action type to a tool and arguments from the versioned registry",
            // The intent and the pinned registry version in one BatchGetItem.
            grants: vec![
                Table(Intents, &["BatchGetItem", "GetItem"]),
                Table(Registry, &["BatchGetItem", "GetItem"]),
            ],
        },
        FunctionDef {
            handler: Handler::ToolInvoker,
            memory_mb: 512,
            // Well above CCX_MCP_TIMEOUT_MS plus a token fetch, so the HTTP timeout
            // fires (and is classified) before Lambda kills the invocation; and under
            // the InvokeTool state's TimeoutSeconds, so Lambda's own timeout is what
            // the state machine sees.
            timeout_seconds: 50,
            description: "Calls the tool on the MCP gateway, deduplicating external writes",
            grants: vec![
                Table(Dedupe, &["GetItem", "PutItem"]),
                PutArtifacts,
                ReadGatewaySecret,
            ],
        },
        FunctionDef {
            handler: Handler::Compensation,
            memory_mb: 512,
            timeout_seconds: 60,
            description: "Calls the registry's compensation tool for each external object",
            grants: vec![Table(Ledger, &["PutItem"]), ReadGatewaySecret],
        },
        FunctionDef {
            handler: Handler::Recorder,
            memory_mb: 256,
            timeout_seconds: 15,
            description: "Writes outcome, attempt status and ledger in one transaction",
            grants: recorder_grants(),
        },
        FunctionDef {
            handler: Handler::FailureRecorder,
            memory_mb: 256,
            timeout_seconds: 15,
            description: "Records failures caught before or at the tool call",
            grants: recorder_grants(),
        },
    ]
}

/// Both recorders write the same three tables in one `TransactWriteItems`.
fn recorder_grants() -> Vec<Grant> {
    const TX: &[&str] = &["ConditionCheckItem", "GetItem", "PutItem", "UpdateItem"];
    vec![
        Grant::Table(TableId::Attempts, TX),
        Grant::Table(TableId::Outcomes, TX),
        Grant::Table(TableId::Ledger, TX),
        Grant::PublishEvents,
    ]
}

/// Environment variables of the MCP gateway client, in the order they are set.
pub const GATEWAY_ENV: [&str; 7] = [
    "CCX_GATEWAY_URL",
    "CCX_GATEWAY_TOKEN_URL",
    "CCX_GATEWAY_CLIENT_ID",
    "CCX_GATEWAY_CLIENT_SECRET_ARN",
    "CCX_GATEWAY_SCOPE",
    "CCX_MCP_PROTOCOL_VERSION",
    "CCX_MCP_TIMEOUT_MS",
];

impl FunctionDef {
    /// The tables this function touches, each once.
    pub fn tables(&self) -> Vec<TableId> {
        let mut out: Vec<TableId> = self
            .grants
            .iter()
            .filter_map(|g| match g {
                Grant::Table(t, _) | Grant::TableIndex(t, _, _) => Some(*t),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn calls_gateway(&self) -> bool {
        self.grants.contains(&Grant::ReadGatewaySecret)
    }

    /// The names of the environment variables this function gets (values are
    /// resolved by the stack builder). Derived from the grants.
    pub fn env_var_names(&self) -> Vec<&'static str> {
        let mut names = vec!["CCX_BACKEND"];
        names.extend(self.tables().into_iter().map(TableId::env_var));
        if self.grants.contains(&Grant::PutArtifacts) {
            names.push("CCX_ARTIFACTS_BUCKET");
        }
        if self.grants.contains(&Grant::PublishEvents) {
            names.push("CCX_EVENT_BUS_NAME");
        }
        if self.calls_gateway() {
            names.extend(GATEWAY_ENV);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_follows_grants() {
        let invoker = Handler::ToolInvoker.def();
        let env = invoker.env_var_names();
        assert!(env.contains(&"CCX_TABLE_DEDUPE"));
        assert!(env.contains(&"CCX_ARTIFACTS_BUCKET"));
        assert!(env.contains(&"CCX_GATEWAY_CLIENT_SECRET_ARN"));
        assert!(!env.contains(&"CCX_TABLE_INTENTS"));
        assert!(!env.contains(&"CCX_EVENT_BUS_NAME"));

        let validator = Handler::Validator.def();
        assert_eq!(
            validator.env_var_names(),
            ["CCX_BACKEND", "CCX_TABLE_INTENTS", "CCX_TABLE_TENANTS"]
        );
    }

    #[test]
    fn names_match_the_binary_crates() {
        let names: Vec<&str> = Handler::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(
            names,
            [
                "starter",
                "validator",
                "tool-mapper",
                "tool-invoker",
                "compensation",
                "recorder",
                "failure-recorder"
            ]
        );
        assert_eq!(
            Handler::ToolMapper.asl_substitution(),
            "ToolMapperFunctionArn"
        );
        assert_eq!(functions().len(), 7);
    }
}
