//! The whole state machine on moto's Step Functions interpreter (LocalStack's
//! engine) against the same machine in the local engine, both driving the
//! compiled handler binaries over DynamoDB, S3 and EventBridge on moto, and the
//! development MCP gateway: a differential test of the two interpreters.
//!
//! Two worlds, identical except for the interpreter:
//! - `sfn`: `statemachine/execution.asl.json` created on moto
//!   (`CreateStateMachine`, the function ARNs substituted), executed by moto
//!   with `execute_state_machine` on. moto calls Lambda's Invoke API on
//!   `MOTO_PORT`, which is the Lambda router (`ccx_tests::lambda_router`): it
//!   hands each payload to the handler binary (`CCX_BACKEND=aws`) and forwards
//!   everything else to moto. This test also talks to moto's Step Functions
//!   through the router, so the forwarding is exercised.
//! - `local`: the same definition in `ccx_local::engine::Engine`, whose tasks
//!   run on a second set of the same binaries (`RuntimeApiInvoker`).
//!
//! Each world has its own tables, bucket, bus, gateway secret (Secrets Manager)
//! and gateway, and the same tenants, registry and intents, so the idempotency
//! keys are equal too. Every scenario runs in both and must give the same state
//! path (moto: `StateEntered` events of `GetExecutionHistory`), the same task
//! errors with their causes in order (retries included), the same status,
//! error and cause, the same final output, and the same stored outcome and
//! attempt. Only the values minted per run are masked before comparing (trace
//! ids, timestamps, object ids and the address of each world's gateway,
//! durations): see `Masks` in `tests/sfn/ending.rs`, which also says where moto
//! differs from Step Functions (error causes re-serialised). The moto side
//! (server, API calls, reading the history) is `ccx_tests::moto`
//! (`tests/src/moto.rs`, shared with `workflow_moto.rs`).
//!
//! Ignored in a plain `cargo test` (it needs moto_server and takes a minute:
//! moto's interpreter really waits out the Retry intervals). `make test-sfn`
//! builds the binaries and runs it with `CCX_REQUIRE_MOTO=1`.

#[path = "../sfn/ending.rs"]
mod ending;

use ccx_tests::binaries::{handler_binaries, workspace_root};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccx_aws::bootstrap::infra_handler;
use ccx_aws::config::{ENV_ARTIFACTS_BUCKET, ENV_EVENT_BUS_NAME, required_by};
use ccx_aws::provision::create_stack_resources;
use ccx_aws::{AwsClients, DynamoStore};
use ccx_core::contracts::{
    ActionIntentV1, AttemptStatus, CompensationStatus, OutcomeStatus, TenantConfig,
};
use ccx_core::fixtures;
use ccx_core::handlers::Handler;
use ccx_core::ports::Store;
use ccx_gateway::{Fault, Gateway, GatewayOptions, RunningGateway};
use ccx_local::engine::{
    Engine, EngineOptions, LambdaFunction, RuntimeApiInvoker, Sleeper, TaskInvoker,
};
use ccx_mcp::config::{ENV_CLIENT_ID, ENV_CLIENT_SECRET_ARN, ENV_GATEWAY_URL, ENV_TOKEN_URL};
use ccx_tests::lambda_router::LambdaRouter;
use ccx_tests::moto::{self, Moto, StepFunctions};
use chrono::Utc;
use ending::{Masks, local_ending, moto_ending};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "123456789012";
const MACHINE: &str = "ccx-execution";
const TENANT: &str = "t-sfn";
/// A tenant whose kill switch is on: the validator refuses its intents.
const TENANT_OFF: &str = "t-sfn-off";
const ACCOUNT: &str = "a-sfn";

fn definition() -> String {
    std::fs::read_to_string(workspace_root().join("statemachine/execution.asl.json"))
        .expect("statemachine/execution.asl.json is readable")
}

fn machine_arn() -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{MACHINE}")
}

// ------------------------------------------------------------------ worlds

struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: Duration) {}
}

