//! The embedded [`Store`]: SQLite, every conditional write in one transaction (a savepoint of
//! the database thread's group, see [`EmbeddedDb`]).
//!
//! One file per concern, named as the DynamoDB store's (`adapters::aws::dynamodb`) so the two
//! read side by side; each adds the inherent methods the [`Store`] implementation below calls
//! (of the trait method's name; the inherent method is the one a call resolves to):
//! - `settings`, `teams`: the versioned documents;
//! - `handoffs`: escalations, transitions, change keys, timelines and transcripts;
//! - `inbox`: the Inbox and the changes feed;
//! - `outbox`: pending decisions and their acknowledgements;
//! - `figures`: the metrics' sums.

mod figures;
mod handoffs;
mod inbox;
mod outbox;
mod settings;
mod teams;

pub(super) use handoffs::insert_decision;

use super::EmbeddedDb;
use crate::domain::{
    ConversationId, DecisionRecord, Dimension, EventId, Handoff, HandoffId, LinePosition, MetricsRow, SettingsDoc,
    TeamsDoc, WorkspaceId,
};
use crate::ports::{
    CommitError, EscalationWrite, EscalationWriteError, HandoffView, InboxCursor, InboxPage, InboxQuery, Store,
    StoreError, TranscriptPage, Transition,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// The embedded [`Store`]: SQLite, every conditional write in one transaction.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: EmbeddedDb,
}

impl EmbeddedStore {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }
}

/// Each method calls the inherent method of its name, in the file of its concern.
#[async_trait]
impl Store for EmbeddedStore {
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

    async fn list_inbox(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
        self.list_inbox(ws, q).await
    }

    async fn changed_handoffs(
        &self,
        ws: &WorkspaceId,
        after: &InboxCursor,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        self.changed_handoffs(ws, after, limit).await
    }

    async fn pending_decisions(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<DecisionRecord>, StoreError> {
        self.pending_decisions(before, limit).await
    }

    async fn mark_sent(&self, decision: &DecisionRecord, sent: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        self.mark_sent(decision, sent, at).await
    }
}
