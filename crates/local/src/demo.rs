//! `ccx demo`: the whole system on one machine, no AWS. Starts the development
//! gateway, seeds a registry, a tenant and intents, publishes ACTION_APPROVED
//! events through the deployed rule, runs them through the real state machine,
//! and prints each execution's history, outcome and ledger. It checks what it
//! shows: the command fails if any scenario ends differently than stated.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ccx_core::contracts::{ActionIntentV1, CompensationStatus, OutcomeStatus, ToolRegistryEntry};
use ccx_core::fixtures;
use ccx_core::ports::Store;
use ccx_gateway::Fault;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::engine::{Execution, ExecutionStatus};
use crate::render;
use crate::system::{LocalSystem, SystemOptions};

pub const TENANT: &str = "tenant-demo";
pub const ACCOUNT: &str = "account-acme";

/// One scenario: what is published, and what must come out.
struct Scenario {
    title: &'static str,
    intent_id: String,
    expect_status: ExecutionStatus,
    expect_outcome: Option<OutcomeStatus>,
    expect_path_contains: &'static str,
}

fn intent(
    id: &str,
    action_type: &str,
    parameters: serde_json::Value,
    expires_in: Duration,
) -> ActionIntentV1 {
    let now = Utc::now();
    let mut i = fixtures::intent(TENANT, ACCOUNT, id);
    i.action_type = action_type.into();
    i.parameters = parameters.as_object().cloned().unwrap_or_default();
    i.approval_timestamp = now - Duration::minutes(1);
    i.created_at = now - Duration::minutes(2);
    i.expires_at = now + expires_in;
    i
}

fn registry() -> Vec<ToolRegistryEntry> {
    let now = Utc::now();
    let mut crm = fixtures::crm_task_registry_entry();
    crm.created_at = now;
    let mut note = fixtures::internal_note_registry_entry();
    note.created_at = now;
    vec![crm, note]
}

pub struct DemoOptions {
    pub data_dir: PathBuf,
    /// Multiplies retry delays so the demo's retry is quick.
    pub delay_scale: f64,
}

/// Runs the demo, printing as it goes. Errors when a scenario misbehaves.
pub async fn run(options: DemoOptions) -> Result<()> {
    let mut sys_opts = SystemOptions::embedded(&options.data_dir);
    sys_opts.delay_scale = options.delay_scale;
    let system = LocalSystem::open(sys_opts).await?;
    let result = scenarios(&system).await;
    system.shutdown().await;
    result
}

