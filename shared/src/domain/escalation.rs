//! Escalations (spec §4): the request parser and the decision of its outcome.

use super::handoff::{
    Channel, Customer, Effect, EffectBuilder, Handoff, HandoffPolicy, MessagePurpose, OutboundEvent, OutboundType,
    Priority, Reason, State, TimelineEntry, TimelineEvent, TimerKind,
};
use super::hours::AfterHoursChat;
use super::ids::{Actor, ConversationId, EventId, HandoffId, TeamId, WorkspaceId};
use super::metrics::MetricsDelta;
use super::settings::{Routing, Settings, VoiceTimeoutAction};
use super::teams::Teams;
use super::transcript::{parse_transcript, LineKind, TranscriptEntry, TranscriptLine};
use super::validation::{as_str, one_of, reject_unknown, Errors, FieldError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const MAX_SUMMARY_CHARS: usize = 4000;
pub const MAX_CUSTOMER_FIELD_CHARS: usize = 256;
/// How long a processed `event_id` is remembered (the spec asks for at least 24 hours).
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 72;

/// A validated escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRequest {
    pub event_id: EventId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    pub reason: Reason,
    pub summary: Option<String>,
    pub customer: Option<Customer>,
    pub priority: Priority,
    /// Up to 50 earlier messages: the start of the handoff's transcript.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<TranscriptEntry>,
}

impl EscalationRequest {
    /// An escalation with the required fields only (normal priority, nothing else known).
    pub fn new(
        event_id: EventId,
        workspace_id: WorkspaceId,
        conversation_id: ConversationId,
        channel: Channel,
        reason: Reason,
    ) -> Self {
        Self {
            event_id,
            workspace_id,
            conversation_id,
            channel,
            reason,
            summary: None,
            customer: None,
            priority: Priority::Normal,
            transcript: Vec::new(),
        }
    }
}

/// Where an escalation came from: over HTTP the workspace and conversation come from the path.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    Http { workspace_id: &'a WorkspaceId, conversation_id: &'a ConversationId },
    Queue,
}

const FIELDS: [&str; 9] = [
    "event_id",
    "workspace_id",
    "conversation_id",
    "channel",
    "reason",
    "summary",
    "customer",
    "priority",
    "transcript",
];

fn path_bound<T: Clone>(
    errs: &mut Errors,
    field: &str,
    body: Option<&Value>,
    from_path: Option<&T>,
    parse: impl Fn(String) -> Result<T, String>,
    as_string: impl Fn(&T) -> &str,
) -> Option<T> {
    match (body, from_path) {
        (None, Some(p)) => Some(p.clone()),
        (Some(v), Some(p)) => {
            if v.as_str() == Some(as_string(p)) {
                Some(p.clone())
            } else {
                errs.push(field, "must match the path (or be left out)");
                None
            }
        }
        (None, None) => {
            errs.push(field, "is required");
            None
        }
        (Some(v), None) => errs.take(field, as_str(v).map(str::to_owned).and_then(&parse)),
    }
}

fn optional_text(errs: &mut Errors, field: &str, v: Option<&Value>, max: usize) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => errs.take(
            field,
            as_str(v).and_then(|s| {
                let n = s.chars().count();
                if n > max {
                    Err(format!("must be at most {max} characters (got {n})"))
                } else {
                    Ok(s.to_string())
                }
            }),
        ),
    }
}

