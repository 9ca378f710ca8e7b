//! The DynamoDB [`Store`]: one table, items mapped with `serde_dynamo`, every conditional write a
//! condition expression, every state change and its decision one `TransactWriteItems`.
//! The key design is documented in docs/ARCHITECTURE.md ("DynamoDB key design").
//!
//! Every entity has a partition key of its own (a handoff, a conversation lock, an event), so
//! nothing a workspace writes piles onto one key; a handoff's decisions (its timeline lines and
//! outbox) are items of their own beside it, so the handoff item stays small whatever its history.
//!
//! One file per concern, each adding the inherent methods the [`Store`] implementation below
//! calls (of the trait method's name, but `list_inbox`'s `query_handoffs`; the inherent method is
//! the one a call resolves to):
//! - `keys`: the key schema (indexes, keys, shards);
//! - `items`: the stored items;
//! - `transact`: conditions, transactions and their failures, retries, attribute mapping, queries;
//! - `settings`, `teams`: the versioned documents and their copies;
//! - `handoffs`: escalations, transitions, change keys, timelines and transcripts;
//! - `inbox`: the Inbox and the changes feed, read across shards;
//! - `outbox`: pending decisions and their acknowledgements;
//! - `figures`: the metrics' sums.

mod figures;
mod handoffs;
mod inbox;
mod items;
mod keys;
mod layout;
mod outbox;
mod settings;
mod teams;
mod transact;

pub use inbox::MAX_READS_PER_PAGE;
pub use keys::shard_for;
pub use keys::{
    CHANGES_SHARDS, INBOX_SHARDS, INDEXES, INDEX_ACTIVE, INDEX_BY_ASSIGNEE, INDEX_BY_STATE, INDEX_BY_TEAM,
    INDEX_CHANGES, INDEX_PENDING_EFFECTS, METRICS_SHARDS, PENDING_SHARDS, SETTINGS_COPIES, TEAM_SHARDS, TTL_ATTRIBUTE,
};
pub use layout::{Layout, GROWTH_LEAD, LAYOUT_FRESH_FOR, LEGACY_SHARDS, LIVES_PER_SHARD, MAX_SHARDS, REPORT_FROM};
pub use outbox::PENDING_SCAN_SEGMENTS;

use crate::domain::{
    ConversationId, DecisionRecord, Dimension, EventId, Handoff, HandoffId, LinePosition, MetricsRow, SettingsDoc,
    TeamsDoc, WorkspaceId,
};
use crate::ports::{
    CommitError, EscalationWrite, EscalationWriteError, HandoffView, InboxCursor, InboxPage, InboxQuery, Store,
    StoreError, TranscriptPage, Transition,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Reads the time for the workspaces' layouts and escalation rates.
    clock: std::sync::Arc<dyn crate::ports::Clock>,
    /// What this process knows of each workspace's shard count (`layout.rs`).
    layouts: std::sync::Arc<layout::Layouts>,
    /// Where the sweep's scan of each segment of the pending index goes on from.
    scan_at: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i32, items::Item>>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            clock: std::sync::Arc::new(crate::ports::SystemClock),
            layouts: Default::default(),
            scan_at: Default::default(),
        }
    }

    /// The same store on `clock` (a test's driven clock).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn crate::ports::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The workspace's layout as it is stored now (a fresh read).
    pub async fn stored_layout(&self, ws: &WorkspaceId) -> Result<Layout, StoreError> {
        self.layout(ws, true).await
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// Each method calls the inherent method of its name (`list_inbox`: `query_handoffs`), in the file
/// of its concern.
#[async_trait]
impl Store for DynamoStore {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        self.get_settings(ws).await
    }

    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        self.put_settings(doc, expected_version).await
    }

    async fn get_teams(&self, ws: &WorkspaceId) -> Result<Option<TeamsDoc>, StoreError> {
        self.get_teams(ws).await
    }

    async fn put_teams(&self, doc: &TeamsDoc, expected_version: u64) -> Result<(), StoreError> {
        self.put_teams(doc, expected_version).await
    }

    async fn get_decision_config(
        &self,
        ws: &WorkspaceId,
    ) -> Result<(Option<SettingsDoc>, Option<TeamsDoc>), StoreError> {
        self.get_decision_config(ws).await
    }

    async fn read_metrics(
        &self,
        ws: &WorkspaceId,
        dim: Dimension,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>, StoreError> {
        self.read_metrics(ws, dim, from, to).await
    }

    async fn create_escalation(&self, w: EscalationWrite<'_>) -> Result<(), EscalationWriteError> {
        self.create_escalation(w).await
    }

    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        self.get_handoff(ws, id).await
    }

    async fn get_handoff_view(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after_version: u64,
        limit: usize,
    ) -> Result<Option<HandoffView>, StoreError> {
        self.get_handoff_view(ws, id, after_version, limit).await
    }

    async fn get_event_decision(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        self.get_event_decision(ws, event_id).await
    }

    async fn commit_transition(&self, t: Transition<'_>) -> Result<(), CommitError> {
        self.commit_transition(t).await
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
        self.changed_handoffs(ws, after, limit).await
    }

    async fn change_key(&self, ws: &WorkspaceId, id: &HandoffId, key: &str) -> Result<Option<String>, StoreError> {
        self.change_key(ws, id, key).await
    }

    async fn active_handoff_of(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<HandoffId>, StoreError> {
        self.active_handoff_of(ws, conversation).await
    }

    async fn get_transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<Option<TranscriptPage>, StoreError> {
        self.get_transcript(ws, id, after, limit).await
    }

    async fn pending_decisions(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<DecisionRecord>, StoreError> {
        self.pending_decisions(before, limit).await
    }

    async fn mark_sent(&self, decision: &DecisionRecord, sent: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        self.mark_sent(decision, sent, at).await
    }
}
