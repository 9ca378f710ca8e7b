use super::{corrupt, ts, unavailable, EmbeddedDb};
use crate::domain::{ConversationId, Effect, EscalationRecord, EventId, Handoff, HandoffId, SettingsDoc, WorkspaceId};
use crate::ports::{InboxPage, InboxQuery, PendingEffect, StatusFilter, Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

/// The embedded [`Store`]: SQLite, every conditional write in one transaction.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: EmbeddedDb,
}

impl EmbeddedStore {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }
}

fn insert_effects(tx: &Transaction<'_>, effects: &[Effect], at: &DateTime<Utc>) -> Result<(), StoreError> {
    for e in effects {
        let json = serde_json::to_string(e).map_err(corrupt)?;
        tx.execute(
            "INSERT OR IGNORE INTO outbox (effect_id, recorded_at, dispatched, effect) VALUES (?1, ?2, 0, ?3)",
            params![e.id(), ts(at), json],
        )
        .map_err(unavailable)?;
    }
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn insert_handoff(tx: &Transaction<'_>, h: &Handoff) -> Result<(), StoreError> {
    let doc = serde_json::to_string(h).map_err(corrupt)?;
    tx.execute(
        "INSERT INTO handoffs (workspace_id, handoff_id, conversation_id, state, active, assignee, channel, reason, created_at, version, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            h.workspace_id.as_str(), h.handoff_id.as_str(), h.conversation_id.as_str(), h.state.as_str(),
            h.state.is_active() as i64, h.assignee.as_ref().map(|a| a.as_str()), h.channel.as_str(),
            h.reason.as_str(), ts(&h.created_at), h.version as i64, doc
        ],
    )
    .map_err(|e| if is_unique_violation(&e) { StoreError::ConversationBusy } else { unavailable(e) })?;
    Ok(())
}

