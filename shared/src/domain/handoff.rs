//! The handoff lifecycle (spec §5): states, commands, the pure `decide` function, the timeline,
//! and the effects a decision asks the outside world to carry out.

use super::ids::{Actor, ConversationId, EventId, HandoffId, TeamId, UserId, WorkspaceId};
use super::metrics::MetricsDelta;
use super::settings::{Message, StallFallback, VoiceTimeoutAction, WaitingPolicy};
use super::transcript::{LineKind, TranscriptLine};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum State {
    Waiting,
    Ringing,
    Assigned,
    Resolved,
    ReturnedToAi,
    Ended,
    RoutedToAi,
    /// The customer left before the handoff was over (spec §10).
    Abandoned,
    /// No one accepted in time; kept for the team to answer later (spec §11, `offer_ticket`).
    Ticketed,
}

impl State {
    /// Active handoffs are in the Inbox's default view and block a second handoff of the same
    /// conversation.
    pub fn is_active(self) -> bool {
        matches!(self, State::Waiting | State::Ringing | State::Assigned)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Channel {
    Chat,
    Voice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    RefundRequest,
    BillingIssue,
    DeliveryProblem,
    AccountAccess,
    SensitiveSituation,
    ComplexTroubleshooting,
    CustomerRequest,
    Other,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, strum::EnumIter, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// The customer, as the AI runtime describes them (optional; never logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Customer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The settings a handoff was started with. A saved settings change affects only escalations that
/// start after the save, so each handoff keeps what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffPolicy {
    pub confirmation_message: Message,
    pub stall_message: Message,
    pub stalling_time_seconds: u32,
    pub voice_ring_timeout_seconds: u32,
    pub voice_timeout_action: VoiceTimeoutAction,
    /// §11: repeated notices and the fallback (absent from handoffs started before it).
    #[serde(default)]
    pub waiting: WaitingPolicy,
}

/// What an agent (or the system) does to a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    Escalate,
    Accept,
    Assign,
    Resolve,
    ReturnToAi,
    StallTimer,
    RingTimer,
    /// The AI runtime forwarded a customer message.
    CustomerMessage,
    /// An agent replied to the customer.
    Reply,
    /// An internal note.
    Note,
    /// The assignee read the transcript.
    Read,
    /// The customer left.
    EndConversation,
    /// Moved to another team's queue (spec §12).
    Transfer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MessagePurpose {
    Confirmation,
    Stall,
    /// The waiting policy's fallback message.
    Fallback,
    /// The after-hours message, instead of the confirmation (spec §11).
    AfterHours,
    /// An agent's reply.
    Reply,
}

/// Outbound event types (spec §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OutboundType {
    CustomerMessage,
    AgentJoined,
    RouteToAi,
    ReturnToAi,
    EndCall,
    HandoffDeclined,
    HandoffResolved,
    /// An agent's reply for the customer (with `text` and `agent_id`).
    AgentMessage,
    /// No one accepted in time: the AI runtime offers the customer a ticket (spec §11).
    TicketRequested,
}

/// An event for the AI runtime and channels (spec §8). Its `event_id` is stable across retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: OutboundType,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub handoff_id: Option<HandoffId>,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The agent who wrote an `agent_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<UserId>,
    pub occurred_at: DateTime<Utc>,
    /// Its position among the events of its handoff (1, 2, 3, …), assigned when decided and kept
    /// on every re-send, so a consumer can order and de-duplicate by itself. An event without a
    /// handoff (a declined escalation) is 1.
    #[serde(default)]
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TimerKind {
    Stall,
    Ring,
}

/// A timer and what it was set for. Timers are never trusted to be cancelled: the callback
/// compares `set_at_version` with the handoff's current version before acting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerMessage {
    pub timer_id: String,
    pub kind: TimerKind,
    pub workspace_id: WorkspaceId,
    pub handoff_id: HandoffId,
    pub set_at_version: u64,
    pub due_at: DateTime<Utc>,
    /// The handoff as it was at `set_at_version`. The callback may decide on it instead of reading
    /// the handoff, because its write is conditional on that version: if the handoff moved on,
    /// the write fails and the timer has nothing to do. Left out where the carrier is small
    /// (a Scheduler target's input), and then the callback reads the handoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Box<Handoff>>,
}

