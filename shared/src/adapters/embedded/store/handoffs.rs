//! Handoffs and what is written with them: an escalation (its record, the handoff, its decision
//! and transcript), each transition, the change keys, the timeline (decisions) and the
//! transcript.

use super::figures::add_metrics;
use super::EmbeddedStore;
use crate::adapters::embedded::{corrupt, ts, unavailable};
use crate::domain::{
    change_key_message_id, ConversationId, DecisionOwner, DecisionRecord, EscalationRecord, EventId, Handoff,
    HandoffId, LinePosition, TranscriptLine, WorkspaceId,
};
use crate::ports::{
    CommitError, EscalationWrite, EscalationWriteError, HandoffView, StoreError, TranscriptPage, Transition,
};
use rusqlite::{params, OptionalExtension};

pub(super) fn owner_key(o: &DecisionOwner) -> String {
    match o {
        DecisionOwner::Handoff { handoff_id } => format!("h:{handoff_id}"),
        DecisionOwner::Event { event_id } => format!("e:{event_id}"),
    }
}

/// Records a decision. One already recorded under the same owner and version is never replaced
/// (its effects may have been sent since): the write fails as a conflict.
pub(in crate::adapters::embedded) fn insert_decision(
    tx: &rusqlite::Connection,
    d: &DecisionRecord,
) -> Result<(), StoreError> {
    insert_decision_at(tx, d, d.version as i64)
}

