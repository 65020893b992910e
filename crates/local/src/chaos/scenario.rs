//! What a chaos run does to each intent, drawn from a seeded RNG so that a
//! failing run can be repeated: the seed data (tenants, registry, intents) and,
//! per intent, how many times its ACTION_APPROVED event is delivered, whether
//! the copies race, and which task invocations crash.

use ccx_core::contracts::{ActionIntentV1, ToolRegistryEntry};
use ccx_core::fixtures;
use ccx_core::handlers::Handler;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::crash::{Crash, CrashPoint};

pub const TENANTS: [&str; 3] = ["tenant-chaos-a", "tenant-chaos-b", "tenant-chaos-c"];
pub const ACCOUNTS: [&str; 2] = ["account-1", "account-2"];

/// Handlers with a `Catch` that records a failure once their retries run out:
/// crashes there are kept within the retry budget, so they are absorbed.
const ABSORBED: [Handler; 3] = [
    Handler::Validator,
    Handler::ToolMapper,
    Handler::Compensation,
];
/// Handlers whose exhausted crashes fail the execution uncaught (the starter,
/// the tool call, the recorders): crashed often enough, the execution must be redriven.
const REDRIVEN: [Handler; 4] = [
    Handler::Starter,
    Handler::ToolInvoker,
    Handler::Recorder,
    Handler::FailureRecorder,
];

/// Lambda crash retries in the state machine (`MaxAttempts` of the retrier on
/// `Lambda.Unknown` / `Sandbox.Timedout`): this many crashes in a row are absorbed.
pub const CRASH_RETRIES: u32 = 2;

/// One intent of the run and what happens to it.
#[derive(Debug, Clone)]
pub struct IntentPlan {
    pub intent: ActionIntentV1,
    /// How many times its event is published (1 = no duplicate).
    pub copies: u32,
    /// Whether the copies are published at the same time (else one after the other).
    pub concurrent: bool,
    pub crashes: Vec<Crash>,
    /// Expired before it ran: must end FAILED at ValidatePreflight.
    pub expired: bool,
}

/// Registry v1 of the three action types the run uses: CRM tasks and internal
/// tasks undone automatically, internal notes left for a human (MANUAL).
pub fn registry(now: DateTime<Utc>) -> Vec<ToolRegistryEntry> {
    let mut crm = fixtures::crm_task_registry_entry();
    crm.created_at = now;
    let mut note = fixtures::internal_note_registry_entry();
    note.created_at = now;
    let mut task = fixtures::crm_task_registry_entry();
    task.action_type = "CREATE_INTERNAL_TASK".into();
    task.tool_name = "internal.create_task".into();
    task.compensation_tool = Some("internal.delete_task".into());
    task.created_at = now;
    vec![crm, note, task]
}

/// Draws the plans of `count` intents.
pub fn plans(run_id: &str, count: usize, seed: u64, now: DateTime<Utc>) -> Vec<IntentPlan> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|n| {
            let tenant = TENANTS[n % TENANTS.len()];
            let account = ACCOUNTS[(n / TENANTS.len()) % ACCOUNTS.len()];
            let id = format!("chaos-{run_id}-{n:05}");
            let mut intent = fixtures::intent(tenant, account, &id);
            let (action_type, params) = match rng.random_range(0..3) {
                0 => (
                    "CREATE_CRM_TASK",
                    json!({"title": format!("Follow up {n}"), "priority": "high", "due_date": "2026-12-01"}),
                ),
                1 => (
                    "CREATE_INTERNAL_NOTE",
                    json!({"title": format!("Note {n}"), "body": "from the chaos run"}),
                ),
                _ => (
                    "CREATE_INTERNAL_TASK",
                    json!({"title": format!("Task {n}"), "description": "chaos"}),
                ),
            };
            intent.action_type = action_type.into();
            intent.parameters = params.as_object().cloned().unwrap_or_default();
            intent.approval_timestamp = now - Duration::minutes(1);
            intent.created_at = now - Duration::minutes(2);
            let expired = rng.random_bool(0.03);
            intent.expires_at = if expired {
                now - Duration::seconds(30)
            } else {
                now + Duration::hours(2)
            };
            let copies = if rng.random_bool(0.5) {
                1
            } else {
                rng.random_range(2..=5)
            };
            let concurrent = copies > 1 && rng.random_bool(0.5);
            IntentPlan {
                intent,
                copies,
                concurrent,
                crashes: crashes(&mut rng),
                expired,
            }
        })
        .collect()
}

/// About a third of the intents get crashes: one to three handlers, each
/// before or after its handler ran. Absorbed handlers crash at most
/// [`CRASH_RETRIES`] times; the others up to two more (exhausting the retries).
fn crashes(rng: &mut StdRng) -> Vec<Crash> {
    if !rng.random_bool(0.35) {
        return vec![];
    }
    let n = rng.random_range(1..=3);
    let mut out: Vec<Crash> = Vec::new();
    for _ in 0..n {
        let (handler, max) = if rng.random_bool(0.6) {
            (
                REDRIVEN[rng.random_range(0..REDRIVEN.len())],
                CRASH_RETRIES + 2,
            )
        } else {
            (ABSORBED[rng.random_range(0..ABSORBED.len())], CRASH_RETRIES)
        };
        if out.iter().any(|c| c.handler == handler) {
            continue;
        }
        out.push(Crash {
            handler,
            point: if rng.random_bool(0.6) {
                CrashPoint::After
            } else {
                CrashPoint::Before
            },
            times: rng.random_range(1..=max),
            timed_out: rng.random_bool(0.3),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plans keep absorbed crashes within the definition's retry budget.
    #[test]
    fn crash_retries_match_the_definition() {
        let def: serde_json::Value = serde_json::from_str(crate::engine::EXECUTION_ASL).unwrap();
        let tasks: Vec<_> = def["States"]
            .as_object()
            .unwrap()
            .values()
            .filter(|s| s["Type"] == "Task")
            .collect();
        assert_eq!(tasks.len(), 7);
        for task in tasks {
            let retrier = task["Retry"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["ErrorEquals"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e == "Lambda.Unknown")
                })
                .expect("every task retries Lambda crashes");
            assert_eq!(retrier["MaxAttempts"], json!(CRASH_RETRIES));
            assert!(
                retrier["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e == "Sandbox.Timedout")
            );
        }
    }

    #[test]
    fn plans_are_reproducible_and_varied() {
        let now = fixtures::t0();
        let a = plans("r", 300, 7, now);
        let b = plans("r", 300, 7, now);
        assert_eq!(
            a.iter()
                .map(|p| (p.copies, p.crashes.clone()))
                .collect::<Vec<_>>(),
            b.iter()
                .map(|p| (p.copies, p.crashes.clone()))
                .collect::<Vec<_>>()
        );
        assert!(a.iter().any(|p| p.copies == 1));
        assert!(a.iter().any(|p| p.copies >= 4 && p.concurrent));
        assert!(a.iter().any(|p| p.expired));
        for handler in Handler::ALL {
            for point in [CrashPoint::Before, CrashPoint::After] {
                assert!(
                    a.iter()
                        .flat_map(|p| &p.crashes)
                        .any(|c| c.handler == handler && c.point == point),
                    "no crash of {handler} {point:?}"
                );
            }
        }
        assert!(
            a.iter()
                .flat_map(|p| &p.crashes)
                .all(|c| REDRIVEN.contains(&c.handler) || c.times <= CRASH_RETRIES)
        );
    }
}
