//! The Inbox and the changes feed: one query each, in queue order or order of last change.

use super::handoffs::parse_handoff;
use super::EmbeddedStore;
use crate::adapters::embedded::{ts, unavailable};
use crate::domain::WorkspaceId;
use crate::ports::{InboxCursor, InboxPage, InboxQuery, StatusFilter, StoreError};
use rusqlite::params;

impl EmbeddedStore {
    pub(super) async fn list_inbox(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
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
                if let Some(teams) = &q.teams {
                    if teams.is_empty() {
                        return Ok(InboxPage { items: vec![], next: None });
                    }
                    sql.push_str(&format!(" AND team_id IN ({})", vec!["?"; teams.len()].join(", ")));
                    args.extend(teams.iter().map(|t| t.as_str().to_string()));
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

    pub(super) async fn changed_handoffs(
        &self,
        ws: &WorkspaceId,
        after: &InboxCursor,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        let (ws, at, id) = (ws.as_str().to_owned(), ts(&after.created_at), after.handoff_id.as_str().to_owned());
        self.db
            .with(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT doc FROM handoffs WHERE workspace_id = ?1 AND (updated_at > ?2 OR (updated_at = ?2 AND handoff_id > ?3))
                         ORDER BY updated_at, handoff_id LIMIT ?4",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![ws, at, id, (limit + 1) as i64], |r| r.get::<_, String>(0))
                    .map_err(unavailable)?;
                let mut items = Vec::new();
                for row in rows {
                    items.push(parse_handoff(row.map_err(unavailable)?)?);
                }
                let mut page = InboxPage::from_overfetch(items, limit);
                // The feed's cursor is the last change's position, not the queue position.
                page.next = page.next.and(page.items.last().map(|h| InboxCursor {
                    created_at: h.updated_at,
                    handoff_id: h.handoff_id.clone(),
                }));
                Ok(page)
            })
            .await
    }
}
