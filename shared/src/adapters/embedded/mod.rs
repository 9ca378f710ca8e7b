//! The embedded adapters: one SQLite database holds the store, the outbox, the pending timers
//! and the log of published outbound events. SQLite gives durable, atomic, conditional
//! transactions in-process with nothing to install (the library is compiled in).

mod publisher;
mod store;
mod timers;

pub use publisher::LogPublisher;
pub use store::EmbeddedStore;
pub use timers::EmbeddedTimers;

use crate::ports::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A shared handle on the embedded database.
#[derive(Clone)]
pub struct EmbeddedDb {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS settings (
    workspace_id TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    doc          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS handoffs (
    workspace_id    TEXT NOT NULL,
    handoff_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    active          INTEGER NOT NULL,
    assignee        TEXT,
    channel         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    PRIMARY KEY (workspace_id, handoff_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS handoffs_one_active_per_conversation
    ON handoffs (workspace_id, conversation_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS handoffs_inbox ON handoffs (workspace_id, created_at, handoff_id);
CREATE TABLE IF NOT EXISTS escalations (
    workspace_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
);
CREATE TABLE IF NOT EXISTS outbox (
    effect_id   TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    dispatched  INTEGER NOT NULL DEFAULT 0,
    effect      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (dispatched, recorded_at);
CREATE TABLE IF NOT EXISTS timers (
    timer_id TEXT PRIMARY KEY,
    due_at   TEXT NOT NULL,
    timer    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at);
CREATE TABLE IF NOT EXISTS outbound_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL
);
"#;

impl EmbeddedDb {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(unavailable)?;
        Self::init(conn)
    }

    /// A database that lives in memory only (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection off the async runtime's worker threads.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Unavailable("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }
}

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) use super::sortable_time as ts;
