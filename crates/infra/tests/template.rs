//! Assertions on the synthesised template, CDK-assertions style. The expectations
//! here are written out independently of the model (the permission table below is
//! the list of store operations each handler performs), so a change to the model
//! that widens a permission fails a test instead of silently passing.

use std::collections::{BTreeMap, BTreeSet};

use ccx_infra::assertions::{Template, as_list, object_like};
use ccx_infra::iam::ACTIONS_WITHOUT_RESOURCE_SCOPE;
use ccx_infra::stack::ids;
use ccx_infra::{Handler, StackOptions, SynthError, TableId, event_rule, paths, synth};
use serde_json::{Value, json};

fn definition() -> Value {
    let path = ccx_infra::workspace_root().join(paths::DEFINITION);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn template() -> Template {
    Template::from_json(synth(&definition(), &StackOptions::default()).unwrap())
}

/// A resource reference in a policy, rendered as a short readable name:
/// `table:intents`, `index:ledger/by-intent`, `secret`, `bus`, `log:own`, ...
fn describe_resource(handler: Option<Handler>, r: &Value) -> String {
    if r == "*" {
        return "*".into();
    }
    if r == &json!({"Ref": "GatewaySecretArn"}) {
        return "secret".into();
    }
    if let Some(att) = r.get("Fn::GetAtt") {
        let id = att[0].as_str().unwrap();
        if let Some(t) = TableId::ALL.iter().find(|t| t.logical_id() == id) {
            return format!("table:{}", t.name());
        }
        if let Some(h) = handler {
            if id == h.log_group_logical_id() {
                return "log:own".into();
            }
            if id == h.dlq_logical_id() {
                return "dlq:own".into();
            }
        }
        return format!("getatt:{id}");
    }
    if let Some(s) = r.get("Fn::Sub").and_then(Value::as_str) {
        if s.ends_with(":event-bus/${EventBusName}") {
            return "bus".into();
        }
        if let Some(rest) = s.strip_prefix("${ArtifactsBucket.Arn}/") {
            return format!("artifacts:{rest}");
        }
        for t in TableId::ALL {
            if let Some(ix) = s.strip_prefix(&format!("${{{}.Arn}}/index/", t.logical_id())) {
                return format!("index:{}/{ix}", t.name());
            }
        }
        return format!("sub:{s}");
    }
    panic!("unexpected resource expression {r}")
}

/// (action, resource) pairs granted to a role.
fn grants_of(t: &Template, role: &str, handler: Option<Handler>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for st in t.allow_statements(role) {
        for a in as_list(&st["Action"]) {
            for r in as_list(&st["Resource"]) {
                out.insert((
                    a.as_str().unwrap().to_string(),
                    describe_resource(handler, r),
                ));
            }
        }
    }
    out
}

/// What each handler does to the stores (the brief's list), as IAM grants.
fn expected_grants(h: Handler) -> BTreeSet<(String, String)> {
    let ddb = |ops: &[&str], table: &str| -> Vec<(String, String)> {
        ops.iter()
            .map(|op| (format!("dynamodb:{op}"), format!("table:{table}")))
            .collect()
    };
    let tx = ["ConditionCheckItem", "GetItem", "PutItem", "UpdateItem"];
    let mut v: Vec<(String, String)> = match h {
        Handler::Starter => [
            ddb(&["BatchGetItem", "GetItem"], "intents"),
            ddb(&["Query", "GetItem"], "registry"),
            ddb(
                &["BatchGetItem", "GetItem", "PutItem", "UpdateItem"],
                "attempts",
            ),
            ddb(&["GetItem"], "outcomes"),
            ddb(&["PutItem"], "ledger"),
            vec![("events:PutEvents".into(), "bus".into())],
        ]
        .concat(),
        Handler::Validator => [
            ddb(&["BatchGetItem", "GetItem"], "intents"),
            ddb(&["BatchGetItem", "GetItem"], "tenants"),
        ]
        .concat(),
        Handler::ToolMapper => [
            ddb(&["BatchGetItem", "GetItem"], "intents"),
            ddb(&["BatchGetItem", "GetItem"], "registry"),
        ]
        .concat(),
        Handler::ToolInvoker => [
            ddb(&["GetItem", "PutItem"], "dedupe"),
            vec![
                ("s3:PutObject".into(), "artifacts:*/toolrun/*".into()),
                ("secretsmanager:GetSecretValue".into(), "secret".into()),
            ],
        ]
        .concat(),
        Handler::Compensation => [
            ddb(&["PutItem"], "ledger"),
            vec![("secretsmanager:GetSecretValue".into(), "secret".into())],
        ]
        .concat(),
        Handler::Recorder | Handler::FailureRecorder => [
            ddb(&tx, "attempts"),
            ddb(&tx, "outcomes"),
            ddb(&tx, "ledger"),
            vec![("events:PutEvents".into(), "bus".into())],
        ]
        .concat(),
    };
    // Every function: its own logs and dead-letter queue, X-Ray when tracing is on.
    for a in ["logs:CreateLogStream", "logs:PutLogEvents"] {
        v.push((a.into(), "log:own".into()));
    }
    v.push(("sqs:SendMessage".into(), "dlq:own".into()));
    for a in [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ] {
        v.push((a.into(), "*".into()));
    }
    v.into_iter().collect()
}

#[test]
fn checked_in_files_are_up_to_date() {
    let root = ccx_infra::workspace_root();
    let rendered = ccx_infra::render(&root, &StackOptions::default()).unwrap();
    let on_disk = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_default();
    assert!(
        on_disk(paths::TEMPLATE) == rendered.template,
        "{} is out of date: run `make synth` and commit it",
        paths::TEMPLATE
    );
    assert!(
        on_disk(paths::EVENT_RULE) == rendered.event_rule,
        "{} is out of date: run `make synth` and commit it",
        paths::EVENT_RULE
    );
}

#[test]
fn seven_arm64_functions_built_by_cargo_lambda() {
    let t = template();
    t.resource_count_is("AWS::Lambda::Function", 7);
    for h in Handler::ALL {
        let f = &t.resource(&h.function_logical_id())["Properties"];
        assert!(
            object_like(
                &json!({
                    "Runtime": "provided.al2023",
                    "Architectures": ["arm64"],
                    "Handler": "bootstrap",
                    "Code": format!("../target/lambda/{}/bootstrap.zip", h.name()),
                    "FunctionName": {"Fn::Sub": format!("${{ResourcePrefix}}-{}", h.name())},
                    "Role": {"Fn::GetAtt": [h.role_logical_id(), "Arn"]},
                    "ReservedConcurrentExecutions":
                        {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]},
                }),
                f
            ),
            "{h:?}: {f:#}"
        );
        assert!(f["MemorySize"].as_u64().unwrap() >= 128);
        assert!((1..=900).contains(&f["Timeout"].as_u64().unwrap()));
    }
}

