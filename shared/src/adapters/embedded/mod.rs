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

/// A shared handle on the embedded database.
///
/// One thread owns the connection and commits in groups: it takes every request waiting, runs
/// each in a savepoint of its own (so each is still all or nothing), commits them together with
/// one `fsync`, and only then answers them. Nothing is acknowledged before it is durable, and a
/// busy stack pays one disk flush per group instead of one per write.
#[derive(Clone)]
pub struct EmbeddedDb {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// A request to the database thread: runs on the connection, and returns what delivers its answer
/// once the group it ran in is committed (or failed to commit).
type Job = Box<dyn FnOnce(&mut Connection) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// At most this many requests share one commit.
const GROUP_MAX: usize = 512;

/// The schema version this code writes (`PRAGMA user_version`). Version 1 kept each handoff's
/// timeline inside the handoff and the outbox one row per effect; [`upgrade_from_v1`] moves both.
/// Version 3 added the transcript and the change keys (new tables only).
pub const SCHEMA_VERSION: i64 = 4;

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
-- One index per Inbox view, each in queue order, so a page reads only what it returns however
-- many closed handoffs the workspace has.
DROP INDEX IF EXISTS handoffs_inbox;
CREATE INDEX IF NOT EXISTS handoffs_active ON handoffs (workspace_id, created_at, handoff_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS handoffs_by_state ON handoffs (workspace_id, state, created_at, handoff_id);
CREATE INDEX IF NOT EXISTS handoffs_by_assignee
    ON handoffs (workspace_id, assignee, active, created_at, handoff_id) WHERE assignee IS NOT NULL;
CREATE TABLE IF NOT EXISTS escalations (
    workspace_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
);
-- One row per decision: its timeline lines, its effects and which were sent.
CREATE TABLE IF NOT EXISTS decisions (
    workspace_id TEXT NOT NULL,
    owner        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL,
    pending      INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (workspace_id, owner, version)
);
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (recorded_at) WHERE pending = 1;
CREATE TABLE IF NOT EXISTS timers (
    timer_id TEXT PRIMARY KEY,
    due_at   TEXT NOT NULL,
    timer    TEXT NOT NULL
);
-- In firing order, so the earliest timer is one index step however many are pending.
DROP INDEX IF EXISTS timers_due;
CREATE INDEX IF NOT EXISTS timers_in_order ON timers (due_at, timer_id);
CREATE TABLE IF NOT EXISTS outbound_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_log_by_workspace ON outbound_log (workspace_id, seq);
-- A handoff's transcript in order: (version, idx) is a line's position.
CREATE TABLE IF NOT EXISTS transcript (
    workspace_id TEXT NOT NULL,
    handoff_id   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    idx          INTEGER NOT NULL,
    line         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, handoff_id, version, idx)
);
-- The teams document of each workspace (spec §12).
CREATE TABLE IF NOT EXISTS teams (
    workspace_id TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    doc          TEXT NOT NULL
);
-- The figures of §13, kept as sums while handoffs change: per grouping (reason, channel, team),
-- value and UTC day of creation, one row per counter (histogram buckets are counters too).
CREATE TABLE IF NOT EXISTS metrics (
    workspace_id TEXT NOT NULL,
    dim          TEXT NOT NULL,
    day          TEXT NOT NULL,
    key          TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, dim, day, key, name)
);
-- Keys that make a change of a handoff happen once (a customer message id, a reply's client id).
CREATE TABLE IF NOT EXISTS change_keys (
    workspace_id TEXT NOT NULL,
    handoff_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, handoff_id, key)
);
"#;

/// Schema 4: handoffs carry the team whose queue they are in (older ones: none), indexed for the
/// Inbox's `team` filter, and the time of their last change, indexed for the changes feed.
fn add_team_column(tx: &Connection) -> Result<(), StoreError> {
    let has = |column: &str| -> Result<bool, StoreError> {
        let n: i64 = tx
            .query_row("SELECT COUNT(*) FROM pragma_table_info('handoffs') WHERE name = ?1", [column], |r| r.get(0))
            .map_err(unavailable)?;
        Ok(n > 0)
    };
    if !has("team_id")? {
        tx.execute_batch("ALTER TABLE handoffs ADD COLUMN team_id TEXT;").map_err(unavailable)?;
    }
    if !has("updated_at")? {
        tx.execute_batch("ALTER TABLE handoffs ADD COLUMN updated_at TEXT;").map_err(unavailable)?;
        // Each handoff's last change, from its document (written as the store writes times).
        let rows: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare("SELECT workspace_id, handoff_id, doc FROM handoffs").map_err(unavailable)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)?
        };
        for (ws, id, doc) in rows {
            let h: crate::domain::Handoff = serde_json::from_str(&doc).map_err(corrupt)?;
            tx.execute(
                "UPDATE handoffs SET updated_at = ?1 WHERE workspace_id = ?2 AND handoff_id = ?3",
                rusqlite::params![ts(&h.updated_at), ws, id],
            )
            .map_err(unavailable)?;
        }
    }
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS handoffs_by_team
             ON handoffs (workspace_id, team_id, active, created_at, handoff_id) WHERE team_id IS NOT NULL;
         CREATE INDEX IF NOT EXISTS handoffs_changes ON handoffs (workspace_id, updated_at, handoff_id);",
    )
    .map_err(unavailable)
}

