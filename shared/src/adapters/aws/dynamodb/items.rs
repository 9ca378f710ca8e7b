//! The items as stored: one serde struct per kind of item, mapped with `serde_dynamo`, and the
//! constructors that give each its keys.

use super::keys::{
    active_pk, assignee_pk, by_state_pk, changes_pk, decision_sk, handoff_pk, handoff_shard, order_key, owner_pk,
    pending_pk, team_pk, HANDOFF_SK,
};
use super::transact::from_attrs;
use crate::adapters::sortable_time as ts;
use crate::domain::{
    DecisionRecord, EscalationRecord, Handoff, HandoffId, SettingsDoc, TeamId, TeamsDoc, TranscriptLine, UserId,
};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An item as the SDK reads and writes it.
pub(super) type Item = HashMap<String, AttributeValue>;

#[derive(Serialize, Deserialize)]
pub(super) struct SettingsItem {
    pub(super) pk: String,
    pub(super) sk: String,
    #[serde(flatten)]
    pub(super) doc: SettingsDoc,
}

#[derive(Serialize, Deserialize)]
pub(super) struct HandoffItem {
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
    pub(super) handoff: Handoff,
}

impl HandoffItem {
    /// The item of `h`, its index entries spread over `shards` (the workspace's layout).
    pub(super) fn new(h: &Handoff, shards: u32) -> Self {
        let order = order_key(&h.created_at, &h.handoff_id);
        let active = h.state.is_active();
        let shard = handoff_shard(&h.handoff_id, shards);
        Self {
            pk: handoff_pk(&h.workspace_id, &h.handoff_id),
            sk: HANDOFF_SK.into(),
            gsi1pk: by_state_pk(&h.workspace_id, h.state, shard),
            gsi1sk: order.clone(),
            gsi2pk: active.then(|| active_pk(&h.workspace_id, shard)),
            gsi2sk: active.then(|| order.clone()),
            gsi3pk: h.assignee.as_ref().map(|a| assignee_pk(&h.workspace_id, a, h.state)),
            gsi3sk: h.assignee.as_ref().map(|_| order.clone()),
            gsi5pk: h.team_id.as_ref().map(|t| team_pk(&h.workspace_id, t, h.state, shard)),
            gsi5sk: h.team_id.as_ref().map(|_| order),
            gsi6pk: changes_pk(&h.workspace_id, shard),
            gsi6sk: order_key(&h.updated_at, &h.handoff_id),
            handoff: h.clone(),
        }
    }
}

/// One copy of a workspace's teams document, without member lists; `write_id` names the
/// members items saved with it.
#[derive(Serialize, Deserialize)]
pub(super) struct TeamsItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) write_id: String,
    #[serde(flatten)]
    pub(super) doc: TeamsDoc,
}

/// Some teams' member lists, of the teams document saved by write `write_id` (the key's start).
#[derive(Serialize, Deserialize)]
pub(super) struct MembersItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) teams: Vec<TeamMembers>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TeamMembers {
    pub(super) team_id: TeamId,
    pub(super) members: Vec<UserId>,
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

pub(super) fn sk_of(item: &Item) -> Option<&str> {
    item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The handoff of a handoff item, with the `sent_seq` of its sent item when there is one.
pub(super) fn handoff_of(item: Item, sent: Option<Item>) -> Result<Handoff, StoreError> {
    let mut h = from_attrs::<HandoffItem>(item)?.handoff;
    if let Some(sent) = sent {
        h.sent_seq = h.sent_seq.max(from_attrs::<SentItem>(sent)?.sent_seq);
    }
    Ok(h)
}

/// "This conversation has an active handoff": taken with the handoff, freed when it closes.
#[derive(Serialize, Deserialize)]
pub(super) struct ConversationItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) handoff_id: HandoffId,
}

#[derive(Serialize, Deserialize)]
pub(super) struct EscalationItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) expires_at_epoch: i64,
    #[serde(flatten)]
    pub(super) record: EscalationRecord,
}

/// One decision: its timeline lines and its effects; in the pending index until all are sent.
#[derive(Serialize, Deserialize)]
pub(super) struct DecisionItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) gsi4sk: Option<String>,
    #[serde(flatten)]
    pub(super) decision: DecisionRecord,
}

impl DecisionItem {
    pub(super) fn new(d: &DecisionRecord) -> Self {
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
pub(super) struct LineItem {
    pub(super) pk: String,
    pub(super) sk: String,
    #[serde(flatten)]
    pub(super) line: TranscriptLine,
}

/// "This change was made": the idempotency key of a customer message or a reply.
#[derive(Serialize, Deserialize)]
pub(super) struct ChangeKeyItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) message_id: String,
}
