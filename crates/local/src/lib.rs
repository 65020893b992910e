//! The embedded execution layer: a local interpreter of the state machine
//! ([`engine`]) that calls the handlers in process.

pub mod engine;