/// Moves a version-1 database's handoff timelines into decision rows (as version 0 of each
/// handoff: the history before the upgrade) and its pending effects into pending decisions.
fn upgrade_from_v1(tx: &Connection) -> Result<(), StoreError> {
    use crate::domain::{DecisionOwner, DecisionRecord, Effect, Handoff, TimelineEntry};
    let parse_time = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let mut rows: Vec<(String, i64, String)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT workspace_id, version, doc FROM handoffs").map_err(unavailable)?;
        let it = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(unavailable)?;
        for r in it {
            rows.push(r.map_err(unavailable)?);
        }
    }
    for (ws, _, doc) in rows {
        let mut v: serde_json::Value = serde_json::from_str(&doc).map_err(corrupt)?;
        let lines: Vec<TimelineEntry> = match v.as_object_mut().and_then(|m| m.remove("timeline")) {
            Some(t) => serde_json::from_value(t).map_err(corrupt)?,
            None => Vec::new(),
        };
        let h: Handoff = serde_json::from_value(v).map_err(corrupt)?;
        let d =
            DecisionRecord::of_handoff(h.workspace_id.clone(), h.handoff_id.clone(), 0, h.created_at, lines, vec![]);
        store::insert_decision(tx, &d)?;
        tx.execute(
            "UPDATE handoffs SET doc = ?1 WHERE workspace_id = ?2 AND handoff_id = ?3",
            rusqlite::params![serde_json::to_string(&h).map_err(corrupt)?, ws, h.handoff_id.as_str()],
        )
        .map_err(unavailable)?;
    }
    let mut pending: Vec<(String, String)> = Vec::new();
    {
        let mut stmt =
            tx.prepare("SELECT effect, recorded_at FROM outbox WHERE dispatched = 0").map_err(unavailable)?;
        let it = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(unavailable)?;
        for r in it {
            pending.push(r.map_err(unavailable)?);
        }
    }
    for (effect, at) in pending {
        let effect: Effect = serde_json::from_str(&effect).map_err(corrupt)?;
        let ws = match &effect {
            Effect::Outbound(e) => e.workspace_id.clone(),
            Effect::SetTimer(t) => t.workspace_id.clone(),
        };
        // One pending decision per effect, keyed by the effect's id (ids fit the event charset).
        let owner =
            DecisionOwner::Event { event_id: crate::domain::EventId::parse(effect.id()).map_err(StoreError::Corrupt)? };
        let d = DecisionRecord {
            workspace_id: ws,
            owner,
            version: 1,
            recorded_at: parse_time(&at)?,
            timeline: vec![],
            effects: vec![effect],
            sent: Default::default(),
        };
        store::insert_decision(tx, &d)?;
    }
    tx.execute_batch("DROP TABLE outbox;").map_err(unavailable)?;
    Ok(())
}

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

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        let tx = conn.transaction().map_err(unavailable)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(unavailable)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Unavailable(format!(
                "the data directory was written by a newer version (schema {version}; this one knows up to {SCHEMA_VERSION})"
            )));
        }
        let had_v1: bool = tx
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(unavailable)?
            > 0;
        tx.execute_batch(SCHEMA).map_err(unavailable)?;
        if had_v1 && version < 2 {
            upgrade_from_v1(&tx)?;
        }
        add_team_column(&tx)?;
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};")).map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("handoff-db".into())
            .spawn(move || commit_in_groups(conn, rx))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the database thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the connection (on the database thread) and answers once what it wrote is
    /// committed. `f` runs inside the group's transaction: a write of its own that must be all or
    /// nothing takes a savepoint (`c.savepoint()`), never `c.transaction()`.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Unavailable("a database request panicked".into())));
            Box::new(move |commit: Option<&StoreError>| {
                let answer = match commit {
                    Some(e) => Err(StoreError::Unavailable(format!("not committed: {e}"))),
                    None => result,
                };
                let _ = tx.send(answer);
            })
        });
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the database thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the database thread has stopped".into()))?
    }
}

