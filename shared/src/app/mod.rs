//! Use cases: load, decide (pure domain), commit the new state and its effects in one
//! conditional write, then carry out the effects.

mod conversation;
mod dispatch;
mod escalation;
mod handoffs;
mod metrics;
mod settings;
mod teams;
mod timers;

#[cfg(all(test, feature = "embedded"))]
mod tests;

pub use conversation::{ConversationInput, MessageResult, TranscriptView};
pub use dispatch::{Dispatched, SweepReport, STUCK_AFTER_SECONDS};
pub use escalation::EscalationResult;
pub use handoffs::{ChangesPage, CHANGES_LAG, HISTORY_PAGE, TURN_COPY_FRESH_FOR};
pub use teams::TeamFilter;
pub use timers::{parse_timer_message, TimerMessageError, TimerResult};

use crate::domain::{
    Action, ConversationId, FieldError, Handoff, HandoffId, SettingsDoc, State, TeamsDoc, WorkspaceId,
};
use crate::ports::{Clock, IdGenerator, MetricsSink, NoMetrics, Publisher, Store, StoreError, Timers};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The dependencies of every use case, built once per process (or Lambda container).
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub publisher: Arc<dyn Publisher>,
    pub timers: Arc<dyn Timers>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Where each change's figures are reported as it happens (besides the store's sums).
    pub metrics: Arc<dyn MetricsSink>,
    /// The settings this process last read or saved, per workspace. Only ever used together with
    /// a write that checks the version is still current (see [`App::escalate`]).
    settings_seen: Arc<Mutex<HashMap<WorkspaceId, SettingsDoc>>>,
    /// The teams (without members) this process last read or saved, per workspace; used like
    /// `settings_seen`, checked by the same write.
    teams_seen: Arc<Mutex<HashMap<WorkspaceId, TeamsDoc>>>,
    /// The handoffs this process last read or wrote. A command is decided on the one seen and
    /// committed conditionally on its version, so a stale entry costs a failed write and a read,
    /// never a wrong decision.
    handoffs_seen: Arc<Mutex<HashMap<(WorkspaceId, HandoffId), Seen>>>,
    /// The active handoff this process last saw per conversation. Only a hint: the handoff's own
    /// state decides, and a conversation whose hinted handoff is over is looked up again.
    conversations_seen: Arc<Mutex<HashMap<(WorkspaceId, ConversationId), HandoffId>>>,
    /// The acknowledgements this process holds until its response has gone, if it does.
    held_acks: Arc<Mutex<dispatch::HeldAcks>>,
}

/// A handoff as this process last read or wrote it, and when (on its clock).
#[derive(Clone)]
struct Seen {
    handoff: Handoff,
    at: chrono::DateTime<chrono::Utc>,
}

/// At most this many handoffs are remembered per process.
const HANDOFFS_SEEN_MAX: usize = 10_000;

/// At most this many workspaces' settings are remembered per process.
const SETTINGS_SEEN_MAX: usize = 10_000;

/// A workspace's versioned document, remembered unless an older version than one already seen.
trait Versioned {
    fn version(&self) -> u64;
}
impl Versioned for SettingsDoc {
    fn version(&self) -> u64 {
        self.version
    }
}
impl Versioned for TeamsDoc {
    fn version(&self) -> u64 {
        self.version
    }
}

fn remember_newest<T: Versioned>(seen: &Mutex<HashMap<WorkspaceId, T>>, ws: &WorkspaceId, doc: T) {
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() >= SETTINGS_SEEN_MAX && !seen.contains_key(ws) {
        seen.clear();
    }
    // Never go back to an older version than one already seen.
    if seen.get(ws).is_none_or(|known| known.version() <= doc.version()) {
        seen.insert(ws.clone(), doc);
    }
}