/// Something a decision asks the world to do after the state change is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Outbound(OutboundEvent),
    SetTimer(TimerMessage),
}

impl Effect {
    /// The timer, if this effect sets one.
    pub fn timer(&self) -> Option<&TimerMessage> {
        match self {
            Effect::SetTimer(t) => Some(t),
            Effect::Outbound(_) => None,
        }
    }

    /// The outbound event, if this effect is one.
    pub fn outbound(&self) -> Option<&OutboundEvent> {
        match self {
            Effect::Outbound(e) => Some(e),
            Effect::SetTimer(_) => None,
        }
    }

    /// The stable id of this effect (the outbound event id or the timer id).
    pub fn id(&self) -> &str {
        match self {
            Effect::Outbound(e) => &e.event_id,
            Effect::SetTimer(t) => &t.timer_id,
        }
    }
}

/// One line of a handoff's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(flatten)]
    pub event: TimelineEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The handoff was created by an escalation.
    Escalated { event_id: EventId, state: State, reason: Reason, channel: Channel },
    /// A state transition (or a noted stall, which keeps the state).
    Transition {
        action: Action,
        from: State,
        to: State,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<UserId>,
    },
    /// A message to the customer was decided (recorded with the state change, sent afterwards).
    MessageDecided { purpose: MessagePurpose, event_id: String, text: String },
    /// An outbound event for the AI runtime was decided.
    EventDecided { event_type: OutboundType, event_id: String },
    /// A timer was decided.
    TimerSet { timer_id: String, kind: TimerKind, due_at: DateTime<Utc> },
    /// The message was handed to the outbound queue (shown from the outbox's acknowledgement).
    MessageSent { purpose: MessagePurpose, event_id: String, text: String },
    /// The outbound event was handed to the outbound queue.
    EventSent { event_type: OutboundType, event_id: String },
    /// The timer was handed to the timer queue or scheduler.
    TimerScheduled { timer_id: String, kind: TimerKind },
    /// A customer message joined the transcript (its text is in the transcript only).
    MessageReceived { message_id: String },
    /// The handoff moved to another team's queue.
    Transferred {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_team_id: Option<TeamId>,
        team_id: TeamId,
    },
    /// An internal note joined the transcript.
    NoteAdded { message_id: String },
}

/// A conversation handed from the AI to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub handoff_id: HandoffId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    pub reason: Reason,
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    pub state: State,
    pub assignee: Option<UserId>,
    /// The team whose queue it is in (spec §12): set by the routing rules at escalation, changed
    /// only by a transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<TeamId>,
    /// The team the rules chose at escalation, whatever transfers followed: the figures of a
    /// handoff count for that team (so each team's rates add up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_team_id: Option<TeamId>,
    /// When it was first accepted (for the time-to-accept figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
    pub stall_notified: bool,
    /// How many times the stall notice was repeated after the first (spec §11).
    #[serde(default)]
    pub stall_repeats: u32,
    /// Customer messages arrived that the assignee has not read yet.
    #[serde(default)]
    pub unread: bool,
    /// 1 when created; +1 on every change. Every write is conditional on it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub origin_event_id: EventId,
    pub policy: HandoffPolicy,
    /// The `seq` of the last outbound event decided for this handoff.
    #[serde(default)]
    pub seq: u64,
    /// The version whose timers are the live ones: set by every change that sets or outdates
    /// timers (an escalation, a transition, a stall notice). Customer messages, replies, notes and
    /// reads leave it, so they do not silence a pending stall or ring timer. Absent (handoffs
    /// stored before it): the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers_at: Option<u64>,
    /// Every outbound event of this handoff up to this `seq` has been handed to the outbound
    /// queue. An event is only sent once all before it are: events of one conversation leave in
    /// the order they were decided. Advanced by the outbox acknowledgement, not by decisions.
    #[serde(default)]
    pub sent_seq: u64,
}

