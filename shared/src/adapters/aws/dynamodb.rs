//! The DynamoDB [`Store`]: one table, items mapped with `serde_dynamo`, every conditional write a
//! condition expression, every state change and its decision one `TransactWriteItems`.
//! The key design is documented in docs/ARCHITECTURE.md ("DynamoDB key design").
//!
//! Every entity has a partition key of its own (a handoff, a conversation lock, an event), so
//! nothing a workspace writes piles onto one key; a handoff's decisions (its timeline lines and
//! outbox) are items of their own beside it, so the handoff item stays small whatever its history.

use crate::adapters::sortable_time as ts;
use crate::domain::metrics::bucket_counter;
use crate::domain::{
    ConversationId, DecisionOwner, DecisionRecord, Dimension, EscalationRecord, EventId, Handoff, HandoffId,
    LinePosition, MetricsDelta, MetricsRow, SettingsDoc, State, TeamId, TeamsDoc, TranscriptLine, UserId, WorkspaceId,
};
use crate::ports::{
    CommitError, EscalationWrite, EscalationWriteError, HandoffView, InboxCursor, InboxPage, InboxQuery, StatusFilter,
    Store, StoreError, TranscriptPage, Transition,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use std::collections::HashMap;

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
/// busy workspace's outbox never shares a key with another's. The sweep scans the index (it holds
/// only what is not yet sent), so the count costs readers nothing.
pub const PENDING_SHARDS: u32 = 128;
/// The sweep reads the pending-effects index in this many parallel segments.
pub const PENDING_SCAN_SEGMENTS: i32 = 4;
/// A workspace's Inbox indexes (active, by state) are spread over this many partitions, so one
/// busy workspace does not exceed what one index partition takes (docs/SCALE.md).
pub const INBOX_SHARDS: u32 = 64;
/// The settings are kept as this many identical copies, written together by one transaction;
/// each escalation checks the copy of its conversation, so the checks spread out too. The teams
/// copies share the copies' partitions, so each partition takes two checks per escalation
/// (docs/SCALE.md).
pub const SETTINGS_COPIES: u32 = 64;
/// A team's queue (the `by_team` index) is spread over this many partitions per team and state:
/// a team can take every escalation of a busy workspace, as the `active` index does.
pub const TEAM_SHARDS: u32 = 64;
/// The changes feed's index is spread over this many partitions: every change of every handoff
/// of a workspace writes to it (docs/SCALE.md).
pub const CHANGES_SHARDS: u32 = 64;
/// An Inbox page reads at most this many index pages; a filter that matches little returns a
/// partial page with a cursor rather than reading on.
pub const MAX_READS_PER_PAGE: usize = 4;
/// Each grouping's figures are spread over this many partitions (a decision adds to the one its
/// handoff or event hashes to), so one busy workspace's sums do not pile onto one key.
pub const METRICS_SHARDS: u32 = 64;
/// A teams document's member lists are kept in items of at most about this many bytes.
const MEMBERS_CHUNK_BYTES: usize = 300_000;

type Item = HashMap<String, AttributeValue>;

const HANDOFF_SK: &str = "#HANDOFF";
/// The item beside the handoff that says how far its outbound events are handed over. It sorts
/// right after the handoff item (and before the decisions), so a read of the handoff and its
/// first decisions, or of the handoff and its newest transcript lines, takes it along.
const SENT_SK: &str = "#SENT";

fn handoff_pk(ws: &WorkspaceId, id: &HandoffId) -> String {
    format!("HANDOFF#{ws}#{id}")
}
fn event_pk(ws: &WorkspaceId, e: &EventId) -> String {
    format!("EVENT#{ws}#{e}")
}
fn conversation_pk(ws: &WorkspaceId, c: &ConversationId) -> String {
    format!("CONV#{ws}#{c}")
}
fn settings_key(ws: &WorkspaceId, copy: u32) -> (String, String) {
    (format!("SETTINGS#{ws}#{copy}"), "SETTINGS".into())
}
fn decision_sk(version: u64) -> String {
    format!("D#{version:010}")
}
/// The last decision key there can be: the upper end of a handoff's decisions.
const LAST_DECISION_SK: &str = "D#9999999999";
/// A transcript line's key. Lines sort *before* `#HANDOFF` and in reverse (`!T#` then the
/// complements of version and index), so one Query read backwards from `#HANDOFF` returns the
/// handoff and then its lines oldest first: the first page of a transcript is one request.
fn line_sk(p: LinePosition) -> String {
    format!("!T#{:010}#{:05}", 9_999_999_999 - p.version.min(9_999_999_999), 99_999 - p.index.min(99_999))
}
fn line_position(sk: &str) -> Option<LinePosition> {
    let rest = sk.strip_prefix("!T#")?;
    let (v, i) = rest.split_once('#')?;
    Some(LinePosition { version: 9_999_999_999 - v.parse::<u64>().ok()?, index: 99_999 - i.parse::<u32>().ok()? })
}
/// The key of a change's idempotency key (after the decisions).
fn change_key_sk(key: &str) -> String {
    format!("K#{key}")
}
fn owner_pk(ws: &WorkspaceId, o: &DecisionOwner) -> String {
    match o {
        DecisionOwner::Handoff { handoff_id } => handoff_pk(ws, handoff_id),
        DecisionOwner::Event { event_id } => event_pk(ws, event_id),
    }
}
fn order_key(created_at: &DateTime<Utc>, id: &HandoffId) -> String {
    format!("{}#{id}", ts(created_at))
}
fn by_state_pk(ws: &WorkspaceId, s: State, shard: u32) -> String {
    format!("WS#{ws}#STATE#{s}#{shard}")
}
/// Every handoff of a workspace by its last change (the changes feed).
fn changes_pk(ws: &WorkspaceId, shard: u32) -> String {
    format!("WS#{ws}#CHANGES#{shard}")
}
fn active_pk(ws: &WorkspaceId, shard: u32) -> String {
    format!("WS#{ws}#ACTIVE#{shard}")
}
/// The shard of a handoff among `shards` (an index's count: `INBOX_SHARDS`, `TEAM_SHARDS`,
/// `CHANGES_SHARDS`).
fn handoff_shard(id: &HandoffId, shards: u32) -> u32 {
    (super::stable_hash(id.as_str()) % shards as u64) as u32
}
fn settings_copy(c: &ConversationId) -> u32 {
    (super::stable_hash(c.as_str()) % SETTINGS_COPIES as u64) as u32
}
/// An agent's handoffs: the active ones under one key, the closed ones under one key per state,
/// so "mine, active" never reads an agent's history.
fn assignee_pk(ws: &WorkspaceId, u: &UserId, state: State) -> String {
    if state.is_active() {
        format!("WS#{ws}#ASSIGNEE#{u}#ACTIVE")
    } else {
        format!("WS#{ws}#ASSIGNEE#{u}#STATE#{state}")
    }
}
/// A team's queue: its active handoffs under one key per shard, the others under one key per
/// state and shard.
fn team_pk(ws: &WorkspaceId, t: &TeamId, state: State, shard: u32) -> String {
    if state.is_active() {
        format!("WS#{ws}#TEAM#{t}#ACTIVE#{shard}")
    } else {
        format!("WS#{ws}#TEAM#{t}#STATE#{state}#{shard}")
    }
}
/// Every shard key of these teams' queues in one state.
fn team_keys<'a>(ws: &WorkspaceId, teams: impl Iterator<Item = &'a TeamId>, state: State) -> Vec<String> {
    teams.flat_map(|t| (0..TEAM_SHARDS).map(move |k| team_pk(ws, t, state, k))).collect()
}
/// The teams document (without member lists), kept in as many copies as the settings.
/// In the partition of the settings copy of the same number: one Query reads both.
fn teams_key(ws: &WorkspaceId, copy: u32) -> (String, String) {
    (settings_key(ws, copy).0, "TEAMS".into())
}
/// The member lists of each saved teams document, under the id of the write that saved it.
fn members_pk(ws: &WorkspaceId) -> String {
    format!("TEAMMEMBERS#{ws}")
}
fn metrics_pk(ws: &WorkspaceId, dim: Dimension, shard: u32) -> String {
    format!("METRICS#{ws}#{dim}#{shard}")
}
/// How many items each of `keys` shards reads for a merged page of `want`: the shards hold
/// handoffs by a hash of their ids, so a page takes about `want / keys` from each. Each reads twice
/// that and 6 more, which leaves a page short (a partial page with a cursor) about once in 10,000
/// pages; reading `want` from every shard would read up to 64 times the page.
fn per_shard_read(want: usize, keys: usize) -> usize {
    want.min(want.div_ceil(keys.max(1)) * 2 + 6)
}
fn shard_of(key: &str) -> u32 {
    (super::stable_hash(key) % PENDING_SHARDS as u64) as u32
}
/// The pending-effects index key of a decision owned by `owner_pk`: the workspace's own shards.
fn pending_pk(ws: &WorkspaceId, owner_pk: &str) -> String {
    format!("PENDING#{ws}#{}", shard_of(owner_pk))
}

