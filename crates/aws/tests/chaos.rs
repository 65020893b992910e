//! The exactly-once soak of `ccx chaos` (`ccx_local::chaos`) over the AWS
//! adapters: DynamoDB store (conditional writes, transactions), S3 artifacts and
//! EventBridge events on the emulator, with the development gateway in process
//! and its faults, duplicate events and crashes at every step boundary. A
//! smaller count than the SQLite run (the emulator serialises DynamoDB calls):
//! `CCX_CHAOS_INTENTS` (default 40) sets it; `make chaos-aws` runs more and
//! writes the numbers to `bench/chaos-aws.json` (`CCX_CHAOS_OUT`).

mod support;

use ccx_local::chaos::{ChaosOptions, run_local_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soak_holds_over_dynamodb_s3_and_eventbridge() {
    let Some(env) = support::env("the_soak_holds_over_dynamodb_s3_and_eventbridge").await else {
        return;
    };
    let mut vars: std::collections::HashMap<&str, String> = env
        .tables
        .iter()
        .map(|(id, name)| (id.env_var(), name.to_string()))
        .collect();
    vars.insert("CCX_ARTIFACTS_BUCKET", env.bucket.clone());
    vars.insert("CCX_EVENT_BUS_NAME", env.bus.clone());
    let config = ccx_aws::AwsConfig::from_lookup(&ccx_aws::config::resource_variables(), |n| {
        vars.get(n).cloned()
    })
    .unwrap();
    let intents = std::env::var("CCX_CHAOS_INTENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let options = ChaosOptions {
        intents,
        concurrency: 6,
        replays: (intents / 5).max(4),
        ..ChaosOptions::default()
    };
    let dir = std::env::temp_dir().join(format!("ccx-chaos-aws-{}", env.prefix));
    let clients = env.clients.clone();
    let report = run_local_with(dir.clone(), &options, |local| {
        // Every adapter from AWS; the MCP client of the in-process gateway.
        ccx_aws::aws_deps(&config, &clients, local.mcp)
    })
    .await
    .expect("the soak ran");
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", report.table());
    if let Ok(out) = std::env::var("CCX_CHAOS_OUT") {
        std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    }
    assert!(report.passed, "{}", report.table());
    assert_eq!(report.tally.intents, intents as u64);
    assert!(report.gateway.faults_injected > 0);
    assert!(report.crashes.values().sum::<u64>() > 0);
}
