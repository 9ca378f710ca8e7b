//! The Inbox and the changes feed: one page of an index read across its shards side by side
//! and merged in order (queue order, or order of last change).

use super::items::{HandoffItem, Item};
use super::keys::{
    active_pk, assignee_pk, by_state_pk, changes_pk, order_key, team_keys, INDEX_ACTIVE, INDEX_BY_ASSIGNEE,
    INDEX_BY_STATE, INDEX_BY_TEAM, INDEX_CHANGES,
};
use super::transact::{from_attrs, s, sdk_error};
use super::DynamoStore;
use crate::domain::{Handoff, HandoffId, State, WorkspaceId};
use crate::ports::{InboxCursor, InboxPage, InboxQuery, StatusFilter, StoreError};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use std::collections::HashMap;

/// An Inbox page reads at most this many index pages; a filter that matches little returns a
/// partial page with a cursor rather than reading on.
pub const MAX_READS_PER_PAGE: usize = 4;

/// How many items each of `keys` shards reads for a merged page of `want`: the shards hold
/// handoffs by a hash of their ids, so a page takes about `want / keys` from each. Each reads twice
/// that and 6 more, which leaves a page short (a partial page with a cursor) about once in 10,000
/// pages; reading `want` from every shard would read up to 64 times the page.
fn per_shard_read(want: usize, keys: usize) -> usize {
    want.min(want.div_ceil(keys.max(1)) * 2 + 6)
}