impl Handoff {
    /// The version a timer must have been set at to act (see `timers_at`).
    pub fn timer_version(&self) -> u64 {
        self.timers_at.unwrap_or(self.version)
    }
}

/// A command applied to a handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An agent accepts (or the voice platform reports the agent answered).
    Accept {
        by: UserId,
    },
    /// Reassign an assigned handoff to a teammate.
    Assign {
        by: UserId,
        assignee: UserId,
    },
    Resolve {
        by: UserId,
    },
    ReturnToAi {
        by: UserId,
    },
    /// The stall timer set at `set_at_version` fired.
    StallTimerFired {
        set_at_version: u64,
    },
    /// The ring timer set at `set_at_version` fired.
    RingTimerFired {
        set_at_version: u64,
    },
    /// The AI runtime forwarded what the customer said.
    CustomerMessage {
        message_id: EventId,
        text: String,
        sent_at: DateTime<Utc>,
    },
    /// An agent (the assignee, or an admin) answers the customer.
    Reply {
        by: UserId,
        admin: bool,
        text: String,
        client_message_id: Option<EventId>,
    },
    /// An internal note, never sent.
    AddNote {
        by: UserId,
        text: String,
    },
    /// `by` read the transcript: clears the unread mark if `by` is the assignee.
    MarkRead {
        by: UserId,
    },
    /// The customer left.
    ConversationEnded,
    /// Move the handoff to `team_id`'s queue: unassigned and waiting if it was assigned, in its
    /// place in queue order otherwise.
    Transfer {
        by: UserId,
        team_id: TeamId,
    },
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::Accept { .. } => Action::Accept,
            Command::Assign { .. } => Action::Assign,
            Command::Resolve { .. } => Action::Resolve,
            Command::ReturnToAi { .. } => Action::ReturnToAi,
            Command::StallTimerFired { .. } => Action::StallTimer,
            Command::RingTimerFired { .. } => Action::RingTimer,
            Command::CustomerMessage { .. } => Action::CustomerMessage,
            Command::Reply { .. } => Action::Reply,
            Command::AddNote { .. } => Action::Note,
            Command::MarkRead { .. } => Action::Read,
            Command::ConversationEnded => Action::EndConversation,
            Command::Transfer { .. } => Action::Transfer,
        }
    }

    /// A turn of the conversation (what the customer or the agent says, or a note beside it).
    pub fn is_conversation_turn(&self) -> bool {
        matches!(self, Command::CustomerMessage { .. } | Command::Reply { .. } | Command::AddNote { .. })
    }

    /// The key that makes a repeat of this command do nothing: a customer message's
    /// `message_id`, a reply's author and `client_message_id`.
    pub fn idempotency_key(&self) -> Option<String> {
        match self {
            Command::CustomerMessage { message_id, .. } => Some(format!("customer:{message_id}")),
            // Per author: another agent's reply with the same client id is not a repeat.
            Command::Reply { by, client_message_id: Some(id), .. } => Some(format!("reply:{by}:{id}")),
            _ => None,
        }
    }
}

/// The result of a command that changes the handoff: its new state (version + 1), the timeline
/// lines of this change, and the effects to carry out once that state is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub handoff: Handoff,
    pub timeline: Vec<TimelineEntry>,
    pub effects: Vec<Effect>,
    /// The lines this change adds to the transcript, in order.
    pub transcript: Vec<TranscriptLine>,
    /// What this change adds to the workspace's figures (spec §13), written with it.
    pub metrics: MetricsDelta,
}

/// Why a command does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("cannot {action} a handoff that is {state}")]
    IllegalTransition { state: State, action: Action },
    #[error("the handoff is assigned to someone else")]
    AssignedToSomeoneElse,
    /// Only the assignee (or an admin) may answer the customer.
    #[error("only the agent the handoff is assigned to (or an admin) may reply")]
    NotTheAssignee,
    /// The conversation has no active handoff (it is over, or was never handed off).
    #[error("the conversation has no active handoff")]
    NoActiveHandoff,
}

