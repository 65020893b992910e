//! Crashes at step boundaries: a [`TaskInvoker`] wrapper that makes chosen task
//! invocations fail the way AWS reports a Lambda that died or timed out.
//!
//! Two points per task, both reported as `Lambda.Unknown` or `Sandbox.Timedout`
//! (the error names Step Functions gives a crashed or timed-out function):
//! - [`CrashPoint::Before`]: the function dies before the handler runs;
//! - [`CrashPoint::After`]: the handler runs to completion (its writes happen,
//!   the tool is called) and then its response is lost. For the tool invoker
//!   this is the crash between "the tool call succeeded" and "the outcome was
//!   recorded" that exactly-once has to survive.
//!
//! Crashes are planned per intent ([`CrashPlan`]): "crash the tool invoker
//! after it ran, 3 times". Every execution of the intent (duplicates, retries,
//! redrives) draws from the same counters, so a plan that outlasts the state
//! machine's retries fails the execution and it must be redriven.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ccx_core::handlers::Handler;
use serde_json::Value;

use crate::engine::{TaskFailure, TaskInvoker, function_name};

/// Where in a task invocation the crash happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    Before,
    After,
}

impl CrashPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::Before => "before",
            CrashPoint::After => "after",
        }
    }
}

/// One planned crash: `times` invocations of `handler` crash at `point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    pub handler: Handler,
    pub point: CrashPoint,
    pub times: u32,
    /// Report `Sandbox.Timedout` instead of `Lambda.Unknown`.
    pub timed_out: bool,
}

/// The crashes still to happen, per intent id.
#[derive(Default)]
pub struct CrashPlan {
    pending: Mutex<HashMap<String, Vec<Crash>>>,
    injected: Mutex<HashMap<(Handler, CrashPoint), u64>>,
}

impl CrashPlan {
    pub fn plan(&self, action_intent_id: &str, crashes: Vec<Crash>) {
        if crashes.is_empty() {
            return;
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(action_intent_id.to_string(), crashes);
    }

    /// Takes one crash for this invocation, if the plan has one left.
    fn take(&self, action_intent_id: &str, handler: Handler) -> Option<Crash> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let crashes = pending.get_mut(action_intent_id)?;
        let crash = crashes
            .iter_mut()
            .find(|c| c.handler == handler && c.times > 0)?;
        crash.times -= 1;
        let taken = *crash;
        drop(pending);
        *self
            .injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((handler, taken.point))
            .or_default() += 1;
        Some(taken)
    }

    /// Crashes injected so far, per handler and point.
    pub fn injected(&self) -> HashMap<(Handler, CrashPoint), u64> {
        self.injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Wraps the real invoker and crashes invocations as the plan says.
pub struct CrashingInvoker {
    inner: Arc<dyn TaskInvoker>,
    plan: Arc<CrashPlan>,
    /// Invocations that reached the inner invoker.
    pub invocations: AtomicU64,
}

impl CrashingInvoker {
    pub fn new(inner: Arc<dyn TaskInvoker>, plan: Arc<CrashPlan>) -> Self {
        Self {
            inner,
            plan,
            invocations: AtomicU64::new(0),
        }
    }
}

fn crash_failure(crash: &Crash) -> TaskFailure {
    if crash.timed_out {
        TaskFailure::new(
            "Sandbox.Timedout",
            Some(format!(
                "chaos: {} timed out {} its handler finished",
                crash.handler,
                crash.point.as_str()
            )),
        )
    } else {
        TaskFailure::new(
            "Lambda.Unknown",
            Some(format!(
                "chaos: {} crashed {} its handler ran",
                crash.handler,
                crash.point.as_str()
            )),
        )
    }
}

#[async_trait]
impl TaskInvoker for CrashingInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let crash = match (
            Handler::from_name(function_name(resource)),
            input.get("action_intent_id").and_then(Value::as_str),
        ) {
            (Some(handler), Some(intent)) => self.plan.take(intent, handler),
            _ => None,
        };
        if let Some(c) = crash.filter(|c| c.point == CrashPoint::Before) {
            return Err(crash_failure(&c));
        }
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.invoke(resource, input).await;
        match crash {
            // The handler ran (and wrote what it writes); its answer is lost.
            Some(c) => Err(crash_failure(&c)),
            None => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::local_function_arn;
    use serde_json::json;

    struct Echo;

    #[async_trait]
    impl TaskInvoker for Echo {
        async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskFailure> {
            Ok(input)
        }
    }

    #[tokio::test]
    async fn planned_crashes_happen_then_run_out() {
        let plan = Arc::new(CrashPlan::default());
        plan.plan(
            "i1",
            vec![Crash {
                handler: Handler::ToolInvoker,
                point: CrashPoint::After,
                times: 2,
                timed_out: false,
            }],
        );
        let invoker = CrashingInvoker::new(Arc::new(Echo), plan.clone());
        let input = json!({"action_intent_id": "i1"});
        let other = json!({"action_intent_id": "i2"});
        for _ in 0..2 {
            let err = invoker
                .invoke(&local_function_arn(Handler::ToolInvoker), input.clone())
                .await
                .unwrap_err();
            assert_eq!(err.error, "Lambda.Unknown");
        }
        assert_eq!(
            invoker
                .invoke(&local_function_arn(Handler::ToolInvoker), input.clone())
                .await,
            Ok(input.clone())
        );
        assert_eq!(
            invoker
                .invoke(&local_function_arn(Handler::Recorder), input.clone())
                .await,
            Ok(input)
        );
        assert!(
            invoker
                .invoke(&local_function_arn(Handler::ToolInvoker), other)
                .await
                .is_ok()
        );
        // "after" crashes still reach the handler.
        assert_eq!(invoker.invocations.load(Ordering::Relaxed), 5);
        assert_eq!(
            plan.injected()[&(Handler::ToolInvoker, CrashPoint::After)],
            2
        );
    }
}
