//! Shared set-up of the adapter tests: they run against whatever AWS-compatible
//! endpoint `AWS_ENDPOINT_URL` names (moto via `make test-aws`, LocalStack, or
//! AWS itself) and are skipped, with a message, when it is unset.
//!
//! Every test creates its own tables, bucket and bus under a fresh prefix from
//! the stack's definitions (`ccx_infra::tables()`), so tests run in parallel
//! against one emulator without seeing each other's items.

#![allow(dead_code)]

use std::io::Write;

use ccx_aws::provision::create_stack_resources;
use ccx_aws::{AwsClients, DynamoStore, TableNames};

pub struct Env {
    pub clients: AwsClients,
    pub tables: TableNames,
    pub bucket: String,
    pub bus: String,
    pub prefix: String,
}

impl Env {
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.clients.dynamodb.clone(), self.tables.clone())
    }
}

/// The emulator environment, or `None` (after saying so) when
/// `AWS_ENDPOINT_URL` is unset: these tests never touch a real account by
/// accident. `test` names the skipped test in the message.
pub async fn env(test: &str) -> Option<Env> {
    if std::env::var("AWS_ENDPOINT_URL").map_or(true, |v| v.trim().is_empty()) {
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
