//! The figures: one row per workspace, grouping, day, value and counter, added to in the
//! transaction of each change, and read back for a report.

use super::EmbeddedStore;
use crate::adapters::embedded::unavailable;
use crate::domain::{Dimension, MetricsDelta, MetricsRow, WorkspaceId};
use crate::ports::StoreError;
use chrono::NaiveDate;
use rusqlite::params;

/// Adds a decision's figures to the sums of its day, in each grouping.
pub(super) fn add_metrics(tx: &rusqlite::Connection, ws: &WorkspaceId, m: &MetricsDelta) -> Result<(), StoreError> {
    let day = m.day.to_string();
    for dim in Dimension::all() {
        let key = m.key(dim);
        for (name, n) in &m.counts {
            tx.execute(
                "INSERT INTO metrics (workspace_id, dim, day, key, name, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (workspace_id, dim, day, key, name) DO UPDATE SET value = value + excluded.value",
                params![ws.as_str(), dim.as_str(), day, key, name, n],
            )
            .map_err(unavailable)?;
        }
    }
    Ok(())
}

impl EmbeddedStore {
    pub(super) async fn read_metrics(
        &self,
        ws: &WorkspaceId,
        dim: Dimension,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>, StoreError> {
        let (ws, from, to) = (ws.as_str().to_owned(), from.to_string(), to.to_string());
        self.db
            .with(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT day, key, name, value FROM metrics
                         WHERE workspace_id = ?1 AND dim = ?2 AND day >= ?3 AND day < ?4 ORDER BY day, key",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![ws, dim.as_str(), from, to], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })
                    .map_err(unavailable)?;
                let mut stored = Vec::new();
                for row in rows {
                    let (day, key, name, value) = row.map_err(unavailable)?;
                    stored.push((day, key, [(name, value)]));
                }
                MetricsRow::from_stored(stored).map_err(StoreError::Corrupt)
            })
            .await
    }
}
