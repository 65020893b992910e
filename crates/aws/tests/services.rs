//! S3 artifacts, EventBridge publishing and Secrets Manager against an
//! AWS-compatible endpoint (`make test-aws`: moto). Events are read back through
//! an SQS target of a rule on the bus, as moto cannot target Step Functions.

mod support;

use ccx_aws::{
    EventBridgePublisher, S3ArtifactStore, SecretsManagerSecret, SecretsManagerSource, artifact_key,
};
use std::sync::Arc;

use ccx_aws::AwsConfig;
use ccx_core::ports::{ArtifactStore, EventPublisher, ExecutionEvent, NoMcpClient, Store};
use ccx_infra::Handler;
use serde_json::json;
use support::{next_message, queue_is_empty, queue_target, sqs_client};

macro_rules! env_or_skip {
    ($name:expr) => {
        match support::env($name).await {
            Some(env) => env,
            None => return,
        }
    };
}

#[tokio::test]
async fn artifacts_round_trip_through_s3() {
    let env = env_or_skip!("artifacts_round_trip_through_s3");
    let store = S3ArtifactStore::new(env.clients.s3.clone(), env.bucket.clone());
    let key = artifact_key("t1", "toolrun/tr1/1/crm.create_task");
    let body =
        serde_json::to_vec(&json!({"content": [{"type": "text", "text": "x".repeat(20_000)}]}))
            .unwrap();
    let reference = store.put(&key, &body, "application/json").await.unwrap();
    assert_eq!(
        reference,
        format!("s3://{}/t1/toolrun/tr1/1/crm.create_task.json", env.bucket)
    );
    assert_eq!(store.get(&reference).await.unwrap(), body);

    let head = env
        .clients
        .s3
        .head_object()
        .bucket(&env.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/json"));

    let missing = format!("s3://{}/t1/nothing.json", env.bucket);
    let err = store.get(&missing).await.unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("PermanentError", "ARTIFACT_NOT_FOUND")
    );
    let err = store.get("not-a-ref").await.unwrap_err();
    assert_eq!(err.code, "ARTIFACT_REF_INVALID");
}

#[tokio::test]
async fn published_events_reach_the_bus() {
    let env = env_or_skip!("published_events_reach_the_bus");
    let sqs = sqs_client().await;
    let queue = queue_target(
        &env,
        &sqs,
        "execution-events",
        &json!({"source": ["cc-native.execution"]}),
        None,
    )
    .await;
    let publisher = EventBridgePublisher::new(env.clients.eventbridge.clone(), env.bus.clone());
    let event = ExecutionEvent {
        source: "cc-native.execution".into(),
        detail_type: "EXECUTION_SUCCEEDED".into(),
        detail: json!({"action_intent_id": "ai1", "tenant_id": "t1", "trace_id": "tr1", "attempt_count": 1}),
    };
    publisher.publish(&event).await.unwrap();
    let received = next_message(&sqs, &queue).await;
    assert_eq!(received["source"], "cc-native.execution");
    assert_eq!(received["detail-type"], "EXECUTION_SUCCEEDED");
    assert_eq!(received["detail"], event.detail);
    assert!(
        queue_is_empty(&sqs, &queue).await,
        "exactly one event delivered"
    );

    // A bus that does not exist: PutEvents answers 200 with a failed entry,
    // which must not pass for a success.
    let absent = EventBridgePublisher::new(
        env.clients.eventbridge.clone(),
        format!("{}-absent", env.prefix),
    );
    let err = absent.publish(&event).await.unwrap_err();
    assert_eq!(err.name, "PermanentError", "{err}");
    assert_eq!(err.code, "EVENT_PUBLISH_FAILED");
    assert!(err.message.contains("-absent"), "{}", err.message);
}

#[tokio::test]
async fn secrets_are_read_by_arn_and_by_name() {
    let env = env_or_skip!("secrets_are_read_by_arn_and_by_name");
    let name = format!("{}/gateway-client", env.prefix);
    let value = r#"{"client_id":"ccx","client_secret":"s3cr3t"}"#;
    let created = env
        .clients
        .secretsmanager
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let secrets = env.clients.secrets();
    assert_eq!(
        secrets.get_secret(created.arn().unwrap()).await.unwrap(),
        value
    );
    assert_eq!(secrets.get_secret(&name).await.unwrap(), value);

    let err = SecretsManagerSecret::new(env.clients.secretsmanager.clone())
        .get_secret(&format!("{}/absent", env.prefix))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name, err.code.as_str()),
        ("ConfigurationError", "SECRET_NOT_FOUND")
    );

    // The gateway client's secret source reads the client secret out of the JSON.
    let source = SecretsManagerSource::new(secrets, created.arn().unwrap());
    assert_eq!(
        ccx_mcp::SecretSource::secret(&source).await.unwrap(),
        "s3cr3t"
    );
}

#[tokio::test]
async fn deps_are_wired_from_the_configuration() {
    let env = env_or_skip!("deps_are_wired_from_the_configuration");
    let mut vars: std::collections::HashMap<&str, String> = env
        .tables
        .iter()
        .map(|(id, name)| (id.env_var(), name.to_string()))
        .collect();
    vars.insert("CCX_ARTIFACTS_BUCKET", env.bucket.clone());
    vars.insert("CCX_EVENT_BUS_NAME", env.bus.clone());
    let lookup = |n: &str| vars.get(n).cloned();

    let everything =
        AwsConfig::from_lookup(&ccx_aws::config::resource_variables(), lookup).unwrap();
    let deps = ccx_aws::aws_deps(&everything, &env.clients, Arc::new(NoMcpClient));
    let intent = ccx_core::fixtures::intent("t1", "a1", "ai-deps");
    deps.store.put_intent(&intent).await.unwrap();
    assert_eq!(
        env.store().get_intent("t1", "a1", "ai-deps").await.unwrap(),
        Some(intent)
    );
    let reference = deps
        .artifacts
        .put("t1/x.json", b"{}", "application/json")
        .await
        .unwrap();
    assert_eq!(reference, format!("s3://{}/t1/x.json", env.bucket));
    deps.events
        .publish(&ExecutionEvent {
            source: deps.settings.event_source.clone(),
            detail_type: "EXECUTION_STARTED".into(),
            detail: json!({}),
        })
        .await
        .unwrap();

    // The validator is given two tables and nothing else: its store refuses the
    // rest by variable name, its artifact store and publisher likewise.
    let validator =
        AwsConfig::from_lookup(&ccx_aws::config::required_by(Handler::Validator), |n| {
            matches!(n, "CCX_TABLE_INTENTS" | "CCX_TABLE_TENANTS")
                .then(|| lookup(n))
                .flatten()
        })
        .unwrap();
    let deps = ccx_aws::aws_deps(&validator, &env.clients, Arc::new(NoMcpClient));
    assert!(
        deps.store
            .get_intent("t1", "a1", "ai-deps")
            .await
            .unwrap()
            .is_some()
    );
    let err = deps
        .store
        .get_attempt("t1", "a1", "ai-deps")
        .await
        .unwrap_err();
    assert!(
        err.message.contains("CCX_TABLE_ATTEMPTS"),
        "{}",
        err.message
    );
    let err = deps
        .artifacts
        .put("t1/y.json", b"{}", "application/json")
        .await
        .unwrap_err();
    assert_eq!(err.code, "RESOURCE_NOT_CONFIGURED");
    assert!(
        err.message.contains("CCX_ARTIFACTS_BUCKET"),
        "{}",
        err.message
    );
}
