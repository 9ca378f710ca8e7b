use super::{App, AppError};
use crate::domain::{decide, Command, Handoff, HandoffId, Outcome, Rejection, WorkspaceId};
use crate::ports::{CommitError, HandoffView, InboxCursor, InboxPage, InboxQuery, Transition};
use tracing::info;

/// What a command did to a handoff.
pub(crate) enum Applied {
    /// Changed; with the `message_id` of the first transcript line the change added, if any.
    Changed(Handoff, Option<String>),
    Unchanged(Handoff),
    /// The command's idempotency key was used before: nothing done again. The `message_id` of
    /// the transcript line the first one added.
    Repeated(Handoff, String),
}

/// What one decide-and-commit round came to.
#[allow(clippy::large_enum_variant)] // short-lived; boxing buys nothing
pub(crate) enum Round {
    Done(Applied),
    /// The handoff changed since it was read: decide again on the fresh state (the stored
    /// handoff, when the failed write returned it).
    Conflict(Option<Box<Handoff>>),
}

/// How far behind the present the changes feed's cursor stays.
pub const CHANGES_LAG: chrono::Duration = chrono::Duration::seconds(5);

/// A page of the changes feed.
#[derive(Debug, Clone)]
pub struct ChangesPage {
    pub items: Vec<Handoff>,
    pub next: InboxCursor,
    /// More changes follow at once (ask again without waiting).
    pub more: bool,
}

/// How long a remembered copy of a handoff is trusted for a conversation turn (a customer message,
/// a reply, a note) without reading it first. Turns alternate between the customer's side and the
/// agent's, served by different functions, a few seconds apart at the fastest.
pub const TURN_COPY_FRESH_FOR: chrono::Duration = chrono::Duration::seconds(1);

/// How many decisions `GET /handoffs/{id}` shows per page of history.
pub const HISTORY_PAGE: usize = 50;

impl App {
    pub async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Handoff, AppError> {
        let h = self.store.get_handoff(ws, id).await?.ok_or(AppError::HandoffNotFound)?;
        self.remember_handoff(&h);
        Ok(h)
    }

    /// The handoff and a page of its history (decisions after version `after`).
    pub async fn handoff_view(&self, ws: &WorkspaceId, id: &HandoffId, after: u64) -> Result<HandoffView, AppError> {
        let v = self.store.get_handoff_view(ws, id, after, HISTORY_PAGE).await?.ok_or(AppError::HandoffNotFound)?;
        self.remember_handoff(&v.handoff);
        Ok(v)
    }

    /// The handoffs changed after `cursor` (from [`CHANGES_LAG`] ago without one), oldest change
    /// first. The cursor it returns trails the present by [`CHANGES_LAG`], so a change that
    /// reaches the index late is still seen; a client may see the same version twice.
    pub async fn inbox_changes(
        &self,
        ws: &WorkspaceId,
        cursor: Option<InboxCursor>,
        limit: usize,
    ) -> Result<ChangesPage, AppError> {
        let floor = InboxCursor {
            created_at: self.clock.now() - CHANGES_LAG,
            handoff_id: HandoffId::parse("0").expect("a valid id"),
        };
        let start = cursor.unwrap_or_else(|| floor.clone());
        let page = self.store.changed_handoffs(ws, &start, limit).await?;
        let position = |c: &InboxCursor| (c.created_at, c.handoff_id.clone());
        let (next, more) = match page.next {
            Some(next) => (next, true),
            None => {
                let last = page
                    .items
                    .last()
                    .map(|h| InboxCursor { created_at: h.updated_at, handoff_id: h.handoff_id.clone() });
                let settled = match last {
                    Some(l) if position(&l) < position(&floor) => l,
                    _ => floor,
                };
                (if position(&settled) > position(&start) { settled } else { start }, false)
            }
        };
        Ok(ChangesPage { items: page.items, next, more })
    }

    pub async fn inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, AppError> {
        let page = self.store.list_inbox(ws, query).await?;
        for h in &page.items {
            self.remember_listed(h);
        }
        Ok(page)
    }

    /// Applies an agent's command. The loser of two simultaneous accepts gets a clear conflict.
    pub async fn apply(&self, ws: &WorkspaceId, id: &HandoffId, cmd: Command) -> Result<Handoff, AppError> {
        match self.transition(ws, id, &cmd).await? {
            Applied::Changed(h, _) | Applied::Unchanged(h) | Applied::Repeated(h, _) => Ok(h),
        }
    }