#[derive(Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    doc: SettingsDoc,
}

#[derive(Serialize, Deserialize)]
struct HandoffItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi5pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi5sk: Option<String>,
    gsi6pk: String,
    gsi6sk: String,
    #[serde(flatten)]
    handoff: Handoff,
}

impl HandoffItem {
    fn new(h: &Handoff) -> Self {
        let order = order_key(&h.created_at, &h.handoff_id);
        let active = h.state.is_active();
        let shard = handoff_shard(&h.handoff_id, INBOX_SHARDS);
        Self {
            pk: handoff_pk(&h.workspace_id, &h.handoff_id),
            sk: HANDOFF_SK.into(),
            gsi1pk: by_state_pk(&h.workspace_id, h.state, shard),
            gsi1sk: order.clone(),
            gsi2pk: active.then(|| active_pk(&h.workspace_id, shard)),
            gsi2sk: active.then(|| order.clone()),
            gsi3pk: h.assignee.as_ref().map(|a| assignee_pk(&h.workspace_id, a, h.state)),
            gsi3sk: h.assignee.as_ref().map(|_| order.clone()),
            gsi5pk: h
                .team_id
                .as_ref()
                .map(|t| team_pk(&h.workspace_id, t, h.state, handoff_shard(&h.handoff_id, TEAM_SHARDS))),
            gsi5sk: h.team_id.as_ref().map(|_| order),
            gsi6pk: changes_pk(&h.workspace_id, handoff_shard(&h.handoff_id, CHANGES_SHARDS)),
            gsi6sk: order_key(&h.updated_at, &h.handoff_id),
            handoff: h.clone(),
        }
    }
}

/// One copy of a workspace's teams document, without member lists; `write_id` names the
/// members items saved with it.
#[derive(Serialize, Deserialize)]
struct TeamsItem {
    pk: String,
    sk: String,
    write_id: String,
    #[serde(flatten)]
    doc: TeamsDoc,
}

/// Some teams' member lists, of the teams document saved by write `write_id` (the key's start).
#[derive(Serialize, Deserialize)]
struct MembersItem {
    pk: String,
    sk: String,
    teams: Vec<TeamMembers>,
}

#[derive(Serialize, Deserialize)]
struct TeamMembers {
    team_id: TeamId,
    members: Vec<UserId>,
}

/// How far a handoff's outbound events are handed over (`sent_seq`). The outbox's
/// acknowledgements write this item, not the handoff item: an acknowledgement then rewrites no
/// index entry of the handoff (every Inbox index projects the whole handoff). The handoff item
/// keeps the value its last commit saw; the handoff's `sent_seq` is the larger of the two.
#[derive(Serialize, Deserialize)]
struct SentItem {
    pk: String,
    sk: String,
    sent_seq: u64,
}

fn sk_of(item: &Item) -> Option<&str> {
    item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The handoff of a handoff item, with the `sent_seq` of its sent item when there is one.
fn handoff_of(item: Item, sent: Option<Item>) -> Result<Handoff, StoreError> {
    let mut h = from_attrs::<HandoffItem>(item)?.handoff;
    if let Some(sent) = sent {
        h.sent_seq = h.sent_seq.max(from_attrs::<SentItem>(sent)?.sent_seq);
    }
    Ok(h)
}

/// "This conversation has an active handoff": taken with the handoff, freed when it closes.
#[derive(Serialize, Deserialize)]
struct ConversationItem {
    pk: String,
    sk: String,
    handoff_id: HandoffId,
}

#[derive(Serialize, Deserialize)]
struct EscalationItem {
    pk: String,
    sk: String,
    expires_at_epoch: i64,
    #[serde(flatten)]
    record: EscalationRecord,
}

/// One decision: its timeline lines and its effects; in the pending index until all are sent.
#[derive(Serialize, Deserialize)]
struct DecisionItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4sk: Option<String>,
    #[serde(flatten)]
    decision: DecisionRecord,
}

