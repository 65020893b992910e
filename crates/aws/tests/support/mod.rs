//! Shared set-up of the adapter tests: they run against whatever AWS-compatible
//! endpoint `AWS_ENDPOINT_URL` names (moto via `make test-aws`, LocalStack, or
//! AWS itself) and are skipped, with a message, when it is unset.
//!
//! Every test creates its own tables, bucket and bus under a fresh prefix from
//! the stack's definitions (`ccx_infra::tables()`), so tests run in parallel
//! against one emulator without seeing each other's items.

#![allow(dead_code)]

use std::io::Write;

use aws_sdk_eventbridge::types::{InputTransformer, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use ccx_aws::provision::{create_stack_resources, delete_stack_resources};
use ccx_aws::{AwsClients, DynamoStore, TableNames};
use serde_json::Value;

pub struct Env {
    pub clients: AwsClients,
    pub tables: TableNames,
    pub bucket: String,
    pub bus: String,
    pub prefix: String,
}

/// Deletes the test's resources however the test ended (a panic included), so
/// runs against LocalStack or a real account leave nothing behind. Queues and
/// secrets the test made are found by the prefix.
impl Drop for Env {
    fn drop(&mut self) {
        let clients = self.clients.clone();
        let tables = self.tables.clone();
        let (bucket, bus, prefix) = (self.bucket.clone(), self.bus.clone(), self.prefix.clone());
        // Drop cannot await: clean up on a thread with its own runtime.
        let failures = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut failures =
                        delete_stack_resources(&clients, &tables, &bucket, &bus).await;
                    failures.extend(delete_prefixed_queues_and_secrets(&clients, &prefix).await);
                    failures
                })
        })
        .join()
        .unwrap_or_else(|_| vec!["clean-up thread panicked".into()]);
        if !failures.is_empty() {
            let _ = writeln!(
                std::io::stderr(),
                "clean-up of {} left: {}",
                self.prefix,
                failures.join("; ")
            );
        }
    }
}

async fn delete_prefixed_queues_and_secrets(clients: &AwsClients, prefix: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let sqs = sqs_client().await;
    if let Ok(out) = sqs.list_queues().queue_name_prefix(prefix).send().await {
        for url in out.queue_urls() {
            if let Err(e) = sqs.delete_queue().queue_url(url).send().await {
                failures.push(format!("DeleteQueue {url}: {e}"));
            }
        }
    }
    let sm = &clients.secretsmanager;
    if let Ok(out) = sm
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(prefix)
                .build(),
        )
        .send()
        .await
    {
        for secret in out.secret_list() {
            if let Some(arn) = secret.arn()
                && let Err(e) = sm
                    .delete_secret()
                    .secret_id(arn)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
            {
                failures.push(format!("DeleteSecret {arn}: {e}"));
            }
        }
    }
    failures
}

impl Env {
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.clients.dynamodb.clone(), self.tables.clone())
    }
}

/// Opt-in for running against the real AWS account of the ambient credentials.
pub const REAL_ACCOUNT_OPT_IN: &str = "CCX_TEST_AWS_REAL_ACCOUNT";

/// The test environment, or `None` (after saying so) when `AWS_ENDPOINT_URL` is
/// unset and the real-account opt-in is not given: these tests never touch a
/// real account by accident. `test` names the skipped test in the message.
pub async fn env(test: &str) -> Option<Env> {
    let endpoint_set = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.trim().is_empty());
    let real_account = std::env::var(REAL_ACCOUNT_OPT_IN).is_ok_and(|v| v == "1");
    if !endpoint_set && !real_account {
        // Written to the real stderr (not the captured test output) so the skip
        // is visible in a normal `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: AWS_ENDPOINT_URL is unset; `make test-aws` runs it against moto"
        );
        return None;
    }
    let clients = AwsClients::from_env().await;
    let prefix = format!("ccxt-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let (tables, bucket, bus) = create_stack_resources(&clients, &prefix)
        .await
        .expect("creating tables, bucket and bus on the emulator");
    Some(Env {
        clients,
        tables,
        bucket,
        bus,
        prefix,
    })
}

/// A queue subscribed to `rule_name` on the test bus; returns its URL.
pub async fn queue_target(
    env: &Env,
    sqs: &aws_sdk_sqs::Client,
    rule_name: &str,
    pattern: &Value,
    transformer: Option<InputTransformer>,
) -> String {
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{}-{rule_name}", env.prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let eb = &env.clients.eventbridge;
    eb.put_rule()
        .name(rule_name)
        .event_bus_name(&env.bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule(rule_name)
        .event_bus_name(&env.bus)
        .targets(
            Target::builder()
                .id("queue")
                .arn(queue_arn)
                .set_input_transformer(transformer)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    queue_url
}

/// Receives the next message body; bounded number of short polls.
pub async fn next_message(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Value {
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = out.messages().first() {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            return serde_json::from_str(m.body().unwrap()).unwrap();
        }
    }
    panic!("no message arrived on {queue_url}");
}

/// No message is waiting. Looks without taking: what it sees stays visible.
pub async fn queue_is_empty(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> bool {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    out.messages().is_empty()
}

pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&ccx_aws::load_sdk_config().await)
}
