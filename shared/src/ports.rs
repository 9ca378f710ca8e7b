//! Ports: what the core needs from the world. Adapters implement them (embedded for the local
//! stack and tests; DynamoDB, SQS and EventBridge Scheduler in AWS).

use crate::domain::{
    Channel, ConversationId, Effect, EscalationRecord, EventId, Handoff, HandoffId, OutboundEvent, Reason, SettingsDoc,
    State, TimerMessage, UserId, WorkspaceId,
};
use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Errors a store reports. Conflicts are expected outcomes of conditional writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The version a write was conditional on is no longer current.
    #[error("the record changed since it was read")]
    VersionConflict,
    /// An escalation with this `event_id` was already recorded.
    #[error("this event was already processed")]
    DuplicateEvent,
    /// The conversation already has an active handoff.
    #[error("the conversation already has an active handoff")]
    ConversationBusy,
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back. The detail (a decoding error that may quote stored
    /// customer data) is kept out of the message so it never reaches a log line.
    #[error("stored data could not be read")]
    Corrupt(String),
}

/// Which handoffs an Inbox listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// waiting, ringing and assigned (the default view).
    Active,
    One(State),
}

/// Where a page of the Inbox continues: after this (created_at, handoff_id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxCursor {
    #[serde(rename = "c")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "h")]
    pub handoff_id: HandoffId,
}

impl InboxCursor {
    /// The opaque form given to clients.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("cursor serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }
    pub fn decode(s: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    pub status: StatusFilter,
    pub assignee: Option<UserId>,
    pub channel: Option<Channel>,
    pub reason: Option<Reason>,
    pub limit: usize,
    pub after: Option<InboxCursor>,
}

#[derive(Debug, Clone)]
pub struct InboxPage {
    pub items: Vec<Handoff>,
    /// Set when more items may follow.
    pub next: Option<InboxCursor>,
}

impl InboxPage {
    /// A page from up to `limit + 1` items read in order: the extra one only tells that more
    /// follow, and the cursor points after the last item kept.
    pub fn from_overfetch(mut items: Vec<Handoff>, limit: usize) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|h| InboxCursor { created_at: h.created_at, handoff_id: h.handoff_id.clone() })
        } else {
            None
        };
        Self { items, next }
    }
}

/// An effect recorded with a state change and not yet confirmed as carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEffect {
    pub effect: Effect,
    pub recorded_at: DateTime<Utc>,
}

/// The durable store. Every write is conditional; a state change and its effects are one
/// atomic write.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError>;
    /// Saves `doc` if the stored version is still `expected_version` (0 = never saved);
    /// otherwise `VersionConflict`.
    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError>;

    async fn get_escalation(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<EscalationRecord>, StoreError>;
    /// Records a processed escalation, the handoff it created (if any) and its effects, all or
    /// nothing. `DuplicateEvent` if the event id is already recorded (and not expired);
    /// `ConversationBusy` if the new handoff is active and the conversation already has one.
    async fn create_escalation(
        &self,
        record: &EscalationRecord,
        handoff: Option<&Handoff>,
        effects: &[Effect],
    ) -> Result<(), StoreError>;

    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError>;
    async fn find_active_handoff(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<Handoff>, StoreError>;
    /// Replaces the handoff with `handoff` (whose version is `expected_version + 1`) and records
    /// `effects`, if the stored version is still `expected_version`; otherwise `VersionConflict`.
    async fn commit_transition(
        &self,
        handoff: &Handoff,
        expected_version: u64,
        effects: &[Effect],
    ) -> Result<(), StoreError>;
    /// Handoffs of a workspace, oldest first (created_at, then id).
    async fn list_inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, StoreError>;

    /// Effects recorded before `before` and not yet marked dispatched, oldest first.
    async fn pending_effects(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<PendingEffect>, StoreError>;
    async fn mark_dispatched(&self, effect_id: &str) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not publish outbound event {event_id}: {reason}")]
pub struct PublishError {
    pub event_id: String,
    pub reason: String,
}

/// Sends outbound events to the AI runtime and channels.
#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, event: &OutboundEvent) -> Result<(), PublishError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not set timer {timer_id}: {reason}")]
pub struct TimerError {
    pub timer_id: String,
    pub reason: String,
}

/// Sets timers that call back at their due time. Setting the same timer id twice sets it once.
#[async_trait]
pub trait Timers: Send + Sync {
    async fn set(&self, timer: &TimerMessage) -> Result<(), TimerError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub trait IdGenerator: Send + Sync {
    fn handoff_id(&self) -> HandoffId;
}

/// Time-ordered random ids: `hnd_<uuid v7>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidIds;

impl IdGenerator for UuidIds {
    fn handoff_id(&self) -> HandoffId {
        HandoffId::parse(format!("hnd_{}", uuid::Uuid::now_v7().simple())).expect("valid id")
    }
}
