//! The key schema: the table's indexes, every partition and sort key, and the shards that spread
//! a workspace's keys (docs/ARCHITECTURE.md, "DynamoDB key design"; docs/SCALE.md).
//!
//! Every key here is stored data: changing how one is built, or a shard count or hash, moves
//! items that are already written.

use crate::adapters::aws::stable_hash;
use crate::adapters::sortable_time as ts;
use crate::domain::{
    ConversationId, DecisionOwner, Dimension, EventId, HandoffId, LinePosition, State, TeamId, UserId, WorkspaceId,
};
use chrono::{DateTime, Utc};

/// Names of the table's secondary indexes (the template declares the same).
pub const INDEX_BY_STATE: &str = "by_state";
pub const INDEX_ACTIVE: &str = "active";
pub const INDEX_BY_ASSIGNEE: &str = "by_assignee";
pub const INDEX_PENDING_EFFECTS: &str = "pending_effects";
pub const INDEX_BY_TEAM: &str = "by_team";
pub const INDEX_CHANGES: &str = "changes";
/// Every secondary index with the number of its key attributes (`gsi<n>pk`, `gsi<n>sk`).
pub const INDEXES: [(&str, u32); 6] = [
    (INDEX_BY_STATE, 1),
    (INDEX_ACTIVE, 2),
    (INDEX_BY_ASSIGNEE, 3),
    (INDEX_PENDING_EFFECTS, 4),
    (INDEX_BY_TEAM, 5),
    (INDEX_CHANGES, 6),
];
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";
/// A workspace's pending decisions are spread over this many index partitions of its own, so a
/// busy workspace's outbox never shares a key with another's, and one at 10,000 whole lives a
/// second stays under each partition's limit (docs/SCALE.md). The sweep scans the index (it holds
/// only what is not yet sent), so the count costs readers nothing.
pub const PENDING_SHARDS: u32 = 1024;
/// The settings are kept as this many identical copies, written together by one transaction;
/// each escalation checks the copy of its conversation, so the checks spread out too. The teams
/// copies share the copies' partitions, so each partition takes two checks per escalation
/// (docs/SCALE.md).
pub const SETTINGS_COPIES: u32 = 64;
/// The Inbox indexes (`active`, `by_state`), a team's queue (`by_team`, per team and state), the
/// changes feed and each grouping's figures are spread over the workspace's layout, one count for
/// all of them (`layout.rs`): 1 for a new workspace, more as its rate grows. These are the counts
/// of a workspace saved before layouts existed, which keeps them.
pub const INBOX_SHARDS: u32 = super::layout::LEGACY_SHARDS;
pub const TEAM_SHARDS: u32 = super::layout::LEGACY_SHARDS;
pub const CHANGES_SHARDS: u32 = super::layout::LEGACY_SHARDS;
pub const METRICS_SHARDS: u32 = super::layout::LEGACY_SHARDS;

pub(super) const HANDOFF_SK: &str = "#HANDOFF";
/// The item beside the handoff that says how far its outbound events are handed over. It sorts
/// right after the handoff item (and before the decisions), so a read of the handoff and its
/// first decisions, or of the handoff and its newest transcript lines, takes it along.
pub(super) const SENT_SK: &str = "#SENT";

