//! The embedded execution layer: a local interpreter of the state machine
//! ([`engine`]) that calls the handlers in process.

pub mod chaos;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod events;
pub mod graph;
pub mod render;
pub mod seed;
pub mod system;