#[test]
fn every_function_has_its_own_dead_letter_queue_with_an_alarm() {
    let t = template();
    let mut queues = BTreeSet::new();
    for (id, f) in t.find_resources("AWS::Lambda::Function") {
        let target = &f["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"];
        let queue_id = target[0]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no DLQ"));
        assert_eq!(target[1], "Arn");
        assert_eq!(t.resource(queue_id)["Type"], "AWS::SQS::Queue", "{id}");
        assert!(queues.insert(queue_id.to_string()), "{queue_id} shared");
        t.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            &json!({
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            }),
        );
    }
    assert_eq!(queues.len(), 7);
}

#[test]
fn no_wildcard_action_and_no_wildcard_resource_where_a_specific_one_exists() {
    let t = template();
    for (role_id, _) in t.find_resources("AWS::IAM::Role") {
        for st in t.allow_statements(role_id) {
            let actions: Vec<&str> = as_list(&st["Action"])
                .into_iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            for a in &actions {
                assert!(!a.contains('*'), "{role_id}: wildcard action {a}");
            }
            let resources = as_list(&st["Resource"]);
            assert!(
                !resources.is_empty(),
                "{role_id}: statement without resource"
            );
            for r in resources {
                let text = r.to_string();
                if r == "*" {
                    for a in &actions {
                        assert!(
                            ACTIONS_WITHOUT_RESOURCE_SCOPE.contains(a),
                            "{role_id}: {a} on * although AWS scopes it to a resource"
                        );
                    }
                } else {
                    // No ARN ending in a bare `*` service-wide (`table/*`, `:*:*`...).
                    assert!(!text.contains("table/*"), "{role_id}: {text}");
                    assert!(!text.contains("secret:*"), "{role_id}: {text}");
                }
            }
        }
    }
}