pub(super) fn handoff_pk(ws: &WorkspaceId, id: &HandoffId) -> String {
    format!("HANDOFF#{ws}#{id}")
}
pub(super) fn event_pk(ws: &WorkspaceId, e: &EventId) -> String {
    format!("EVENT#{ws}#{e}")
}
pub(super) fn conversation_pk(ws: &WorkspaceId, c: &ConversationId) -> String {
    format!("CONV#{ws}#{c}")
}
pub(super) fn settings_key(ws: &WorkspaceId, copy: u32) -> (String, String) {
    (format!("SETTINGS#{ws}#{copy}"), "SETTINGS".into())
}
pub(super) fn decision_sk(version: u64) -> String {
    format!("D#{version:010}")
}
/// The last decision key there can be: the upper end of a handoff's decisions.
pub(super) const LAST_DECISION_SK: &str = "D#9999999999";
/// A transcript line's key. Lines sort *before* `#HANDOFF` and in reverse (`!T#` then the
/// complements of version and index), so one Query read backwards from `#HANDOFF` returns the
/// handoff and then its lines oldest first: the first page of a transcript is one request.
pub(super) fn line_sk(p: LinePosition) -> String {
    format!("!T#{:010}#{:05}", 9_999_999_999 - p.version.min(9_999_999_999), 99_999 - p.index.min(99_999))
}
pub(super) fn line_position(sk: &str) -> Option<LinePosition> {
    let rest = sk.strip_prefix("!T#")?;
    let (v, i) = rest.split_once('#')?;
    Some(LinePosition { version: 9_999_999_999 - v.parse::<u64>().ok()?, index: 99_999 - i.parse::<u32>().ok()? })
}
/// The key of a change's idempotency key (after the decisions).
pub(super) fn change_key_sk(key: &str) -> String {
    format!("K#{key}")
}
pub(super) fn owner_pk(ws: &WorkspaceId, o: &DecisionOwner) -> String {
    match o {
        DecisionOwner::Handoff { handoff_id } => handoff_pk(ws, handoff_id),
        DecisionOwner::Event { event_id } => event_pk(ws, event_id),
    }
}
pub(super) fn order_key(created_at: &DateTime<Utc>, id: &HandoffId) -> String {
    format!("{}#{id}", ts(created_at))
}
pub(super) fn by_state_pk(ws: &WorkspaceId, s: State, shard: u32) -> String {
    format!("WS#{ws}#STATE#{s}#{shard}")
}
/// Every handoff of a workspace by its last change (the changes feed).
pub(super) fn changes_pk(ws: &WorkspaceId, shard: u32) -> String {
    format!("WS#{ws}#CHANGES#{shard}")
}
pub(super) fn active_pk(ws: &WorkspaceId, shard: u32) -> String {
    format!("WS#{ws}#ACTIVE#{shard}")
}
/// The one spread every sharded key uses: `key`'s stable hash among `shards` (the same in every
/// process and release). Public so a simulation can spread a load exactly as the store does.
pub fn shard_for(key: &str, shards: u32) -> u32 {
    (stable_hash(key) % shards as u64) as u32
}
/// The shard of a handoff among `shards` (an index's count: `INBOX_SHARDS`, `TEAM_SHARDS`,
/// `CHANGES_SHARDS`).
pub(super) fn handoff_shard(id: &HandoffId, shards: u32) -> u32 {
    shard_for(id.as_str(), shards)
}
pub(super) fn settings_copy(c: &ConversationId) -> u32 {
    shard_for(c.as_str(), SETTINGS_COPIES)
}
/// An agent's handoffs: the active ones under one key, the closed ones under one key per state,
/// so "mine, active" never reads an agent's history.
pub(super) fn assignee_pk(ws: &WorkspaceId, u: &UserId, state: State) -> String {
    if state.is_active() {
        format!("WS#{ws}#ASSIGNEE#{u}#ACTIVE")
    } else {
        format!("WS#{ws}#ASSIGNEE#{u}#STATE#{state}")
    }
}
/// A team's queue: its active handoffs under one key per shard, the others under one key per
/// state and shard.
pub(super) fn team_pk(ws: &WorkspaceId, t: &TeamId, state: State, shard: u32) -> String {
    if state.is_active() {
        format!("WS#{ws}#TEAM#{t}#ACTIVE#{shard}")
    } else {
        format!("WS#{ws}#TEAM#{t}#STATE#{state}#{shard}")
    }
}
/// Every shard key of these teams' queues in one state.
pub(super) fn team_keys<'a>(
    ws: &WorkspaceId,
    teams: impl Iterator<Item = &'a TeamId>,
    state: State,
    shards: u32,
) -> Vec<String> {
    teams.flat_map(|t| (0..shards).map(move |k| team_pk(ws, t, state, k))).collect()
}
/// The teams document (without member lists), kept in as many copies as the settings.
/// In the partition of the settings copy of the same number: one Query reads both.
pub(super) fn teams_key(ws: &WorkspaceId, copy: u32) -> (String, String) {
    (settings_key(ws, copy).0, "TEAMS".into())
}
/// The member lists of each saved teams document, under the id of the write that saved it.
pub(super) fn members_pk(ws: &WorkspaceId) -> String {
    format!("TEAMMEMBERS#{ws}")
}
pub(super) fn metrics_pk(ws: &WorkspaceId, dim: Dimension, shard: u32) -> String {
    format!("METRICS#{ws}#{dim}#{shard}")
}
/// The figures shard a decision adds to: the one its handoff's or event's id (`shard_key`)
/// hashes to.
pub(super) fn metrics_shard(shard_key: &str, shards: u32) -> u32 {
    shard_for(shard_key, shards)
}
pub(super) fn shard_of(key: &str) -> u32 {
    shard_for(key, PENDING_SHARDS)
}
/// The pending-effects index key of a decision owned by `owner_pk`: the workspace's own shards.
pub(super) fn pending_pk(ws: &WorkspaceId, owner_pk: &str) -> String {
    format!("PENDING#{ws}#{}", shard_of(owner_pk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: a change of the hash would move every stored key.
        assert_eq!(shard_for("HANDOFF#ws#hnd_1", 128), 101);
        assert_eq!(shard_of("HANDOFF#ws#hnd_1"), 229);
        assert_eq!(handoff_shard(&HandoffId::parse("hnd_1").unwrap(), 64), 5);
        let used: HashSet<u32> = (0..20_000).map(|i| shard_of(&format!("HANDOFF#ws#hnd_{i}"))).collect();
        assert_eq!(used.len(), PENDING_SHARDS as usize);
        // A layout grows by doubling: an entry's shard under a count is its shard under the
        // smaller count, or that plus the smaller count, so reading up to the larger count finds it.
        for i in 0..2_000 {
            let key = format!("hnd_{i}");
            for k in [1, 2, 4, 64, 512] {
                assert_eq!(shard_for(&key, 2 * k) % k, shard_for(&key, k), "{key} at {k}");
            }
        }
        let inbox: HashSet<u32> =
            (0..5000).map(|i| handoff_shard(&HandoffId::parse(format!("hnd_{i}")).unwrap(), INBOX_SHARDS)).collect();
        assert_eq!(inbox.len(), INBOX_SHARDS as usize);
        let ids: Vec<HandoffId> = (0..5000).map(|i| HandoffId::parse(format!("hnd_{i}")).unwrap()).collect();
        let teams: HashSet<u32> = ids.iter().map(|id| handoff_shard(id, TEAM_SHARDS)).collect();
        assert_eq!(teams.len(), TEAM_SHARDS as usize);
        let changes: HashSet<u32> = ids.iter().map(|id| handoff_shard(id, CHANGES_SHARDS)).collect();
        assert_eq!(changes.len(), CHANGES_SHARDS as usize);
    }
}