/// Why a use case did not do what was asked. Mapped once, at the edge, to an HTTP status or an
/// SQS batch item failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("handoff not found")]
    HandoffNotFound,
    #[error("the settings changed since version {expected}")]
    SettingsVersionConflict { expected: u64, current: Box<SettingsDoc> },
    #[error("the teams changed since version {expected}")]
    TeamsVersionConflict { expected: u64, current: Box<TeamsDoc> },
    #[error("cannot {action} a handoff that is {state}")]
    IllegalTransition { state: State, action: Action },
    #[error("the handoff is assigned to someone else")]
    AssignedToSomeoneElse,
    #[error("only the agent the handoff is assigned to (or an admin) may reply")]
    NotTheAssignee,
    #[error("the conversation has no active handoff")]
    NoActiveHandoff,
    #[error("the handoff changed while this request ran; reload and retry")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        timers: Arc<dyn Timers>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            store,
            publisher,
            timers,
            clock,
            ids,
            metrics: Arc::new(NoMetrics),
            settings_seen: Arc::default(),
            teams_seen: Arc::default(),
            handoffs_seen: Arc::default(),
            conversations_seen: Arc::default(),
            held_acks: Arc::default(),
        }
    }

    /// The same use cases, recording what was handed to the queues only when
    /// [`App::acknowledge_held`] is called, rather than before a use case returns. A Lambda
    /// function calls it after sending an HTTP response, so no caller waits for that write; the
    /// order of a handoff's events is kept meanwhile by what this process knows it handed over.
    pub fn holding_acknowledgements(self) -> Self {
        self.held_acks.lock().unwrap_or_else(|p| p.into_inner()).enabled = true;
        self
    }

    /// The same use cases publishing through `publisher` (a wrapper that records or fails sends).
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = publisher;
        self
    }

    /// The same use cases reporting each change's figures to `sink` too.
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = sink;
        self
    }

    pub(crate) fn remember_handoff(&self, h: &Handoff) {
        let mut seen = self.handoffs_seen.lock().unwrap_or_else(|p| p.into_inner());
        let key = (h.workspace_id.clone(), h.handoff_id.clone());
        if seen.len() >= HANDOFFS_SEEN_MAX && !seen.contains_key(&key) {
            seen.clear();
        }
        let at = self.clock.now();
        match seen.get_mut(&key) {
            Some(known) if known.handoff.version > h.version => {}
            // The same version with less known to have gone out: keep what this process knows,
            // now confirmed again.
            Some(known) if known.handoff.version == h.version && known.handoff.sent_seq > h.sent_seq => known.at = at,
            _ => {
                seen.insert(key, Seen { handoff: h.clone(), at });
            }
        }
        drop(seen);
        if h.state.is_active() {
            let mut convs = self.conversations_seen.lock().unwrap_or_else(|p| p.into_inner());
            if convs.len() >= HANDOFFS_SEEN_MAX {
                convs.clear();
            }
            convs.insert((h.workspace_id.clone(), h.conversation_id.clone()), h.handoff_id.clone());
        }
    }

    /// Remembers a handoff from an Inbox page, unless this process knows it at the same version
    /// or later. A page's copy may be behind on `sent_seq` (an index entry is written by a commit,
    /// not by the acknowledgements that follow it), so it is remembered as caught up, as it is
    /// moments after each decision: an accept from the page then commits on its first write. When
    /// an event is in fact still pending, the commit's check of `sent_seq` fails and the handoff is
    /// read: a read more, never a wrong decision or an event out of order.
    pub(crate) fn remember_listed(&self, h: &Handoff) {
        let known = self
            .handoffs_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(h.workspace_id.clone(), h.handoff_id.clone()))
            .map(|k| k.handoff.version);
        if known.is_some_and(|v| v >= h.version) {
            return;
        }
        let mut copy = h.clone();
        copy.sent_seq = copy.seq;
        self.remember_handoff(&copy);
    }

    /// Notes that the handoff's events up to `sent_seq` are out, in the copy this process keeps
    /// (it must match the stored one for the next conditional write to succeed).
    pub(crate) fn note_sent_seq(&self, ws: &WorkspaceId, id: &HandoffId, sent_seq: u64) {
        let mut seen = self.handoffs_seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Seen { handoff: h, .. }) = seen.get_mut(&(ws.clone(), id.clone())) {
            if h.seq >= sent_seq && h.sent_seq < sent_seq {
                h.sent_seq = sent_seq;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn seen_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Option<Handoff> {
        self.seen_handoff_at(ws, id).map(|(h, _)| h)
    }

    /// The handoff this process last saw, and when it last read or wrote it.
    pub(crate) fn seen_handoff_at(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
    ) -> Option<(Handoff, chrono::DateTime<chrono::Utc>)> {
        self.handoffs_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(ws.clone(), id.clone()))
            .map(|s| (s.handoff.clone(), s.at))
    }

    pub(crate) fn forget_handoff(&self, ws: &WorkspaceId, id: &HandoffId) {
        self.handoffs_seen.lock().unwrap_or_else(|p| p.into_inner()).remove(&(ws.clone(), id.clone()));
    }

    fn remember_settings(&self, doc: &SettingsDoc) {
        remember_newest(&self.settings_seen, &doc.workspace_id, doc.clone());
    }

    /// Keeps the teams without their member lists: routing is what they are remembered for.
    fn remember_teams(&self, doc: &TeamsDoc) {
        remember_newest(&self.teams_seen, &doc.workspace_id, doc.without_members());
    }

    /// The settings and teams to decide an escalation on: the ones this process last saw, or
    /// read from the store (one read for both) when `fresh` or never seen. The write that follows
    /// checks both versions.
    pub(crate) async fn config_for_decision(
        &self,
        ws: &WorkspaceId,
        fresh: bool,
    ) -> Result<(SettingsDoc, TeamsDoc), AppError> {
        if !fresh {
            let settings = self.settings_seen.lock().unwrap_or_else(|p| p.into_inner()).get(ws).cloned();
            let teams = self.teams_seen.lock().unwrap_or_else(|p| p.into_inner()).get(ws).cloned();
            if let (Some(s), Some(t)) = (settings, teams) {
                return Ok((s, t));
            }
        }
        let (settings, teams) = self.store.get_decision_config(ws).await?;
        let settings = settings.unwrap_or_else(|| SettingsDoc::defaults(ws.clone()));
        let teams = teams.unwrap_or_else(|| TeamsDoc::empty(ws.clone()));
        self.remember_settings(&settings);
        self.remember_teams(&teams);
        Ok((settings, teams))
    }
}
