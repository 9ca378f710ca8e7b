use super::{App, AppError};
use crate::domain::{decide_escalation, Actor, EscalationOutcome, EscalationRequest, Handoff, SettingsDoc};
use crate::ports::StoreError;
use tracing::info;

/// The answer to an escalation.
#[derive(Debug, Clone)]
pub struct EscalationResult {
    pub outcome: EscalationOutcome,
    /// The handoff, as it is now (none when Human Handoff is off).
    pub handoff: Option<Handoff>,
    /// The confirmation message the customer was sent (none when off or already active).
    pub confirmation_message: Option<String>,
    /// True when this `event_id` had already been processed and nothing was done again.
    pub replayed: bool,
}

impl App {
    /// Handles an escalation (spec §4): idempotent on `event_id`, one active handoff per
    /// conversation, decided from the settings at this moment.
    pub async fn escalate(&self, req: &EscalationRequest, actor: Actor) -> Result<EscalationResult, AppError> {
        // A few rounds at most: each lost race tells us more (the event is recorded, or the
        // conversation now has an active handoff).
        for _ in 0..4 {
            if let Some(rec) = self.store.get_escalation(&req.workspace_id, &req.event_id).await? {
                if rec.expires_at > self.clock.now() {
                    let handoff = match &rec.handoff_id {
                        Some(id) => self.store.get_handoff(&req.workspace_id, id).await?,
                        None => None,
                    };
                    let confirmation_message = match rec.outcome {
                        EscalationOutcome::Disabled | EscalationOutcome::AlreadyActive => None,
                        _ => handoff.as_ref().map(|h| h.policy.confirmation_message.as_str().to_string()),
                    };
                    info!(workspace_id = %req.workspace_id, event_id = %req.event_id, outcome = ?rec.outcome, "escalation replayed");
                    return Ok(EscalationResult {
                        outcome: rec.outcome,
                        handoff,
                        confirmation_message,
                        replayed: true,
                    });
                }
            }
            let settings = self
                .store
                .get_settings(&req.workspace_id)
                .await?
                .unwrap_or_else(|| SettingsDoc::defaults(req.workspace_id.clone()));
            let active = self.store.find_active_handoff(&req.workspace_id, &req.conversation_id).await?;
            let now = self.clock.now();
            let decision =
                decide_escalation(&settings.settings, req, actor.clone(), active.as_ref(), self.ids.handoff_id(), now);
            match self.store.create_escalation(&decision.record, decision.created.as_ref(), &decision.effects).await {
                Ok(()) => {
                    info!(
                        workspace_id = %req.workspace_id, event_id = %req.event_id,
                        conversation_id = %req.conversation_id,
                        handoff_id = decision.record.handoff_id.as_ref().map(|h| h.as_str()).unwrap_or("-"),
                        outcome = ?decision.record.outcome, "escalation decided"
                    );
                    self.dispatch(&decision.effects).await;
                    let confirmation_message =
                        decision.created.as_ref().map(|h| h.policy.confirmation_message.as_str().to_string());
                    let handoff = decision.created.or(active);
                    return Ok(EscalationResult {
                        outcome: decision.record.outcome,
                        handoff,
                        confirmation_message,
                        replayed: false,
                    });
                }
                Err(StoreError::DuplicateEvent) | Err(StoreError::ConversationBusy) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contended)
    }
}
