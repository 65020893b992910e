//! AWS adapters of the core ports: the DynamoDB [`Store`](ccx_core::ports::Store),
//! S3 artifacts, EventBridge execution events and Secrets Manager secrets, plus
//! the environment configuration the Lambda binaries build them from.
//!
//! Every client is built from `aws_config`'s standard chain, so
//! `AWS_ENDPOINT_URL` (moto, LocalStack) and the usual credential and region
//! variables apply unchanged. See `README.md` beside this crate.

pub mod artifacts;
pub mod bootstrap;
pub mod config;
pub mod deps;
pub mod dynamo;
pub mod events;
pub mod provision;
pub mod sdk_error;
pub mod secrets;
mod unconfigured;

pub use artifacts::{S3ArtifactStore, artifact_key};
pub use config::{AwsConfig, TableNames};
pub use deps::{
    AwsClients, aws_deps, aws_deps_for_handler, aws_deps_from_env, lambda_deps, load_sdk_config,
    mcp_client_from_env,
};
pub use dynamo::DynamoStore;
pub use events::EventBridgePublisher;
pub use secrets::{SecretsManagerSecret, SecretsManagerSource};
