//! The exactly-once checks of a chaos run, over any [`Store`] (SQLite or
//! DynamoDB) and the development gateway's own record of what it wrote.
//!
//! Each check looks at every intent of the run and keeps a few examples of
//! what broke it, so a failing run says which intent to look at.

use std::collections::{BTreeMap, HashMap};

use ccx_core::contracts::{AttemptStatus, CompensationStatus, LedgerEventType, OutcomeStatus};
use ccx_core::ports::Store;
use ccx_gateway::{StoredObject, WriteRecord};
use serde::Serialize;

use super::scenario::IntentPlan;

/// What the gateway wrote, read after the run.
pub struct GatewayView {
    pub objects: Vec<StoredObject>,
    pub writes: Vec<WriteRecord>,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub checked: u64,
    pub violations: u64,
    /// Up to five examples of violations.
    pub examples: Vec<String>,
}

impl Check {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            checked: 0,
            violations: 0,
            examples: vec![],
        }
    }

    pub fn expect(&mut self, ok: bool, example: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.violations += 1;
            if self.examples.len() < 5 {
                self.examples.push(example());
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.violations == 0
    }
}

/// The numbers behind the checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub intents: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub failed_by_state: BTreeMap<String, u64>,
    pub failed_by_code: BTreeMap<String, u64>,
    pub compensation: BTreeMap<String, u64>,
    /// Creates at the gateway under the run's idempotency keys.
    pub external_creates: u64,
    /// Of those, objects still live.
    pub live_objects: u64,
    /// Live objects left for a human: MANUAL (PENDING) or a recorded FAILED compensation.
    pub live_objects_awaiting_manual_undo: u64,
    /// Objects deleted by compensation.
    pub compensated_objects: u64,
    pub ledger_entries: u64,
    pub dedupe_records: u64,
}

pub struct Verdict {
    pub checks: Vec<Check>,
    pub tally: Tally,
}

