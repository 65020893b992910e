//! Drives the plans through an engine: publishes each intent's ACTION_APPROVED
//! event as many times as planned (racing copies at once, or one after the
//! other) through the deployed event rule, then redrives every execution that
//! failed in a task (a crash or an outage outlasting the retries), as an
//! operator or an automatic redrive would, until none is left or the bound is hit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccx_core::fixtures;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::scenario::IntentPlan;
use crate::engine::{Engine, Execution, ExecutionStatus};
use crate::events::EventRule;
use crate::system::execution_name;

/// At most this many redrives per execution.
pub const MAX_REDRIVES: u32 = 8;

/// What happened to one intent's executions.
#[derive(Debug, Clone, Default)]
pub struct IntentRun {
    pub executions: u32,
    pub duplicates_ignored: u32,
    pub redrives: u32,
    /// Executions still failed in a task after [`MAX_REDRIVES`].
    pub unresolved: u32,
    /// Events the rule refused (must be 0).
    pub refused: u32,
}

#[derive(Debug, Clone, Default)]
pub struct DriveTotals {
    pub intents: u64,
    pub events_published: u64,
    pub executions: u64,
    pub duplicates_ignored: u64,
    pub redrives: u64,
    pub unresolved: u64,
    pub refused: u64,
    /// The run stopped publishing because it hit its time bound.
    pub intents_skipped_for_time: u64,
    /// Indices (into the plans) of the intents that were driven.
    pub driven: Vec<usize>,
    pub elapsed: Duration,
}

/// Publishes every plan, `concurrency` intents at a time, and stops starting
/// new intents once `deadline` has passed.
pub async fn drive(
    engine: Arc<Engine>,
    rule: Arc<EventRule>,
    plans: &[IntentPlan],
    concurrency: usize,
    deadline: Duration,
) -> DriveTotals {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut totals = DriveTotals::default();
    for (index, plan) in plans.iter().enumerate() {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        if started.elapsed() > deadline {
            totals.intents_skipped_for_time += 1;
            continue;
        }
        let (engine, rule, plan) = (engine.clone(), rule.clone(), plan.clone());
        set.spawn(async move {
            let run = drive_intent(&engine, &rule, &plan).await;
            drop(permit);
            (index, plan.copies, run)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (index, copies, run) = joined.expect("an intent driver panicked");
        totals.driven.push(index);
        totals.intents += 1;
        totals.events_published += u64::from(copies);
        totals.executions += u64::from(run.executions);
        totals.duplicates_ignored += u64::from(run.duplicates_ignored);
        totals.redrives += u64::from(run.redrives);
        totals.unresolved += u64::from(run.unresolved);
        totals.refused += u64::from(run.refused);
    }
    totals.driven.sort_unstable();
    totals.elapsed = started.elapsed();
    totals
}

async fn publish(engine: &Engine, rule: &EventRule, event: &Value) -> Option<Execution> {
    let input = rule.route(event).ok()?;
    let id = event.get("id").and_then(Value::as_str).unwrap_or("event");
    Some(engine.execute(&execution_name(id), input).await)
}

/// All copies of one intent's event, then the redrives.
pub async fn drive_intent(
    engine: &Arc<Engine>,
    rule: &Arc<EventRule>,
    plan: &IntentPlan,
) -> IntentRun {
    let i = &plan.intent;
    let event = fixtures::action_approved_event(&i.tenant_id, &i.account_id, &i.action_intent_id);
    let mut run = IntentRun::default();
    let mut finished: Vec<Execution> = Vec::new();
    if plan.concurrent {
        let mut copies = JoinSet::new();
        for _ in 0..plan.copies {
            let (engine, rule, event) = (engine.clone(), rule.clone(), event.clone());
            copies.spawn(async move { publish(&engine, &rule, &event).await });
        }
        while let Some(joined) = copies.join_next().await {
            match joined.expect("an execution panicked") {
                Some(e) => finished.push(e),
                None => run.refused += 1,
            }
        }
    } else {
        for _ in 0..plan.copies {
            match publish(engine, rule, &event).await {
                Some(e) => finished.push(e),
                None => run.refused += 1,
            }
        }
    }
    for execution in finished {
        run.executions += 1;
        let (execution, redrives) = redrive_to_end(engine, execution).await;
        run.redrives += redrives;
        if engine.redrive_target(&execution).is_ok() {
            run.unresolved += 1;
        }
        if execution.status == ExecutionStatus::Succeeded
            && execution
                .state_path()
                .iter()
                .any(|s| s == "DuplicateStartIgnored")
        {
            run.duplicates_ignored += 1;
        }
    }
    run
}

/// Redrives `execution` while it failed in a task, at most [`MAX_REDRIVES`]
/// times; returns the last run and the number of redrives.
pub async fn redrive_to_end(engine: &Engine, mut execution: Execution) -> (Execution, u32) {
    let mut redrives = 0;
    while engine.redrive_target(&execution).is_ok() && redrives < MAX_REDRIVES {
        match engine.redrive(&execution).await {
            Ok(next) => execution = next,
            Err(_) => break,
        }
        redrives += 1;
    }
    (execution, redrives)
}
