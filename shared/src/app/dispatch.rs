use super::App;
use crate::domain::Effect;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

impl App {
    /// Carries out committed effects and marks each dispatched once its adapter accepted it.
    /// A failure leaves the effect pending for [`App::redispatch_pending`]; it is never lost and
    /// keeps its id, so a consumer can drop the duplicate if both attempts get through.
    pub async fn dispatch(&self, effects: &[Effect]) -> usize {
        let mut done = 0;
        for effect in effects {
            let sent = match effect {
                Effect::Outbound(ev) => self.publisher.publish(ev).await.map_err(|e| e.to_string()),
                Effect::SetTimer(t) => self.timers.set(t).await.map_err(|e| e.to_string()),
            };
            match sent {
                Ok(()) => match self.store.mark_dispatched(effect.id()).await {
                    Ok(()) => done += 1,
                    Err(e) => {
                        warn!(effect_id = effect.id(), error = %e, "effect sent but not marked; it may be sent again with the same id")
                    }
                },
                Err(e) => {
                    warn!(effect_id = effect.id(), error = %e, "effect not dispatched; left pending for retry")
                }
            }
        }
        done
    }

    /// Dispatches effects recorded more than `age` ago and never confirmed (the outbox sweep).
    pub async fn redispatch_older_than(
        &self,
        age: std::time::Duration,
        limit: usize,
    ) -> Result<usize, super::AppError> {
        let before = self.clock.now() - chrono::Duration::from_std(age).unwrap_or_default();
        self.redispatch_pending(before, limit).await
    }

    /// Dispatches effects that were recorded before `before` but never confirmed (a crash or an
    /// outage between commit and dispatch). Returns how many were dispatched.
    pub async fn redispatch_pending(&self, before: DateTime<Utc>, limit: usize) -> Result<usize, super::AppError> {
        let pending = self.store.pending_effects(before, limit).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let effects: Vec<Effect> = pending.into_iter().map(|p| p.effect).collect();
        let n = self.dispatch(&effects).await;
        info!(pending = effects.len(), dispatched = n, "redispatched pending effects");
        Ok(n)
    }
}