fn insert_decision_at(tx: &rusqlite::Connection, d: &DecisionRecord, version: i64) -> Result<(), StoreError> {
    let doc = serde_json::to_string(d).map_err(corrupt)?;
    tx.execute(
        "INSERT INTO decisions (workspace_id, owner, version, recorded_at, pending, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![d.workspace_id.as_str(), owner_key(&d.owner), version, ts(&d.recorded_at), !d.is_settled() as i64, doc],
    )
    .map_err(|e| if is_unique_violation(&e) { StoreError::VersionConflict } else { unavailable(e) })?;
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn insert_handoff(tx: &rusqlite::Connection, h: &Handoff) -> Result<(), StoreError> {
    let doc = serde_json::to_string(h).map_err(corrupt)?;
    tx.execute(
        "INSERT INTO handoffs (workspace_id, handoff_id, conversation_id, state, active, assignee, channel, reason, created_at, version, doc, team_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            h.workspace_id.as_str(), h.handoff_id.as_str(), h.conversation_id.as_str(), h.state.as_str(),
            h.state.is_active() as i64, h.assignee.as_ref().map(|a| a.as_str()), h.channel.as_str(),
            h.reason.as_str(), ts(&h.created_at), h.version as i64, doc, h.team_id.as_ref().map(|t| t.as_str()),
            ts(&h.updated_at)
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn insert_lines(tx: &rusqlite::Connection, h: &Handoff, lines: &[TranscriptLine]) -> Result<(), StoreError> {
    for (i, line) in lines.iter().enumerate() {
        tx.execute(
            "INSERT INTO transcript (workspace_id, handoff_id, version, idx, line) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                h.workspace_id.as_str(),
                h.handoff_id.as_str(),
                h.version as i64,
                i as i64,
                serde_json::to_string(line).map_err(corrupt)?
            ],
        )
        .map_err(unavailable)?;
    }
    Ok(())
}

pub(super) fn parse_handoff(doc: String) -> Result<Handoff, StoreError> {
    serde_json::from_str(&doc).map_err(corrupt)
}

fn read_handoff(c: &rusqlite::Connection, ws: &str, id: &str) -> Result<Option<Handoff>, StoreError> {
    let doc: Option<String> = c
        .query_row("SELECT doc FROM handoffs WHERE workspace_id = ?1 AND handoff_id = ?2", [ws, id], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    doc.map(parse_handoff).transpose()
}

fn read_decisions(
    c: &rusqlite::Connection,
    ws: &str,
    owner: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc FROM decisions WHERE workspace_id = ?1 AND owner = ?2 AND version > ?3 ORDER BY version LIMIT ?4",
        )
        .map_err(unavailable)?;
    let rows =
        stmt.query_map(params![ws, owner, after, limit as i64], |r| r.get::<_, String>(0)).map_err(unavailable)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(serde_json::from_str(&r.map_err(unavailable)?).map_err(corrupt)?);
    }
    Ok(out)
}

impl EmbeddedStore {
    pub(super) async fn create_escalation(&self, w: EscalationWrite<'_>) -> Result<(), EscalationWriteError> {
        let record = w.record.clone();
        let handoff = w.handoff.cloned();
        let decision = w.decision.cloned();
        let settings_version = w.settings_version;
        let teams_version = w.teams_version;
        let metrics = w.metrics.cloned();
        let lines = w.transcript.to_vec();
        let out = self
            .db
            .with(move |c| {
                let tx = c.savepoint().map_err(unavailable)?;
                let (ws, ev) = (record.workspace_id.as_str(), record.event_id.as_str());
                // The checks DynamoDB's conditions make, in the same order of precedence.
                let existing: Option<String> = tx
                    .query_row(
                        "SELECT record FROM escalations WHERE workspace_id = ?1 AND event_id = ?2 AND expires_at > ?3",
                        params![ws, ev, ts(&record.created_at)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                if let Some(rec) = existing {
                    let rec: EscalationRecord = serde_json::from_str(&rec).map_err(corrupt)?;
                    return Ok(Err(EscalationWriteError::Duplicate(Box::new(rec))));
                }
                if let Some(h) = handoff.as_ref().filter(|h| h.state.is_active()) {
                    let busy: Option<String> = tx
                        .query_row(
                            "SELECT handoff_id FROM handoffs WHERE workspace_id = ?1 AND conversation_id = ?2 AND active = 1",
                            [ws, h.conversation_id.as_str()],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(unavailable)?;
                    if let Some(id) = busy {
                        let id = HandoffId::parse(id).map_err(StoreError::Corrupt)?;
                        return Ok(Err(EscalationWriteError::ConversationBusy(id)));
                    }
                }
                if let Some(expected) = settings_version {
                    let current: Option<i64> = tx
                        .query_row("SELECT version FROM settings WHERE workspace_id = ?1", [ws], |r| r.get(0))
                        .optional()
                        .map_err(unavailable)?;
                    if current.unwrap_or(0) as u64 != expected {
                        return Ok(Err(EscalationWriteError::SettingsChanged));
                    }
                }
                if let Some(expected) = teams_version {
                    let current: Option<i64> = tx
                        .query_row("SELECT version FROM teams WHERE workspace_id = ?1", [ws], |r| r.get(0))
                        .optional()
                        .map_err(unavailable)?;
                    if current.unwrap_or(0) as u64 != expected {
                        return Ok(Err(EscalationWriteError::SettingsChanged));
                    }
                }
                // An expired record may be replaced (DynamoDB's TTL does the same, lazily).
                let json = serde_json::to_string(&record).map_err(corrupt)?;
                tx.execute(
                    "INSERT OR REPLACE INTO escalations (workspace_id, event_id, expires_at, record) VALUES (?1, ?2, ?3, ?4)",
                    params![ws, ev, ts(&record.expires_at), json],
                )
                .map_err(unavailable)?;
                if let Some(h) = &handoff {
                    insert_handoff(&tx, h)?;
                    insert_lines(&tx, h, &lines)?;
                }
                if let Some(d) = &decision {
                    insert_decision(&tx, d)?;
                }
                if let Some(m) = &metrics {
                    add_metrics(&tx, &record.workspace_id, m)?;
                }
                tx.commit().map_err(unavailable)?;
                Ok(Ok(()))
            })
            .await?;
        out
    }

    pub(super) async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        let (ws, id) = (ws.as_str().to_owned(), id.as_str().to_owned());
        self.db.with(move |c| read_handoff(c, &ws, &id)).await
    }

    pub(super) async fn get_handoff_view(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after_version: u64,
        limit: usize,
    ) -> Result<Option<HandoffView>, StoreError> {
        let (ws, id) = (ws.as_str().to_owned(), id.as_str().to_owned());
        self.db
            .with(move |c| {
                let Some(handoff) = read_handoff(c, &ws, &id)? else { return Ok(None) };
                let after = if after_version == 0 { i64::MIN } else { after_version as i64 };
                let mut decisions = read_decisions(c, &ws, &format!("h:{id}"), after, limit + 1)?;
                let next = if decisions.len() > limit {
                    decisions.truncate(limit);
                    decisions.last().map(|d| d.version)
                } else {
                    None
                };
                Ok(Some(HandoffView { handoff, decisions, next }))
            })
            .await
    }

    pub(super) async fn get_event_decision(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        let (ws, owner) = (ws.as_str().to_owned(), format!("e:{event_id}"));
        self.db.with(move |c| Ok(read_decisions(c, &ws, &owner, 0, 1)?.into_iter().next())).await
    }

    pub(super) async fn commit_transition(&self, t: Transition<'_>) -> Result<(), CommitError> {
        let (h, expected_version) = (t.handoff.clone(), t.expected_version);
        let decision = t.decision.clone();
        let lines = t.transcript.to_vec();
        let key = t.key.map(str::to_owned);
        let metrics = t.metrics.cloned();
        self.db
            .with(move |c| {
                let doc = serde_json::to_string(&h).map_err(corrupt)?;
                let tx = c.savepoint().map_err(unavailable)?;
                let (ws, id) = (h.workspace_id.as_str(), h.handoff_id.as_str());
                // A stale copy or a repeat is an answer, not a failure (the savepoint rolls back).
                if let Some(key) = &key {
                    let done: Option<String> = tx
                        .query_row(
                            "SELECT message_id FROM change_keys WHERE workspace_id = ?1 AND handoff_id = ?2 AND key = ?3",
                            params![ws, id, key],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(unavailable)?;
                    if let Some(message_id) = done {
                        return Ok(Err(CommitError::Duplicate { message_id }));
                    }
                }
                let Some(current) = read_handoff(&tx, ws, id)? else {
                    return Ok(Err(CommitError::Stale { current: None }));
                };
                if current.version != expected_version || current.sent_seq != h.sent_seq {
                    return Ok(Err(CommitError::Stale { current: Some(Box::new(current)) }));
                }
                tx.execute(
                    "UPDATE handoffs SET state = ?1, active = ?2, assignee = ?3, version = ?4, doc = ?5, team_id = ?8,
                         updated_at = ?9
                     WHERE workspace_id = ?6 AND handoff_id = ?7",
                    params![
                        h.state.as_str(),
                        h.state.is_active() as i64,
                        h.assignee.as_ref().map(|a| a.as_str()),
                        h.version as i64,
                        doc,
                        ws,
                        id,
                        h.team_id.as_ref().map(|t| t.as_str()),
                        ts(&h.updated_at),
                    ],
                )
                .map_err(unavailable)?;
                if !decision.is_empty() {
                    match insert_decision(&tx, &decision) {
                        Err(StoreError::VersionConflict) => return Ok(Err(CommitError::Stale { current: None })),
                        r => r?,
                    }
                }
                insert_lines(&tx, &h, &lines)?;
                if let Some(m) = &metrics {
                    add_metrics(&tx, &h.workspace_id, m)?;
                }
                if let Some(key) = &key {
                    let message_id = change_key_message_id(&lines);
                    tx.execute(
                        "INSERT INTO change_keys (workspace_id, handoff_id, key, message_id) VALUES (?1, ?2, ?3, ?4)",
                        params![ws, id, key, message_id],
                    )
                    .map_err(unavailable)?;
                }
                tx.commit().map_err(unavailable)?;
                Ok(Ok(()))
            })
            .await?
    }

    pub(super) async fn change_key(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let (ws, id, key) = (ws.as_str().to_owned(), id.as_str().to_owned(), key.to_owned());
        self.db
            .with(move |c| {
                c.query_row(
                    "SELECT message_id FROM change_keys WHERE workspace_id = ?1 AND handoff_id = ?2 AND key = ?3",
                    params![ws, id, key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)
            })
            .await
    }

    pub(super) async fn active_handoff_of(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<HandoffId>, StoreError> {
        let (ws, conv) = (ws.as_str().to_owned(), conversation.as_str().to_owned());
        self.db
            .with(move |c| {
                let id: Option<String> = c
                    .query_row(
                        "SELECT handoff_id FROM handoffs WHERE workspace_id = ?1 AND conversation_id = ?2 AND active = 1",
                        [ws, conv],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                id.map(|i| HandoffId::parse(i).map_err(StoreError::Corrupt)).transpose()
            })
            .await
    }

    pub(super) async fn get_transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<Option<TranscriptPage>, StoreError> {
        let (ws, id) = (ws.as_str().to_owned(), id.as_str().to_owned());
        self.db
            .with(move |c| {
                let handoff = match after {
                    None => match read_handoff(c, &ws, &id)? {
                        Some(h) => Some(h),
                        None => return Ok(None),
                    },
                    Some(_) => None,
                };
                let (v, i) = after.map(|p| (p.version as i64, p.index as i64)).unwrap_or((-1, -1));
                let mut stmt = c
                    .prepare_cached(
                        "SELECT version, idx, line FROM transcript
                         WHERE workspace_id = ?1 AND handoff_id = ?2 AND (version, idx) > (?3, ?4)
                         ORDER BY version, idx LIMIT ?5",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![ws, id, v, i, limit as i64 + 1], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                    })
                    .map_err(unavailable)?;
                let mut lines = Vec::new();
                for r in rows {
                    let (version, idx, line) = r.map_err(unavailable)?;
                    let pos = LinePosition { version: version as u64, index: idx as u32 };
                    lines.push((pos, serde_json::from_str(&line).map_err(corrupt)?));
                }
                let more = lines.len() > limit;
                lines.truncate(limit);
                Ok(Some(TranscriptPage { handoff, lines, more }))
            })
            .await
    }
}
