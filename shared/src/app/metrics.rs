use super::{App, AppError};
use crate::domain::metrics::{report, GroupFigures, MetricsQuery};
use crate::domain::{Dimension, WorkspaceId};

impl App {
    /// The figures of handoffs created in `[from, to)` (spec §13), from the sums kept as they
    /// changed: one read per grouping, whatever the number of handoffs.
    pub async fn metrics(&self, ws: &WorkspaceId, q: &MetricsQuery) -> Result<Vec<GroupFigures>, AppError> {
        // Every handoff has exactly one reason, so the reason rows also give the totals.
        let dim = q.group_by.unwrap_or(Dimension::Reason);
        let rows = self.store.read_metrics(ws, dim, q.from, q.to).await?;
        Ok(report(&rows, q.group_by.is_some()))
    }
}