/// One engine's resources on moto, its gateway and its seven binaries.
struct World {
    name: &'static str,
    store: DynamoStore,
    gateway: RunningGateway,
    functions: Arc<RuntimeApiInvoker>,
}

impl World {
    /// Tables, bucket and bus under `ccx-sfn-<name>-<pid>`; the gateway secret
    /// in Secrets Manager; the registry and both tenants; the binaries, named
    /// `<name>-<handler>`, with the environment the stack gives each function.
    async fn start(
        name: &'static str,
        clients: &AwsClients,
        moto_url: &str,
        bins: &Path,
        logs: &Path,
    ) -> World {
        let prefix = format!("ccx-sfn-{name}-{}", std::process::id());
        let (tables, bucket, bus) = create_stack_resources(clients, &prefix)
            .await
            .expect("create the stack's tables, bucket and bus on moto");
        let store = DynamoStore::new(clients.dynamodb.clone(), tables.clone());
        store
            .put_registry_entry(&fixtures::crm_task_registry_entry())
            .await
            .unwrap();
        store
            .put_tenant_config(&fixtures::tenant_enabled(TENANT))
            .await
            .unwrap();
        store
            .put_tenant_config(&TenantConfig {
                tenant_id: TENANT_OFF.into(),
                execution_enabled: false,
                disabled_action_types: vec![],
            })
            .await
            .unwrap();
        let gateway = Gateway::start(GatewayOptions::default()).await.unwrap();
        let secret = clients
            .secretsmanager
            .create_secret()
            .name(format!("{prefix}-gateway"))
            .secret_string(json!({"client_secret": gateway.client_secret}).to_string())
            .send()
            .await
            .expect("create the gateway secret on moto");

        let mut resources: HashMap<&str, String> = tables
            .iter()
            .map(|(id, table)| (id.env_var(), table.to_string()))
            .collect();
        resources.insert(ENV_ARTIFACTS_BUCKET, bucket);
        resources.insert(ENV_EVENT_BUS_NAME, bus);
        let common = [
            ("CCX_BACKEND", "aws"),
            ("AWS_ENDPOINT_URL", moto_url),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("RUST_LOG", "info"),
        ];
        let functions = Handler::ALL
            .iter()
            .map(|h| {
                let infra = infra_handler(*h);
                let mut env: Vec<(String, String)> = common
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                // Exactly the resource variables its grants give it, as on AWS.
                for var in required_by(infra) {
                    env.push((var.to_string(), resources[var].clone()));
                }
                if infra.def().calls_gateway() {
                    env.extend([
                        (ENV_GATEWAY_URL.to_string(), gateway.url.clone()),
                        (ENV_TOKEN_URL.to_string(), gateway.token_url.clone()),
                        (ENV_CLIENT_ID.to_string(), gateway.client_id.clone()),
                        (
                            ENV_CLIENT_SECRET_ARN.to_string(),
                            secret.arn().unwrap().to_string(),
                        ),
                    ]);
                }
                LambdaFunction {
                    name: format!("{name}-{}", h.name()),
                    binary: bins.join(h.name()),
                    env,
                    log_file: Some(logs.join(format!("{name}-{}.log", h.name()))),
                }
            })
            .collect();
        World {
            name,
            store,
            gateway,
            functions: Arc::new(RuntimeApiInvoker::start(functions).await.unwrap()),
        }
    }

    /// `${XFunctionArn}` -> this world's function of handler X.
    fn substitutions(&self) -> HashMap<String, String> {
        Handler::ALL
            .iter()
            .map(|h| {
                (
                    infra_handler(*h).asl_substitution(),
                    format!(
                        "arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}-{}",
                        self.name,
                        h.name()
                    ),
                )
            })
            .collect()
    }

