use super::App;
use crate::domain::{DecisionOwner, DecisionRecord, HandoffId, OutboundEvent, TimerMessage, WorkspaceId};
use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use std::borrow::Cow;
use std::collections::HashMap;
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

/// Acknowledgements held until the response has gone ([`App::holding_acknowledgements`]).
#[derive(Default)]
pub(super) struct HeldAcks {
    /// Whether this process holds its acknowledgements at all.
    pub(super) enabled: bool,
    /// What was handed over and is not recorded yet, in the order it was handed over.
    acks: Vec<Ack<'static>>,
    /// Per handoff, the last `seq` up to which this process handed every event over, recorded or
    /// not: the order of the handoff's next events is kept against it.
    handed: HashMap<(WorkspaceId, HandoffId), u64>,
}

/// One decision's effects handed over, to be recorded. (Borrowed while it is recorded at once;
/// a held one owns its copy.)
struct Ack<'a> {
    decision: Cow<'a, DecisionRecord>,
    sent: Vec<String>,
    at: DateTime<Utc>,
    /// The handoff's `sent_seq` once this is recorded.
    sent_seq: Option<(HandoffId, u64)>,
}

/// What one dispatch handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Effects handed to their queues.
    pub handed: usize,
    /// Every outbound event of the handoff up to this `seq` is now known to be handed over.
    pub sent_seq: u64,
}

impl App {
    /// Hands a committed decision's pending effects to their queues, then records in one write
    /// which were handed over (or, when the `App` holds its acknowledgements, keeps that write for
    /// [`App::acknowledge_held`]). `sent_seq` says which events of the decision's handoff are already
    /// out: the outbound events go (together, in `seq` order) only if none before them is still
    /// pending; otherwise they wait for the sweep, which sends a handoff's events in order. The
    /// timers go alongside. A failure leaves the effect pending for [`App::redispatch_pending`];
    /// it keeps its id and `seq`, so a consumer can drop the duplicate if both attempts get through.
    pub async fn dispatch(&self, decision: &DecisionRecord, sent_seq: u64) -> Dispatched {
        self.dispatch_with(decision, sent_seq, true).await
    }

    /// [`App::dispatch`]; when `wait`, events held back by an earlier one still in flight (sent
    /// by another request this very moment) wait a little for it rather than for the sweep.
    async fn dispatch_with(&self, decision: &DecisionRecord, sent_seq: u64, wait: bool) -> Dispatched {
        let pending = decision.pending();
        let mut sent_seq = sent_seq.max(self.handed_here(decision));
        if pending.is_empty() {
            return Dispatched { handed: 0, sent_seq };
        }
        let mut may_leave = decision.outbound_may_leave(sent_seq);
        let has_outbound = pending.iter().any(|e| e.outbound().is_some());
        if !may_leave && has_outbound && wait {
            if let Some(now_sent) = self.wait_for_earlier_events(decision).await {
                sent_seq = now_sent;
                may_leave = true;
            }
        }
        let mut result = Dispatched { handed: 0, sent_seq };
        let outbound: Vec<OutboundEvent> = pending.iter().filter_map(|e| e.outbound()).cloned().collect();
        if !may_leave && !outbound.is_empty() {
            info!(workspace_id = %decision.workspace_id, first_seq = outbound[0].seq, sent_seq,
                  "outbound events held back: an earlier event of this handoff is still pending");
        }
        let timers: Vec<&TimerMessage> = pending.iter().filter_map(|e| e.timer()).collect();
        let send_outbound = async {
            if outbound.is_empty() || !may_leave {
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
        let outbound_out = !sent.is_empty() || outbound.is_empty();
        sent.extend(timers_set.into_iter().flatten());
        if sent.is_empty() {
            return result;
        }
        result.handed = sent.len();
        let advanced = match (&decision.owner, decision.last_seq()) {
            (DecisionOwner::Handoff { handoff_id }, Some(last)) if outbound_out && may_leave => {
                Some((handoff_id.clone(), result.sent_seq.max(last)))
            }
            _ => None,
        };
        if let Some((_, seq)) = &advanced {
            result.sent_seq = *seq;
        }
        let ack = Ack { decision: Cow::Borrowed(decision), sent, at: self.clock.now(), sent_seq: advanced };
        if let Some(ack) = self.hold_ack(ack) {
            self.record_ack(&ack).await;
        }
        result
    }

    /// Records what an acknowledgement says was handed over, and notes the handoff's new
    /// `sent_seq` in the copy this process keeps.
    async fn record_ack(&self, ack: &Ack<'_>) -> bool {
        if let Err(e) = self.store.mark_sent(&ack.decision, &ack.sent, ack.at).await {
            warn!(error = %e, effects = ack.sent.len(), "effects sent but not marked; they may be sent again with the same ids");
            return false;
        }
        if let Some((handoff_id, seq)) = &ack.sent_seq {
            self.note_sent_seq(&ack.decision.workspace_id, handoff_id, *seq);
        }
        true
    }

    /// Keeps `ack` for [`App::acknowledge_held`] when this process holds its acknowledgements;
    /// otherwise gives it back to be recorded now.
    fn hold_ack<'a>(&self, ack: Ack<'a>) -> Option<Ack<'a>> {
        let mut held = self.held_acks.lock().unwrap_or_else(|p| p.into_inner());
        if !held.enabled {
            return Some(ack);
        }
        if let Some((handoff_id, seq)) = &ack.sent_seq {
            let key = (ack.decision.workspace_id.clone(), handoff_id.clone());
            let known = held.handed.entry(key).or_default();
            *known = (*known).max(*seq);
        }
        held.acks.push(Ack { decision: Cow::Owned(ack.decision.into_owned()), ..ack });
        None
    }

