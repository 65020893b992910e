//! Shared fixtures of the cross-crate tests.

pub mod binaries;
pub mod lambda_router;
pub mod mock_runtime;
pub mod moto;
