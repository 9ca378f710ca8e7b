//! The outbox: decisions with effects not yet handed over (`pending`), and the acknowledgements
//! that mark them sent and move their handoff's `sent_seq` on.

use super::handoffs::owner_key;
use super::EmbeddedStore;
use crate::adapters::embedded::{corrupt, ts, unavailable};
use crate::domain::{DecisionRecord, Handoff, Settlement};
use crate::ports::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

impl EmbeddedStore {
    pub(super) async fn pending_decisions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        self.db
            .with(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT doc FROM decisions WHERE pending = 1 AND recorded_at < ?1 ORDER BY recorded_at LIMIT ?2",
                    )
                    .map_err(unavailable)?;
                let rows =
                    stmt.query_map(params![ts(&before), limit as i64], |r| r.get::<_, String>(0)).map_err(unavailable)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(serde_json::from_str(&row.map_err(unavailable)?).map_err(corrupt)?);
                }
                Ok(out)
            })
            .await
    }

    pub(super) async fn mark_sent(
        &self,
        decision: &DecisionRecord,
        sent: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (ws, owner, version) =
            (decision.workspace_id.as_str().to_owned(), owner_key(&decision.owner), decision.version);
        let sent = sent.to_vec();
        self.db
            .with(move |c| {
                let tx = c.savepoint().map_err(unavailable)?;
                let doc: Option<String> = tx
                    .query_row(
                        "SELECT doc FROM decisions WHERE workspace_id = ?1 AND owner = ?2 AND version = ?3",
                        params![ws, owner, version as i64],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                // Nothing recorded under this decision: nothing to mark.
                let Some(doc) = doc else { return Ok(()) };
                let mut d: DecisionRecord = serde_json::from_str(&doc).map_err(corrupt)?;
                let Settlement { to_mark, settled, sent_seq } = d.settle(&sent);
                for id in to_mark {
                    d.sent.entry(id.to_string()).or_insert(at);
                }
                tx.execute(
                    "UPDATE decisions SET doc = ?1, pending = ?2 WHERE workspace_id = ?3 AND owner = ?4 AND version = ?5",
                    params![serde_json::to_string(&d).map_err(corrupt)?, !settled as i64, ws, owner, version as i64],
                )
                .map_err(unavailable)?;
                // Every outbound event of a handoff's decision out: its `sent_seq` moves on.
                if let Some((handoff_id, last)) = sent_seq {
                    let stored: Option<String> = tx
                        .query_row(
                            "SELECT doc FROM handoffs WHERE workspace_id = ?1 AND handoff_id = ?2",
                            params![ws, handoff_id.as_str()],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(unavailable)?;
                    if let Some(stored) = stored {
                        let mut h: Handoff = serde_json::from_str(&stored).map_err(corrupt)?;
                        if h.sent_seq < last {
                            h.sent_seq = last;
                            tx.execute(
                                "UPDATE handoffs SET doc = ?1 WHERE workspace_id = ?2 AND handoff_id = ?3",
                                params![serde_json::to_string(&h).map_err(corrupt)?, ws, handoff_id.as_str()],
                            )
                            .map_err(unavailable)?;
                        }
                    }
                }
                tx.commit().map_err(unavailable)
            })
            .await
    }
}