#[test]
fn each_handler_is_granted_exactly_the_store_operations_it_performs() {
    let t = template();
    for h in Handler::ALL {
        let granted = grants_of(&t, &h.role_logical_id(), Some(h));
        let expected = expected_grants(h);
        let extra: Vec<_> = granted.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{}: extra {extra:?}, missing {missing:?}",
            h.name()
        );
    }
}

#[test]
fn each_function_is_told_only_about_what_it_may_use() {
    let t = template();
    let gateway = [
        "CCX_GATEWAY_URL",
        "CCX_GATEWAY_TOKEN_URL",
        "CCX_GATEWAY_CLIENT_ID",
        "CCX_GATEWAY_CLIENT_SECRET_ARN",
        "CCX_GATEWAY_SCOPE",
        "CCX_MCP_PROTOCOL_VERSION",
        "CCX_MCP_TIMEOUT_MS",
    ];
    let expected: BTreeMap<Handler, Vec<&str>> = [
        (
            Handler::Starter,
            vec![
                "CCX_TABLE_INTENTS",
                "CCX_TABLE_REGISTRY",
                "CCX_TABLE_ATTEMPTS",
                "CCX_TABLE_OUTCOMES",
                "CCX_TABLE_LEDGER",
                "CCX_EVENT_BUS_NAME",
            ],
        ),
        (
            Handler::Validator,
            vec!["CCX_TABLE_INTENTS", "CCX_TABLE_TENANTS"],
        ),
        (
            Handler::ToolMapper,
            vec!["CCX_TABLE_INTENTS", "CCX_TABLE_REGISTRY"],
        ),
        (
            Handler::ToolInvoker,
            [
                vec!["CCX_TABLE_DEDUPE", "CCX_ARTIFACTS_BUCKET"],
                gateway.to_vec(),
            ]
            .concat(),
        ),
        (
            Handler::Compensation,
            [vec!["CCX_TABLE_LEDGER"], gateway.to_vec()].concat(),
        ),
        (
            Handler::Recorder,
            vec![
                "CCX_TABLE_ATTEMPTS",
                "CCX_TABLE_OUTCOMES",
                "CCX_TABLE_LEDGER",
                "CCX_EVENT_BUS_NAME",
            ],
        ),
        (
            Handler::FailureRecorder,
            vec![
                "CCX_TABLE_ATTEMPTS",
                "CCX_TABLE_OUTCOMES",
                "CCX_TABLE_LEDGER",
                "CCX_EVENT_BUS_NAME",
            ],
        ),
    ]
    .into_iter()
    .collect();
    for h in Handler::ALL {
        let vars = t.resource(&h.function_logical_id())["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap();
        let got: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let mut want: BTreeSet<&str> = expected[&h].iter().copied().collect();
        want.insert("CCX_BACKEND");
        assert_eq!(got, want, "{}", h.name());
        assert_eq!(vars["CCX_BACKEND"], "aws");
        for t_id in TableId::ALL {
            if let Some(v) = vars.get(t_id.env_var()) {
                assert_eq!(v, &json!({"Ref": t_id.logical_id()}), "{}", h.name());
            }
        }
    }
}

#[test]
fn tables_have_keys_ttl_gsi_pitr_and_encryption() {
    let t = template();
    t.resource_count_is("AWS::DynamoDB::Table", 7);
    for id in TableId::ALL {
        let r = t.resource(&id.logical_id());
        assert_eq!(r["DeletionPolicy"], "Retain");
        assert!(object_like(
            &json!({
                "TableName": {"Fn::Sub": format!("${{ResourcePrefix}}-{}", id.name())},
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
                "SSESpecification": {"SSEEnabled": true},
            }),
            &r["Properties"]
        ));
    }
    let ttl =
        |id: TableId| t.resource(&id.logical_id())["Properties"]["TimeToLiveSpecification"].clone();
    assert_eq!(
        ttl(TableId::Attempts),
        json!({"AttributeName": "lock_expires_at", "Enabled": true})
    );
    assert_eq!(
        ttl(TableId::Dedupe),
        json!({"AttributeName": "expires_at", "Enabled": true})
    );
    assert_eq!(ttl(TableId::Outcomes), Value::Null);
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        &json!({"GlobalSecondaryIndexes": [{
            "IndexName": "by-intent",
            "KeySchema": [
                {"AttributeName": "action_intent_id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"}
            ],
        }]}),
    );
}