/// Reads an escalation body, reporting every failing field.
pub fn parse_escalation(doc: &Value, source: Source<'_>) -> Result<EscalationRequest, Vec<FieldError>> {
    let Some(obj) = doc.as_object() else {
        return Err(vec![FieldError::new("", "the escalation must be a JSON object")]);
    };
    let mut errs = Errors::default();
    reject_unknown(obj, &FIELDS, "", &mut errs);
    let (path_ws, path_conv) = match &source {
        Source::Http { workspace_id, conversation_id } => (Some(*workspace_id), Some(*conversation_id)),
        Source::Queue => (None, None),
    };
    let event_id = match obj.get("event_id") {
        None => {
            errs.push("event_id", "is required");
            None
        }
        Some(v) => errs.take("event_id", as_str(v).and_then(EventId::parse)),
    };
    let workspace_id =
        path_bound(&mut errs, "workspace_id", obj.get("workspace_id"), path_ws, WorkspaceId::parse, |w| w.as_str());
    let conversation_id =
        path_bound(&mut errs, "conversation_id", obj.get("conversation_id"), path_conv, ConversationId::parse, |c| {
            c.as_str()
        });
    let channel = match obj.get("channel") {
        None => {
            errs.push("channel", "is required");
            None
        }
        Some(v) => errs.take("channel", one_of(v, Channel::parse, &Channel::names())),
    };
    let reason = match obj.get("reason") {
        None => {
            errs.push("reason", "is required");
            None
        }
        Some(v) => errs.take("reason", one_of(v, Reason::parse, &Reason::names())),
    };
    let summary = optional_text(&mut errs, "summary", obj.get("summary"), MAX_SUMMARY_CHARS);
    let priority = match obj.get("priority") {
        None | Some(Value::Null) => Some(Priority::Normal),
        Some(v) => errs.take("priority", one_of(v, Priority::parse, &Priority::names())),
    };
    let customer = match obj.get("customer") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => {
            reject_unknown(c, &["id", "name", "email"], "customer.", &mut errs);
            let id = optional_text(&mut errs, "customer.id", c.get("id"), MAX_CUSTOMER_FIELD_CHARS);
            let name = optional_text(&mut errs, "customer.name", c.get("name"), MAX_CUSTOMER_FIELD_CHARS);
            let email = optional_text(&mut errs, "customer.email", c.get("email"), MAX_CUSTOMER_FIELD_CHARS);
            Some(Customer { id, name, email })
        }
        Some(other) => {
            errs.push("customer", format!("must be an object, got {}", super::validation::json_type(other)));
            None
        }
    };
    let transcript = parse_transcript(obj.get("transcript"), &mut errs);
    errs.finish(|| EscalationRequest {
        event_id: event_id.unwrap(),
        workspace_id: workspace_id.unwrap(),
        conversation_id: conversation_id.unwrap(),
        channel: channel.unwrap(),
        reason: reason.unwrap(),
        summary,
        customer,
        priority: priority.unwrap(),
        transcript,
    })
}

/// The outcomes of an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationOutcome {
    Disabled,
    RoutedToAi,
    Queued,
    Ringing,
    AlreadyActive,
    /// Outside business hours (spec §11): no Inbox entry; the customer gets the after-hours
    /// message and goes back to the AI (or the call ends).
    AfterHours,
}

/// What is remembered of a processed `event_id`, so a redelivery returns the first outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub workspace_id: WorkspaceId,
    pub event_id: EventId,
    pub conversation_id: ConversationId,
    pub outcome: EscalationOutcome,
    pub handoff_id: Option<HandoffId>,
    pub created_at: DateTime<Utc>,
    /// After this the record may be forgotten (DynamoDB TTL).
    pub expires_at: DateTime<Utc>,
}

/// The decision on an escalation: its outcome, the handoff it creates (if any), and the effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationDecision {
    pub record: EscalationRecord,
    /// The new handoff, when this escalation creates one.
    pub created: Option<Handoff>,
    /// The first timeline lines of the new handoff.
    pub timeline: Vec<TimelineEntry>,
    pub effects: Vec<Effect>,
    /// The start of the new handoff's transcript: the escalation's earlier messages, then the
    /// confirmation.
    pub transcript: Vec<TranscriptLine>,
    /// What this escalation adds to the workspace's figures (spec §13).
    pub metrics: MetricsDelta,
}

