//! What is recorded of one decision: its timeline lines and its effects, written in the same
//! conditional write as the state change, and which of those effects were handed over since.

use super::handoff::{Effect, TimelineEntry, TimelineEvent};
use super::ids::{Actor, EventId, HandoffId, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whose decision it is: a handoff's (one per version) or an escalation's that created no handoff.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionOwner {
    Handoff { handoff_id: HandoffId },
    Event { event_id: EventId },
}

/// One decision as stored: lines for the timeline, effects for the outbox, and when each effect
/// was handed to its queue. An effect without a `sent` time is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub workspace_id: WorkspaceId,
    pub owner: DecisionOwner,
    /// For a handoff: the version this decision produced. 1 for an escalation's own record.
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default)]
    pub effects: Vec<Effect>,
    /// Effect id → when it was handed over.
    #[serde(default)]
    pub sent: BTreeMap<String, DateTime<Utc>>,
}

impl DecisionRecord {
    pub fn of_handoff(
        workspace_id: WorkspaceId,
        handoff_id: HandoffId,
        version: u64,
        at: DateTime<Utc>,
        timeline: Vec<TimelineEntry>,
        effects: Vec<Effect>,
    ) -> Self {
        Self {
            workspace_id,
            owner: DecisionOwner::Handoff { handoff_id },
            version,
            recorded_at: at,
            timeline,
            effects,
            sent: BTreeMap::new(),
        }
    }

    /// The effects not yet handed over, in decision order.
    pub fn pending(&self) -> Vec<&Effect> {
        self.effects.iter().filter(|e| !self.sent.contains_key(e.id())).collect()
    }

    /// The `seq` of this decision's first outbound event not yet handed over.
    pub fn first_unsent_seq(&self) -> Option<u64> {
        self.pending().into_iter().find_map(|e| match e {
            Effect::Outbound(ev) => Some(ev.seq),
            Effect::SetTimer(_) => None,
        })
    }

    /// The `seq` of this decision's last outbound event.
    pub fn last_seq(&self) -> Option<u64> {
        self.effects.iter().rev().find_map(|e| match e {
            Effect::Outbound(ev) => Some(ev.seq),
            Effect::SetTimer(_) => None,
        })
    }

    /// Where the handoff's `sent_seq` moves to once `newly_sent` effects are handed over too: the
    /// decision's last `seq`, if it belongs to a handoff and every one of its outbound events is
    /// then out.
    pub fn sent_seq_after(&self, newly_sent: &[String]) -> Option<(&HandoffId, u64)> {
        let DecisionOwner::Handoff { handoff_id } = &self.owner else { return None };
        let out = |id: &str| self.sent.contains_key(id) || newly_sent.iter().any(|s| s == id);
        let all_out = self.effects.iter().filter_map(Effect::outbound).all(|e| out(&e.event_id));
        all_out.then(|| self.last_seq().map(|last| (handoff_id, last))).flatten()
    }