    /// What this world stored for `intent`, and the masks of its minted values.
    async fn records(&self, tenant: &str, intent: &str) -> (Value, Masks) {
        let attempt = self
            .store
            .get_attempt(tenant, ACCOUNT, intent)
            .await
            .unwrap();
        let outcome = self
            .store
            .get_outcome(tenant, ACCOUNT, intent)
            .await
            .unwrap();
        let object_ids: Vec<String> = outcome
            .iter()
            .flat_map(|o| o.external_object_refs.iter())
            .map(|r| r.object_id.clone())
            .collect();
        let masks = Masks::from_records(attempt.as_ref(), &object_ids, &self.gateway.base_url);
        let records = json!({
            "attempt": attempt.as_ref().map(|a| json!({
                "status": a.status, "attempt_count": a.attempt_count,
                "idempotency_key": a.idempotency_key, "tool_name": a.tool_name,
                "execution_id": a.execution_id,
            })),
            "outcome": outcome.as_ref().map(|o| json!({
                "status": o.status, "tool_name": o.tool_name,
                "external_object_refs": o.external_object_refs,
                "error_class": o.error_class, "error_code": o.error_code,
                "failed_state": o.failed_state,
                "compensation_status": o.compensation_status,
                "idempotency_key": o.idempotency_key,
            })),
        });
        (masks.apply(&records), masks)
    }

    async fn stop(self) {
        self.functions.shutdown().await;
        self.gateway.shutdown().await;
    }
}

// ------------------------------------------------------------------ scenarios

struct Scenario {
    name: &'static str,
    tenant: &'static str,
    intent: &'static str,
    /// Gateway faults scripted for `tools/call` before the run.
    faults: Option<(Fault, usize)>,
    path: &'static [&'static str],
    status: &'static str,
    task_errors: &'static [(&'static str, &'static str)],
    /// The `code` the last failed task reported in its Lambda error payload.
    last_code: Option<&'static str>,
}

const UP_TO_TOOL: [&str; 4] = [
    "StartExecution",
    "ValidatePreflight",
    "MapActionToTool",
    "InvokeTool",
];
const SUCCESS_PATH: &[&str] = &[
    UP_TO_TOOL[0],
    UP_TO_TOOL[1],
    UP_TO_TOOL[2],
    UP_TO_TOOL[3],
    "CheckCompensation",
    "NoCompensation",
    "RecordOutcome",
    "CheckOutcome",
    "ExecutionSucceeded",
];

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "success",
            tenant: TENANT,
            intent: "ai-sfn-ok",
            faults: None,
            path: SUCCESS_PATH,
            status: "SUCCEEDED",
            task_errors: &[],
            last_code: None,
        },
        // The intent of `success` again: already terminal, so the starter
        // raises DuplicateStartError and the execution ends without a write.
        Scenario {
            name: "duplicate-start-after-success",
            tenant: TENANT,
            intent: "ai-sfn-ok",
            faults: None,
            path: &["StartExecution", "DuplicateStartIgnored"],
            status: "SUCCEEDED",
            task_errors: &[("StartExecution", "DuplicateStartError")],
            last_code: Some("ALREADY_TERMINAL"),
        },
        Scenario {
            name: "validation-failure",
            tenant: TENANT_OFF,
            intent: "ai-sfn-off",
            faults: None,
            path: &[
                "StartExecution",
                "ValidatePreflight",
                "ValidationFailed",
                "RecordFailure",
                "ExecutionFailed",
            ],
            status: "FAILED",
            task_errors: &[("ValidatePreflight", "ValidationError")],
            last_code: Some("TENANT_EXECUTION_DISABLED"),
        },
        Scenario {
            name: "transient-then-success",
            tenant: TENANT,
            intent: "ai-sfn-retry",
            faults: Some((Fault::Http5xx, 1)),
            path: SUCCESS_PATH,
            status: "SUCCEEDED",
            task_errors: &[("InvokeTool", "TransientError")],
            last_code: None,
        },
        // 1 call + 3 retries, all 503: the outcome is unknown, so nothing
        // catches it and the execution fails unrecorded (lock stays RUNNING).
        Scenario {
            name: "retries-exhausted",
            tenant: TENANT,
            intent: "ai-sfn-exhausted",
            faults: Some((Fault::Http5xx, 4)),
            path: &UP_TO_TOOL,
            status: "FAILED",
            task_errors: &[
                ("InvokeTool", "TransientError"),
                ("InvokeTool", "TransientError"),
                ("InvokeTool", "TransientError"),
                ("InvokeTool", "TransientError"),
            ],
            last_code: None,
        },
        // The intent of `retries-exhausted` again, while its lock is RUNNING
        // (another execution holds it): ignored, and the live attempt is never
        // marked FAILED.
        Scenario {
            name: "duplicate-start-while-running",
            tenant: TENANT,
            intent: "ai-sfn-exhausted",
            faults: None,
            path: &["StartExecution", "DuplicateStartIgnored"],
            status: "SUCCEEDED",
            task_errors: &[("StartExecution", "DuplicateStartError")],
            last_code: Some("LOCK_HELD"),
        },
        Scenario {
            name: "tool-failure-compensated",
            tenant: TENANT,
            intent: "ai-sfn-partial",
            faults: Some((Fault::Partial, 1)),
            path: &[
                UP_TO_TOOL[0],
                UP_TO_TOOL[1],
                UP_TO_TOOL[2],
                UP_TO_TOOL[3],
                "CheckCompensation",
                "CompensateAction",
                "RecordOutcome",
                "CheckOutcome",
                "ActionFailed",
            ],
            status: "FAILED",
            task_errors: &[],
            last_code: None,
        },
    ]
}

