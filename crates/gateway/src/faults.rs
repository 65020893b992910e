//! Fault injection: random faults at configured rates (seeded, so a chaos run
//! is reproducible) and scripted faults for deterministic tests ("fail the next
//! two calls with 503"). Faults apply only to `tools/call`; the handshake,
//! `tools/list` and the token endpoint are never disturbed.
//!
//! HTTP-level faults (status codes, malformed bodies, slow responses) are
//! applied by [`crate::fault_layer`]; tool-level faults (`isError`, partial
//! writes) travel to the tool handler as a request extension.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 503 with a plain-text body.
    Http5xx,
    /// HTTP 429 with `Retry-After: 1`.
    Http429,
    /// Any HTTP status with a small HTML body (e.g. 400, 404, 502): proves the
    /// client classifies non-JSON error pages.
    Status(u16),
    /// The tool runs, then the response is held back for the configured delay,
    /// past the client's timeout: the write happened but the caller saw a timeout.
    Timeout,
    /// HTTP 200 `application/json` whose body is not valid JSON.
    Malformed,
    /// The tool does not run and reports `isError: true` (class DOWNSTREAM).
    ToolError,
    /// The tool runs (writes its object), then reports failure with the partial ref.
    Partial,
}

impl Fault {
    /// Faults carried out by the tool handler rather than the HTTP layer.
    pub fn is_tool_level(self) -> bool {
        matches!(self, Fault::ToolError | Fault::Partial)
    }
}

/// Random fault rates (each 0..=1, summing to at most 1) and the RNG seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub rate_5xx: f64,
    pub rate_429: f64,
    pub rate_timeout: f64,
    pub rate_malformed: f64,
    pub rate_tool_error: f64,
    pub rate_partial: f64,
    pub seed: u64,
    /// How long a `Timeout` fault holds the response (must exceed the client timeout).
    #[serde(with = "duration_ms")]
    pub timeout_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_5xx: 0.0,
            rate_429: 0.0,
            rate_timeout: 0.0,
            rate_malformed: 0.0,
            rate_tool_error: 0.0,
            rate_partial: 0.0,
            seed: 0,
            timeout_delay: Duration::from_secs(15),
        }
    }
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

impl Faults {
    fn table(&self) -> [(f64, Fault); 6] {
        [
            (self.rate_5xx, Fault::Http5xx),
            (self.rate_429, Fault::Http429),
            (self.rate_timeout, Fault::Timeout),
            (self.rate_malformed, Fault::Malformed),
            (self.rate_tool_error, Fault::ToolError),
            (self.rate_partial, Fault::Partial),
        ]
    }

    /// Rejects rates outside 0..=1 or summing above 1.
    pub fn validate(&self) -> Result<(), String> {
        let mut sum = 0.0;
        for (rate, fault) in self.table() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "rate of {fault:?} must be within 0..=1, got {rate}"
                ));
            }
            sum += rate;
        }
        if sum > 1.0 + f64::EPSILON {
            return Err(format!("fault rates sum to {sum}, more than 1"));
        }
        Ok(())
    }
}

/// Decides which fault, if any, hits each `tools/call`.
pub struct FaultInjector {
    random: Mutex<(Faults, StdRng)>,
    script: Mutex<VecDeque<Fault>>,
    injected: AtomicU64,
}

impl FaultInjector {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        Self {
            random: Mutex::new((faults, rng)),
            script: Mutex::new(VecDeque::new()),
            injected: AtomicU64::new(0),
        }
    }

    /// Queue `count` occurrences of `fault` for the next `tools/call`s; scripted
    /// faults are used before any random one.
    pub fn script(&self, fault: Fault, count: usize) {
        let mut script = self.script.lock().unwrap_or_else(|p| p.into_inner());
        script.extend(std::iter::repeat_n(fault, count));
    }

    /// Drop every scripted fault not yet used.
    pub fn clear_script(&self) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Replace the random rates (the RNG is reseeded from `faults.seed`).
    pub fn set_rates(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        let rng = StdRng::seed_from_u64(faults.seed);
        *self.random.lock().unwrap_or_else(|p| p.into_inner()) = (faults, rng);
        Ok(())
    }

    pub fn rates(&self) -> Faults {
        self.random
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    pub fn timeout_delay(&self) -> Duration {
        self.random
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .timeout_delay
    }

    /// How many faults have been injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The fault for the next `tools/call`: the next scripted one, else a roll.
    pub fn next_fault(&self) -> Option<Fault> {
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let fault = scripted.or_else(|| {
            let mut guard = self.random.lock().unwrap_or_else(|p| p.into_inner());
            let (faults, rng) = &mut *guard;
            let table = faults.table();
            if table.iter().all(|(rate, _)| *rate <= 0.0) {
                return None;
            }
            let roll: f64 = rng.random();
            let mut acc = 0.0;
            table.into_iter().find_map(|(rate, fault)| {
                acc += rate;
                (roll < acc).then_some(fault)
            })
        });
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_first_and_run_out() {
        let injector = FaultInjector::new(Faults::default());
        injector.script(Fault::Http5xx, 2);
        assert_eq!(injector.next_fault(), Some(Fault::Http5xx));
        assert_eq!(injector.next_fault(), Some(Fault::Http5xx));
        assert_eq!(injector.next_fault(), None);
        assert_eq!(injector.injected(), 2);
    }

    #[test]
    fn same_seed_gives_same_sequence() {
        let faults = Faults {
            rate_5xx: 0.3,
            rate_partial: 0.3,
            seed: 42,
            ..Faults::default()
        };
        let a = FaultInjector::new(faults.clone());
        let b = FaultInjector::new(faults);
        let seq_a: Vec<_> = (0..50).map(|_| a.next_fault()).collect();
        let seq_b: Vec<_> = (0..50).map(|_| b.next_fault()).collect();
        assert_eq!(seq_a, seq_b);
        assert!(seq_a.contains(&Some(Fault::Http5xx)));
        assert!(seq_a.contains(&Some(Fault::Partial)));
        assert!(seq_a.contains(&None));
    }

    #[test]
    fn rate_one_always_faults_and_bad_rates_are_refused() {
        let injector = FaultInjector::new(Faults {
            rate_429: 1.0,
            ..Faults::default()
        });
        assert!((0..20).all(|_| injector.next_fault() == Some(Fault::Http429)));
        let bad = Faults {
            rate_5xx: 0.7,
            rate_429: 0.7,
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
        assert!(injector.set_rates(bad).is_err());
    }
}