impl DynamoStore {
    /// One Inbox page. The active and by-state views read every shard of their index side by
    /// side and merge them in queue order; each shard read starts after the cursor.
    pub(super) async fn query_handoffs(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: Item = HashMap::new();
        let mut filters: Vec<String> = Vec::new();
        if q.teams.as_ref().is_some_and(|t| t.is_empty()) {
            return Ok(InboxPage { items: vec![], next: None });
        }
        // One team is read from its own queue; several teams (or one with an assignee) from the
        // other index, keeping the teams' handoffs with a filter rather than reading every
        // team's shards.
        let by_team = q.teams.as_ref().filter(|t| q.assignee.is_none() && t.len() == 1);
        if let (Some(teams), None) = (&q.teams, by_team) {
            names.insert("#team".into(), "team_id".into());
            let mut alts = Vec::new();
            for (i, t) in teams.iter().enumerate() {
                values.insert(format!(":team{i}"), s(t.as_str()));
                alts.push(format!(":team{i}"));
            }
            filters.push(format!("#team IN ({})", alts.join(", ")));
        }
        // The sharded views read every shard of the workspace's layout; an agent's own is one key.
        let shards =
            if by_team.is_some() || q.assignee.is_none() { self.layout(ws, true).await?.for_read() } else { 0 };
        let (index, pk_attr, sk_attr, keys): (&'static str, &'static str, &'static str, Vec<String>) =
            match (&q.assignee, q.status) {
                _ if by_team.is_some() => {
                    let teams = by_team.into_iter().flatten();
                    match q.status {
                        StatusFilter::Active => {
                            (INDEX_BY_TEAM, "gsi5pk", "gsi5sk", team_keys(ws, teams, State::Waiting, shards))
                        }
                        StatusFilter::One(st) => {
                            if st.is_active() {
                                names.insert("#state".into(), "state".into());
                                values.insert(":st".into(), s(st.as_str()));
                                filters.push("#state = :st".into());
                            }
                            (INDEX_BY_TEAM, "gsi5pk", "gsi5sk", team_keys(ws, teams, st, shards))
                        }
                    }
                }
                (Some(a), StatusFilter::Active) => {
                    (INDEX_BY_ASSIGNEE, "gsi3pk", "gsi3sk", vec![assignee_pk(ws, a, State::Assigned)])
                }
                (Some(a), StatusFilter::One(st)) => {
                    if st.is_active() {
                        names.insert("#state".into(), "state".into());
                        values.insert(":st".into(), s(st.as_str()));
                        filters.push("#state = :st".into());
                    }
                    (INDEX_BY_ASSIGNEE, "gsi3pk", "gsi3sk", vec![assignee_pk(ws, a, st)])
                }
                (None, StatusFilter::Active) => {
                    (INDEX_ACTIVE, "gsi2pk", "gsi2sk", (0..shards).map(|k| active_pk(ws, k)).collect())
                }
                (None, StatusFilter::One(st)) => {
                    (INDEX_BY_STATE, "gsi1pk", "gsi1sk", (0..shards).map(|k| by_state_pk(ws, st, k)).collect())
                }
            };
        if let Some(c) = q.channel {
            names.insert("#channel".into(), "channel".into());
            values.insert(":channel".into(), s(c.as_str()));
            filters.push("#channel = :channel".into());
        }
        if let Some(r) = q.reason {
            names.insert("#reason".into(), "reason".into());
            values.insert(":reason".into(), s(r.as_str()));
            filters.push("#reason = :reason".into());
        }
        let after = q.after.as_ref().map(|c| order_key(&c.created_at, &c.handoff_id));
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
        let (items, next) = self
            .merged_page(IndexRead { index, pk_attr, sk_attr, keys, after, names, values, filter }, q.limit)
            .await?;
        let items: Result<Vec<Handoff>, _> =
            items.into_iter().map(|it| from_attrs::<HandoffItem>(it).map(|h| h.handoff)).collect();
        Ok(InboxPage { items: items?, next })
    }

    /// One page of an index read in order across its shards: each shard read starts after the
    /// cursor, side by side, and the results are merged.
    /// Returns the index items of the page (as the index projects them) and where the next page
    /// starts.
    async fn merged_page(
        &self,
        r: IndexRead<'_>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<InboxCursor>), StoreError> {
        let IndexRead { index, pk_attr, sk_attr, keys, after, names, mut values, filter } = r;
        let key_condition = match after {
            Some(_) => format!("{pk_attr} = :pk AND {sk_attr} > :after"),
            None => format!("{pk_attr} = :pk"),
        };
        if let Some(a) = &after {
            values.insert(":after".into(), s(a.clone()));
        }
        let names = (!names.is_empty()).then_some(names);
        let want = limit + 1;
        let per_shard = per_shard_read(want, keys.len());
        let shards = join_all(keys.into_iter().map(|pk| {
            let mut values = values.clone();
            values.insert(":pk".into(), s(pk));
            self.query_shard(index, &key_condition, values, names.clone(), filter.clone(), sk_attr, per_shard)
        }))
        .await;
        // Only what every shard has read up to may be shown: past the least of those positions a
        // shard that stopped early could still hold an earlier handoff.
        let mut items: Vec<(String, Item)> = Vec::new();
        let mut bound: Option<String> = None;
        for shard in shards {
            let (found, read_up_to) = shard?;
            items.extend(found);
            if let Some(r) = read_up_to {
                bound = Some(match bound {
                    Some(b) if b <= r => b,
                    _ => r,
                });
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(b) = &bound {
            items.retain(|(k, _)| k <= b);
        }
        let partial = bound.is_some() && items.len() < want;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if partial {
            // A partial page: the filter matched too little within the reads allowed. The cursor
            // continues after what was read.
            bound.as_deref().and_then(cursor_of_order)
        } else if more {
            // The position of the last item in this index's order (queue order or last change).
            items.last().and_then(|(k, _)| cursor_of_order(k))
        } else {
            None
        };
        Ok((items.into_iter().map(|(_, it)| it).collect(), next))
    }

    /// Reads one index partition from its start key on: up to `want` matching handoffs in at most
    /// [`MAX_READS_PER_PAGE`] requests. Returns them with their order keys, and how far it read
    /// when it stopped before the end.
    #[allow(clippy::too_many_arguments)]
    async fn query_shard(
        &self,
        index: &str,
        key_condition: &str,
        values: Item,
        names: Option<HashMap<String, String>>,
        filter: Option<String>,
        sk_attr: &str,
        want: usize,
    ) -> Result<(Vec<(String, Item)>, Option<String>), StoreError> {
        let mut items: Vec<(String, Item)> = Vec::new();
        let mut start: Option<Item> = None;
        for _ in 0..MAX_READS_PER_PAGE {
            let missing = want - items.len();
            // With a filter, read more than is missing: DynamoDB's limit counts items read.
            let limit = if filter.is_some() { missing.max(50) } else { missing };
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_expression_attribute_values(Some(values.clone()))
                .set_expression_attribute_names(names.clone())
                .set_filter_expression(filter.clone())
                .scan_index_forward(true)
                .limit(limit as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for it in out.items.unwrap_or_default() {
                let order = it.get(sk_attr).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                items.push((order, it));
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < want => start = Some(k),
                Some(k) => {
                    let at = k.get(sk_attr).and_then(|v| v.as_s().ok()).cloned();
                    return Ok((items, at));
                }
                None => return Ok((items, None)),
            }
        }
        let at = start.as_ref().and_then(|k| k.get(sk_attr)).and_then(|v| v.as_s().ok()).cloned();
        Ok((items, at))
    }

    pub(super) async fn changed_handoffs(
        &self,
        ws: &WorkspaceId,
        after: &InboxCursor,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        // The index holds keys only (so writes that leave a handoff's last change alone, such as
        // the outbox's acknowledgements, do not write to it); the handoffs are read by key.
        let shards = self.layout(ws, true).await?.for_read();
        let read = IndexRead {
            index: INDEX_CHANGES,
            pk_attr: "gsi6pk",
            sk_attr: "gsi6sk",
            keys: (0..shards).map(|k| changes_pk(ws, k)).collect(),
            after: Some(order_key(&after.created_at, &after.handoff_id)),
            names: HashMap::new(),
            values: HashMap::new(),
            filter: None,
        };
        let (keys, next) = self.merged_page(read, limit).await?;
        let keys: Vec<String> = keys.iter().filter_map(|k| k.get("pk")?.as_s().ok().cloned()).collect();
        let mut found = self.get_handoffs(&keys).await?;
        let items = keys.iter().filter_map(|pk| found.remove(pk)).collect();
        Ok(InboxPage { items, next })
    }
}

/// What one merged index read is: the index, its key attributes, the partitions to read (its
/// shards, or teams), where to start, and the filter.
struct IndexRead<'a> {
    index: &'a str,
    pk_attr: &'a str,
    sk_attr: &'a str,
    keys: Vec<String>,
    after: Option<String>,
    names: HashMap<String, String>,
    values: Item,
    filter: Option<String>,
}

/// An index position (an order key) as a client cursor.
fn cursor_of_order(order: &str) -> Option<InboxCursor> {
    let (at, id) = order.split_once('#')?;
    Some(InboxCursor {
        created_at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        handoff_id: HandoffId::parse(id).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::keys::{handoff_shard, INBOX_SHARDS};
    use super::*;
    use crate::adapters::sortable_time as ts;

    #[test]
    fn a_merged_page_reads_a_share_of_it_from_each_shard() {
        assert_eq!(per_shard_read(26, 64), 8);
        assert_eq!(per_shard_read(101, 64), 10);
        assert_eq!(per_shard_read(26, 1), 26, "one key: the whole page");
        assert_eq!(per_shard_read(3, 64), 3, "never more than the page");
        // Handoffs spread by the shards' own hash: a page of 25 (and of 100) from 64 shards is
        // full whenever the reads reach far enough, i.e. no shard holds more than its share of
        // the page's handoffs plus what it read beyond.
        for want in [26usize, 101] {
            let per = per_shard_read(want, INBOX_SHARDS as usize);
            let mut short = 0;
            for page in 0..2_000 {
                let mut count = vec![0usize; INBOX_SHARDS as usize];
                for i in 0..want {
                    let id = HandoffId::parse(format!("hnd_{page}_{i}")).unwrap();
                    count[handoff_shard(&id, INBOX_SHARDS) as usize] += 1;
                }
                if count.iter().any(|c| *c >= per) {
                    short += 1;
                }
            }
            assert!(short <= 2, "{short} of 2,000 pages of {want} would come back short");
        }
    }

    #[test]
    fn an_index_position_reads_back_as_a_cursor() {
        let at = Utc::now();
        let id = HandoffId::parse("hnd_7").unwrap();
        let c = cursor_of_order(&order_key(&at, &id)).unwrap();
        assert_eq!(c.handoff_id, id);
        assert_eq!(ts(&c.created_at), ts(&at));
    }
}
