use super::App;
use crate::domain::{DecisionRecord, Effect, OutboundEvent, TimerMessage};
use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use tracing::{info, warn};

/// An effect still pending this long after its decision is stuck: something keeps failing.
pub const STUCK_AFTER_SECONDS: i64 = 300;

/// What one outbox sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Decisions with effects still pending, found by this sweep.
    pub pending: usize,
    /// Effects handed over by this sweep.
    pub dispatched: usize,
    /// Effects that were pending for longer than [`STUCK_AFTER_SECONDS`] before this sweep.
    pub stuck: usize,
}

impl App {
    /// Hands a committed decision's pending effects to their queues, then records in one write
    /// which were handed over. The outbound events go together, in decision order; the timers
    /// alongside them. A failure leaves the effect pending for [`App::redispatch_pending`]; it
    /// keeps its id, so a consumer can drop the duplicate if both attempts get through.
    /// Returns how many effects were handed over.
    pub async fn dispatch(&self, decision: &DecisionRecord) -> usize {
        let pending = decision.pending();
        if pending.is_empty() {
            return 0;
        }
        let outbound: Vec<OutboundEvent> = pending
            .iter()
            .filter_map(|e| match e {
                Effect::Outbound(ev) => Some(ev.clone()),
                Effect::SetTimer(_) => None,
            })
            .collect();
        let timers: Vec<&TimerMessage> = pending
            .iter()
            .filter_map(|e| match e {
                Effect::SetTimer(t) => Some(t),
                Effect::Outbound(_) => None,
            })
            .collect();
        let send_outbound = async {
            if outbound.is_empty() {
                return Vec::new();
            }
            match self.publisher.publish(&outbound).await {
                Ok(()) => outbound.iter().map(|e| e.event_id.clone()).collect(),
                Err(e) => {
                    warn!(error = %e, "outbound events not sent; left pending for retry");
                    Vec::new()
                }
            }
        };
        let set_timers = join_all(timers.iter().map(|t| async move {
            match self.timers.set(t).await {
                Ok(()) => Some(t.timer_id.clone()),
                Err(e) => {
                    warn!(timer_id = %t.timer_id, error = %e, "timer not set; left pending for retry");
                    None
                }
            }
        }));
        let (mut sent, timers_set) = tokio::join!(send_outbound, set_timers);
        sent.extend(timers_set.into_iter().flatten());
        if sent.is_empty() {
            return 0;
        }
        if let Err(e) = self.store.mark_sent(decision, &sent, self.clock.now()).await {
            warn!(error = %e, effects = sent.len(), "effects sent but not marked; they may be sent again with the same ids");
        }
        sent.len()
    }

    /// Dispatches effects recorded more than `age` ago and never confirmed (the outbox sweep).
    pub async fn redispatch_older_than(
        &self,
        age: std::time::Duration,
        limit: usize,
    ) -> Result<SweepReport, super::AppError> {
        let before = self.clock.now() - Duration::from_std(age).unwrap_or_default();
        self.redispatch_pending(before, limit).await
    }

    /// Dispatches effects that were recorded before `before` but never confirmed (a crash or an
    /// outage between commit and dispatch), and counts those stuck for longer than
    /// [`STUCK_AFTER_SECONDS`].
    pub async fn redispatch_pending(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<SweepReport, super::AppError> {
        let pending = self.store.pending_decisions(before, limit).await?;
        if pending.is_empty() {
            return Ok(SweepReport::default());
        }
        let stuck_before = self.clock.now() - Duration::seconds(STUCK_AFTER_SECONDS);
        let stuck = pending.iter().filter(|d| d.recorded_at < stuck_before).map(|d| d.pending().len()).sum();
        let dispatched = join_all(pending.iter().map(|d| self.dispatch(d))).await.into_iter().sum();
        let report = SweepReport { pending: pending.len(), dispatched, stuck };
        if stuck > 0 {
            warn!(stuck, pending = report.pending, dispatched, "effects pending for more than 5 minutes");
        } else {
            info!(pending = report.pending, dispatched, "redispatched pending effects");
        }
        Ok(report)
    }
}
