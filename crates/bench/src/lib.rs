//! `make bench`: numbers anyone can reproduce for the execution layer.
//!
//! - [`cold_start`]: the seven release binaries started as Lambda starts them,
//!   against the mock Runtime API, until their first response; peak RSS.
//! - [`cost`]: one successful and two failed executions through the engine,
//!   every port counted ([`metering`]), priced with `bench/prices.json`.
//! - [`throughput`]: the embedded engine at 1, 8 and 64 concurrent executions
//!   against the development gateway on loopback.
//! - [`overhead`]: the time a tool call spends in our code beyond the gateway.
//!
//! [`report`] writes `bench/results.json`, the table, the BENCHMARKS.md block
//! and ([`plot`]) the PNG. Timings are never asserted anywhere: machines here
//! are noisy; compare ratios within one run.

pub mod cold_start;
pub mod cost;
pub mod harness;
pub mod merge;
pub mod metering;
pub mod overhead;
pub mod plot;
pub mod report;
pub mod stats;
pub mod throughput;
