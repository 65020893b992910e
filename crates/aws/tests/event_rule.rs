//! The stack's EventBridge rule (pattern and input transformer, from
//! `ccx_infra::event_rule()`, the definition the template deploys and
//! `infra/event_rule.json` records) on the emulator's EventBridge, with an SQS
//! target standing in for Step Functions (moto cannot target it). What arrives
//! must be what the local engine's transformer computes for the same event.
//!
//! One emulator gap shapes the transformer test: EventBridge inserts a string
//! value into a JSON template *with* quotes when the placeholder stands bare
//! (`{"id": <id>}` gives `{"id": "ai-42"}`), moto inserts the raw text and fails
//! on the invalid JSON. Every value this rule maps is a string, and for strings
//! `"<id>"` is what EventBridge produces for `<id>`, so the emulator gets the
//! template with its placeholders quoted; the paths, the pattern and the
//! expected output are the stack's own.

mod support;

use aws_sdk_eventbridge::types::{InputTransformer, PutEventsRequestEntry};
use ccx_core::fixtures;
use serde_json::{Value, json};
use support::{next_message, queue_is_empty, queue_target, sqs_client};

#[tokio::test]
async fn action_approved_becomes_the_execution_input() {
    let Some(env) = support::env("action_approved_becomes_the_execution_input").await else {
        return;
    };
    let rule = ccx_infra::event_rule();
    // The checked-in file is the same definition (make synth keeps it so).
    let file = ccx_infra::workspace_root().join(ccx_infra::paths::EVENT_RULE);
    let recorded: ccx_infra::EventRuleDef =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(recorded, rule, "{} is stale", file.display());

    let transformer = InputTransformer::builder()
        .set_input_paths_map(Some(
            rule.input_paths_map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
        ))
        .input_template(quote_placeholders(
            &rule.input_template,
            &rule.input_paths_map,
        ))
        .build()
        .unwrap();
    let sqs = sqs_client().await;
    let queue = queue_target(
        &env,
        &sqs,
        "action-approved",
        &rule.event_pattern,
        Some(transformer),
    )
    .await;

    let put = |event: &Value| {
        PutEventsRequestEntry::builder()
            .event_bus_name(&env.bus)
            .source(event["source"].as_str().unwrap())
            .detail_type(event["detail-type"].as_str().unwrap())
            .detail(event["detail"].to_string())
            .build()
    };
    let approved = fixtures::action_approved_event("t1", "a1", "ai-42");
    let mut other_type = approved.clone();
    other_type["detail-type"] = json!("ACTION_REJECTED");
    let mut other_source = approved.clone();
    other_source["source"] = json!("someone-else");
    assert!(!rule.matches(&other_type) && !rule.matches(&other_source));

    // The non-matching events go first: if the pattern let them through, they
    // would be the first message on the queue.
    let out = env
        .clients
        .eventbridge
        .put_events()
        .entries(put(&other_type))
        .entries(put(&other_source))
        .entries(put(&approved))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);

    let received = next_message(&sqs, &queue).await;
    let expected = rule
        .transform(&approved)
        .expect("the local transformer matches it");
    assert_eq!(
        expected,
        json!({"action_intent_id": "ai-42", "tenant_id": "t1", "account_id": "a1", "replay": null})
    );
    assert_eq!(received, expected, "emulator and local transformer agree");
    assert!(
        queue_is_empty(&sqs, &queue).await,
        "only the approved event matched"
    );
}

/// `<name>` -> `"<name>"` for every bare placeholder (see the module doc).
fn quote_placeholders(template: &str, names: &serde_json::Map<String, Value>) -> String {
    names.keys().fold(template.to_string(), |t, name| {
        let bare = format!("<{name}>");
        let quoted = format!("\"<{name}>\"");
        t.replace(&quoted, &bare).replace(&bare, &quoted)
    })
}

#[tokio::test]
async fn the_pattern_filters_on_the_emulator_and_the_local_transformer_reads_its_events() {
    let Some(env) = support::env(
        "the_pattern_filters_on_the_emulator_and_the_local_transformer_reads_its_events",
    )
    .await
    else {
        return;
    };
    let rule = ccx_infra::event_rule();
    let sqs = sqs_client().await;
    // No transformer: the whole event as EventBridge delivers it.
    let queue = queue_target(&env, &sqs, "approved-raw", &rule.event_pattern, None).await;
    let approved = fixtures::action_approved_event("t9", "a9", "ai-raw");
    let mut other_type = approved.clone();
    other_type["detail-type"] = json!("ACTION_REJECTED");
    let entries = [&other_type, &approved].map(|event| {
        PutEventsRequestEntry::builder()
            .event_bus_name(&env.bus)
            .source(event["source"].as_str().unwrap())
            .detail_type(event["detail-type"].as_str().unwrap())
            .detail(event["detail"].to_string())
            .build()
    });
    env.clients
        .eventbridge
        .put_events()
        .set_entries(Some(entries.to_vec()))
        .send()
        .await
        .unwrap();
    let delivered = next_message(&sqs, &queue).await;
    assert_eq!(delivered["detail-type"], "ACTION_APPROVED");
    assert_eq!(delivered["detail"], approved["detail"]);
    assert_eq!(
        rule.transform(&delivered),
        Some(
            json!({"action_intent_id": "ai-raw", "tenant_id": "t9", "account_id": "a9", "replay": null})
        ),
        "the local engine starts the same execution from the delivered event"
    );
    assert!(
        queue_is_empty(&sqs, &queue).await,
        "ACTION_REJECTED was filtered out"
    );
}
