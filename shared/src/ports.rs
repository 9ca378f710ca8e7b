//! Ports: what the core needs from the world. Adapters implement them (embedded for the local
//! stack and tests; DynamoDB, SQS and EventBridge Scheduler in AWS).

use crate::domain::{
    Channel, ConversationId, DecisionRecord, Dimension, EscalationRecord, EventId, Handoff, HandoffId, LinePosition,
    MetricsDelta, MetricsRow, OutboundEvent, Reason, SettingsDoc, State, TeamId, TeamsDoc, TimerMessage,
    TranscriptLine, UserId, WorkspaceId,
};
use async_trait::async_trait;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};

/// Errors a store reports. Conflicts are expected outcomes of conditional writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The version a write was conditional on is no longer current.
    #[error("the record changed since it was read")]
    VersionConflict,
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back. The detail (a decoding error that may quote stored
    /// customer data) is kept out of the message so it never reaches a log line.
    #[error("stored data could not be read")]
    Corrupt(String),
}

/// Why an escalation's write did not happen. The first three are answers the write itself
/// returns (the store reads nothing beforehand), so the caller reads only on conflict.
#[derive(Debug, thiserror::Error)]
pub enum EscalationWriteError {
    /// This `event_id` was already processed: the stored record.
    #[error("this event was already processed")]
    Duplicate(Box<EscalationRecord>),
    /// The conversation's lock names this handoff (which may or may not still be active).
    #[error("the conversation already has a handoff")]
    ConversationBusy(HandoffId),
    /// The settings or teams the decision was made on are no longer the saved ones.
    #[error("the settings or teams changed")]
    SettingsChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a handoff's change was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The stored handoff is no longer the one the change was decided on (another version, or
    /// more of its events handed over since). `current` is the stored handoff when the failed
    /// write returned it, so the caller can decide again without reading.
    #[error("the handoff changed since it was read")]
    Stale { current: Option<Box<Handoff>> },
    /// A change with the same idempotency key was committed before: the `message_id` of the
    /// transcript line it added.
    #[error("this change was already made")]
    Duplicate { message_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One handoff change to commit: the new state, its decision and transcript lines, all or nothing.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    /// The new handoff (version `expected_version + 1`).
    pub handoff: &'a Handoff,
    pub expected_version: u64,
    /// Not written when it has nothing in it (a read mark cleared).
    pub decision: &'a DecisionRecord,
    /// Lines added to the transcript, at positions (`handoff.version`, 0..).
    pub transcript: &'a [TranscriptLine],
    /// Makes the change happen once per handoff: a later change with the same key is refused
    /// as `CommitError::Duplicate`.
    pub key: Option<&'a str>,
    /// Added to the workspace's figures in the same write (none when the change adds nothing).
    pub metrics: Option<&'a MetricsDelta>,
}

/// A page of a handoff's transcript, oldest first.
#[derive(Debug, Clone)]
pub struct TranscriptPage {
    /// The handoff, read with the first page (none on a page after a cursor).
    pub handoff: Option<Handoff>,
    pub lines: Vec<(LinePosition, TranscriptLine)>,
    /// More lines follow the last one.
    pub more: bool,
}

/// One escalation's write: all of it or nothing.
#[derive(Debug, Clone, Copy)]
pub struct EscalationWrite<'a> {
    pub record: &'a EscalationRecord,
    /// The new handoff, if the escalation creates one; its conversation lock is taken with it.
    pub handoff: Option<&'a Handoff>,
    /// The decision's timeline lines and effects (none for `already_active`).
    pub decision: Option<&'a DecisionRecord>,
    /// The settings version the decision was made on (0: never saved). `None`: not checked.
    pub settings_version: Option<u64>,
    /// The teams version the decision was made on (0: never saved), checked with the settings.
    pub teams_version: Option<u64>,
    /// Added to the workspace's figures in the same write.
    pub metrics: Option<&'a MetricsDelta>,
    /// The conversation lock may be taken over if it still names this handoff (found closed).
    pub stale_lock: Option<&'a HandoffId>,
    /// The new handoff's first transcript lines (at version 1).
    pub transcript: &'a [TranscriptLine],
}