/// What a command leads to. (Decisions are short-lived values; boxing them buys nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handoff changes.
    Changed(Decision),
    /// Nothing to do: a repeated request already applied (same agent accepting again), or a timer
    /// that finds the handoff moved on.
    Unchanged,
}

/// Builds the effects and timeline lines of one decision with stable ids:
/// `<handoff_id>:v<version>:<n>` where `version` is the version the decision produces.
pub(crate) struct EffectBuilder<'a> {
    pub handoff: &'a mut Handoff,
    pub timeline: Vec<TimelineEntry>,
    pub effects: Vec<Effect>,
    pub transcript: Vec<TranscriptLine>,
    pub now: DateTime<Utc>,
    pub actor: Actor,
}

impl<'a> EffectBuilder<'a> {
    fn next_id(&self) -> String {
        format!("{}:v{}:{}", self.handoff.handoff_id, self.handoff.version, self.effects.len())
    }

    pub fn note(&mut self, event: TimelineEvent) {
        self.timeline.push(TimelineEntry { at: self.now, actor: self.actor.clone(), event });
    }

    /// A line of the transcript.
    pub fn line(&mut self, message_id: String, author: Actor, kind: LineKind, text: &str, at: DateTime<Utc>) {
        self.transcript.push(TranscriptLine { message_id, author, kind, text: text.to_string(), at });
    }

    /// An outbound event; one with a text for the customer (from the system) is also a
    /// transcript line.
    pub fn outbound(&mut self, event_type: OutboundType, text: Option<(MessagePurpose, &str)>) {
        self.send(event_type, text, None);
    }

    /// An agent's reply: an `agent_message` event and the agent's transcript line.
    pub fn agent_message(&mut self, by: &UserId, text: &str) {
        self.send(OutboundType::AgentMessage, Some((MessagePurpose::Reply, text)), Some(by));
    }

    fn send(&mut self, event_type: OutboundType, text: Option<(MessagePurpose, &str)>, agent: Option<&UserId>) {
        let event_id = self.next_id();
        self.handoff.seq += 1;
        let h = &*self.handoff;
        let ev = OutboundEvent {
            event_id: event_id.clone(),
            event_type,
            workspace_id: h.workspace_id.clone(),
            conversation_id: h.conversation_id.clone(),
            handoff_id: Some(h.handoff_id.clone()),
            channel: h.channel,
            text: text.map(|(_, t)| t.to_string()),
            agent_id: agent.cloned(),
            occurred_at: self.now,
            seq: h.seq,
        };
        self.effects.push(Effect::Outbound(ev));
        match text {
            Some((purpose, t)) => {
                let author = agent.map(|a| Actor::Agent(a.clone())).unwrap_or(Actor::System);
                self.line(event_id.clone(), author, LineKind::Message, t, self.now);
                self.note(TimelineEvent::MessageDecided { purpose, event_id, text: t.to_string() })
            }
            None => self.note(TimelineEvent::EventDecided { event_type, event_id }),
        }
    }

    pub fn timer(&mut self, kind: TimerKind, after_seconds: u32) {
        let h = &*self.handoff;
        let timer_id = format!("{}:{}:v{}", kind.as_str(), h.handoff_id, h.version);
        let due_at = self.now + Duration::seconds(after_seconds as i64);
        let t = TimerMessage {
            timer_id: timer_id.clone(),
            kind,
            workspace_id: h.workspace_id.clone(),
            handoff_id: h.handoff_id.clone(),
            set_at_version: h.version,
            due_at,
            // Filled in by `finish`, once the decision's handoff is complete.
            snapshot: None,
        };
        self.effects.push(Effect::SetTimer(t));
        self.note(TimelineEvent::TimerSet { timer_id, kind, due_at });
    }

