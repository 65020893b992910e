//! Embedded implementations of the ports: the default a new user meets first,
//! with no AWS at all. One data folder holds everything:
//!
//! ```text
//! <data-dir>/ccx.sqlite      every record store (SQLite, WAL)
//! <data-dir>/artifacts/      raw tool responses over the size threshold
//! <data-dir>/events.jsonl    execution lifecycle events, one JSON per line
//! ```

pub mod events;
pub mod files;
pub mod sqlite;

#[cfg(any(test, feature = "testkit"))]
pub mod conformance;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ExecutionError;
use crate::ports::{Deps, McpClient, NoMcpClient, Settings, SystemClock};

/// Environment variable naming the embedded data folder.
pub const DATA_DIR_ENV: &str = "CCX_DATA_DIR";

/// The embedded data folder: `$CCX_DATA_DIR`, else `./.data`.
pub fn data_dir_from_env() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".data"))
}

/// Deps over the embedded stores in `data_dir`, with the given MCP client.
pub fn embedded_deps(data_dir: &Path, mcp: Arc<dyn McpClient>) -> Result<Deps, ExecutionError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        ExecutionError::configuration(
            "DATA_DIR_UNWRITABLE",
            format!("cannot create data folder {}: {e}", data_dir.display()),
        )
    })?;
    let store = sqlite::SqliteStore::open(&data_dir.join(sqlite::DB_FILE))?;
    let artifacts = files::FileArtifactStore::new(data_dir.join("artifacts"));
    let events = events::JsonlEventPublisher::new(data_dir.join("events.jsonl"));
    Ok(Deps {
        store: Arc::new(store),
        artifacts: Arc::new(artifacts),
        events: Arc::new(events),
        mcp,
        clock: Arc::new(SystemClock),
        settings: Settings::default(),
    })
}

/// Deps for a Lambda binary running on the embedded default (`CCX_DATA_DIR`).
/// Handlers that call tools get their MCP client from `ccx-mcp`; the others use
/// [`NoMcpClient`], which fails loudly if ever called.
pub fn embedded_deps_from_env(mcp: Option<Arc<dyn McpClient>>) -> Result<Deps, ExecutionError> {
    embedded_deps(
        &data_dir_from_env(),
        mcp.unwrap_or_else(|| Arc::new(NoMcpClient)),
    )
}