/// A CRM-task intent approved now, valid for a day (one value for both worlds).
fn intent(tenant: &str, id: &str) -> ActionIntentV1 {
    let mut intent = fixtures::intent(tenant, ACCOUNT, id);
    intent.approval_timestamp = Utc::now();
    intent.created_at = Utc::now();
    intent.expires_at = Utc::now() + chrono::Duration::days(1);
    intent
}

fn set_env(name: &str, value: &str) {
    // SAFETY: the only test of this binary; set before the worlds, the router
    // and the gateways exist, while the runtime's workers are idle, so no other
    // thread reads the environment meanwhile.
    unsafe { std::env::set_var(name, value) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs moto_server and the handler binaries: make test-sfn"]
async fn moto_step_functions_and_the_local_engine_agree_on_every_scenario() {
    // Kept after the run: moto's log and every binary's log, for the failures.
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sfn-differential");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    // The router's port exists before moto, which needs it as MOTO_PORT.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = workspace_root();
    let Some(moto) = Moto::start_script(
        &moto::python(&root),
        &root.join("tests/aws/moto_server.py"),
        listener.local_addr().unwrap().port(),
        &logs.join("moto.log"),
    )
    .await
    else {
        return;
    };
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        set_env(k, v);
    }
    let bins = handler_binaries();
    let clients = AwsClients::from_env().await;
    let sfn_world = World::start("sfn", &clients, &moto.url, &bins, &logs).await;
    let local_world = World::start("local", &clients, &moto.url, &bins, &logs).await;

    let functions: Arc<dyn TaskInvoker> = sfn_world.functions.clone();
    let router = LambdaRouter::serve(listener, functions, moto.url.clone()).unwrap();
    let sfn = StepFunctions::new(router.url());
    let definition = definition();
    let text =
        ccx_local::engine::definition::substitute(&definition, &sfn_world.substitutions()).unwrap();
    let created = sfn
        .call(
            "CreateStateMachine",
            json!({"name": MACHINE, "definition": text,
                   "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ccx-sfn")}),
        )
        .await;
    assert_eq!(created["stateMachineArn"], json!(machine_arn()));
    // Same state machine ARN, so `$$.Execution.Id` (the starter stores it) is
    // the same execution ARN in both engines.
    let engine = Engine::new(
        &definition,
        &local_world.substitutions(),
        local_world.functions.clone(),
    )
    .unwrap()
    .with_options(EngineOptions {
        state_machine_arn: machine_arn(),
        sleeper: Arc::new(NoWait),
        ..EngineOptions::default()
    });

    // Every problem of every scenario is collected, then reported together.
    let mut problems = Problems::default();
    for s in scenarios() {
        let intent = intent(s.tenant, s.intent);
        let input = json!({"action_intent_id": s.intent, "tenant_id": s.tenant,
                           "account_id": ACCOUNT, "replay": null});
        for world in [&sfn_world, &local_world] {
            world.store.put_intent_if_new(&intent).await;
            if let Some((fault, count)) = s.faults {
                world.gateway.script_faults(fault, count);
            }
        }
        let theirs = moto_ending(&sfn.run(&machine_arn(), s.name, &input).await);
        let ours = local_ending(&engine.execute(s.name, input.clone()).await);
        let (their_records, their_masks) = sfn_world.records(s.tenant, s.intent).await;
        let (our_records, our_masks) = local_world.records(s.tenant, s.intent).await;

        // Each engine did what the scenario is about ...
        let task_errors: Vec<(String, String)> = s
            .task_errors
            .iter()
            .map(|(state, error)| (state.to_string(), error.to_string()))
            .collect();
        for (engine_name, ending) in [("moto", &theirs), ("local", &ours)] {
            let label = format!("{}: {engine_name}", s.name);
            problems.expect_eq(&format!("{label} path"), &ending.path, &s.path);
            problems.expect_eq(
                &format!("{label} status"),
                &ending.status.as_str(),
                &s.status,
            );
            problems.expect_eq(
                &format!("{label} task errors"),
                &ending.task_error_names(),
                &task_errors,
            );
            if let Some(code) = s.last_code {
                problems.expect_eq(
                    &format!("{label} code of the last task error"),
                    &ending.task_errors.last().and_then(|t| t.code()),
                    &Some(code.to_string()),
                );
            }
        }
        check_records(&mut problems, &s, &their_records);
        // ... and both agree on everything else, minted values masked.
        problems.expect_eq(
            &format!("{}: ending (moto, local)", s.name),
            &their_masks.ending(&theirs),
            &our_masks.ending(&ours),
        );
        problems.expect_eq(
            &format!("{}: stored records (moto, local)", s.name),
            &their_records,
            &our_records,
        );
    }
    lambda_service_errors(&mut problems, &sfn, &local_world).await;
    // The gateway saw the same external effects in both worlds: the two
    // successes' objects live, the compensated one deleted.
    for world in [&sfn_world, &local_world] {
        let live = world.gateway.live_objects().len();
        problems.expect_eq(&format!("{} gateway live objects", world.name), &live, &2);
    }
    assert!(
        problems.0.is_empty(),
        "{} problem(s):\n\n{}\n\n(moto and binary logs in {})",
        problems.0.len(),
        problems.0.join("\n\n"),
        logs.display()
    );

    drop(router);
    sfn_world.stop().await;
    local_world.stop().await;
}

