//! The gateway's own "external system": an embedded SQLite database holding the
//! notes and tasks the tools create, and a log of every write.
//!
//! Why a write log: the chaos checks of the execution layer must prove that each
//! idempotency key caused exactly one external write, however many times the
//! tool was called. The log records every state change (create or delete) with
//! the key that caused it; replays that change nothing are not logged.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An object created by a tool (a note or a task in `internal` or `crm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObject {
    pub object_id: String,
    pub system: String,
    pub object_type: String,
    pub tenant_id: String,
    pub account_id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub priority: Option<String>,
    /// Any further arguments the tool received, kept as sent.
    pub attributes: Value,
    /// The tool that created the object.
    pub created_by_tool: String,
    pub idempotency_key: String,
    pub created_at: String,
    /// Set once a compensation tool deleted the object.
    pub deleted_at: Option<String>,
}

/// What a create tool asks the store to write.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub system: String,
    pub object_type: String,
    pub tenant_id: String,
    pub account_id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub priority: Option<String>,
    pub attributes: Value,
    pub created_by_tool: String,
    pub idempotency_key: String,
}

/// Result of a create: the object, and whether this call wrote it (false when
/// the idempotency key had already been used by the same tool).
#[derive(Debug, Clone)]
pub struct CreateOutcome {
    pub object: StoredObject,
    pub written: bool,
}

/// Why a delete could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRefusal {
    NotFound,
    /// The object belongs to another tenant/account, or is of another system/type.
    Mismatch(String),
}

/// Result of a delete that was allowed.
#[derive(Debug, Clone)]
pub struct DeleteOutcome {
    pub object: StoredObject,
    /// False when the object was already deleted (deleting twice is fine).
    pub written: bool,
}

/// One entry of the write log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRecord {
    pub seq: i64,
    pub idempotency_key: String,
    pub tool_name: String,
    pub object_id: String,
    /// `create` or `delete`.
    pub operation: String,
    pub at: String,
}

#[derive(Debug, thiserror::Error)]
#[error("gateway store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// SQLite store behind one mutex: the gateway is a development tool and its
/// writes are tiny, so serialising them keeps the dedupe check and the write in
/// one critical section without needing SQLite-level locking subtleties.
pub struct GatewayStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS objects (
    object_id       TEXT PRIMARY KEY,
    system          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    title           TEXT,
    body            TEXT,
    due_date        TEXT,
    priority        TEXT,
    attributes      TEXT NOT NULL,
    created_by_tool TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    deleted_at      TEXT,
    UNIQUE (created_by_tool, idempotency_key)
);
CREATE TABLE IF NOT EXISTS writes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL,
    tool_name       TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    operation       TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS writes_by_key ON writes (idempotency_key);
"#;

