//! Core of the execution layer: contracts, the one error type, ports, and the
//! handler logic that every runtime (Lambda binaries, the local engine, tests)
//! calls. See `DESIGN.md` in the shared folder for the architecture.

pub mod contracts;
pub mod error;
pub mod fixtures;
pub mod handlers;
pub mod idempotency;
pub mod io;
pub mod lambda;
pub mod logging;
pub mod ports;
pub mod store;
pub mod tool_result;

pub use error::{ErrorClass, ExecutionError};
pub use ports::Deps;
