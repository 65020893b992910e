//! Raw-response artifacts as files under the data folder (the S3 stand-in).

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::error::{ExecutionError, Result};
use crate::ports::ArtifactStore;

const SCHEME: &str = "file://";

pub struct FileArtifactStore {
    root: PathBuf,
}

impl FileArtifactStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Keys come from tenant ids and tool names: refuse anything that could
    /// escape the artifacts folder.
    fn path_for(&self, key: &str) -> Result<PathBuf> {
        let rel = Path::new(key);
        if key.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(ExecutionError::validation(
                "INVALID_ARTIFACT_KEY",
                format!("artifact key {key:?} must be a relative path without '..'"),
            ));
        }
        Ok(self.root.join(rel))
    }
}

#[async_trait]
impl ArtifactStore for FileArtifactStore {
    async fn put(&self, key: &str, body: &[u8], _content_type: &str) -> Result<String> {
        let path = self.path_for(key)?;
        let body = body.to_vec();
        let written = path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(parent) = written.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // Write then rename, so a reader never sees half an artifact.
            let tmp = written.with_extension("partial");
            std::fs::write(&tmp, &body)?;
            std::fs::rename(&tmp, &written)
        })
        .await
        .map_err(|e| ExecutionError::store_unavailable(format!("artifact writer panicked: {e}")))?
        .map_err(|e| {
            ExecutionError::store_unavailable(format!(
                "cannot write artifact {}: {e}",
                path.display()
            ))
        })?;
        Ok(format!("{SCHEME}{}", path.display()))
    }

    async fn get(&self, artifact_ref: &str) -> Result<Vec<u8>> {
        let path = artifact_ref.strip_prefix(SCHEME).ok_or_else(|| {
            ExecutionError::validation(
                "INVALID_ARTIFACT_REF",
                format!("{artifact_ref:?} is not a file:// artifact reference"),
            )
        })?;
        let path = PathBuf::from(path);
        if !path.starts_with(&self.root) {
            return Err(ExecutionError::validation(
                "INVALID_ARTIFACT_REF",
                format!("{artifact_ref:?} is outside the artifacts folder"),
            ));
        }
        tokio::fs::read(&path).await.map_err(|e| {
            ExecutionError::validation(
                "ARTIFACT_NOT_FOUND",
                format!("cannot read artifact {}: {e}", path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_then_get_round_trips_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileArtifactStore::new(dir.path().join("artifacts"));
        let r = store
            .put(
                "t1/toolrun/tr/1/crm.create_task.json",
                b"{\"a\":1}",
                "application/json",
            )
            .await
            .unwrap();
        assert!(r.starts_with("file://"));
        assert_eq!(store.get(&r).await.unwrap(), b"{\"a\":1}");
        let err = store.put("../evil", b"x", "text/plain").await.unwrap_err();
        assert_eq!(err.code, "INVALID_ARTIFACT_KEY");
        let err = store.get("file:///etc/passwd").await.unwrap_err();
        assert_eq!(err.code, "INVALID_ARTIFACT_REF");
    }
}
