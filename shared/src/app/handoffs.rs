use super::{App, AppError};
use crate::domain::{decide, Command, Handoff, HandoffId, Outcome, Rejection, WorkspaceId};
use crate::ports::{InboxPage, InboxQuery, StoreError};
use tracing::info;

/// What a command did to a handoff.
pub(crate) enum Applied {
    Changed(Handoff),
    Unchanged(Handoff),
}

impl App {
    pub async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Handoff, AppError> {
        self.store.get_handoff(ws, id).await?.ok_or(AppError::HandoffNotFound)
    }

    pub async fn inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, AppError> {
        Ok(self.store.list_inbox(ws, query).await?)
    }

    /// Applies an agent's command. The loser of two simultaneous accepts gets a clear conflict.
    pub async fn apply(&self, ws: &WorkspaceId, id: &HandoffId, cmd: Command) -> Result<Handoff, AppError> {
        match self.transition(ws, id, &cmd).await? {
            Applied::Changed(h) | Applied::Unchanged(h) => Ok(h),
        }
    }

    /// The one cycle every handoff change goes through: decide on the state read, commit the new
    /// state and its effects conditionally on the version read, then dispatch the effects. A lost
    /// race is decided again on the fresh state.
    pub(crate) async fn transition(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        cmd: &Command,
    ) -> Result<Applied, AppError> {
        for _ in 0..3 {
            let h = self.get_handoff(ws, id).await?;
            let decision = match decide(&h, cmd, self.clock.now()) {
                Ok(Outcome::Unchanged) => return Ok(Applied::Unchanged(h)),
                Ok(Outcome::Changed(d)) => d,
                Err(Rejection::IllegalTransition { state, action }) => {
                    return Err(AppError::IllegalTransition { state, action })
                }
                Err(Rejection::AssignedToSomeoneElse) => return Err(AppError::AssignedToSomeoneElse),
            };
            match self.store.commit_transition(&decision.handoff, h.version, &decision.effects).await {
                Ok(()) => {
                    info!(workspace_id = %ws, handoff_id = %id, action = %cmd.action(),
                          from = %h.state, to = %decision.handoff.state, version = decision.handoff.version,
                          "handoff changed");
                    self.dispatch(&decision.effects).await;
                    return Ok(Applied::Changed(decision.handoff));
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contended)
    }
}