/// Mismatches found so far, each with what it concerns.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn expect_eq<L: std::fmt::Debug + PartialEq<R>, R: std::fmt::Debug>(
        &mut self,
        what: &str,
        left: &L,
        right: &R,
    ) {
        if left != right {
            self.0.push(format!("{what}:\n  {left:?}\n  {right:?}"));
        }
    }
}

/// Where moto's interpreter differs from Step Functions, pinned so that it is
/// known (and noticed when moto changes): a Lambda *service* error, i.e. an
/// error answer of the Invoke API itself (404 ResourceNotFoundException, 429
/// TooManyRequestsException, 5xx), is named `Exception` by moto, with the
/// service's message as cause (`StateTaskLambda._from_error` in
/// `moto/stepfunctions/parser/asl/component/state/exec/state_task/state_task_lambda.py`:
/// every botocore `ClientError` becomes `CustomErrorName("Exception")`). Step
/// Functions names these `Lambda.<...>` (`Lambda.ServiceException`,
/// `Lambda.TooManyRequestsException`, ...), which is what the definition's
/// second Retry of every Task matches, and what the local engine reports. So
/// on moto that Retry never applies. None of the workflow scenarios meets a
/// service error (the router serves every function of the definition), so the
/// comparison above is unaffected; a function error (`X-Amz-Function-Error`)
/// is named by its `errorType` in both, as the scenarios show.
async fn lambda_service_errors(problems: &mut Problems, sfn: &StepFunctions, local: &World) {
    let task = |function: &str| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "End": true,
            "Resource": format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}")}}})
        .to_string()
    };
    let created = sfn
        .call(
            "CreateStateMachine",
            json!({"name": "ccx-missing-function", "definition": task("nobody"),
                   "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ccx-sfn")}),
        )
        .await;
    let theirs = moto_ending(
        &sfn.run(
            created["stateMachineArn"].as_str().unwrap(),
            "missing-function",
            &json!({}),
        )
        .await,
    );
    let ours = Engine::new(&task("nobody"), &HashMap::new(), local.functions.clone())
        .unwrap()
        .execute("missing-function", json!({}))
        .await;
    problems.expect_eq(
        "missing function: moto's error (a known difference)",
        &theirs.error.as_deref(),
        &Some("Exception"),
    );
    problems.expect_eq(
        "missing function: the local engine's error (as Step Functions)",
        &ours.error.as_deref(),
        &Some("Lambda.ResourceNotFoundException"),
    );
}