/// A handoff with a page of its history: the decisions after `after_version`, oldest first.
#[derive(Debug, Clone)]
pub struct HandoffView {
    pub handoff: Handoff,
    pub decisions: Vec<DecisionRecord>,
    /// Where the next page of history starts (a version), if there is more.
    pub next: Option<u64>,
}

/// Which handoffs an Inbox listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// waiting, ringing and assigned (the default view).
    Active,
    One(State),
}

/// Where a page of the Inbox continues: after this (created_at, handoff_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub created_at: DateTime<Utc>,
    pub handoff_id: HandoffId,
}

impl InboxCursor {
    /// The form given to clients: `<seconds>.<nanoseconds>.<handoff id>`. Every string of that
    /// shape (the pattern `docs/openapi.yaml` gives) is a cursor: a position in queue order.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.created_at.timestamp(), self.created_at.timestamp_subsec_nanos(), self.handoff_id)
    }
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '.');
        let (secs, nanos, id) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |t: &str, max: usize| !t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(secs, 12) || !digits(nanos, 9) {
            return None;
        }
        let created_at = DateTime::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)?;
        Some(Self { created_at, handoff_id: HandoffId::parse(id).ok()? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    pub status: StatusFilter,
    pub assignee: Option<UserId>,
    pub channel: Option<Channel>,
    pub reason: Option<Reason>,
    /// Only handoffs in one of these teams' queues (an empty list matches nothing).
    pub teams: Option<Vec<TeamId>>,
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

/// The durable store. Every write is conditional; a state change, its timeline lines and its
/// effects are one atomic write.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError>;
    /// Saves `doc` if the stored version is still `expected_version` (0 = never saved);
    /// otherwise `VersionConflict`.
    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError>;

    async fn get_teams(&self, ws: &WorkspaceId) -> Result<Option<TeamsDoc>, StoreError>;
    /// Saves `doc` if the stored teams version is still `expected_version` (0 = never saved);
    /// otherwise `VersionConflict`.
    async fn put_teams(&self, doc: &TeamsDoc, expected_version: u64) -> Result<(), StoreError>;
    /// What an escalation is decided on, in one read: the settings and the teams (member lists
    /// left out; routing does not need them).
    async fn get_decision_config(
        &self,
        ws: &WorkspaceId,
    ) -> Result<(Option<SettingsDoc>, Option<TeamsDoc>), StoreError>;
    /// The figures of `dim` for the days `[from, to)`: one row per day and grouping value.
    async fn read_metrics(
        &self,
        ws: &WorkspaceId,
        dim: Dimension,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>, StoreError>;

    /// Records a processed escalation, the handoff it created (if any), its conversation lock and
    /// its decision, all or nothing, checking the event is new, the conversation free and the
    /// settings version current. Each failed check is its own error, carrying what was found.
    async fn create_escalation(&self, write: EscalationWrite<'_>) -> Result<(), EscalationWriteError>;

    /// The handoff alone (one bounded read).
    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError>;
    /// The handoff and up to `limit` of its decisions after version `after_version` (one bounded
    /// read however long the history).
    async fn get_handoff_view(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after_version: u64,
        limit: usize,
    ) -> Result<Option<HandoffView>, StoreError>;
    /// A decision that belongs to no handoff (an escalation declined because Human Handoff is off).
    async fn get_event_decision(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<DecisionRecord>, StoreError>;
    /// Replaces the handoff with `t.handoff` and records its decision and transcript lines, if
    /// the stored handoff still has `t.expected_version` and the same `sent_seq` as `t.handoff`
    /// (otherwise `CommitError::Stale`, with the stored handoff when the store has it at no extra
    /// cost) and `t.key` was never used on this handoff (otherwise `CommitError::Duplicate`).
    /// Frees the conversation when the handoff is no longer active.
    async fn commit_transition(&self, t: Transition<'_>) -> Result<(), CommitError>;
    /// The `message_id` a change with idempotency `key` recorded on this handoff, if one did.
    async fn change_key(&self, ws: &WorkspaceId, id: &HandoffId, key: &str) -> Result<Option<String>, StoreError>;
    /// The active handoff of a conversation, if it has one.
    async fn active_handoff_of(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<HandoffId>, StoreError>;
    /// Up to `limit` transcript lines after `after` (from the start when `None`, and then with
    /// the handoff; `None` when there is no such handoff). One read, however long the transcript.
    async fn get_transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<Option<TranscriptPage>, StoreError>;
    /// Handoffs of a workspace, oldest first (created_at, then id).
    async fn list_inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, StoreError>;
    /// Up to `limit` handoffs of a workspace whose last change (`updated_at`, then id) comes after
    /// `after`, in that order; `next` is set when more follow. One bounded read per index shard.
    async fn changed_handoffs(
        &self,
        ws: &WorkspaceId,
        after: &InboxCursor,
        limit: usize,
    ) -> Result<InboxPage, StoreError>;

    /// Decisions recorded before `before` with effects not yet handed over, oldest first.
    async fn pending_decisions(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<DecisionRecord>, StoreError>;
    /// Notes that the effects `sent` of `decision` were handed over at `at` (one write for all of
    /// them). A decision all of whose effects are sent leaves the pending set. When all of a
    /// handoff's decision's outbound events are now sent, the handoff's `sent_seq` advances to the
    /// decision's last `seq` (never backwards), in the same write.
    async fn mark_sent(&self, decision: &DecisionRecord, sent: &[String], at: DateTime<Utc>) -> Result<(), StoreError>;
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
    /// Sends `events` (the outbound effects of one decision, in decision order) in that order.
    /// An error means some may not have been sent; all are sent again later with the same ids.
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError>;
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

/// Where the functions report the figures of each change as it happens (CloudWatch in AWS).
pub trait MetricsSink: Send + Sync {
    fn record(&self, ws: &WorkspaceId, delta: &MetricsDelta);
}

/// Reports nothing (the local stack keeps its figures in the store only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl MetricsSink for NoMetrics {
    fn record(&self, _ws: &WorkspaceId, _delta: &MetricsDelta) {}
}

#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Returns once this clock reads `at` or later. The real clock sleeps; a driven one returns
    /// when it is moved there. Whoever waits also watches for shutdown and new work, so a caller
    /// may cap the wait with a real-time timeout of its own.
    async fn sleep_until(&self, at: DateTime<Utc>) {
        if let Ok(wait) = (at - self.now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to: tests of timers, waiting policies and (later) offers and
/// presence drive it instead of sleeping. Everything waiting on it with
/// [`Clock::sleep_until`] wakes when it is moved far enough.
#[derive(Debug, Clone)]
pub struct DrivenClock {
    now: std::sync::Arc<tokio::sync::watch::Sender<DateTime<Utc>>>,
}

impl DrivenClock {
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        Self { now: std::sync::Arc::new(tokio::sync::watch::Sender::new(at)) }
    }

    /// Moves the clock forward by `by` (never back).
    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by.max(chrono::Duration::zero()));
    }

    /// Sets the clock to `at` if that is later than it reads.
    pub fn advance_to(&self, at: DateTime<Utc>) {
        self.now.send_if_modified(|t| {
            let later = at > *t;
            if later {
                *t = at;
            }
            later
        });
    }
}

#[async_trait]
impl Clock for DrivenClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        // The sender lives as long as this clock, so this only returns once the time has come.
        let _ = rx.wait_for(|t| *t >= at).await;
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