async fn scenarios(system: &LocalSystem) -> Result<()> {
    let gw = system
        .gateway()
        .context("the demo needs the embedded gateway")?;
    println!("ccx demo: data folder {}", system.data_dir().display());
    println!(
        "development gateway: {} (token endpoint {})\n",
        gw.url, gw.token_url
    );

    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let store: &dyn Store = system.store.as_ref();
    store
        .put_tenant_config(&fixtures::tenant_enabled(TENANT))
        .await?;
    for entry in registry() {
        store.put_registry_entry(&entry).await?;
    }
    let ok_id = format!("demo-{run_id}-crm-task");
    let expired_id = format!("demo-{run_id}-expired-note");
    let partial_id = format!("demo-{run_id}-partial-write");
    store
        .put_intent(&intent(
            &ok_id,
            "CREATE_CRM_TASK",
            json!({"title": "Call ACME about the renewal", "description": "They asked for pricing", "priority": "high", "due_date": "2026-12-01"}),
            Duration::hours(1),
        ))
        .await?;
    store
        .put_intent(&intent(
            &expired_id,
            "CREATE_INTERNAL_NOTE",
            json!({"title": "Renewal risk", "body": "Champion left the company"}),
            Duration::seconds(-30),
        ))
        .await?;
    store
        .put_intent(&intent(
            &partial_id,
            "CREATE_CRM_TASK",
            json!({"title": "Send the QBR deck", "priority": "low"}),
            Duration::hours(1),
        ))
        .await?;
    println!(
        "seeded tenant {TENANT}, registry CREATE_CRM_TASK v1 and CREATE_INTERNAL_NOTE v1, 3 intents\n"
    );

    let scenarios = [
        Scenario {
            title: "1. create a CRM task (the gateway answers 503 once: retried, then done)",
            intent_id: ok_id.clone(),
            expect_status: ExecutionStatus::Succeeded,
            expect_outcome: Some(OutcomeStatus::Succeeded),
            expect_path_contains: "RecordOutcome",
        },
        Scenario {
            title: "2. the same ACTION_APPROVED event delivered again (duplicate start)",
            intent_id: ok_id.clone(),
            expect_status: ExecutionStatus::Succeeded,
            expect_outcome: Some(OutcomeStatus::Succeeded),
            expect_path_contains: "DuplicateStartIgnored",
        },
        Scenario {
            title: "3. an intent that expired before it ran",
            intent_id: expired_id.clone(),
            expect_status: ExecutionStatus::Failed,
            expect_outcome: Some(OutcomeStatus::Failed),
            expect_path_contains: "RecordFailure",
        },
        Scenario {
            title: "4. the tool writes, then fails: AUTOMATIC compensation undoes the write",
            intent_id: partial_id.clone(),
            expect_status: ExecutionStatus::Failed,
            expect_outcome: Some(OutcomeStatus::Failed),
            expect_path_contains: "CompensateAction",
        },
    ];

    let mut problems = vec![];
    for (n, sc) in scenarios.iter().enumerate() {
        match n {
            0 => gw.script_faults(Fault::Http5xx, 1),
            3 => gw.script_faults(Fault::Partial, 1),
            _ => {}
        }
        println!("=== {}", sc.title);
        let event = fixtures::action_approved_event(TENANT, ACCOUNT, &sc.intent_id);
        let execution = system
            .publish(&event)
            .await
            .with_context(|| format!("the event for {} was refused", sc.intent_id))?;
        print!("{}", render::history(&execution));
        println!("  path: {}", execution.state_path().join(" -> "));
        let outcome = store.get_outcome(TENANT, ACCOUNT, &sc.intent_id).await?;
        if let Some(o) = &outcome {
            print!("{}", render::outcome(o));
            let ledger = store.ledger_by_trace(TENANT, &o.trace_id).await?;
            println!("ledger of trace {}:", o.trace_id);
            print!("{}", render::ledger(&ledger));
        }
        problems.extend(check(sc, &execution, outcome.as_ref()));
        println!();
    }

    // Scenario 4 must leave nothing behind at the gateway.
    let partial = store.get_outcome(TENANT, ACCOUNT, &partial_id).await?;
    if let Some(o) = partial {
        if o.compensation_status != CompensationStatus::Completed {
            problems.push(format!(
                "scenario 4: compensation is {:?}, expected Completed",
                o.compensation_status
            ));
        }
        let live: Vec<_> = gw
            .live_objects()
            .into_iter()
            .filter(|obj| {
                o.external_object_refs
                    .iter()
                    .any(|r| r.object_id == obj.object_id)
            })
            .collect();
        if !live.is_empty() {
            problems.push(format!(
                "scenario 4: {} compensated object(s) still live at the gateway",
                live.len()
            ));
        }
    }

    if problems.is_empty() {
        println!(
            "demo OK: 1 action carried out once (duplicate ignored), 1 rejected as expired, 1 failed and compensated."
        );
        println!("try: ccx status {ok_id}    ccx graph");
        Ok(())
    } else {
        bail!("demo found problems:\n  {}", problems.join("\n  "))
    }
}

fn check(
    sc: &Scenario,
    execution: &Execution,
    outcome: Option<&ccx_core::contracts::ActionOutcomeV1>,
) -> Vec<String> {
    let mut p = vec![];
    if execution.status != sc.expect_status {
        p.push(format!(
            "{}: execution {} ended {}, expected {} ({:?} {:?})",
            sc.title,
            execution.name,
            execution.status.as_str(),
            sc.expect_status.as_str(),
            execution.error,
            execution.cause
        ));
    }
    if !execution
        .state_path()
        .iter()
        .any(|s| s == sc.expect_path_contains)
    {
        p.push(format!(
            "{}: path does not pass {}",
            sc.title, sc.expect_path_contains
        ));
    }
    if outcome.map(|o| o.status) != sc.expect_outcome {
        p.push(format!(
            "{}: recorded outcome {:?}, expected {:?}",
            sc.title,
            outcome.map(|o| o.status),
            sc.expect_outcome
        ));
    }
    p
}