/// What each scenario must have stored (compared between the worlds above).
fn check_records(problems: &mut Problems, s: &Scenario, records: &Value) {
    let (attempt, outcome) = (&records["attempt"], &records["outcome"]);
    let mut expect = |field: &str, got: &Value, want: Value| {
        problems.expect_eq(&format!("{}: stored {field}", s.name), got, &want);
    };
    match s.name {
        "success" | "duplicate-start-after-success" | "transient-then-success" => {
            expect(
                "attempt status",
                &attempt["status"],
                json!(AttemptStatus::Succeeded),
            );
            expect("attempt count", &attempt["attempt_count"], json!(1));
            expect(
                "outcome status",
                &outcome["status"],
                json!(OutcomeStatus::Succeeded),
            );
            expect(
                "external objects",
                &json!(outcome["external_object_refs"].as_array().map(Vec::len)),
                json!(1),
            );
        }
        "validation-failure" => {
            expect(
                "attempt status",
                &attempt["status"],
                json!(AttemptStatus::Failed),
            );
            expect(
                "outcome status",
                &outcome["status"],
                json!(OutcomeStatus::Failed),
            );
            expect(
                "failed state",
                &outcome["failed_state"],
                json!("ValidatePreflight"),
            );
            expect("error class", &outcome["error_class"], json!("VALIDATION"));
        }
        "retries-exhausted" | "duplicate-start-while-running" => {
            // The outcome is unknown: nothing recorded, the lock stays RUNNING.
            expect(
                "attempt status",
                &attempt["status"],
                json!(AttemptStatus::Running),
            );
            expect("outcome", outcome, Value::Null);
        }
        "tool-failure-compensated" => {
            expect(
                "attempt status",
                &attempt["status"],
                json!(AttemptStatus::Failed),
            );
            expect(
                "outcome status",
                &outcome["status"],
                json!(OutcomeStatus::Failed),
            );
            expect(
                "compensation status",
                &outcome["compensation_status"],
                json!(CompensationStatus::Completed),
            );
            expect(
                "external objects",
                &json!(outcome["external_object_refs"].as_array().map(Vec::len)),
                json!(1),
            );
        }
        other => panic!("no expectations for scenario {other}"),
    }
}

/// Seeding the same intent twice (the duplicate-start scenario) keeps the first.
#[async_trait]
trait PutIntentIfNew {
    async fn put_intent_if_new(&self, intent: &ActionIntentV1);
}

#[async_trait]
impl PutIntentIfNew for DynamoStore {
    async fn put_intent_if_new(&self, intent: &ActionIntentV1) {
        let existing = self
            .get_intent(
                &intent.tenant_id,
                &intent.account_id,
                &intent.action_intent_id,
            )
            .await
            .unwrap();
        if existing.is_none() {
            self.put_intent(intent).await.unwrap();
        }
    }
}