pub async fn run_checks(
    store: &dyn Store,
    plans: &[IntentPlan],
    gateway: &GatewayView,
) -> anyhow::Result<Verdict> {
    let mut creates: HashMap<&str, Vec<&WriteRecord>> = HashMap::new();
    for w in gateway.writes.iter().filter(|w| w.operation == "create") {
        creates
            .entry(w.idempotency_key.as_str())
            .or_default()
            .push(w);
    }
    let mut objects_by_key: HashMap<&str, Vec<&StoredObject>> = HashMap::new();
    let mut objects_by_id: HashMap<&str, &StoredObject> = HashMap::new();
    for o in &gateway.objects {
        objects_by_key
            .entry(o.idempotency_key.as_str())
            .or_default()
            .push(o);
        objects_by_id.insert(o.object_id.as_str(), o);
    }

    let mut one_outcome = Check::new("every intent has exactly one terminal outcome");
    let mut not_running = Check::new("no attempt is left RUNNING");
    let mut failed_classified = Check::new("every FAILED outcome has a class and a code");
    let mut single_write = Check::new("at most one external write per idempotency key");
    let mut writes_match = Check::new("live external writes match SUCCEEDED intents");
    let mut compensated = Check::new("compensated writes are undone at the gateway");
    let mut ledger_ok = Check::new("ledger per execution complete, no duplicates");
    let mut dedupe_ok = Check::new("every SUCCEEDED intent has its dedupe record");
    let mut expected_path = Check::new("expired intents fail at ValidatePreflight");
    let mut tally = Tally::default();

    for plan in plans {
        let i = &plan.intent;
        let id = i.action_intent_id.as_str();
        tally.intents += 1;
        let attempt = store.get_attempt(&i.tenant_id, &i.account_id, id).await?;
        let outcome = store.get_outcome(&i.tenant_id, &i.account_id, id).await?;

        let status_pair = (
            attempt.as_ref().map(|a| a.status),
            outcome.as_ref().map(|o| o.status),
        );
        let consistent = match (&attempt, &outcome) {
            (Some(a), Some(o)) => {
                a.trace_id == o.trace_id
                    && a.attempt_count == 1
                    && o.attempt_count == 1
                    && matches!(
                        (a.status, o.status),
                        (AttemptStatus::Succeeded, OutcomeStatus::Succeeded)
                            | (AttemptStatus::Failed, OutcomeStatus::Failed)
                    )
            }
            _ => false,
        };
        one_outcome.expect(consistent, || {
            format!("{id}: attempt/outcome {status_pair:?}")
        });
        not_running.expect(
            attempt
                .as_ref()
                .is_some_and(|a| a.status != AttemptStatus::Running),
            || format!("{id}: attempt {:?}", attempt.as_ref().map(|a| a.status)),
        );
        let Some(attempt) = attempt else { continue };
        let key = attempt.idempotency_key.as_str();
        let key_creates = creates.get(key).map(Vec::len).unwrap_or(0) as u64;
        tally.external_creates += key_creates;
        single_write.expect(key_creates <= 1, || {
            format!("{id}: {key_creates} creates under key {key}")
        });
        let live: Vec<&StoredObject> = objects_by_key
            .get(key)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|o| o.deleted_at.is_none())
                    .collect()
            })
            .unwrap_or_default();
        tally.live_objects += live.len() as u64;

        let Some(outcome) = outcome else { continue };
        let refs: Vec<&str> = outcome
            .external_object_refs
            .iter()
            .map(|r| r.object_id.as_str())
            .collect();
        match outcome.status {
            OutcomeStatus::Succeeded => {
                tally.succeeded += 1;
                writes_match.expect(
                    key_creates == 1 && live.len() == 1 && refs == vec![live[0].object_id.as_str()],
                    || {
                        format!(
                            "{id}: SUCCEEDED with {key_creates} create(s), {} live, refs {refs:?}",
                            live.len()
                        )
                    },
                );
                let dedupe = store.get_dedupe(key).await?;
                tally.dedupe_records += u64::from(dedupe.is_some());
                dedupe_ok.expect(
                    dedupe.as_ref().is_some_and(|d| {
                        d.external_object_refs
                            .iter()
                            .map(|r| r.object_id.as_str())
                            .collect::<Vec<_>>()
                            == refs
                    }),
                    || {
                        format!(
                            "{id}: dedupe record {:?}",
                            dedupe.map(|d| d.external_object_refs)
                        )
                    },
                );
            }
            OutcomeStatus::Failed | OutcomeStatus::Cancelled => {
                tally.failed += 1;
                *tally
                    .failed_by_state
                    .entry(
                        outcome
                            .failed_state
                            .clone()
                            .unwrap_or_else(|| "tool reported failure".into()),
                    )
                    .or_default() += 1;
                *tally
                    .failed_by_code
                    .entry(outcome.error_code.clone().unwrap_or_default())
                    .or_default() += 1;
                failed_classified.expect(
                    outcome.error_class.is_some()
                        && outcome.error_code.as_deref().is_some_and(|c| !c.is_empty()),
                    || {
                        format!(
                            "{id}: class {:?} code {:?}",
                            outcome.error_class, outcome.error_code
                        )
                    },
                );
                // A failed intent may leave live writes only where a human has
                // been told to undo them: MANUAL (PENDING) or a recorded FAILED
                // compensation, and then exactly the recorded refs.
                let awaiting = matches!(
                    outcome.compensation_status,
                    CompensationStatus::Pending | CompensationStatus::Failed
                );
                let live_recorded = live.iter().all(|o| refs.contains(&o.object_id.as_str()));
                writes_match.expect(live.is_empty() || (awaiting && live_recorded), || {
                    format!(
                        "{id}: FAILED ({:?}, compensation {:?}) with {} live write(s) {:?}, refs {refs:?}",
                        outcome.error_code,
                        outcome.compensation_status,
                        live.len(),
                        live.iter().map(|o| &o.object_id).collect::<Vec<_>>()
                    )
                });
                if awaiting {
                    tally.live_objects_awaiting_manual_undo += live.len() as u64;
                }
            }
        }
        *tally
            .compensation
            .entry(format!("{:?}", outcome.compensation_status).to_uppercase())
            .or_default() += 1;
        if outcome.compensation_status == CompensationStatus::Completed {
            let undone = refs
                .iter()
                .all(|r| objects_by_id.get(r).is_some_and(|o| o.deleted_at.is_some()));
            tally.compensated_objects += refs.len() as u64;
            compensated.expect(!refs.is_empty() && undone, || {
                format!("{id}: compensation COMPLETED but refs {refs:?} not all deleted")
            });
        }
        if plan.expired {
            expected_path.expect(
                outcome.status == OutcomeStatus::Failed
                    && outcome.failed_state.as_deref() == Some("ValidatePreflight"),
                || {
                    format!(
                        "{id}: expired intent ended {:?} at {:?}",
                        outcome.status, outcome.failed_state
                    )
                },
            );
        }

        let ledger = store
            .ledger_by_trace(&i.tenant_id, &outcome.trace_id)
            .await?;
        tally.ledger_entries += ledger.len() as u64;
        let count = |t: LedgerEventType| ledger.iter().filter(|e| e.event_type == t).count();
        let mut ids: Vec<&str> = ledger.iter().map(|e| e.entry_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let compensation_events = count(LedgerEventType::CompensationPending)
            + count(LedgerEventType::CompensationCompleted)
            + count(LedgerEventType::CompensationFailed);
        let expected_compensation =
            usize::from(outcome.compensation_status != CompensationStatus::None);
        let terminal_ok = match outcome.status {
            OutcomeStatus::Succeeded => {
                count(LedgerEventType::ActionExecuted) == 1
                    && count(LedgerEventType::ActionFailed) == 0
            }
            _ => {
                count(LedgerEventType::ActionFailed) == 1
                    && count(LedgerEventType::ActionExecuted) == 0
            }
        };
        ledger_ok.expect(
            ids.len() == ledger.len()
                && count(LedgerEventType::ExecutionStarted) == 1
                && count(LedgerEventType::ReplayRequested) == 0
                && terminal_ok
                && compensation_events == expected_compensation
                && ledger.iter().all(|e| {
                    e.action_intent_id == id && e.decision_trace_id == i.decision_trace_id
                }),
            || {
                format!(
                    "{id}: ledger of {} is {:?}",
                    outcome.trace_id,
                    ledger
                        .iter()
                        .map(|e| e.event_type.as_str())
                        .collect::<Vec<_>>()
                )
            },
        );
    }
    Ok(Verdict {
        checks: vec![
            one_outcome,
            not_running,
            failed_classified,
            single_write,
            writes_match,
            compensated,
            ledger_ok,
            dedupe_ok,
            expected_path,
        ],
        tally,
    })
}