#[test]
fn artifacts_bucket_is_versioned_encrypted_private_and_expires() {
    let t = template();
    t.resource_count_is("AWS::S3::Bucket", 1);
    t.has_resource_properties(
        "AWS::S3::Bucket",
        &json!({
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true, "BlockPublicPolicy": true,
                "IgnorePublicAcls": true, "RestrictPublicBuckets": true
            },
        }),
    );
    let rules = &t.resource(ids::ARTIFACTS_BUCKET)["Properties"]["LifecycleConfiguration"]["Rules"];
    assert_eq!(rules[0]["Status"], "Enabled");
    assert!(rules[0]["ExpirationInDays"].as_u64().unwrap() > 0);
    assert!(
        rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn state_machine_substitutes_every_function_arn_and_has_a_timeout() {
    let t = template();
    let sm = &t.resource(ids::STATE_MACHINE)["Properties"];
    let subs = sm["DefinitionSubstitutions"].as_object().unwrap();
    assert_eq!(subs.len(), 7);
    for h in Handler::ALL {
        assert_eq!(
            subs[&h.asl_substitution()],
            json!({"Fn::GetAtt": [h.function_logical_id(), "Arn"]})
        );
    }
    // Every variable the definition uses is substituted (else the deploy fails).
    for var in ccx_infra::stack::substitution_variables(&sm["Definition"]) {
        assert!(subs.contains_key(&var), "unsubstituted ${{{var}}}");
    }
    assert_eq!(sm["Definition"]["StartAt"], definition()["StartAt"]);
    assert_eq!(sm["Definition"]["States"], definition()["States"]);
    assert!(sm["Definition"]["TimeoutSeconds"].as_u64().unwrap() > 0);
    assert!(object_like(
        &json!({
            "LoggingConfiguration": {
                "Level": {"Ref": "StateMachineLogLevel"},
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [ids::STATE_MACHINE_LOG_GROUP, "Arn"]}}}],
            },
            "TracingConfiguration": {"Enabled": {"Fn::If": ["TracingOn", true, false]}},
        }),
        sm
    ));
    // The state machine may invoke the seven functions and nothing else.
    let invoke: BTreeSet<String> = grants_of(&t, ids::STATE_MACHINE_ROLE, None)
        .into_iter()
        .filter(|(a, _)| a == "lambda:InvokeFunction")
        .map(|(_, r)| r)
        .collect();
    let mut want = BTreeSet::new();
    for h in Handler::ALL {
        want.insert(format!("getatt:{}", h.function_logical_id()));
        want.insert(format!("sub:${{{}.Arn}}:*", h.function_logical_id()));
    }
    assert_eq!(invoke, want);
}

#[test]
fn lambda_timeouts_fit_inside_task_timeouts_and_http_timeout_inside_lambda() {
    let t = template();
    let def = definition();
    for (name, state) in def["States"].as_object().unwrap() {
        let (Some(task_timeout), Some(resource)) =
            (state["TimeoutSeconds"].as_u64(), state["Resource"].as_str())
        else {
            continue;
        };
        let h = Handler::ALL
            .into_iter()
            .find(|h| resource == format!("${{{}}}", h.asl_substitution()))
            .unwrap();
        let fn_timeout = t.resource(&h.function_logical_id())["Properties"]["Timeout"]
            .as_u64()
            .unwrap();
        assert!(
            fn_timeout < task_timeout,
            "{name}: Lambda {fn_timeout}s >= state {task_timeout}s"
        );
    }
    let max_http_ms = t.json()["Parameters"]["McpTimeoutMs"]["MaxValue"]
        .as_u64()
        .unwrap();
    for h in [Handler::ToolInvoker, Handler::Compensation] {
        let fn_timeout = t.resource(&h.function_logical_id())["Properties"]["Timeout"]
            .as_u64()
            .unwrap();
        assert!(max_http_ms * 2 <= fn_timeout * 1000, "{}", h.name());
    }
}