    /// What an acknowledgement that the effects `sent` were handed over does to this decision:
    /// which of the ids to mark (those of its own effects, in the order given; an id already
    /// marked stays in, and marking it keeps its first time), whether every effect is then
    /// handed over (the decision leaves the pending set), and where its handoff's `sent_seq`
    /// moves ([`DecisionRecord::sent_seq_after`]).
    pub fn settle<'a>(&self, sent: &'a [String]) -> Settlement<'a> {
        let to_mark: Vec<&'a str> =
            sent.iter().map(String::as_str).filter(|id| self.effects.iter().any(|e| e.id() == *id)).collect();
        let settled = self.effects.iter().all(|e| self.sent.contains_key(e.id()) || to_mark.contains(&e.id()));
        let sent_seq = self.sent_seq_after(sent).map(|(handoff_id, last)| (handoff_id.clone(), last));
        Settlement { to_mark, settled, sent_seq }
    }

    /// May this decision's pending outbound events leave now, given that every event of its
    /// handoff up to `sent_seq` has? Only when none before them is still pending: events of one
    /// handoff leave in `seq` order. (An escalation's own record has no earlier events.)
    pub fn outbound_may_leave(&self, sent_seq: u64) -> bool {
        match (&self.owner, self.first_unsent_seq()) {
            (_, None) | (DecisionOwner::Event { .. }, _) => true,
            (DecisionOwner::Handoff { .. }, Some(first)) => first <= sent_seq + 1,
        }
    }

    /// Nothing to record: no timeline line, no effect (a read mark cleared).
    pub fn is_empty(&self) -> bool {
        self.timeline.is_empty() && self.effects.is_empty()
    }

    pub fn is_settled(&self) -> bool {
        self.effects.iter().all(|e| self.sent.contains_key(e.id()))
    }

    /// The lines this decision shows in a timeline: what was decided, then, at the time it
    /// happened, what was actually handed to a queue. "Verify the confirmation message" reads the
    /// second kind, so it cannot pass on a message that never left.
    pub fn shown_timeline(&self) -> Vec<TimelineEntry> {
        let mut lines = self.timeline.clone();
        for effect in &self.effects {
            let Some(at) = self.sent.get(effect.id()) else { continue };
            let event = match effect {
                Effect::Outbound(ev) => {
                    let decided = self.timeline.iter().find_map(|l| match &l.event {
                        TimelineEvent::MessageDecided { purpose, event_id, text } if *event_id == ev.event_id => {
                            Some((*purpose, text.clone()))
                        }
                        _ => None,
                    });
                    match decided {
                        Some((purpose, text)) => {
                            TimelineEvent::MessageSent { purpose, event_id: ev.event_id.clone(), text }
                        }
                        None => TimelineEvent::EventSent { event_type: ev.event_type, event_id: ev.event_id.clone() },
                    }
                }
                Effect::SetTimer(t) => TimelineEvent::TimerScheduled { timer_id: t.timer_id.clone(), kind: t.kind },
            };
            lines.push(TimelineEntry { at: *at, actor: Actor::System, event });
        }
        lines.sort_by_key(|l| l.at);
        lines
    }
}

/// What marking effects of a decision as handed over comes to ([`DecisionRecord::settle`]): every
/// store's `mark_sent` writes this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement<'a> {
    /// The ids to mark: those among the acknowledged that are effects of the decision.
    pub to_mark: Vec<&'a str>,
    /// Every effect of the decision is handed over once these are marked.
    pub settled: bool,
    /// The handoff's `sent_seq` moves to this (never backwards) once these are marked.
    pub sent_seq: Option<(HandoffId, u64)>,
}

impl super::handoff::Decision {
    /// What is recorded of this decision with the new state.
    pub fn record(&self) -> DecisionRecord {
        DecisionRecord::of_handoff(
            self.handoff.workspace_id.clone(),
            self.handoff.handoff_id.clone(),
            self.handoff.version,
            self.handoff.updated_at,
            self.timeline.clone(),
            self.effects.clone(),
        )
    }
}

impl super::escalation::EscalationDecision {
    /// What is recorded of this decision: under the new handoff (its version 1), or, when the
    /// escalation was declined, under the event. Nothing for `already_active`.
    pub fn decision_record(&self) -> Option<DecisionRecord> {
        match &self.created {
            Some(h) => Some(DecisionRecord::of_handoff(
                h.workspace_id.clone(),
                h.handoff_id.clone(),
                h.version,
                self.record.created_at,
                self.timeline.clone(),
                self.effects.clone(),
            )),
            None if !self.effects.is_empty() => Some(DecisionRecord {
                workspace_id: self.record.workspace_id.clone(),
                owner: DecisionOwner::Event { event_id: self.record.event_id.clone() },
                version: 1,
                recorded_at: self.record.created_at,
                timeline: self.timeline.clone(),
                effects: self.effects.clone(),
                sent: BTreeMap::new(),
            }),
            None => None,
        }
    }
}

/// The message a decision tells the customer first (a confirmation, an after-hours message), if
/// it tells them one.
pub fn customer_text(effects: &[Effect]) -> Option<&str> {
    effects.iter().filter_map(Effect::outbound).find_map(|e| e.text.as_deref())
}
