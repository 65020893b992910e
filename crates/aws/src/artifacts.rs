//! Raw tool responses in S3.
//!
//! Callers pass `key` = `{tenant}/{tool_run_ref}.json` (see [`artifact_key`]);
//! the returned reference is `s3://bucket/key`, which is what outcomes carry and
//! what [`S3ArtifactStore::get`] reads back.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use ccx_core::error::Result;
use ccx_core::ports::ArtifactStore;
use ccx_core::{ErrorClass, ExecutionError};

use crate::sdk_error::service_error;

/// The object key of a raw response: `{tenant}/{tool_run_ref}.json`.
pub fn artifact_key(tenant_id: &str, tool_run_ref: &str) -> String {
    format!("{tenant_id}/{tool_run_ref}.json")
}

#[derive(Clone)]
pub struct S3ArtifactStore {
    client: Client,
    bucket: String,
}

impl S3ArtifactStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key` -> (bucket, key).
    fn parse_ref(artifact_ref: &str) -> Result<(&str, &str)> {
        artifact_ref
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
            .ok_or_else(|| {
                ExecutionError::validation(
                    "ARTIFACT_REF_INVALID",
                    format!("artifact reference {artifact_ref:?} is not s3://bucket/key"),
                )
            })
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<String> {
        let location = format!("s3://{}/{key}", self.bucket);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .map_err(|e| service_error("S3 PutObject", &location, "ARTIFACT_WRITE_FAILED", &e))?;
        Ok(location)
    }

    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>> {
        let (bucket, key) = Self::parse_ref(artifact_ref)?;
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|se| se.is_no_such_key()) {
                    ExecutionError::permanent(
                        ErrorClass::Downstream,
                        "ARTIFACT_NOT_FOUND",
                        format!("artifact {artifact_ref} does not exist"),
                    )
                } else {
                    service_error("S3 GetObject", artifact_ref, "ARTIFACT_READ_FAILED", &e)
                }
            })?;
        let body = out.body.collect().await.map_err(|e| {
            ExecutionError::transient(
                ErrorClass::Downstream,
                "ARTIFACT_READ_UNAVAILABLE",
                format!("reading the body of {artifact_ref} failed: {e}"),
            )
        })?;
        Ok(body.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_ref_formats() {
        assert_eq!(
            artifact_key("t1", "toolrun/tr/1/crm.create_task"),
            "t1/toolrun/tr/1/crm.create_task.json"
        );
        assert_eq!(
            S3ArtifactStore::parse_ref("s3://b/t1/x.json").unwrap(),
            ("b", "t1/x.json")
        );
        let err = S3ArtifactStore::parse_ref("file:///tmp/x").unwrap_err();
        assert_eq!(err.code, "ARTIFACT_REF_INVALID");
        assert!(S3ArtifactStore::parse_ref("s3://bucket-only").is_err());
    }
}