    /// The one cycle every handoff change goes through: decide on the state read, commit the new
    /// state and its decision conditionally on the version read, then dispatch the effects. A lost
    /// race is decided again on the fresh state.
    pub(crate) async fn transition(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        cmd: &Command,
    ) -> Result<Applied, AppError> {
        // The handoff this process saw last, if the command would change it: the conditional
        // commit then proves it current (or fails, and the handoff is read). A refusal or "nothing
        // to do" is never answered from it, since nothing would prove it. Nor is a conversation
        // turn decided on a copy older than `TURN_COPY_FRESH_FOR`: the other side (the customer
        // through the AI runtime's function; the agents, timers and the Inbox through others) has
        // most likely acted since, and a write bound to fail costs more than a read.
        let now = self.clock.now();
        let mut seen = self
            .seen_handoff_at(ws, id)
            .filter(|(_, at)| !(cmd.is_conversation_turn() && now - *at > TURN_COPY_FRESH_FOR))
            .map(|(h, _)| h)
            .filter(|h| matches!(decide(h, cmd, now), Ok(Outcome::Changed(_))));
        for _ in 0..5 {
            let h = match seen.take() {
                Some(h) => h,
                None => self.get_handoff(ws, id).await?,
            };
            match self.decide_and_commit(h, cmd).await? {
                Round::Done(applied) => return Ok(applied),
                Round::Conflict(current) => {
                    self.forget_handoff(ws, id);
                    seen = current.map(|h| *h);
                }
            }
        }
        Err(AppError::Contended)
    }

    /// Decides `cmd` on `h` and commits the result conditionally on `h.version`.
    pub(crate) async fn decide_and_commit(&self, h: Handoff, cmd: &Command) -> Result<Round, AppError> {
        let decision = match decide(&h, cmd, self.clock.now()) {
            Ok(Outcome::Unchanged) => return Ok(Round::Done(Applied::Unchanged(h))),
            Ok(Outcome::Changed(d)) => d,
            // A retry of a change that was made before the handoff moved on (a reply resent after
            // the handoff was resolved, a customer message after it ended) is answered as a repeat.
            Err(rejection) if cmd.idempotency_key().is_some() => {
                let key = cmd.idempotency_key().unwrap_or_default();
                if let Some(message_id) = self.store.change_key(&h.workspace_id, &h.handoff_id, &key).await? {
                    return Ok(Round::Done(Applied::Repeated(h, message_id)));
                }
                return Err(rejected(rejection));
            }
            Err(rejection) => return Err(rejected(rejection)),
        };
        let record = decision.record();
        let key = cmd.idempotency_key();
        let t = Transition {
            handoff: &decision.handoff,
            expected_version: h.version,
            decision: &record,
            transcript: &decision.transcript,
            key: key.as_deref(),
            metrics: (!decision.metrics.is_empty()).then_some(&decision.metrics),
        };
        match self.store.commit_transition(t).await {
            Ok(()) => {
                info!(workspace_id = %h.workspace_id, handoff_id = %h.handoff_id, action = %cmd.action(),
                      from = %h.state, to = %decision.handoff.state, version = decision.handoff.version,
                      "handoff changed");
                self.remember_handoff(&decision.handoff);
                if !decision.metrics.is_empty() {
                    self.metrics.record(&h.workspace_id, &decision.metrics);
                }
                // The write proved `sent_seq` current: it says whether earlier events are pending.
                self.dispatch(&record, decision.handoff.sent_seq).await;
                let line = decision.transcript.first().map(|l| l.message_id.clone());
                Ok(Round::Done(Applied::Changed(decision.handoff, line)))
            }
            Err(CommitError::Stale { current }) => {
                if let Some(c) = &current {
                    self.remember_handoff(c);
                }
                Ok(Round::Conflict(current))
            }
            Err(CommitError::Duplicate { message_id }) => {
                info!(workspace_id = %h.workspace_id, handoff_id = %h.handoff_id, action = %cmd.action(),
                      message_id = %message_id, "repeated; nothing done again");
                Ok(Round::Done(Applied::Repeated(h, message_id)))
            }
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }
}

/// A domain refusal as the use case's error.
fn rejected(r: Rejection) -> AppError {
    match r {
        Rejection::IllegalTransition { state, action } => AppError::IllegalTransition { state, action },
        Rejection::AssignedToSomeoneElse => AppError::AssignedToSomeoneElse,
        Rejection::NotTheAssignee => AppError::NotTheAssignee,
        Rejection::NoActiveHandoff => AppError::NoActiveHandoff,
    }
}