    /// The decision's timeline lines and effects. Each timer carries the handoff as it will be
    /// once this decision's events are handed over (the usual case when the timer fires); if they
    /// are not, the timer's conditional write fails and it decides again on the stored handoff.
    pub fn finish(self) -> (Vec<TimelineEntry>, Vec<Effect>, Vec<TranscriptLine>) {
        let mut expected = self.handoff.clone();
        expected.sent_seq = expected.seq;
        let mut effects = self.effects;
        for e in &mut effects {
            if let Effect::SetTimer(t) = e {
                t.snapshot = Some(Box::new(expected.clone()));
            }
        }
        (self.timeline, effects, self.transcript)
    }
}

fn actor_of(cmd: &Command) -> Actor {
    match cmd {
        Command::Accept { by }
        | Command::Assign { by, .. }
        | Command::Resolve { by }
        | Command::ReturnToAi { by }
        | Command::Reply { by, .. }
        | Command::AddNote { by, .. }
        | Command::MarkRead { by }
        | Command::Transfer { by, .. } => Actor::Agent(by.clone()),
        Command::StallTimerFired { .. } | Command::RingTimerFired { .. } => Actor::System,
        Command::CustomerMessage { .. } => Actor::Customer,
        Command::ConversationEnded => Actor::Ai,
    }
}