/// What an escalation adds to the figures of its day (spec §13).
fn escalation_figures(
    req: &EscalationRequest,
    outcome: EscalationOutcome,
    team: Option<TeamId>,
    now: DateTime<Utc>,
) -> MetricsDelta {
    use super::metrics as m;
    let mut delta = MetricsDelta::new(now, req.reason, req.channel, team);
    delta.add(m::escalation_counter(outcome));
    match outcome {
        EscalationOutcome::Queued | EscalationOutcome::Ringing => delta.add(m::QUEUED_OR_RINGING),
        EscalationOutcome::RoutedToAi => delta.add(m::final_state_counter(State::RoutedToAi)),
        _ => {}
    }
    delta
}

/// Decides an escalation from the workspace's settings and teams at this moment and the
/// conversation's active handoff (if any). Pure: ids and time come in as arguments.
pub fn decide_escalation(
    settings: &Settings,
    teams: &Teams,
    req: &EscalationRequest,
    actor: Actor,
    active: Option<&Handoff>,
    new_id: HandoffId,
    now: DateTime<Utc>,
) -> EscalationDecision {
    let record = |outcome, handoff_id| EscalationRecord {
        workspace_id: req.workspace_id.clone(),
        event_id: req.event_id.clone(),
        conversation_id: req.conversation_id.clone(),
        outcome,
        handoff_id,
        created_at: now,
        expires_at: now + Duration::hours(IDEMPOTENCY_WINDOW_HOURS),
    };
    if let Some(h) = active {
        return EscalationDecision {
            record: record(EscalationOutcome::AlreadyActive, Some(h.handoff_id.clone())),
            created: None,
            timeline: vec![],
            effects: vec![],
            transcript: vec![],
            metrics: escalation_figures(req, EscalationOutcome::AlreadyActive, None, now),
        };
    }
    // An event with no handoff (Human Handoff off, or after hours): `<workspace>:<event>:<what>`.
    let event = |n: usize, what: &str, event_type, text: Option<&str>| {
        let suffix = if n == 0 { what.to_string() } else { format!("{what}:{n}") };
        Effect::Outbound(OutboundEvent {
            event_id: format!("{}:{}:{suffix}", req.workspace_id, req.event_id),
            event_type,
            workspace_id: req.workspace_id.clone(),
            conversation_id: req.conversation_id.clone(),
            handoff_id: None,
            channel: req.channel,
            text: text.map(str::to_string),
            agent_id: None,
            occurred_at: now,
            seq: n as u64 + 1,
        })
    };
    let no_handoff = |outcome, effects| EscalationDecision {
        record: record(outcome, None),
        created: None,
        timeline: vec![],
        effects,
        transcript: vec![],
        metrics: escalation_figures(req, outcome, None, now),
    };
    if !settings.enabled {
        return no_handoff(
            EscalationOutcome::Disabled,
            vec![event(0, "declined", OutboundType::HandoffDeclined, None)],
        );
    }
    // Outside business hours (people only: routing to the AI does not depend on them).
    let closed = match &settings.business_hours {
        Some(h) if settings.routing == Routing::Human && !h.is_open(now) => Some(h),
        _ => None,
    };
    if let Some(h) = closed {
        let msg = Some(h.after_hours_message.as_str());
        match (req.channel, h.after_hours_chat) {
            (Channel::Chat, AfterHoursChat::ReturnToAi) => {
                return no_handoff(
                    EscalationOutcome::AfterHours,
                    vec![event(0, "after_hours", OutboundType::RouteToAi, msg)],
                )
            }
            (Channel::Voice, _) => {
                let then = match settings.voice_timeout_action {
                    VoiceTimeoutAction::ReturnToAi => OutboundType::ReturnToAi,
                    VoiceTimeoutAction::EndCall => OutboundType::EndCall,
                };
                return no_handoff(
                    EscalationOutcome::AfterHours,
                    vec![
                        event(0, "after_hours", OutboundType::CustomerMessage, msg),
                        event(1, "after_hours", then, None),
                    ],
                );
            }
            // Queued: below, with the after-hours message and the stall timer from the opening.
            (Channel::Chat, AfterHoursChat::Queue) => {}
        }
    }
    let (outcome, state) = match (settings.routing, req.channel) {
        (Routing::Ai, _) => (EscalationOutcome::RoutedToAi, State::RoutedToAi),
        (Routing::Human, Channel::Chat) => (EscalationOutcome::Queued, State::Waiting),
        (Routing::Human, Channel::Voice) => (EscalationOutcome::Ringing, State::Ringing),
    };
    // People's queues only: a handoff routed to the AI is no team's.
    let team = if state == State::RoutedToAi { None } else { teams.route(req.reason, req.channel, req.priority) };
    let mut h = Handoff {
        handoff_id: new_id.clone(),
        workspace_id: req.workspace_id.clone(),
        conversation_id: req.conversation_id.clone(),
        channel: req.channel,
        reason: req.reason,
        priority: req.priority,
        summary: req.summary.clone(),
        customer: req.customer.clone(),
        state,
        assignee: None,
        team_id: team.clone(),
        routed_team_id: team.clone(),
        accepted_at: None,
        stall_notified: false,
        stall_repeats: 0,
        unread: false,
        timers_at: Some(1),
        version: 1,
        created_at: now,
        updated_at: now,
        origin_event_id: req.event_id.clone(),
        policy: HandoffPolicy {
            confirmation_message: settings.confirmation_message.clone(),
            stall_message: settings.stall_message.clone(),
            stalling_time_seconds: settings.stalling_time_seconds.seconds(),
            voice_ring_timeout_seconds: settings.voice_ring_timeout_seconds.seconds(),
            voice_timeout_action: settings.voice_timeout_action,
            waiting: settings.waiting.clone(),
        },
        seq: 0,
        sent_seq: 0,
    };
    let mut b = EffectBuilder {
        handoff: &mut h,
        timeline: Vec::new(),
        effects: Vec::new(),
        transcript: Vec::new(),
        now,
        actor,
    };
    for (i, entry) in req.transcript.iter().enumerate() {
        b.line(format!("{}:t{i}", req.event_id), entry.author.clone(), LineKind::Message, &entry.text, entry.sent_at);
    }
    b.note(TimelineEvent::Escalated {
        event_id: req.event_id.clone(),
        state,
        reason: req.reason,
        channel: req.channel,
    });
    if outcome == EscalationOutcome::RoutedToAi {
        b.outbound(OutboundType::RouteToAi, None);
    }
    let stalling = settings.stalling_time_seconds.seconds();
    match closed {
        None => b.outbound(
            OutboundType::CustomerMessage,
            Some((MessagePurpose::Confirmation, settings.confirmation_message.as_str())),
        ),
        Some(h) => b.outbound(
            OutboundType::CustomerMessage,
            Some((MessagePurpose::AfterHours, h.after_hours_message.as_str())),
        ),
    }
    // The stall timer counts from the next opening when the escalation comes in after hours.
    let stall_after = match closed.map(|h| h.next_opening(now)) {
        Some(Some(open)) => (open - now).num_seconds().clamp(0, u32::MAX as i64 / 2) as u32 + stalling,
        _ => stalling,
    };
    match outcome {
        EscalationOutcome::Queued => b.timer(TimerKind::Stall, stall_after),
        EscalationOutcome::Ringing => b.timer(TimerKind::Ring, settings.voice_ring_timeout_seconds.seconds()),
        _ => {}
    }
    let (timeline, effects, transcript) = b.finish();
    EscalationDecision {
        record: record(outcome, Some(new_id)),
        created: Some(h),
        timeline,
        effects,
        transcript,
        metrics: escalation_figures(req, outcome, team, now),
    }
}