impl DecisionItem {
    fn new(d: &DecisionRecord) -> Self {
        let pk = owner_pk(&d.workspace_id, &d.owner);
        let sk = decision_sk(d.version);
        let pending = !d.is_settled();
        Self {
            gsi4pk: pending.then(|| pending_pk(&d.workspace_id, &pk)),
            gsi4sk: pending.then(|| format!("{}#{pk}#{sk}", ts(&d.recorded_at))),
            pk,
            sk,
            decision: d.clone(),
        }
    }
}

/// One transcript line, in its handoff's partition.
#[derive(Serialize, Deserialize)]
struct LineItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    line: TranscriptLine,
}

/// "This change was made": the idempotency key of a customer message or a reply.
#[derive(Serialize, Deserialize)]
struct ChangeKeyItem {
    pk: String,
    sk: String,
    message_id: String,
}

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or("unknown").to_string();
    let msg = e.message().unwrap_or_default().to_string();
    StoreError::Unavailable(format!("DynamoDB {code}: {msg} ({})", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
}
fn to_attrs<T: Serialize>(v: &T) -> Result<Item, StoreError> {
    to_item(v).map_err(|e| StoreError::Corrupt(format!("cannot map item: {e}")))
}
fn from_attrs<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|e| StoreError::Corrupt(format!("cannot read item: {e}")))
}
fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn is_condition_failed(r: Option<&CancellationReason>) -> bool {
    r.and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

/// The cancellation reasons of a cancelled transaction, one per item, in order.
fn cancelled(e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> Option<&[CancellationReason]> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => Some(t.cancellation_reasons()),
        _ => None,
    }
}

/// A condition on a write: the expression, and its names and values.
struct Cond {
    expr: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
    /// Return the item as it was when this condition fails.
    return_old: bool,
}

impl Cond {
    fn new(expr: &'static str) -> Self {
        Self { expr, names: vec![], values: vec![], return_old: false }
    }
    fn name(mut self, k: &'static str, v: &'static str) -> Self {
        self.names.push((k, v));
        self
    }
    fn value(mut self, k: &'static str, v: AttributeValue) -> Self {
        self.values.push((k, v));
        self
    }
    fn returning_old(mut self) -> Self {
        self.return_old = true;
        self
    }
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }
}