/// The database thread: runs requests in groups, one commit per group, until every handle is gone.
fn commit_in_groups(mut conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(unavailable);
        if let Err(e) = &begun {
            tracing::error!(error = %e, "database transaction could not begin");
        }
        let delivers: Vec<Deliver> = group.into_iter().map(|job| job(&mut conn)).collect();
        let committed = begun.and_then(|()| conn.execute_batch("COMMIT").map_err(unavailable));
        if let Err(e) = &committed {
            tracing::error!(error = %e, "database commit failed; the group's requests get the error");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for deliver in delivers {
            deliver(committed.as_ref().err());
        }
    }
}

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) use super::sortable_time as ts;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use crate::ports::Store;
    use chrono::TimeZone;

    /// A document as the previous release wrote it: without the fields added since.
    fn old_doc<T: serde::Serialize>(v: &T) -> String {
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    for added in ["unread", "seq", "sent_seq", "agent_id"] {
                        m.remove(added);
                    }
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = serde_json::to_value(v).unwrap();
        strip(&mut v);
        v.to_string()
    }

    #[tokio::test]
    async fn a_database_of_the_previous_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("handoff.sqlite3");
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let ws = WorkspaceId::parse("ws_old").unwrap();
        let settings = SettingsDoc::defaults(ws.clone()).saved(
            Settings { enabled: true, ..Settings::default() },
            UserId::parse("admin").unwrap(),
            at,
        );
        let req = EscalationRequest::new(
            EventId::parse("evt-old").unwrap(),
            ws.clone(),
            ConversationId::parse("conv-old").unwrap(),
            Channel::Chat,
            Reason::Other,
        );
        let d = decide_escalation(
            &settings.settings,
            &crate::domain::Teams::default(),
            &req,
            Actor::Ai,
            None,
            HandoffId::parse("hnd_old").unwrap(),
            at,
        );
        let h = d.created.clone().unwrap();
        let decision = d.decision_record().unwrap();
        let timer = decision.effects.iter().find_map(Effect::timer).cloned().expect("a stall timer");
        {
            // Written as the previous release did: its tables, its documents, schema version 2.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(include_str!("testdata/schema-v2.sql")).unwrap();
            c.execute_batch("PRAGMA user_version = 2;").unwrap();
            c.execute(
                "INSERT INTO settings (workspace_id, version, doc) VALUES (?1, ?2, ?3)",
                rusqlite::params![ws.as_str(), settings.version as i64, old_doc(&settings)],
            )
            .unwrap();
            c.execute(
                "INSERT INTO handoffs (workspace_id, handoff_id, conversation_id, state, active, assignee, channel, reason, created_at, version, doc)
                 VALUES (?1, ?2, ?3, 'waiting', 1, NULL, 'chat', 'other', ?4, 1, ?5)",
                rusqlite::params![ws.as_str(), h.handoff_id.as_str(), h.conversation_id.as_str(), crate::adapters::sortable_time(&at), old_doc(&h)],
            )
            .unwrap();
            c.execute(
                "INSERT INTO decisions (workspace_id, owner, version, recorded_at, pending, doc) VALUES (?1, ?2, 1, ?3, 1, ?4)",
                rusqlite::params![ws.as_str(), format!("h:{}", h.handoff_id), crate::adapters::sortable_time(&at), old_doc(&decision)],
            )
            .unwrap();
            c.execute(
                "INSERT INTO timers (timer_id, due_at, timer) VALUES (?1, ?2, ?3)",
                rusqlite::params![timer.timer_id, crate::adapters::sortable_time(&timer.due_at), old_doc(&timer)],
            )
            .unwrap();
        }
        let db = EmbeddedDb::open(&path).unwrap();
        let store = EmbeddedStore::new(db.clone());
        let back = store.get_settings(&ws).await.unwrap().expect("the settings");
        assert_eq!((back.version, back.settings.enabled), (1, true));
        let stored = store.get_handoff(&ws, &h.handoff_id).await.unwrap().expect("the handoff");
        assert_eq!(
            (stored.state, stored.version, stored.seq, stored.sent_seq, stored.unread),
            (State::Waiting, 1, 0, 0, false)
        );
        let pending = EmbeddedTimers::new(db.clone(), std::sync::Arc::new(crate::ports::SystemClock))
            .next()
            .await
            .unwrap()
            .expect("the pending timer");
        assert_eq!((pending.timer_id.as_str(), pending.due_at), (timer.timer_id.as_str(), timer.due_at));
        let outbox = store.pending_decisions(at + chrono::Duration::days(1), 10).await.unwrap();
        assert_eq!(outbox.len(), 1, "its unsent effects are still pending");
        assert_eq!(outbox[0].first_unsent_seq(), Some(0), "an old event has no seq; it may leave at once");
        // What the new tables hold works on the old handoff.
        assert!(store.get_transcript(&ws, &h.handoff_id, None, 10).await.unwrap().unwrap().lines.is_empty());
        assert_eq!(store.active_handoff_of(&ws, &h.conversation_id).await.unwrap(), Some(h.handoff_id.clone()));
        // Schema 4: the old handoff is in the changes feed (by its last change) and in no team.
        let epoch = crate::ports::InboxCursor {
            created_at: chrono::DateTime::UNIX_EPOCH,
            handoff_id: HandoffId::parse("0").unwrap(),
        };
        let changed = store.changed_handoffs(&ws, &epoch, 10).await.unwrap();
        assert_eq!(changed.items.iter().map(|x| &x.handoff_id).collect::<Vec<_>>(), [&h.handoff_id]);
        assert_eq!(changed.items[0].team_id, None);
        assert!(store.get_teams(&ws).await.unwrap().is_none());
        let version: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
