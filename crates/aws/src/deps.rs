//! Building the handlers' [`Deps`] on AWS, once per cold start.

use std::sync::Arc;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use ccx_core::ExecutionError;
use ccx_core::error::Result;
use ccx_core::ports::{ArtifactStore, Deps, EventPublisher, McpClient, NoMcpClient, SystemClock};
use ccx_infra::Handler;

use crate::artifacts::S3ArtifactStore;
use crate::config::{AwsConfig, ENV_ARTIFACTS_BUCKET, ENV_EVENT_BUS_NAME};
use crate::dynamo::DynamoStore;
use crate::events::EventBridgePublisher;
use crate::secrets::{SecretsManagerSecret, SecretsManagerSource};
use crate::unconfigured::Unconfigured;

/// Connect timeout of every AWS call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-operation timeout of every AWS call: well under the 15 s the stack
/// gives the shortest function, so a hung call surfaces as a classified
/// `TransientError` instead of a Lambda timeout.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared SDK configuration from the standard chain: region, credentials and
/// `AWS_ENDPOINT_URL` (moto, LocalStack) come from the environment. Nothing here
/// sets an endpoint, so the standard variable always wins.
///
/// The SDK's own retries are switched off: retries live in one place, the state
/// machine's `Retry` on `TransientError` (see DESIGN.md, Errors and retries).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// One client per service, built from one [`SdkConfig`].
#[derive(Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        // With a custom endpoint (moto, LocalStack) use path-style addressing:
        // emulators serve `http://host:port/bucket/key` and have no wildcard DNS
        // for `bucket.host`. On AWS keep the default virtual-hosted style.
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            secretsmanager: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(&load_sdk_config().await)
    }

    pub fn secrets(&self) -> SecretsManagerSecret {
        SecretsManagerSecret::new(self.secretsmanager.clone())
    }
}

/// Deps over DynamoDB, S3 and EventBridge. A bucket or bus absent from
/// `config` becomes an [`Unconfigured`] stand-in that names its variable.
pub fn aws_deps(config: &AwsConfig, clients: &AwsClients, mcp: Arc<dyn McpClient>) -> Deps {
    let artifacts: Arc<dyn ArtifactStore> = match &config.artifacts_bucket {
        Some(bucket) => Arc::new(S3ArtifactStore::new(clients.s3.clone(), bucket.clone())),
        None => Arc::new(Unconfigured {
            variable: ENV_ARTIFACTS_BUCKET,
        }),
    };
    let events: Arc<dyn EventPublisher> = match &config.event_bus_name {
        Some(bus) => Arc::new(EventBridgePublisher::new(
            clients.eventbridge.clone(),
            bus.clone(),
        )),
        None => Arc::new(Unconfigured {
            variable: ENV_EVENT_BUS_NAME,
        }),
    };
    Deps {
        store: Arc::new(DynamoStore::new(
            clients.dynamodb.clone(),
            config.tables.clone(),
        )),
        artifacts,
        events,
        mcp,
        clock: Arc::new(SystemClock),
        settings: config.settings.clone(),
    }
}

/// Deps for a process that needs every resource: reads [`AwsConfig::from_env`]
/// (one error naming every missing variable) and builds the clients.
pub async fn aws_deps_from_env(mcp: Arc<dyn McpClient>) -> Result<Deps> {
    let config = AwsConfig::from_env()?;
    let clients = AwsClients::from_env().await;
    Ok(aws_deps(&config, &clients, mcp))
}

/// For the Lambda mains: requires exactly the variables the stack gives
/// `handler` ([`AwsConfig::for_handler`]), so a function is neither failed for
/// a table it may not touch nor started without one it needs.
pub async fn aws_deps_for_handler(handler: Handler, mcp: Arc<dyn McpClient>) -> Result<Deps> {
    let config = AwsConfig::for_handler(handler)?;
    let clients = AwsClients::from_env().await;
    Ok(aws_deps(&config, &clients, mcp))
}

/// The MCP gateway client of a handler binary on AWS: `ccx_mcp`'s client from
/// the environment, with `CCX_GATEWAY_CLIENT_SECRET_ARN` resolved through
/// Secrets Manager.
pub fn mcp_client_from_env(clients: &AwsClients) -> Result<Arc<dyn McpClient>> {
    let config = ccx_mcp::GatewayConfig::from_env()?;
    let resolve = |arn: &str| -> Arc<dyn ccx_mcp::SecretSource> {
        Arc::new(SecretsManagerSource::new(clients.secrets(), arn))
    };
    Ok(Arc::new(ccx_mcp::client_from_config(
        &config,
        Some(&resolve),
    )?))
}

/// Everything a Lambda main needs, from the environment the stack gives
/// `handler`: its resources ([`AwsConfig::for_handler`]) and, if the function
/// calls the gateway (per its grants in `ccx_infra`), the MCP client with its
/// secret from Secrets Manager; otherwise [`NoMcpClient`]. Every missing
/// variable, of both configurations, is named in ONE `ConfigurationError`.
pub async fn lambda_deps(handler: Handler) -> Result<Deps> {
    let config = AwsConfig::for_handler(handler);
    let gateway = handler
        .def()
        .calls_gateway()
        .then(ccx_mcp::GatewayConfig::from_env);
    let (config, gateway) = match (config, gateway.transpose()) {
        (Ok(c), Ok(g)) => (c, g),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(a), Err(g)) => {
            return Err(ExecutionError::configuration(
                "CONFIG_INCOMPLETE",
                format!("{}; {}", a.message, g.message),
            ));
        }
    };
    let clients = AwsClients::from_env().await;
    let mcp: Arc<dyn McpClient> = match gateway {
        Some(g) => {
            let resolve = |arn: &str| -> Arc<dyn ccx_mcp::SecretSource> {
                Arc::new(SecretsManagerSource::new(clients.secrets(), arn))
            };
            Arc::new(ccx_mcp::client_from_config(&g, Some(&resolve))?)
        }
        None => Arc::new(NoMcpClient),
    };
    Ok(aws_deps(&config, &clients, mcp))
}