const NEW: &str = "attribute_not_exists(pk)";

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    fn put(&self, item: Item, cond: Option<Cond>) -> Result<TransactWriteItem, StoreError> {
        let mut p = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = cond {
            p = p
                .condition_expression(c.expr)
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values());
            if c.return_old {
                p = p.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            }
        }
        Ok(TransactWriteItem::builder().put(p.build().map_err(unavailable)?).build())
    }

    /// Puts of a change's transcript lines, at positions (`h.version`, 0..).
    fn line_puts(&self, h: &Handoff, lines: &[TranscriptLine]) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = handoff_pk(&h.workspace_id, &h.handoff_id);
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let sk = line_sk(LinePosition { version: h.version, index: i as u32 });
                let item = LineItem { pk: pk.clone(), sk, line: line.clone() };
                self.put(to_attrs(&item)?, Some(Cond::new(NEW)))
            })
            .collect()
    }

    /// Puts of every copy of a versioned document (settings, teams), each conditional on the
    /// stored version still being `expected_version` (0: none stored), for one transaction.
    /// Copy 0 must hold that version; another copy may also be missing: it is one that a raised
    /// `SETTINGS_COPIES` added since the last save, which this save creates.
    fn copies(
        &self,
        expected_version: u64,
        item: impl Fn(u32) -> Result<Item, StoreError>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        (0..SETTINGS_COPIES)
            .map(|copy| {
                let cond = match (expected_version, copy) {
                    (0, _) => Cond::new(NEW),
                    (v, c) => Cond::new(if c == 0 {
                        "#version = :expected"
                    } else {
                        "#version = :expected OR attribute_not_exists(pk)"
                    })
                    .name("#version", "version")
                    .value(":expected", n(v)),
                };
                self.put(item(copy)?, Some(cond))
            })
            .collect()
    }

    /// "The document at this key is still at `version`" (0: there is none). When it fails, the
    /// stored copy comes back (none: the copy is missing, see [`DynamoStore::fill_copy`]).
    fn version_check(&self, (pk, sk): (String, String), version: u64) -> Result<TransactWriteItem, StoreError> {
        let mut c = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        c = if version == 0 {
            c.condition_expression(NEW)
        } else {
            c.condition_expression("#version = :v")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":v", n(version))
        };
        Ok(TransactWriteItem::builder().condition_check(c.build().map_err(unavailable)?).build())
    }

    /// Writes the copy at `key` from copy 0 (`first`) if it is missing and copy 0 exists: a copy
    /// that a raised `SETTINGS_COPIES` added since the workspace's last save. The escalation that
    /// found it missing decides again and is then checked against it; a save would create it too.
    async fn fill_copy(&self, key: (String, String), first: (String, String)) -> Result<(), StoreError> {
        let Some(mut item) = self.get(first.0, first.1).await? else { return Ok(()) };
        let pk = key.0;
        item.insert("pk".into(), s(pk.clone()));
        match self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(NEW).send().await
        {
            Ok(_) => {
                tracing::info!(key = %pk, "a settings or teams copy added since the last save was written from copy 0");
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// An update adding `pairs` (attribute name, amount) to the item `pk`/`sk`.
    fn add_to(&self, pk: String, sk: String, pairs: &[(&str, i64)]) -> Result<TransactWriteItem, StoreError> {
        let mut u = Update::builder().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk));
        let mut adds = Vec::new();
        for (i, (name, v)) in pairs.iter().enumerate() {
            adds.push(format!("#c{i} :v{i}"));
            u = u
                .expression_attribute_names(format!("#c{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), n(v));
        }
        let u = u.update_expression(format!("ADD {}", adds.join(", "))).build().map_err(unavailable)?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// The updates that add a decision's figures to the sums of its day, one per grouping (and
    /// one per duration bucket), in the partition `shard_key` hashes to.
    fn metric_updates(
        &self,
        ws: &WorkspaceId,
        shard_key: &str,
        m: &MetricsDelta,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let shard = (super::stable_hash(shard_key) % METRICS_SHARDS as u64) as u32;
        let counts = m.counts.iter().map(|(k, v)| (k.as_str(), *v));
        // Duration buckets are items of their own (a day's histogram has many).
        let (buckets, plain): (Vec<_>, Vec<_>) = counts.partition(|(name, _)| bucket_counter(name).is_some());
        let mut out = Vec::new();
        for dim in Dimension::all() {
            let base = format!("{}#{}", m.day, m.key(dim));
            if !plain.is_empty() {
                out.push(self.add_to(metrics_pk(ws, dim, shard), base.clone(), &plain)?);
            }
            for (name, v) in &buckets {
                out.push(self.add_to(metrics_pk(ws, dim, shard), format!("{base}#{name}"), &[("n", *v)])?);
            }
        }
        Ok(out)
    }

    /// Every item of `pk` whose sort key is between `from` and `to`, following pages.
    async fn query_all(&self, pk: String, from: String, to: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":from", s(from.clone()))
                .expression_attribute_values(":to", s(to.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Handoffs by their partition keys, read side by side (consistent reads), by key.
    async fn get_handoffs(&self, pks: &[String]) -> Result<HashMap<String, Handoff>, StoreError> {
        let reads = join_all(pks.iter().map(|pk| self.read_handoff(pk.clone()))).await;
        let mut found = HashMap::new();
        for (pk, h) in pks.iter().zip(reads) {
            if let Some(h) = h? {
                found.insert(pk.clone(), h);
            }
        }
        Ok(found)
    }

    /// A handoff and its sent item: one consistent `Query` of the two keys.
    async fn read_handoff(&self, pk: String) -> Result<Option<Handoff>, StoreError> {
        let (items, _) = self.query_between(pk, HANDOFF_SK, SENT_SK, None).await?;
        let (mut handoff, mut sent) = (None, None);
        for item in items {
            match sk_of(&item) {
                Some(HANDOFF_SK) => handoff = Some(item),
                Some(SENT_SK) => sent = Some(item),
                _ => {}
            }
        }
        handoff.map(|h| handoff_of(h, sent)).transpose()
    }

    /// Deletes items (best effort: what is left is never read), up to 100 per transaction.
    async fn delete_all(&self, keys: Vec<(String, String)>) {
        for chunk in keys.chunks(100) {
            let deletes: Result<Vec<TransactWriteItem>, _> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let d = Delete::builder().table_name(&self.table).key("pk", s(pk.clone())).key("sk", s(sk.clone()));
                    d.build().map(|d| TransactWriteItem::builder().delete(d).build())
                })
                .collect();
            let result = match deletes {
                Ok(items) => self.transact(items).await.map_err(sdk_error),
                Err(e) => Err(unavailable(e)),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not delete outdated items; they are never read");
            }
        }
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>> {
        self.client.transact_write_items().set_transact_items(Some(items)).send().await.map(|_| ())
    }

    /// [`DynamoStore::transact`], tried again (four times in all, waiting 20 ms more each time)
    /// while it is cancelled only by `TransactionConflict`: another write to one of its items was
    /// in flight, which says nothing of its conditions. Any other failure, or the fourth
    /// conflict, is returned.
    async fn transact_through_conflicts(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>> {
        let mut attempt = 0u64;
        loop {
            let Err(e) = self.transact(items.clone()).await else { return Ok(()) };
            let conflict_only = cancelled(&e).is_some_and(|reasons| {
                reasons.iter().any(|r| r.code() == Some("TransactionConflict"))
                    && !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
            });
            attempt += 1;
            if !conflict_only || attempt == 4 {
                return Err(e);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
        }
    }

    /// A transaction whose conditions are "still the version read": a failed condition is a
    /// `VersionConflict`. A write racing one of these items (an escalation's check of the
    /// settings it was decided on) is not a stale version, so it is tried again.
    async fn transact_versioned(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let Err(e) = self.transact_through_conflicts(items).await else { return Ok(()) };
        let Some(reasons) = cancelled(&e) else { return Err(sdk_error(e)) };
        if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
            return Err(StoreError::VersionConflict);
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return Err(StoreError::Unavailable("the save kept conflicting with other writes; retry".into()));
        }
        let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
        Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")))
    }

    /// Items of `pk` from `from_sk` (inclusive) to its last decision, in order: the handoff item
    /// (`#HANDOFF`) and the decisions after it, never its transcript lines or change keys.
    async fn query_decisions(&self, pk: String, from_sk: &str, limit: usize) -> Result<(Vec<Item>, bool), StoreError> {
        self.query_between(pk, from_sk, LAST_DECISION_SK, Some(limit)).await
    }

    /// The items of `pk` with sort keys from `from` to `to` (consistent), up to `limit`; and
    /// whether more may follow.
    async fn query_between(
        &self,
        pk: String,
        from: &str,
        to: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .set_limit(limit.map(|l| l as i32))
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key.is_some()))
    }

    /// One Inbox page. The active and by-state views read every shard of their index side by
    /// side and merge them in queue order; each shard read starts after the cursor.
    async fn query_handoffs(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
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
        let (index, pk_attr, sk_attr, keys): (&'static str, &'static str, &'static str, Vec<String>) =
            match (&q.assignee, q.status) {
                _ if by_team.is_some() => {
                    let teams = by_team.into_iter().flatten();
                    match q.status {
                        StatusFilter::Active => {
                            (INDEX_BY_TEAM, "gsi5pk", "gsi5sk", team_keys(ws, teams, State::Waiting))
                        }
                        StatusFilter::One(st) => {
                            if st.is_active() {
                                names.insert("#state".into(), "state".into());
                                values.insert(":st".into(), s(st.as_str()));
                                filters.push("#state = :st".into());
                            }
                            (INDEX_BY_TEAM, "gsi5pk", "gsi5sk", team_keys(ws, teams, st))
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
                    (INDEX_ACTIVE, "gsi2pk", "gsi2sk", (0..INBOX_SHARDS).map(|k| active_pk(ws, k)).collect())
                }
                (None, StatusFilter::One(st)) => {
                    (INDEX_BY_STATE, "gsi1pk", "gsi1sk", (0..INBOX_SHARDS).map(|k| by_state_pk(ws, st, k)).collect())
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

#[async_trait]
impl Store for DynamoStore {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        // Every copy is the same (they are only ever written together).
        let (pk, sk) = settings_key(ws, 0);
        match self.get(pk, sk).await? {
            Some(item) => Ok(Some(from_attrs::<SettingsItem>(item)?.doc)),
            None => Ok(None),
        }
    }

    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        let items = self.copies(expected_version, |copy| {
            let (pk, sk) = settings_key(&doc.workspace_id, copy);
            to_attrs(&SettingsItem { pk, sk, doc: doc.clone() })
        })?;
        self.transact_versioned(items).await
    }

    async fn get_teams(&self, ws: &WorkspaceId) -> Result<Option<TeamsDoc>, StoreError> {
        // A save between the two reads deletes the member lists the first read points to (every
        // save with a team writes at least one): read again.
        for _ in 0..3 {
            let (pk, sk) = teams_key(ws, 0);
            let Some(item) = self.get(pk, sk).await? else { return Ok(None) };
            let TeamsItem { write_id, mut doc, .. } = from_attrs::<TeamsItem>(item)?;
            let chunks = self.query_all(members_pk(ws), format!("{write_id}#"), format!("{write_id}#~")).await?;
            if chunks.is_empty() && !doc.teams.teams.is_empty() {
                continue;
            }
            let mut members: HashMap<TeamId, Vec<UserId>> = HashMap::new();
            for c in chunks {
                for t in from_attrs::<MembersItem>(c)?.teams {
                    members.insert(t.team_id, t.members);
                }
            }
            for t in &mut doc.teams.teams {
                t.members = members.remove(&t.team_id).unwrap_or_default();
            }
            return Ok(Some(doc));
        }
        Err(StoreError::Unavailable("the teams kept changing while they were read; retry".into()))
    }

    /// The member lists first, under a new write id; then every copy of the document naming
    /// that id, conditionally on the version, in one transaction. A reader sees the old document
    /// or the new one, never a mix. The lists of earlier saves are deleted afterwards; a lost
    /// race deletes its own.
    async fn put_teams(&self, doc: &TeamsDoc, expected_version: u64) -> Result<(), StoreError> {
        let ws = &doc.workspace_id;
        let write_id = uuid::Uuid::now_v7().simple().to_string();
        let mut chunks: Vec<Vec<TeamMembers>> = vec![];
        let mut size = 0;
        for t in &doc.teams.teams {
            let bytes: usize = t.members.iter().map(|m| m.as_str().len() + 8).sum::<usize>() + 200;
            if chunks.is_empty() || size + bytes > MEMBERS_CHUNK_BYTES {
                chunks.push(vec![]);
                size = 0;
            }
            size += bytes;
            chunks
                .last_mut()
                .expect("a chunk")
                .push(TeamMembers { team_id: t.team_id.clone(), members: t.members.clone() });
        }
        let mut written = Vec::new();
        for (i, teams) in chunks.into_iter().enumerate() {
            let item = MembersItem { pk: members_pk(ws), sk: format!("{write_id}#{i:04}"), teams };
            written.push((item.pk.clone(), item.sk.clone()));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attrs(&item)?))
                .send()
                .await
                .map_err(sdk_error)?;
        }
        let routing = TeamsDoc { teams: doc.teams.without_members(), ..doc.clone() };
        let items = self.copies(expected_version, |copy| {
            let (pk, sk) = teams_key(ws, copy);
            to_attrs(&TeamsItem { pk, sk, write_id: write_id.clone(), doc: routing.clone() })
        })?;
        match self.transact_versioned(items).await {
            Ok(()) => {
                // Earlier saves' lists (write ids are time-ordered; a later save's are kept).
                let old = self.query_all(members_pk(ws), "0".into(), format!("{write_id}#")).await?;
                let keys = old
                    .into_iter()
                    .filter_map(|i| Some((i.get("pk")?.as_s().ok()?.clone(), i.get("sk")?.as_s().ok()?.clone())))
                    .collect();
                self.delete_all(keys).await;
                Ok(())
            }
            Err(e) => {
                self.delete_all(written).await;
                Err(e)
            }
        }
    }

    async fn get_decision_config(
        &self,
        ws: &WorkspaceId,
    ) -> Result<(Option<SettingsDoc>, Option<TeamsDoc>), StoreError> {
        // The settings and the teams (without member lists) share a partition: one Query.
        let (pk, _) = settings_key(ws, 0);
        let (mut settings, mut teams) = (None, None);
        for item in self.query_all(pk, "SETTINGS".into(), "TEAMS".into()).await? {
            match item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("SETTINGS") => settings = Some(from_attrs::<SettingsItem>(item)?.doc),
                Some("TEAMS") => teams = Some(from_attrs::<TeamsItem>(item)?.doc),
                _ => {}
            }
        }
        Ok((settings, teams))
    }

    async fn read_metrics(
        &self,
        ws: &WorkspaceId,
        dim: Dimension,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>, StoreError> {
        // Every shard side by side; `to` is excluded (every key of a day is `<day>#…`).
        let shards = join_all(
            (0..METRICS_SHARDS).map(|k| self.query_all(metrics_pk(ws, dim, k), from.to_string(), to.to_string())),
        )
        .await;
        let mut rows: std::collections::BTreeMap<(NaiveDate, String), MetricsRow> = Default::default();
        for items in shards {
            for item in items? {
                let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) else { continue };
                let mut parts = sk.splitn(3, '#');
                let (Some(day), Some(key)) = (parts.next(), parts.next()) else { continue };
                let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else { continue };
                let row = rows.entry((day, key.to_string())).or_insert_with(|| MetricsRow {
                    day: Some(day),
                    key: key.to_string(),
                    ..Default::default()
                });
                let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
                match parts.next() {
                    Some(bucket) => {
                        if let Some(v) = item.get("n").and_then(number) {
                            *row.counts.entry(bucket.to_string()).or_default() += v;
                        }
                    }
                    None => {
                        for (name, v) in &item {
                            if let (false, Some(v)) = (name == "pk" || name == "sk", number(v)) {
                                *row.counts.entry(name.clone()).or_default() += v;
                            }
                        }
                    }
                }
            }
        }
        Ok(rows.into_values().collect())
    }

    async fn create_escalation(&self, w: EscalationWrite<'_>) -> Result<(), EscalationWriteError> {
        let record = w.record;
        let ws = &record.workspace_id;
        let rec_item = EscalationItem {
            pk: event_pk(ws, &record.event_id),
            sk: "EVENT".into(),
            expires_at_epoch: record.expires_at.timestamp(),
            record: record.clone(),
        };
        // New, or an expired record DynamoDB's TTL has not removed yet. On failure the stored
        // record comes back with the error, so a replay needs no read of its own.
        let rec_cond = Cond::new("attribute_not_exists(pk) OR #ttl < :now")
            .name("#ttl", TTL_ATTRIBUTE)
            .value(":now", n(record.created_at.timestamp()))
            .returning_old();
        let mut items = vec![self.put(to_attrs(&rec_item)?, Some(rec_cond))?];
        let mut lock_at = None;
        if let Some(h) = w.handoff {
            items.push(self.put(to_attrs(&HandoffItem::new(h))?, Some(Cond::new(NEW)))?);
            if h.state.is_active() {
                lock_at = Some(items.len());
                let lock = ConversationItem {
                    pk: conversation_pk(ws, &h.conversation_id),
                    sk: "LOCK".into(),
                    handoff_id: h.handoff_id.clone(),
                };
                let cond = match w.stale_lock {
                    Some(stale) => {
                        Cond::new("attribute_not_exists(pk) OR handoff_id = :stale").value(":stale", s(stale.as_str()))
                    }
                    None => Cond::new(NEW),
                };
                items.push(self.put(to_attrs(&lock)?, Some(cond.returning_old()))?);
            }
        }
        let mut settings_at = None;
        if let Some(v) = w.settings_version {
            settings_at = Some(items.len());
            items.push(self.version_check(settings_key(ws, settings_copy(&record.conversation_id)), v)?);
        }
        let mut teams_at = None;
        if let Some(v) = w.teams_version {
            teams_at = Some(items.len());
            items.push(self.version_check(teams_key(ws, settings_copy(&record.conversation_id)), v)?);
        }
        if let Some(m) = w.metrics {
            items.extend(self.metric_updates(ws, record.event_id.as_str(), m)?);
        }
        if let Some(d) = w.decision {
            items.push(self.put(to_attrs(&DecisionItem::new(d))?, Some(Cond::new(NEW)))?);
        }
        if let Some(h) = w.handoff {
            items.extend(self.line_puts(h, w.transcript)?);
        }
        let result = if items.len() == 1 {
            // Only the record (an `already_active` outcome): a plain conditional put.
            let mut req = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attrs(&rec_item)?))
                .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(record.created_at.timestamp()));
            req = req.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            return match req.send().await {
                Ok(_) => Ok(()),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                        match c.item.clone() {
                            Some(old) => Err(EscalationWriteError::Duplicate(Box::new(
                                from_attrs::<EscalationItem>(old)?.record,
                            ))),
                            None => {
                                Err(StoreError::Unavailable("conditional put failed without the item".into()).into())
                            }
                        }
                    }
                    _ => Err(sdk_error(e).into()),
                },
            };
        } else {
            self.transact(items).await
        };
        let Err(e) = result else { return Ok(()) };
        let Some(reasons) = cancelled(&e) else { return Err(sdk_error(e).into()) };
        if is_condition_failed(reasons.first()) {
            return match reasons[0].item.clone() {
                Some(old) => Err(EscalationWriteError::Duplicate(Box::new(from_attrs::<EscalationItem>(old)?.record))),
                None => {
                    Err(StoreError::Unavailable("the escalation record's condition failed without the item".into())
                        .into())
                }
            };
        }
        if let Some(i) = lock_at.filter(|i| is_condition_failed(reasons.get(*i))) {
            return match reasons[i].item.clone() {
                Some(old) => {
                    Err(EscalationWriteError::ConversationBusy(from_attrs::<ConversationItem>(old)?.handoff_id))
                }
                // The lock vanished between the failed check and now: just try again.
                None => {
                    Err(StoreError::Unavailable("the conversation lock's condition failed without the item".into())
                        .into())
                }
            };
        }
        let copy = settings_copy(&record.conversation_id);
        let checks = [
            (settings_at, w.settings_version, settings_key(ws, copy), settings_key(ws, 0)),
            (teams_at, w.teams_version, teams_key(ws, copy), teams_key(ws, 0)),
        ];
        let mut changed = false;
        for (at, version, key, first) in checks {
            let Some(i) = at.filter(|i| is_condition_failed(reasons.get(*i))) else { continue };
            changed = true;
            // Decided on a saved document, and this copy is missing: fill it in.
            if reasons[i].item.is_none() && version.is_some_and(|v| v > 0) {
                self.fill_copy(key, first).await?;
            }
        }
        if changed {
            return Err(EscalationWriteError::SettingsChanged);
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            // Another write to one of these items was in flight: deciding again sorts it out.
            return Err(EscalationWriteError::SettingsChanged);
        }
        let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
        Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")).into())
    }

    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        self.read_handoff(handoff_pk(ws, id)).await
    }

    async fn get_handoff_view(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after_version: u64,
        limit: usize,
    ) -> Result<Option<HandoffView>, StoreError> {
        let pk = handoff_pk(ws, id);
        // The first page is one Query: the handoff item sorts before its decisions. A later page
        // reads the handoff and that page side by side.
        let (handoff, items, more) = if after_version == 0 {
            // The handoff, its sent item (if any) and one decision more than the page.
            let (items, cut) = self.query_decisions(pk, HANDOFF_SK, limit + 2).await?;
            let mut items = items.into_iter().peekable();
            let Some(handoff) = items.next_if(|i| sk_of(i) == Some(HANDOFF_SK)) else { return Ok(None) };
            let sent = items.next_if(|i| sk_of(i) == Some(SENT_SK));
            let h = handoff_of(handoff, sent)?;
            let mut items: Vec<Item> = items.collect();
            let more = items.len() > limit || cut;
            items.truncate(limit);
            (h, items, more)
        } else {
            let from = decision_sk(after_version + 1);
            let (h, page) = tokio::join!(self.get_handoff(ws, id), self.query_decisions(pk, &from, limit));
            let Some(h) = h? else { return Ok(None) };
            let (items, more) = page?;
            (h, items, more)
        };
        let decisions = items
            .into_iter()
            .map(|i| from_attrs::<DecisionItem>(i).map(|d| d.decision))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more { decisions.last().map(|d| d.version) } else { None };
        Ok(Some(HandoffView { handoff, decisions, next }))
    }

    async fn get_event_decision(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        match self.get(event_pk(ws, event_id), decision_sk(1)).await? {
            Some(item) => Ok(Some(from_attrs::<DecisionItem>(item)?.decision)),
            None => Ok(None),
        }
    }

    async fn commit_transition(&self, t: Transition<'_>) -> Result<(), CommitError> {
        let (handoff, expected_version, decision) = (t.handoff, t.expected_version, t.decision);
        // Still the version decided on, with exactly as many events handed over as that copy
        // says: the dispatch that follows relies on `sent_seq` to keep the handoff's events in
        // order. The sent item holds the handoff's `sent_seq` (none: 0); the handoff item's copy
        // is what its last commit proved, never more. A copy behind (an Inbox page's) or ahead (a
        // timer's snapshot, taken as if its decision's events were out) fails. On failure the
        // stored items come back, so the caller decides again, mostly without a read.
        let cond = Cond::new("#version = :expected")
            .name("#version", "version")
            .value(":expected", n(expected_version))
            .returning_old();
        let pk = handoff_pk(&handoff.workspace_id, &handoff.handoff_id);
        let sent_check =
            ConditionCheck::builder().table_name(&self.table).key("pk", s(pk.clone())).key("sk", s(SENT_SK));
        let sent_check = if handoff.sent_seq == 0 {
            sent_check.condition_expression("attribute_not_exists(sent_seq)")
        } else {
            sent_check
                .condition_expression("sent_seq = :sent")
                .expression_attribute_values(":sent", n(handoff.sent_seq))
        };
        let sent_check = sent_check
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![
            self.put(to_attrs(&HandoffItem::new(handoff))?, Some(cond))?,
            TransactWriteItem::builder().condition_check(sent_check).build(),
        ];
        // A change key first after the handoff, so its failure is told apart from the others'.
        let key_at = match t.key {
            Some(key) => {
                let item = ChangeKeyItem {
                    pk: handoff_pk(&handoff.workspace_id, &handoff.handoff_id),
                    sk: change_key_sk(key),
                    message_id: t.transcript.first().map(|l| l.message_id.clone()).unwrap_or_default(),
                };
                items.push(self.put(to_attrs(&item)?, Some(Cond::new(NEW).returning_old()))?);
                Some(items.len() - 1)
            }
            None => None,
        };
        if !decision.is_empty() {
            items.push(self.put(to_attrs(&DecisionItem::new(decision))?, Some(Cond::new(NEW)))?);
        }
        items.extend(self.line_puts(handoff, t.transcript)?);
        if !handoff.state.is_active() {
            // The conversation is free again once its handoff is over.
            let del = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(conversation_pk(&handoff.workspace_id, &handoff.conversation_id)))
                .key("sk", s("LOCK"))
                .condition_expression("attribute_not_exists(pk) OR handoff_id = :id")
                .expression_attribute_values(":id", s(handoff.handoff_id.as_str()))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        if let Some(m) = t.metrics {
            items.extend(self.metric_updates(&handoff.workspace_id, handoff.handoff_id.as_str(), m)?);
        }
        let Err(e) = self.transact(items).await else { return Ok(()) };
        if let Some(i) = key_at {
            if let Some(reasons) = cancelled(&e).filter(|r| is_condition_failed(r.get(i))) {
                let message_id = match reasons[i].item.clone() {
                    Some(old) => from_attrs::<ChangeKeyItem>(old)?.message_id,
                    None => String::new(),
                };
                return Err(CommitError::Duplicate { message_id });
            }
        }
        match cancelled(&e) {
            Some(reasons) if is_condition_failed(reasons.first()) => {
                // The sent item as the failed check found it; if it held, it holds the copy's value.
                let sent_check = reasons.get(1);
                let sent_held = sent_check.is_some_and(|r| !is_condition_failed(Some(r)));
                let current = match reasons[0].item.clone() {
                    Some(old) if old.contains_key("pk") => {
                        let mut h = handoff_of(old, sent_check.and_then(|r| r.item.clone()))?;
                        if sent_held {
                            h.sent_seq = handoff.sent_seq;
                        }
                        Some(Box::new(h))
                    }
                    _ => None,
                };
                Err(CommitError::Stale { current })
            }
            // The version held but the copy's `sent_seq` was not the handoff's (another process's
            // acknowledgement since it was read, or a timer's snapshot ahead of what went out):
            // the handoff is read again, as it now is.
            Some(reasons) if is_condition_failed(reasons.get(1)) => {
                let current = self.read_handoff(pk).await?.map(Box::new);
                Err(CommitError::Stale { current })
            }
            Some(reasons)
                if reasons
                    .iter()
                    .any(|r| matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))) =>
            {
                Err(CommitError::Stale { current: None })
            }
            Some(reasons) => {
                let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
                Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")).into())
            }
            None => Err(sdk_error(e).into()),
        }
    }

    async fn list_inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, StoreError> {
        self.query_handoffs(ws, query).await
    }

    async fn changed_handoffs(
        &self,
        ws: &WorkspaceId,
        after: &InboxCursor,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        // The index holds keys only (so writes that leave a handoff's last change alone, such as
        // the outbox's acknowledgements, do not write to it); the handoffs are read by key.
        let read = IndexRead {
            index: INDEX_CHANGES,
            pk_attr: "gsi6pk",
            sk_attr: "gsi6sk",
            keys: (0..CHANGES_SHARDS).map(|k| changes_pk(ws, k)).collect(),
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

    async fn change_key(&self, ws: &WorkspaceId, id: &HandoffId, key: &str) -> Result<Option<String>, StoreError> {
        match self.get(handoff_pk(ws, id), change_key_sk(key)).await? {
            Some(item) => Ok(Some(from_attrs::<ChangeKeyItem>(item)?.message_id)),
            None => Ok(None),
        }
    }

    async fn active_handoff_of(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<HandoffId>, StoreError> {
        match self.get(conversation_pk(ws, conversation), "LOCK".into()).await? {
            Some(item) => Ok(Some(from_attrs::<ConversationItem>(item)?.handoff_id)),
            None => Ok(None),
        }
    }

    async fn get_transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<Option<TranscriptPage>, StoreError> {
        // Backwards from `#SENT` (or from the cursor's line): the sent item if any, the handoff,
        // then its lines oldest first (see `line_sk`). One Query whatever the transcript's length.
        let (cond, from, fetch) = match after {
            None => ("pk = :pk AND sk <= :from", SENT_SK.to_string(), limit + 3),
            Some(p) => ("pk = :pk AND sk < :from", line_sk(p), limit + 1),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .limit(fetch as i32)
            .key_condition_expression(cond)
            .expression_attribute_values(":pk", s(handoff_pk(ws, id)))
            .expression_attribute_values(":from", s(from))
            .send()
            .await
            .map_err(sdk_error)?;
        // A page cut short by DynamoDB's 1 MB limit has more after it too.
        let cut = out.last_evaluated_key.is_some();
        let mut items = out.items.unwrap_or_default().into_iter().peekable();
        let handoff = match after {
            None => {
                let sent = items.next_if(|i| sk_of(i) == Some(SENT_SK));
                match items.next_if(|i| sk_of(i) == Some(HANDOFF_SK)) {
                    Some(item) => Some(handoff_of(item, sent)?),
                    None => return Ok(None),
                }
            }
            Some(_) => None,
        };
        let mut lines = Vec::new();
        for item in items {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let Some(pos) = line_position(&sk) else { continue };
            lines.push((pos, from_attrs::<LineItem>(item)?.line));
        }
        let more = lines.len() > limit || (cut && !lines.is_empty());
        lines.truncate(limit);
        Ok(Some(TranscriptPage { handoff, lines, more }))
    }

    async fn pending_decisions(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<DecisionRecord>, StoreError> {
        // The index holds only decisions with an effect not yet sent (moments after each decision,
        // or what an outage left), under keys of their workspaces: a parallel scan of it finds
        // them all without a key every workspace writes to. Each segment reads at most
        // `MAX_SCAN_PAGES` pages; what a bigger backlog leaves is read by the next sweeps (a
        // handoff's later decision never leaves before an earlier one: see `dispatch`).
        const MAX_SCAN_PAGES: usize = 16;
        let before = ts(&before);
        let segments = join_all((0..PENDING_SCAN_SEGMENTS).map(|segment| {
            let before = before.clone();
            async move {
                let mut found: Vec<Item> = Vec::new();
                let mut start: Option<Item> = None;
                for _ in 0..MAX_SCAN_PAGES {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .index_name(INDEX_PENDING_EFFECTS)
                        .segment(segment)
                        .total_segments(PENDING_SCAN_SEGMENTS)
                        .filter_expression("gsi4sk < :before")
                        .expression_attribute_values(":before", s(before.clone()))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    found.extend(out.items.unwrap_or_default());
                    match out.last_evaluated_key {
                        Some(k) if !k.is_empty() => start = Some(k),
                        _ => break,
                    }
                }
                Ok::<_, StoreError>(found)
            }
        }))
        .await;
        let mut out: Vec<(String, DecisionRecord)> = Vec::new();
        for items in segments {
            for it in items? {
                let d: DecisionItem = from_attrs(it)?;
                out.push((d.gsi4sk.clone().unwrap_or_default(), d.decision));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().take(limit).map(|(_, d)| d).collect())
    }

    async fn mark_sent(&self, decision: &DecisionRecord, sent: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        // Every outbound event of a handoff's decision now out: the handoff's `sent_seq` moves on
        // in the same write (never backwards).
        let advance = decision.sent_seq_after(sent);
        let sent: Vec<&String> =
            sent.iter().filter(|id| decision.effects.iter().any(|e| e.id() == id.as_str())).collect();
        if sent.is_empty() {
            return Ok(());
        }
        let is_sent = |id: &str| decision.sent.contains_key(id) || sent.iter().any(|s| *s == id);
        let settled = decision.effects.iter().all(|e| is_sent(e.id()));
        let sets: Vec<String> =
            (0..sent.len()).map(|i| format!("sent.#e{i} = if_not_exists(sent.#e{i}, :at)")).collect();
        let mut expr = format!("SET {}", sets.join(", "));
        if settled {
            expr.push_str(" REMOVE gsi4pk, gsi4sk");
        }
        let mut names = HashMap::new();
        for (i, id) in sent.iter().enumerate() {
            names.insert(format!("#e{i}"), id.to_string());
        }
        let key = |pk: String, sk: String| HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))]);
        let decision_key = key(owner_pk(&decision.workspace_id, &decision.owner), decision_sk(decision.version));
        let values = HashMap::from([(":at".to_string(), to_attrs_value(&at)?)]);
        // The same update of the decision, as a request of its own or as a transaction's item.
        macro_rules! mark_decision {
            ($builder:expr) => {
                $builder
                    .table_name(&self.table)
                    .set_key(Some(decision_key.clone()))
                    .update_expression(&expr)
                    .condition_expression("attribute_exists(pk)")
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
            };
        }
        let decision_only = || async {
            match mark_decision!(self.client.update_item()).send().await {
                Ok(_) => Ok(()),
                // Nothing recorded under this decision: nothing to mark.
                Err(e) if e.as_service_error().map(|s| s.is_conditional_check_failed_exception()).unwrap_or(false) => {
                    Ok(())
                }
                Err(e) => Err(sdk_error(e)),
            }
        };
        let Some((handoff_id, last)) = advance else { return decision_only().await };
        let mark = mark_decision!(Update::builder()).build().map_err(unavailable)?;
        let seq = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(handoff_pk(&decision.workspace_id, handoff_id), SENT_SK.into())))
            .update_expression("SET sent_seq = :seq")
            .condition_expression("attribute_not_exists(sent_seq) OR sent_seq < :seq")
            .expression_attribute_values(":seq", n(last))
            .build()
            .map_err(unavailable)?;
        let items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().update(seq).build()];
        // A commit of the same handoff in flight (its check of the sent item) cancels this with
        // `TransactionConflict`; it is tried again, since a lost acknowledgement would hold the
        // handoff's next events back until the sweep.
        let Err(e) = self.transact_through_conflicts(items).await else { return Ok(()) };
        match cancelled(&e) {
            // The decision is gone, or the handoff is already past this seq: mark what is left
            // to mark.
            Some(reasons) if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) => {
                decision_only().await
            }
            Some(reasons) if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) => {
                Err(StoreError::Unavailable("the acknowledgement kept conflicting with other writes".into()))
            }
            _ => Err(sdk_error(e)),
        }
    }
}

fn to_attrs_value<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot map value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("HANDOFF#ws#hnd_1"), shard_of("HANDOFF#ws#hnd_1"));
        let used: std::collections::HashSet<u32> =
            (0..5000).map(|i| shard_of(&format!("HANDOFF#ws#hnd_{i}"))).collect();
        assert_eq!(used.len(), PENDING_SHARDS as usize);
        let inbox: std::collections::HashSet<u32> =
            (0..5000).map(|i| handoff_shard(&HandoffId::parse(format!("hnd_{i}")).unwrap(), INBOX_SHARDS)).collect();
        assert_eq!(inbox.len(), INBOX_SHARDS as usize);
        let ids: Vec<HandoffId> = (0..5000).map(|i| HandoffId::parse(format!("hnd_{i}")).unwrap()).collect();
        let teams: std::collections::HashSet<u32> = ids.iter().map(|id| handoff_shard(id, TEAM_SHARDS)).collect();
        assert_eq!(teams.len(), TEAM_SHARDS as usize);
        let changes: std::collections::HashSet<u32> = ids.iter().map(|id| handoff_shard(id, CHANGES_SHARDS)).collect();
        assert_eq!(changes.len(), CHANGES_SHARDS as usize);
    }

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
