//! IAM policy statements, built from the functions' grants. Every statement names
//! exact resources (table ARNs, index ARNs, an object prefix, one secret, one event
//! bus, one log group); `*` appears only for the actions AWS does not scope to a
//! resource, listed in [`ACTIONS_WITHOUT_RESOURCE_SCOPE`].

use serde_json::{Value, json};

use crate::cfn::{get_att, r#ref, sub};
use crate::functions::{FunctionDef, Grant};
use crate::tables::TableId;

/// Actions whose only valid resource is `*` (AWS documents no resource type for
/// them): X-Ray trace upload and the CloudWatch Logs "vended logs" delivery API
/// that Step Functions logging uses.
pub const ACTIONS_WITHOUT_RESOURCE_SCOPE: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

/// Key pattern of the raw-response artifacts the invoker writes
/// (`<tenant>/toolrun/<trace>/<attempt>/<tool>...`), relative to the bucket ARN.
pub const ARTIFACT_OBJECT_PATTERN: &str = "*/toolrun/*";

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<Value>,
}

impl Statement {
    pub fn new<A: Into<String>>(
        sid: impl Into<String>,
        actions: impl IntoIterator<Item = A>,
        resources: Vec<Value>,
    ) -> Self {
        let mut actions: Vec<String> = actions.into_iter().map(Into::into).collect();
        actions.sort();
        Self {
            sid: sid.into(),
            actions,
            resources,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions,
            "Resource": self.resources,
        })
    }
}

/// The table's ARN, as a template expression.
pub fn table_arn(table: TableId) -> Value {
    get_att(&table.logical_id(), "Arn")
}

/// One index's ARN (`<table arn>/index/<name>`).
pub fn index_arn(table: TableId, index: &str) -> Value {
    sub(&format!("${{{}.Arn}}/index/{index}", table.logical_id()))
}

/// ARN of the stack's event bus (a parameter: the upstream layer's bus).
pub fn event_bus_arn() -> Value {
    sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}")
}

/// The statements of one function's role, grant by grant, then its own log group.
/// (X-Ray is added by the stack builder, only when tracing is on.)
pub fn function_statements(def: &FunctionDef) -> Vec<Statement> {
    let mut out = Vec::new();
    for grant in &def.grants {
        out.push(match grant {
            Grant::Table(table, ops) => Statement::new(
                format!("{}Table", pascal(table.name())),
                dynamodb_actions(ops),
                vec![table_arn(*table)],
            ),
            Grant::TableIndex(table, index, ops) => Statement::new(
                format!("{}{}Index", pascal(table.name()), pascal(index)),
                dynamodb_actions(ops),
                vec![index_arn(*table, index)],
            ),
            Grant::PutArtifacts => Statement::new(
                "PutArtifacts",
                ["s3:PutObject"],
                vec![sub(&format!(
                    "${{ArtifactsBucket.Arn}}/{ARTIFACT_OBJECT_PATTERN}"
                ))],
            ),
            Grant::ReadGatewaySecret => Statement::new(
                "ReadGatewaySecret",
                ["secretsmanager:GetSecretValue"],
                vec![r#ref("GatewaySecretArn")],
            ),
            Grant::PublishEvents => {
                Statement::new("PublishEvents", ["events:PutEvents"], vec![event_bus_arn()])
            }
        });
    }
    out.push(Statement::new(
        "WriteOwnLogs",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![get_att(&def.handler.log_group_logical_id(), "Arn")],
    ));
    out.push(Statement::new(
        "SendToOwnDeadLetterQueue",
        ["sqs:SendMessage"],
        vec![get_att(&def.handler.dlq_logical_id(), "Arn")],
    ));
    out
}

/// X-Ray trace upload (resource `*` is the only form AWS accepts).
pub fn xray_statement() -> Statement {
    Statement::new(
        "XRayTraces",
        [
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        ],
        vec![json!("*")],
    )
}

fn dynamodb_actions(ops: &[&str]) -> Vec<String> {
    ops.iter().map(|op| format!("dynamodb:{op}")).collect()
}

fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::Handler;

    #[test]
    fn table_grants_become_exact_arn_statements() {
        let stmts = function_statements(&Handler::Validator.def());
        let intents = stmts.iter().find(|s| s.sid == "IntentsTable").unwrap();
        assert_eq!(
            intents.actions,
            ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
        );
        assert_eq!(
            intents.resources,
            [json!({"Fn::GetAtt": ["IntentsTable", "Arn"]})]
        );
        assert!(stmts.iter().all(|s| s.resources != [json!("*")]));
    }

    #[test]
    fn index_arn_is_under_the_table() {
        assert_eq!(
            index_arn(TableId::Ledger, "by-intent"),
            json!({"Fn::Sub": "${LedgerTable.Arn}/index/by-intent"})
        );
        assert_eq!(pascal("by-intent"), "ByIntent");
    }
}