#[test]
fn approved_rule_starts_the_state_machine_with_the_shared_transformer() {
    let t = template();
    let rule_def = event_rule();
    let rule = &t.resource(ids::RULE)["Properties"];
    assert_eq!(
        rule["EventPattern"],
        json!({"source": ["cc-native"], "detail-type": ["ACTION_APPROVED"]})
    );
    let target = &rule["Targets"][0];
    assert_eq!(target["Arn"], json!({"Ref": ids::STATE_MACHINE}));
    assert_eq!(
        target["RoleArn"],
        json!({"Fn::GetAtt": [ids::RULE_ROLE, "Arn"]})
    );
    assert_eq!(target["InputTransformer"], rule_def.input_transformer());
    assert_eq!(
        target["InputTransformer"]["InputPathsMap"],
        json!({
            "action_intent_id": "$.detail.data.action_intent_id",
            "tenant_id": "$.detail.data.tenant_id",
            "account_id": "$.detail.data.account_id"
        })
    );
    // Its role may start this state machine and do nothing else.
    assert_rule_role_only_starts_the_state_machine(&t);
    // The file the local engine reads holds the same rule.
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(ccx_infra::workspace_root().join(paths::EVENT_RULE)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_value::<ccx_infra::EventRuleDef>(on_disk).unwrap(),
        rule_def
    );
}

fn assert_rule_role_only_starts_the_state_machine(t: &Template) {
    let statements = t.allow_statements(ids::RULE_ROLE);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], json!(["states:StartExecution"]));
    assert_eq!(
        statements[0]["Resource"],
        json!([{"Ref": ids::STATE_MACHINE}])
    );
}

#[test]
fn execution_failures_and_timeouts_alarm() {
    let t = template();
    for metric in ["ExecutionsFailed", "ExecutionsTimedOut"] {
        t.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            &json!({
                "Namespace": "AWS/States",
                "MetricName": metric,
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": ids::STATE_MACHINE}}],
                "Threshold": 1,
            }),
        );
    }
    // One per function DLQ, one for the rule's DLQ, two for executions.
    t.resource_count_is("AWS::CloudWatch::Alarm", 7 + 1 + 2);
}

#[test]
fn deploy_time_parameters_have_the_documented_defaults() {
    let t = template();
    let p = &t.json()["Parameters"];
    assert_eq!(p["ResourcePrefix"]["Default"], "cc-native");
    for name in [
        "GatewayUrl",
        "GatewayTokenUrl",
        "GatewaySecretArn",
        "GatewayClientId",
    ] {
        assert_eq!(p[name]["Type"], "String", "{name}");
        assert!(
            p[name].get("Default").is_none(),
            "{name} must be given at deploy time"
        );
    }
    let outputs = t.json()["Outputs"].as_object().unwrap();
    assert!(outputs.contains_key("StateMachineArn"));
    assert!(outputs.contains_key("ArtifactsBucketName"));
    assert!(outputs.contains_key("LedgerTableName"));
}

#[test]
fn a_definition_with_an_unknown_substitution_is_refused() {
    let mut def = definition();
    def["States"]["StartExecution"]["Resource"] = json!("${NoSuchFunctionArn}");
    assert_eq!(
        synth(&def, &StackOptions::default()).unwrap_err(),
        SynthError::UnknownSubstitution("NoSuchFunctionArn".into())
    );
    let err = synth(&json!({"StartAt": "A"}), &StackOptions::default()).unwrap_err();
    assert_eq!(err, SynthError::InvalidDefinition("no States".into()));
}

#[test]
fn a_definition_timeout_wins_over_the_default() {
    let mut def = definition();
    def["TimeoutSeconds"] = json!(120);
    let t = Template::from_json(synth(&def, &StackOptions::default()).unwrap());
    assert_eq!(
        t.resource(ids::STATE_MACHINE)["Properties"]["Definition"]["TimeoutSeconds"],
        120
    );
}