/// The handoff state machine: every rule of spec §5 lives here.
pub fn decide(h: &Handoff, cmd: &Command, now: DateTime<Utc>) -> Result<Outcome, Rejection> {
    use State::*;
    let illegal = || Rejection::IllegalTransition { state: h.state, action: cmd.action() };

    // What the command does, before any change is made.
    enum Plan {
        To(State, Option<UserId>),
        Stall,
        /// Still waiting one interval after the last notice: the waiting policy's fallback.
        Fallback(State),
        /// The handoff keeps its state; the command adds to the transcript or the read mark.
        Keep,
        /// Another team's queue; an assigned handoff waits again.
        Transfer(TeamId),
    }
    let plan = match (cmd, h.state) {
        (Command::Accept { by }, Waiting | Ringing) => Plan::To(Assigned, Some(by.clone())),
        (Command::Accept { by }, Assigned) if h.assignee.as_ref() == Some(by) => return Ok(Outcome::Unchanged),
        (Command::Accept { .. }, Assigned) => return Err(Rejection::AssignedToSomeoneElse),
        (Command::Assign { assignee, .. }, Assigned) => {
            if h.assignee.as_ref() == Some(assignee) {
                return Ok(Outcome::Unchanged);
            }
            Plan::To(Assigned, Some(assignee.clone()))
        }
        (Command::Resolve { .. }, Assigned) => Plan::To(Resolved, h.assignee.clone()),
        // A ticket is answered outside the chat; closing it is a resolve by whoever answered.
        (Command::Resolve { by }, Ticketed) => Plan::To(Resolved, Some(by.clone())),
        (Command::ReturnToAi { .. }, Waiting | Ringing | Assigned) => Plan::To(ReturnedToAi, h.assignee.clone()),
        (Command::StallTimerFired { set_at_version }, Waiting) if *set_at_version == h.timer_version() => {
            let w = &h.policy.waiting;
            let repeats_left = w.stall_repeat_seconds.is_some() && h.stall_repeats < w.stall_repeat_max;
            match (h.stall_notified, repeats_left, w.stall_fallback) {
                (false, _, _) | (true, true, _) => Plan::Stall,
                (true, false, StallFallback::ReturnToAi) => Plan::Fallback(ReturnedToAi),
                (true, false, StallFallback::OfferTicket) => Plan::Fallback(Ticketed),
                // Keep waiting: nothing more is sent (no timer asks for this; a stray one does nothing).
                (true, false, StallFallback::KeepWaiting) => return Ok(Outcome::Unchanged),
            }
        }
        (Command::RingTimerFired { set_at_version }, Ringing) if *set_at_version == h.timer_version() => {
            match h.policy.voice_timeout_action {
                VoiceTimeoutAction::ReturnToAi => Plan::To(ReturnedToAi, None),
                VoiceTimeoutAction::EndCall => Plan::To(Ended, None),
            }
        }
        // A timer that finds the handoff moved on does nothing.
        (Command::StallTimerFired { .. } | Command::RingTimerFired { .. }, _) => return Ok(Outcome::Unchanged),
        (Command::CustomerMessage { .. }, s) if s.is_active() => Plan::Keep,
        (Command::ConversationEnded, s) if s.is_active() => Plan::To(Abandoned, h.assignee.clone()),
        (Command::CustomerMessage { .. } | Command::ConversationEnded, _) => return Err(Rejection::NoActiveHandoff),
        (Command::Reply { by, admin, .. }, Assigned) if *admin || h.assignee.as_ref() == Some(by) => Plan::Keep,
        (Command::Reply { .. }, Assigned) => return Err(Rejection::NotTheAssignee),
        (Command::AddNote { .. }, _) => Plan::Keep,
        (Command::MarkRead { by }, _) if h.unread && h.assignee.as_ref() == Some(by) => Plan::Keep,
        (Command::MarkRead { .. }, _) => return Ok(Outcome::Unchanged),
        (Command::Transfer { team_id, .. }, Waiting | Ringing | Assigned) => {
            if h.team_id.as_ref() == Some(team_id) && h.state != Assigned {
                return Ok(Outcome::Unchanged);
            }
            Plan::Transfer(team_id.clone())
        }
        _ => return Err(illegal()),
    };

    let mut next = h.clone();
    next.version = h.version + 1;
    next.updated_at = now;
    // A change of state (or a notice) outdates the timers set before it; the conversation's own
    // traffic does not.
    let keeps_timers = match &plan {
        Plan::Keep => true,
        // Moving queues keeps a waiting or ringing handoff's place, and its timers.
        Plan::Transfer(_) => h.state != Assigned,
        _ => false,
    };
    next.timers_at = Some(if keeps_timers { h.timer_version() } else { next.version });
    let from = h.state;
    let mut b = EffectBuilder {
        handoff: &mut next,
        timeline: Vec::new(),
        effects: Vec::new(),
        transcript: Vec::new(),
        now,
        actor: actor_of(cmd),
    };
    match plan {
        Plan::Keep => match cmd {
            Command::CustomerMessage { message_id, text, sent_at } => {
                b.handoff.unread = true;
                b.line(message_id.to_string(), Actor::Customer, LineKind::Message, text, *sent_at);
                b.note(TimelineEvent::MessageReceived { message_id: message_id.to_string() });
            }
            Command::Reply { by, text, .. } => {
                if b.handoff.assignee.as_ref() == Some(by) {
                    b.handoff.unread = false;
                }
                b.agent_message(by, text);
            }
            Command::AddNote { by, text } => {
                let message_id = format!("{}:v{}:note", b.handoff.handoff_id, b.handoff.version);
                b.line(message_id.clone(), Actor::Agent(by.clone()), LineKind::Note, text, now);
                b.note(TimelineEvent::NoteAdded { message_id });
            }
            _ => b.handoff.unread = false,
        },
        Plan::Stall => {
            if b.handoff.stall_notified {
                b.handoff.stall_repeats += 1;
            }
            b.handoff.stall_notified = true;
            b.note(TimelineEvent::Transition { action: Action::StallTimer, from, to: from, assignee: None });
            let msg = b.handoff.policy.stall_message.clone();
            b.outbound(OutboundType::CustomerMessage, Some((MessagePurpose::Stall, msg.as_str())));
            // What follows this notice: a repeat, or the fallback one interval later, or nothing.
            let (w, stalling) = (b.handoff.policy.waiting.clone(), b.handoff.policy.stalling_time_seconds);
            let repeats_left = w.stall_repeat_seconds.is_some() && b.handoff.stall_repeats < w.stall_repeat_max;
            let interval = w.stall_repeat_seconds.map(|r| r.seconds()).unwrap_or(stalling);
            if repeats_left || w.stall_fallback != StallFallback::KeepWaiting {
                b.timer(TimerKind::Stall, interval);
            }
        }
        Plan::Transfer(team_id) => {
            let from_team_id = b.handoff.team_id.replace(team_id.clone());
            b.note(TimelineEvent::Transferred { from_team_id, team_id });
            if from == Assigned {
                b.handoff.state = Waiting;
                b.handoff.assignee = None;
                b.note(TimelineEvent::Transition { action: Action::Transfer, from, to: Waiting, assignee: None });
                // Waiting again: the stall timer starts over (a call waits too; it is not rung
                // again).
                let stalling = b.handoff.policy.stalling_time_seconds;
                b.timer(TimerKind::Stall, stalling);
            }
        }
        Plan::Fallback(to) => {
            b.handoff.state = to;
            b.note(TimelineEvent::Transition { action: Action::StallTimer, from, to, assignee: None });
            let msg = b.handoff.policy.waiting.stall_fallback_message.clone();
            let event = if to == Ticketed { OutboundType::TicketRequested } else { OutboundType::ReturnToAi };
            b.outbound(event, None);
            b.outbound(OutboundType::CustomerMessage, Some((MessagePurpose::Fallback, msg.as_str())));
        }
        Plan::To(to, assignee) => {
            b.handoff.state = to;
            b.handoff.assignee = assignee.clone();
            if matches!(cmd, Command::Accept { .. }) && b.handoff.accepted_at.is_none() {
                b.handoff.accepted_at = Some(now);
            }
            b.note(TimelineEvent::Transition { action: cmd.action(), from, to, assignee });
            match (cmd, to) {
                (Command::Accept { .. }, _) => b.outbound(OutboundType::AgentJoined, None),
                (Command::Resolve { .. }, _) => b.outbound(OutboundType::HandoffResolved, None),
                (_, ReturnedToAi) => b.outbound(OutboundType::ReturnToAi, None),
                (_, Ended) => b.outbound(OutboundType::EndCall, None),
                _ => {}
            }
        }
    }
    let (timeline, effects, transcript) = b.finish();
    let metrics = metrics_of(h, &next, cmd, now);
    Ok(Outcome::Changed(Decision { handoff: next, timeline, effects, transcript, metrics }))
}