fn parse_handoff(doc: String) -> Result<Handoff, StoreError> {
    serde_json::from_str(&doc).map_err(corrupt)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        let ws = ws.as_str().to_owned();
        self.db
            .with(move |c| {
                let doc: Option<String> = c
                    .query_row("SELECT doc FROM settings WHERE workspace_id = ?1", [ws], |r| r.get(0))
                    .optional()
                    .map_err(unavailable)?;
                doc.map(|d| serde_json::from_str(&d).map_err(corrupt)).transpose()
            })
            .await
    }

    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(doc).map_err(corrupt)?;
        let ws = doc.workspace_id.as_str().to_owned();
        let version = doc.version as i64;
        self.db
            .with(move |c| {
                let tx = c.transaction().map_err(unavailable)?;
                let current: Option<i64> = tx
                    .query_row("SELECT version FROM settings WHERE workspace_id = ?1", [&ws], |r| r.get(0))
                    .optional()
                    .map_err(unavailable)?;
                if current.unwrap_or(0) as u64 != expected_version {
                    return Err(StoreError::VersionConflict);
                }
                tx.execute(
                    "INSERT INTO settings (workspace_id, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version, doc = excluded.doc",
                    params![ws, version, json],
                )
                .map_err(unavailable)?;
                tx.commit().map_err(unavailable)
            })
            .await
    }

    async fn get_escalation(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<EscalationRecord>, StoreError> {
        let (ws, ev) = (ws.as_str().to_owned(), event_id.as_str().to_owned());
        self.db
            .with(move |c| {
                let rec: Option<String> = c
                    .query_row(
                        "SELECT record FROM escalations WHERE workspace_id = ?1 AND event_id = ?2",
                        [ws, ev],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                rec.map(|d| serde_json::from_str(&d).map_err(corrupt)).transpose()
            })
            .await
    }

    async fn create_escalation(
        &self,
        record: &EscalationRecord,
        handoff: Option<&Handoff>,
        effects: &[Effect],
    ) -> Result<(), StoreError> {
        let record = record.clone();
        let handoff = handoff.cloned();
        let effects = effects.to_vec();
        self.db
            .with(move |c| {
                let tx = c.transaction().map_err(unavailable)?;
                // An expired record may be replaced (DynamoDB's TTL does the same, lazily).
                tx.execute(
                    "DELETE FROM escalations WHERE workspace_id = ?1 AND event_id = ?2 AND expires_at <= ?3",
                    params![record.workspace_id.as_str(), record.event_id.as_str(), ts(&record.created_at)],
                )
                .map_err(unavailable)?;
                let json = serde_json::to_string(&record).map_err(corrupt)?;
                tx.execute(
                    "INSERT INTO escalations (workspace_id, event_id, expires_at, record) VALUES (?1, ?2, ?3, ?4)",
                    params![record.workspace_id.as_str(), record.event_id.as_str(), ts(&record.expires_at), json],
                )
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::DuplicateEvent
                    } else {
                        unavailable(e)
                    }
                })?;
                if let Some(h) = &handoff {
                    insert_handoff(&tx, h)?;
                }
                insert_effects(&tx, &effects, &record.created_at)?;
                tx.commit().map_err(unavailable)
            })
            .await
    }

    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        let (ws, id) = (ws.as_str().to_owned(), id.as_str().to_owned());
        self.db
            .with(move |c| {
                let doc: Option<String> = c
                    .query_row("SELECT doc FROM handoffs WHERE workspace_id = ?1 AND handoff_id = ?2", [ws, id], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(unavailable)?;
                doc.map(parse_handoff).transpose()
            })
            .await
    }

    async fn find_active_handoff(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<Handoff>, StoreError> {
        let (ws, conv) = (ws.as_str().to_owned(), conversation.as_str().to_owned());
        self.db
            .with(move |c| {
                let doc: Option<String> = c
                    .query_row(
                        "SELECT doc FROM handoffs WHERE workspace_id = ?1 AND conversation_id = ?2 AND active = 1",
                        [ws, conv],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                doc.map(parse_handoff).transpose()
            })
            .await
    }

    async fn commit_transition(
        &self,
        handoff: &Handoff,
        expected_version: u64,
        effects: &[Effect],
    ) -> Result<(), StoreError> {
        let h = handoff.clone();
        let effects = effects.to_vec();
        self.db
            .with(move |c| {
                let doc = serde_json::to_string(&h).map_err(corrupt)?;
                let tx = c.transaction().map_err(unavailable)?;
                let n = tx
                    .execute(
                        "UPDATE handoffs SET state = ?1, active = ?2, assignee = ?3, version = ?4, doc = ?5
                         WHERE workspace_id = ?6 AND handoff_id = ?7 AND version = ?8",
                        params![
                            h.state.as_str(),
                            h.state.is_active() as i64,
                            h.assignee.as_ref().map(|a| a.as_str()),
                            h.version as i64,
                            doc,
                            h.workspace_id.as_str(),
                            h.handoff_id.as_str(),
                            expected_version as i64
                        ],
                    )
                    .map_err(|e| if is_unique_violation(&e) { StoreError::ConversationBusy } else { unavailable(e) })?;
                if n != 1 {
                    return Err(StoreError::VersionConflict);
                }
                insert_effects(&tx, &effects, &h.updated_at)?;
                tx.commit().map_err(unavailable)
            })
            .await
    }

    async fn list_inbox(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
        let ws = ws.as_str().to_owned();
        let q = q.clone();
        self.db
            .with(move |c| {
                let mut sql = String::from("SELECT doc FROM handoffs WHERE workspace_id = ?");
                let mut args: Vec<String> = vec![ws];
                match q.status {
                    StatusFilter::Active => sql.push_str(" AND active = 1"),
                    StatusFilter::One(s) => {
                        sql.push_str(" AND state = ?");
                        args.push(s.as_str().into());
                    }
                }
                if let Some(a) = &q.assignee {
                    sql.push_str(" AND assignee = ?");
                    args.push(a.as_str().into());
                }
                if let Some(ch) = q.channel {
                    sql.push_str(" AND channel = ?");
                    args.push(ch.as_str().into());
                }
                if let Some(r) = q.reason {
                    sql.push_str(" AND reason = ?");
                    args.push(r.as_str().into());
                }
                if let Some(cur) = &q.after {
                    sql.push_str(" AND (created_at > ? OR (created_at = ? AND handoff_id > ?))");
                    args.push(ts(&cur.created_at));
                    args.push(ts(&cur.created_at));
                    args.push(cur.handoff_id.as_str().into());
                }
                sql.push_str(&format!(" ORDER BY created_at, handoff_id LIMIT {}", q.limit + 1));
                let mut stmt = c.prepare(&sql).map_err(unavailable)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(0))
                    .map_err(unavailable)?;
                let mut items = Vec::new();
                for row in rows {
                    items.push(parse_handoff(row.map_err(unavailable)?)?);
                }
                Ok(InboxPage::from_overfetch(items, q.limit))
            })
            .await
    }

    async fn pending_effects(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<PendingEffect>, StoreError> {
        self.db
            .with(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT effect, recorded_at FROM outbox WHERE dispatched = 0 AND recorded_at < ?1
                         ORDER BY recorded_at, effect_id LIMIT ?2",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![ts(&before), limit as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(unavailable)?;
                let mut out = Vec::new();
                for row in rows {
                    let (effect, at) = row.map_err(unavailable)?;
                    out.push(PendingEffect {
                        effect: serde_json::from_str(&effect).map_err(corrupt)?,
                        recorded_at: DateTime::parse_from_rfc3339(&at)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?
                            .with_timezone(&Utc),
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn mark_dispatched(&self, effect_id: &str) -> Result<(), StoreError> {
        let id = effect_id.to_owned();
        self.db
            .with(move |c| {
                c.execute("UPDATE outbox SET dispatched = 1 WHERE effect_id = ?1", [id]).map_err(unavailable)?;
                Ok(())
            })
            .await
    }
}