const OBJECT_COLUMNS: &str = "object_id, system, object_type, tenant_id, account_id, title, body, \
     due_date, priority, attributes, created_by_tool, idempotency_key, created_at, deleted_at";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn row_to_object(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredObject> {
    let attributes: String = row.get(9)?;
    Ok(StoredObject {
        object_id: row.get(0)?,
        system: row.get(1)?,
        object_type: row.get(2)?,
        tenant_id: row.get(3)?,
        account_id: row.get(4)?,
        title: row.get(5)?,
        body: row.get(6)?,
        due_date: row.get(7)?,
        priority: row.get(8)?,
        attributes: serde_json::from_str(&attributes).unwrap_or(Value::Null),
        created_by_tool: row.get(10)?,
        idempotency_key: row.get(11)?,
        created_at: row.get(12)?,
        deleted_at: row.get(13)?,
    })
}

impl GatewayStore {
    /// Opens (creating if needed) `gateway.sqlite` in `data_dir`, or an in-memory
    /// database when `data_dir` is `None`.
    pub fn open(data_dir: Option<&Path>) -> Result<Self, StoreError> {
        let conn = match data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    rusqlite::Error::InvalidPath(dir.join(format!("cannot create: {e}")))
                })?;
                let conn = Connection::open(dir.join("gateway.sqlite"))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the object unless this tool already created one for the key, in
    /// which case the existing object is returned and nothing is written.
    pub fn create_object(
        &self,
        new: &NewObject,
        object_id: &str,
    ) -> Result<CreateOutcome, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE created_by_tool = ?1 AND idempotency_key = ?2"
                ),
                params![new.created_by_tool, new.idempotency_key],
                row_to_object,
            )
            .optional()?;
        if let Some(object) = existing {
            return Ok(CreateOutcome {
                object,
                written: false,
            });
        }
        let at = now();
        tx.execute(
            &format!("INSERT INTO objects ({OBJECT_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,NULL)"),
            params![
                object_id,
                new.system,
                new.object_type,
                new.tenant_id,
                new.account_id,
                new.title,
                new.body,
                new.due_date,
                new.priority,
                new.attributes.to_string(),
                new.created_by_tool,
                new.idempotency_key,
                at,
            ],
        )?;
        tx.execute(
            "INSERT INTO writes (idempotency_key, tool_name, object_id, operation, at) VALUES (?1,?2,?3,'create',?4)",
            params![new.idempotency_key, new.created_by_tool, object_id, at],
        )?;
        let object = tx.query_row(
            &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE object_id = ?1"),
            params![object_id],
            row_to_object,
        )?;
        tx.commit()?;
        Ok(CreateOutcome {
            object,
            written: true,
        })
    }

    /// Marks the object deleted. Deleting an already deleted object succeeds
    /// without writing; an unknown object or one of another tenant is refused.
    #[allow(clippy::too_many_arguments)]
    pub fn delete_object(
        &self,
        tool_name: &str,
        idempotency_key: &str,
        object_id: &str,
        system: &str,
        object_type: &str,
        tenant_id: &str,
        account_id: &str,
    ) -> Result<Result<DeleteOutcome, DeleteRefusal>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let found = tx
            .query_row(
                &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE object_id = ?1"),
                params![object_id],
                row_to_object,
            )
            .optional()?;
        let Some(object) = found else {
            return Ok(Err(DeleteRefusal::NotFound));
        };
        if object.tenant_id != tenant_id || object.account_id != account_id {
            return Ok(Err(DeleteRefusal::Mismatch(format!(
                "object {object_id} does not belong to tenant {tenant_id} / account {account_id}"
            ))));
        }
        if object.system != system || object.object_type != object_type {
            return Ok(Err(DeleteRefusal::Mismatch(format!(
                "object {object_id} is a {}/{}, not a {system}/{object_type}",
                object.system, object.object_type
            ))));
        }
        if object.deleted_at.is_some() {
            return Ok(Ok(DeleteOutcome {
                object,
                written: false,
            }));
        }
        let at = now();
        tx.execute(
            "UPDATE objects SET deleted_at = ?2 WHERE object_id = ?1",
            params![object_id, at],
        )?;
        tx.execute(
            "INSERT INTO writes (idempotency_key, tool_name, object_id, operation, at) VALUES (?1,?2,?3,'delete',?4)",
            params![idempotency_key, tool_name, object_id, at],
        )?;
        tx.commit()?;
        Ok(Ok(DeleteOutcome {
            object: StoredObject {
                deleted_at: Some(at),
                ..object
            },
            written: true,
        }))
    }

    pub fn get_object(&self, object_id: &str) -> Result<Option<StoredObject>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE object_id = ?1"),
                params![object_id],
                row_to_object,
            )
            .optional()?)
    }

    /// The object `tool_name` created under `idempotency_key`, if any.
    pub fn created_for_key(
        &self,
        tool_name: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE created_by_tool = ?1 AND idempotency_key = ?2"
                ),
                params![tool_name, idempotency_key],
                row_to_object,
            )
            .optional()?)
    }

    /// Objects not deleted, oldest first.
    pub fn live_objects(&self) -> Result<Vec<StoredObject>, StoreError> {
        self.query_objects("WHERE deleted_at IS NULL")
    }

    /// Every object ever created, deleted ones included, oldest first.
    pub fn all_objects(&self) -> Result<Vec<StoredObject>, StoreError> {
        self.query_objects("")
    }

    fn query_objects(&self, filter: &str) -> Result<Vec<StoredObject>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {OBJECT_COLUMNS} FROM objects {filter} ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map([], row_to_object)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Number of external writes (creates and deletes that changed state) made
    /// under `idempotency_key`.
    pub fn writes_for_key(&self, idempotency_key: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM writes WHERE idempotency_key = ?1",
            params![idempotency_key],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Writes per idempotency key, for every key that caused at least one write.
    pub fn write_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT idempotency_key, COUNT(*) FROM writes GROUP BY idempotency_key")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<BTreeMap<_, _>, _>>()?)
    }

    /// The whole write log, in order.
    pub fn write_log(&self) -> Result<Vec<WriteRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, idempotency_key, tool_name, object_id, operation, at FROM writes ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WriteRecord {
                seq: r.get(0)?,
                idempotency_key: r.get(1)?,
                tool_name: r.get(2)?,
                object_id: r.get(3)?,
                operation: r.get(4)?,
                at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(key: &str) -> NewObject {
        NewObject {
            system: "internal".into(),
            object_type: "note".into(),
            tenant_id: "t1".into(),
            account_id: "a1".into(),
            title: Some("hello".into()),
            body: None,
            due_date: None,
            priority: None,
            attributes: serde_json::json!({}),
            created_by_tool: "internal.create_note".into(),
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn same_key_writes_once_and_returns_the_same_object() {
        let store = GatewayStore::open(None).unwrap();
        let first = store.create_object(&note("k1"), "note_1").unwrap();
        let second = store.create_object(&note("k1"), "note_2").unwrap();
        assert!(first.written);
        assert!(!second.written);
        assert_eq!(second.object.object_id, "note_1");
        assert_eq!(store.writes_for_key("k1").unwrap(), 1);
        assert_eq!(store.live_objects().unwrap().len(), 1);
    }

    #[test]
    fn delete_is_idempotent_and_tenant_scoped() {
        let store = GatewayStore::open(None).unwrap();
        store.create_object(&note("k1"), "note_1").unwrap();
        let other = store
            .delete_object(
                "internal.delete_note",
                "d1",
                "note_1",
                "internal",
                "note",
                "t2",
                "a1",
            )
            .unwrap();
        assert!(matches!(other, Err(DeleteRefusal::Mismatch(_))));
        let once = store
            .delete_object(
                "internal.delete_note",
                "d1",
                "note_1",
                "internal",
                "note",
                "t1",
                "a1",
            )
            .unwrap()
            .unwrap();
        let twice = store
            .delete_object(
                "internal.delete_note",
                "d1",
                "note_1",
                "internal",
                "note",
                "t1",
                "a1",
            )
            .unwrap()
            .unwrap();
        assert!(once.written);
        assert!(!twice.written);
        assert!(store.live_objects().unwrap().is_empty());
        assert_eq!(store.writes_for_key("d1").unwrap(), 1);
        let missing = store
            .delete_object(
                "internal.delete_note",
                "d2",
                "nope",
                "internal",
                "note",
                "t1",
                "a1",
            )
            .unwrap();
        assert_eq!(missing.unwrap_err(), DeleteRefusal::NotFound);
    }

    #[test]
    fn file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = GatewayStore::open(Some(dir.path())).unwrap();
            store.create_object(&note("k1"), "note_1").unwrap();
        }
        let store = GatewayStore::open(Some(dir.path())).unwrap();
        assert_eq!(
            store
                .get_object("note_1")
                .unwrap()
                .unwrap()
                .title
                .as_deref(),
            Some("hello")
        );
        assert_eq!(store.write_counts().unwrap().get("k1"), Some(&1));
    }
}