    /// The `seq` up to which this process handed every event of `decision`'s handoff over
    /// without recording it yet (0 when it has nothing held for it).
    fn handed_here(&self, decision: &DecisionRecord) -> u64 {
        let DecisionOwner::Handoff { handoff_id } = &decision.owner else { return 0 };
        let held = self.held_acks.lock().unwrap_or_else(|p| p.into_inner());
        held.handed.get(&(decision.workspace_id.clone(), handoff_id.clone())).copied().unwrap_or(0)
    }

    /// Records the acknowledgements held since the last call: within the call, each handoff's in
    /// the order they were handed over, different handoffs side by side (calls that overlap may
    /// write one handoff's out of order, which the sent item's condition makes harmless). The Lambda edge calls it once an HTTP
    /// invocation's response has been sent (before it asks for the next event, so the container
    /// never freezes with one unwritten), and as soon as each SQS message is done. One that
    /// fails leaves its effects pending for the outbox sweep, which sends them again with the
    /// same ids. The number recorded.
    pub async fn acknowledge_held(&self) -> usize {
        let acks = std::mem::take(&mut self.held_acks.lock().unwrap_or_else(|p| p.into_inner()).acks);
        let mut by_owner: HashMap<(&WorkspaceId, &DecisionOwner), Vec<&Ack<'static>>> = HashMap::new();
        for a in &acks {
            by_owner.entry((&a.decision.workspace_id, &a.decision.owner)).or_default().push(a);
        }
        let recorded = join_all(by_owner.into_values().map(|group| async move {
            let mut recorded = 0;
            for a in group {
                recorded += usize::from(self.record_ack(a).await);
            }
            recorded
        }))
        .await
        .into_iter()
        .sum();
        // What the store now says (or, for a write that failed, what the sweep will repair) no
        // longer needs remembering here, unless an event went out since.
        let mut held = self.held_acks.lock().unwrap_or_else(|p| p.into_inner());
        for a in &acks {
            if let Some((handoff_id, seq)) = &a.sent_seq {
                let key = (a.decision.workspace_id.clone(), handoff_id.clone());
                if held.handed.get(&key).is_some_and(|known| known <= seq) {
                    held.handed.remove(&key);
                }
            }
        }
        recorded
    }

    /// Waits (about a second and a half at most, reading the handoff three times) for the
    /// earlier events of `decision`'s handoff to be handed over. The new `sent_seq` once they are.
    async fn wait_for_earlier_events(&self, decision: &DecisionRecord) -> Option<u64> {
        let DecisionOwner::Handoff { handoff_id } = &decision.owner else { return None };
        for pause_ms in [100, 300, 900] {
            tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
            let here = self.handed_here(decision);
            if decision.outbound_may_leave(here) {
                return Some(here);
            }
            match self.store.get_handoff(&decision.workspace_id, handoff_id).await {
                Ok(Some(h)) if decision.outbound_may_leave(h.sent_seq) => {
                    self.remember_handoff(&h);
                    return Some(h.sent_seq);
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "handoff not read; its held-back events wait for the sweep");
                    return None;
                }
            }
        }
        None
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
    /// [`STUCK_AFTER_SECONDS`]. Each handoff's decisions go oldest first, one after another, so
    /// its events leave in `seq` order; different handoffs go side by side.
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
        let mut by_owner: HashMap<(&WorkspaceId, &DecisionOwner), Vec<&DecisionRecord>> = HashMap::new();
        for d in &pending {
            by_owner.entry((&d.workspace_id, &d.owner)).or_default().push(d);
        }
        let dispatched = join_all(by_owner.into_values().map(|mut ds| async move {
            ds.sort_by_key(|d| d.version);
            let mut sent_seq = match &ds[0].owner {
                DecisionOwner::Handoff { handoff_id } => {
                    match self.store.get_handoff(&ds[0].workspace_id, handoff_id).await {
                        Ok(Some(h)) => h.sent_seq,
                        // Gone (its history expired with it): its events have no order left to keep.
                        Ok(None) => u64::MAX - 1,
                        Err(e) => {
                            warn!(error = %e, "handoff not read; its pending effects wait for the next sweep");
                            return 0;
                        }
                    }
                }
                DecisionOwner::Event { .. } => 0,
            };
            let mut handed = 0;
            for d in ds {
                let r = self.dispatch_with(d, sent_seq, false).await;
                handed += r.handed;
                sent_seq = r.sent_seq;
            }
            // Recorded as each handoff is done, not at the end of the whole sweep.
            self.acknowledge_held().await;
            handed
        }))
        .await
        .into_iter()
        .sum();
        let report = SweepReport { pending: pending.len(), dispatched, stuck };
        if stuck > 0 {
            warn!(stuck, pending = report.pending, dispatched, "effects pending for more than 5 minutes");
        } else {
            info!(pending = report.pending, dispatched, "redispatched pending effects");
        }
        Ok(report)
    }
}