/// What a change from `before` to `after` adds to the figures of the day `before` was created.
fn metrics_of(before: &Handoff, after: &Handoff, cmd: &Command, now: DateTime<Utc>) -> MetricsDelta {
    use super::metrics as m;
    let team = after.routed_team_id.clone().or_else(|| after.team_id.clone());
    let mut d = MetricsDelta::new(before.created_at, after.reason, after.channel, team);
    let since_created = (now - before.created_at).num_seconds().max(0) as u64;
    if after.stall_notified
        && (after.stall_repeats, after.stall_notified) != (before.stall_repeats, before.stall_notified)
    {
        d.add(m::STALL_NOTICES);
    }
    if before.accepted_at.is_none() && after.accepted_at.is_some() {
        d.observe(m::Timing::ToAccept, since_created);
    }
    if before.state.is_active() && !after.state.is_active() {
        d.add(m::final_state_counter(after.state));
        match (cmd, after.state) {
            (_, State::Abandoned) if before.accepted_at.is_none() => d.add(m::ABANDONED_BEFORE_ACCEPT),
            (_, State::Resolved) => d.observe(m::Timing::ToResolve, since_created),
            (Command::ReturnToAi { .. }, _) => d.add(m::RETURNED_BY_AGENT),
            (Command::RingTimerFired { .. }, _) => d.add(m::RING_TIMEOUTS),
            _ => {}
        }
    } else if before.state == State::Ticketed && after.state == State::Resolved {
        // A ticket answered later: its final state moves from ticketed to resolved.
        d.add_n(m::final_state_counter(State::Ticketed), -1);
        d.add(m::final_state_counter(State::Resolved));
        d.observe(m::Timing::ToResolve, since_created);
    }
    d
}
