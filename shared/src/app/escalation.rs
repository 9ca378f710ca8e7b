use super::{App, AppError};
use crate::domain::{
    customer_text, decide_escalation, Actor, DecisionRecord, EscalationOutcome, EscalationRecord, EscalationRequest,
    Handoff, HandoffId,
};
use crate::ports::{EscalationWrite, EscalationWriteError};
use tracing::info;

/// The answer to an escalation.
#[derive(Debug, Clone)]
pub struct EscalationResult {
    pub outcome: EscalationOutcome,
    /// The handoff, as it is now (none when Human Handoff is off).
    pub handoff: Option<Handoff>,
    /// The message the customer was sent: the confirmation, or the after-hours message (none when
    /// off or already active).
    pub confirmation_message: Option<String>,
    /// True when this `event_id` had already been processed and nothing was done again.
    pub replayed: bool,
}

impl App {
    /// Handles an escalation (spec §4): idempotent on `event_id`, one active handoff per
    /// conversation, decided from the settings at this moment.
    ///
    /// Nothing is read first: the decision is made on the settings this process last saw and
    /// written in one transaction that checks the event is new, the conversation free and those
    /// settings still current. Only a failed check leads to a read, and to a new decision.
    pub async fn escalate(&self, req: &EscalationRequest, actor: Actor) -> Result<EscalationResult, AppError> {
        let ws = &req.workspace_id;
        let mut fresh_settings = false;
        let mut stale_lock: Option<HandoffId> = None;
        // A few rounds at most: each failed check tells us more.
        for _ in 0..4 {
            let (settings, teams) = self.config_for_decision(ws, fresh_settings).await?;
            let decision = decide_escalation(
                &settings.settings,
                &teams.teams,
                req,
                actor.clone(),
                None,
                self.ids.handoff_id(),
                self.clock.now(),
            );
            let record = decision.decision_record();
            let write = EscalationWrite {
                record: &decision.record,
                handoff: decision.created.as_ref(),
                decision: record.as_ref(),
                settings_version: Some(settings.version),
                teams_version: Some(teams.version),
                metrics: Some(&decision.metrics),
                stale_lock: stale_lock.as_ref(),
                transcript: &decision.transcript,
            };
            match self.store.create_escalation(write).await {
                Ok(()) => {
                    info!(
                        workspace_id = %ws, event_id = %req.event_id, conversation_id = %req.conversation_id,
                        handoff_id = decision.record.handoff_id.as_ref().map(|h| h.as_str()).unwrap_or("-"),
                        outcome = ?decision.record.outcome, "escalation decided"
                    );
                    if let Some(h) = &decision.created {
                        self.remember_handoff(h);
                    }
                    self.metrics.record(ws, &decision.metrics);
                    if let Some(r) = &record {
                        self.dispatch(r, 0).await;
                    }
                    let confirmation_message = customer_text(&decision.effects).map(str::to_string);
                    return Ok(EscalationResult {
                        outcome: decision.record.outcome,
                        handoff: decision.created,
                        confirmation_message,
                        replayed: false,
                    });
                }
                Err(EscalationWriteError::Duplicate(rec)) => return self.replay(*rec).await,
                Err(EscalationWriteError::SettingsChanged) => fresh_settings = true,
                Err(EscalationWriteError::ConversationBusy(id)) => match self.store.get_handoff(ws, &id).await? {
                    Some(active) if active.state.is_active() => {
                        if let Some(done) = self.record_already_active(req, actor.clone(), active).await? {
                            return Ok(done);
                        }
                    }
                    // The lock outlived its handoff: take it over, conditionally on it still naming
                    // that handoff.
                    _ => {
                        info!(workspace_id = %ws, conversation_id = %req.conversation_id, handoff_id = %id,
                              "conversation lock names a handoff that is no longer active; repairing it");
                        stale_lock = Some(id);
                    }
                },
                Err(EscalationWriteError::Store(e)) => return Err(e.into()),
            }
        }
        Err(AppError::Contended)
    }

    /// Records an `already_active` outcome for this event. `None` when that write lost a race in a
    /// way that calls for deciding again.
    async fn record_already_active(
        &self,
        req: &EscalationRequest,
        actor: Actor,
        active: Handoff,
    ) -> Result<Option<EscalationResult>, AppError> {
        let (settings, teams) = self.config_for_decision(&req.workspace_id, false).await?;
        let d = decide_escalation(
            &settings.settings,
            &teams.teams,
            req,
            actor,
            Some(&active),
            self.ids.handoff_id(),
            self.clock.now(),
        );
        let write = EscalationWrite {
            record: &d.record,
            handoff: None,
            decision: None,
            settings_version: None,
            teams_version: None,
            metrics: Some(&d.metrics),
            stale_lock: None,
            transcript: &[],
        };
        match self.store.create_escalation(write).await {
            Ok(()) => {
                self.metrics.record(&req.workspace_id, &d.metrics);
                info!(workspace_id = %req.workspace_id, event_id = %req.event_id, handoff_id = %active.handoff_id,
                      outcome = ?d.record.outcome, "escalation decided");
                Ok(Some(EscalationResult {
                    outcome: EscalationOutcome::AlreadyActive,
                    handoff: Some(active),
                    confirmation_message: None,
                    replayed: false,
                }))
            }
            Err(EscalationWriteError::Duplicate(rec)) => self.replay(*rec).await.map(Some),
            Err(EscalationWriteError::Store(e)) => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    /// The same `event_id` again: the first answer, and whatever of its effects is still pending
    /// is sent now rather than left to the sweep.
    async fn replay(&self, rec: EscalationRecord) -> Result<EscalationResult, AppError> {
        let ws = &rec.workspace_id;
        let (handoff, decision): (Option<Handoff>, Option<DecisionRecord>) = match (&rec.handoff_id, rec.outcome) {
            (Some(id), EscalationOutcome::AlreadyActive) => (self.store.get_handoff(ws, id).await?, None),
            // The escalation's own decision is its handoff's version 1: one read brings both.
            (Some(id), _) => match self.store.get_handoff_view(ws, id, 0, 1).await? {
                Some(v) => (Some(v.handoff), v.decisions.into_iter().next()),
                None => (None, None),
            },
            (None, _) => (None, self.store.get_event_decision(ws, &rec.event_id).await?),
        };
        if let Some(d) = decision.as_ref().filter(|d| !d.is_settled()) {
            info!(workspace_id = %ws, event_id = %rec.event_id, pending = d.pending().len(),
                  "replayed escalation had effects pending; sending them now");
            self.dispatch(d, handoff.as_ref().map(|h| h.sent_seq).unwrap_or(0)).await;
        }
        let confirmation_message = decision.as_ref().and_then(|d| customer_text(&d.effects)).map(str::to_string);
        info!(workspace_id = %ws, event_id = %rec.event_id, outcome = ?rec.outcome, "escalation replayed");
        Ok(EscalationResult { outcome: rec.outcome, handoff, confirmation_message, replayed: true })
    }
}
