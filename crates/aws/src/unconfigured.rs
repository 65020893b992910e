//! Stand-ins for a bucket or bus the function was not given.
//!
//! The stack tells each function only about the resources its IAM grants cover;
//! the validator, say, gets no bucket. `Deps` still needs an artifact store and
//! a publisher, so such a function gets these, which fail with a
//! `ConfigurationError` naming the missing variable if they are ever used,
//! instead of writing to a default that does not exist.

use async_trait::async_trait;
use ccx_core::ExecutionError;
use ccx_core::error::Result;
use ccx_core::ports::{ArtifactStore, EventPublisher, ExecutionEvent};

pub struct Unconfigured {
    /// The environment variable that would have configured the resource.
    pub variable: &'static str,
}

impl Unconfigured {
    fn error(&self, what: &str) -> ExecutionError {
        ExecutionError::configuration(
            "RESOURCE_NOT_CONFIGURED",
            format!(
                "{what} is not configured for this function: set {}",
                self.variable
            ),
        )
    }
}

#[async_trait]
impl ArtifactStore for Unconfigured {
    async fn put(&self, key: &str, _body: &[u8], _content_type: &str) -> Result<String> {
        Err(self.error(&format!("the artifacts bucket (writing {key})")))
    }
    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>> {
        Err(self.error(&format!("the artifacts bucket (reading {artifact_ref})")))
    }
}

#[async_trait]
impl EventPublisher for Unconfigured {
    async fn publish(&self, event: &ExecutionEvent) -> Result<()> {
        Err(self.error(&format!("the event bus (publishing {})", event.detail_type)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn use_names_the_variable() {
        let u = Unconfigured {
            variable: "CCX_ARTIFACTS_BUCKET",
        };
        let err = u
            .put("t/k.json", b"{}", "application/json")
            .await
            .unwrap_err();
        assert_eq!(err.name, "ConfigurationError");
        assert!(
            err.message.contains("set CCX_ARTIFACTS_BUCKET"),
            "{}",
            err.message
        );
        let err = EventPublisher::publish(
            &Unconfigured {
                variable: "CCX_EVENT_BUS_NAME",
            },
            &ExecutionEvent {
                source: "s".into(),
                detail_type: "ExecutionStarted".into(),
                detail: serde_json::json!({}),
            },
        )
        .await
        .unwrap_err();
        assert!(
            err.message.contains("publishing ExecutionStarted"),
            "{}",
            err.message
        );
    }
}
