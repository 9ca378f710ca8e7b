use super::{corrupt, unavailable, EmbeddedDb};
use crate::domain::{OutboundEvent, WorkspaceId};
use crate::ports::{PublishError, Publisher, StoreError};
use async_trait::async_trait;
use rusqlite::params;
use tracing::info;

/// The local outbound "queue": logs each event (type and ids, never its text) and keeps it in
/// the embedded database, once per `event_id`, so it can be listed.
#[derive(Clone)]
pub struct LogPublisher {
    db: EmbeddedDb,
}

impl LogPublisher {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    /// Every event published for a workspace, in publication order.
    pub async fn published(&self, ws: &WorkspaceId) -> Result<Vec<OutboundEvent>, StoreError> {
        let ws = ws.as_str().to_owned();
        self.db
            .with(move |c| {
                let mut stmt = c
                    .prepare("SELECT event FROM outbound_log WHERE workspace_id = ?1 ORDER BY seq")
                    .map_err(unavailable)?;
                let rows = stmt.query_map([ws], |r| r.get::<_, String>(0)).map_err(unavailable)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(serde_json::from_str(&r.map_err(unavailable)?).map_err(corrupt)?);
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl Publisher for LogPublisher {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let Some(first) = events.first() else { return Ok(()) };
        let err = |reason: String| PublishError { event_id: first.event_id.clone(), reason };
        let rows = events
            .iter()
            .map(|e| {
                serde_json::to_string(e).map(|json| (e.event_id.clone(), e.workspace_id.as_str().to_owned(), json))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        let inserted = self
            .db
            .with(move |c| {
                let tx = c.savepoint().map_err(unavailable)?;
                let mut inserted = Vec::with_capacity(rows.len());
                for (id, ws, json) in &rows {
                    inserted.push(
                        tx.execute(
                            "INSERT OR IGNORE INTO outbound_log (event_id, workspace_id, event) VALUES (?1, ?2, ?3)",
                            params![id, ws, json],
                        )
                        .map_err(unavailable)?,
                    );
                }
                tx.commit().map_err(unavailable)?;
                Ok(inserted)
            })
            .await
            .map_err(|e| err(e.to_string()))?;
        for (event, n) in events.iter().zip(inserted) {
            info!(
                event_type = event.event_type.as_str(),
                event_id = %event.event_id,
                workspace_id = %event.workspace_id,
                conversation_id = %event.conversation_id,
                handoff_id = event.handoff_id.as_ref().map(|h| h.as_str()).unwrap_or("-"),
                duplicate = n == 0,
                "outbound event"
            );
        }
        Ok(())
    }
}
