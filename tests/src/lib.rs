//! Shared fixtures of the cross-crate tests.

pub mod mock_runtime;
