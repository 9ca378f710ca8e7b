//! Exhaustive tests of the lifecycle and the escalation outcomes, and property tests over
//! command sequences and the escalation parser.

use super::*;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}
fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}
fn settings(enabled: bool, routing: Routing, action: VoiceTimeoutAction) -> Settings {
    Settings { enabled, routing, voice_timeout_action: action, ..Settings::default() }
}
fn request(channel: Channel) -> EscalationRequest {
    EscalationRequest {
        event_id: EventId::parse("evt_1").unwrap(),
        workspace_id: WorkspaceId::parse("ws_1").unwrap(),
        conversation_id: ConversationId::parse("conv_1").unwrap(),
        channel,
        reason: Reason::RefundRequest,
        summary: Some("wants a refund".into()),
        customer: None,
        priority: Priority::High,
        transcript: vec![],
    }
}
fn escalate(s: &Settings, channel: Channel) -> EscalationDecision {
    decide_escalation(
        s,
        &Teams::default(),
        &request(channel),
        Actor::Ai,
        None,
        HandoffId::parse("hnd_1").unwrap(),
        t0(),
    )
}
fn handoff_in(state: State, action: VoiceTimeoutAction) -> Handoff {
    let channel = if state == State::Ringing { Channel::Voice } else { Channel::Chat };
    let mut h = escalate(&settings(true, Routing::Human, action), channel).created.unwrap();
    h.state = state;
    if state == State::Assigned || state == State::Resolved {
        h.assignee = Some(uid("alice"));
    }
    h
}
fn outbound_types(effects: &[Effect]) -> Vec<OutboundType> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Outbound(o) => Some(o.event_type),
            _ => None,
        })
        .collect()
}
fn changed(o: Result<Outcome, Rejection>) -> Decision {
    match o {
        Ok(Outcome::Changed(d)) => d,
        other => panic!("expected a change, got {other:?}"),
    }
}

#[test]
fn escalation_disabled_declines_and_creates_nothing() {
    let d = escalate(&settings(false, Routing::Human, VoiceTimeoutAction::ReturnToAi), Channel::Chat);
    assert_eq!(d.record.outcome, EscalationOutcome::Disabled);
    assert!(d.created.is_none());
    assert_eq!(outbound_types(&d.effects), vec![OutboundType::HandoffDeclined]);
}

#[test]
fn escalation_routed_to_ai_sends_route_and_confirmation_without_timer() {
    let s = settings(true, Routing::Ai, VoiceTimeoutAction::ReturnToAi);
    let d = escalate(&s, Channel::Chat);
    assert_eq!(d.record.outcome, EscalationOutcome::RoutedToAi);
    let h = d.created.unwrap();
    assert_eq!(h.state, State::RoutedToAi);
    assert!(!h.state.is_active());
    assert_eq!(outbound_types(&d.effects), vec![OutboundType::RouteToAi, OutboundType::CustomerMessage]);
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::SetTimer(_))));
}

#[test]
fn chat_escalation_queues_with_confirmation_and_stall_timer() {
    let mut s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    s.confirmation_message = Message::parse("Hang on!").unwrap();
    s.stalling_time_seconds = StallingTime::parse(45).unwrap();
    let d = escalate(&s, Channel::Chat);
    assert_eq!(d.record.outcome, EscalationOutcome::Queued);
    let h = d.created.clone().unwrap();
    assert_eq!((h.state, h.version), (State::Waiting, 1));
    let msg = d.effects.iter().find_map(|e| match e {
        Effect::Outbound(o) if o.event_type == OutboundType::CustomerMessage => o.text.clone(),
        _ => None,
    });
    assert_eq!(msg.as_deref(), Some("Hang on!"));
    let timer = d
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::SetTimer(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(timer.kind, TimerKind::Stall);
    assert_eq!(timer.due_at, t0() + chrono::Duration::seconds(45));
    assert_eq!(timer.set_at_version, 1);
    let expected = Handoff { sent_seq: 1, ..h.clone() };
    assert_eq!(
        timer.snapshot.as_deref(),
        Some(&expected),
        "the timer carries the handoff as it was set, once its confirmation is out"
    );
    assert_eq!((h.seq, h.sent_seq), (1, 0), "the confirmation is event 1 of the handoff, not yet out");
    assert!(d.timeline.iter().any(|e| matches!(&e.event,
        TimelineEvent::MessageDecided { purpose: MessagePurpose::Confirmation, text, .. } if text == "Hang on!")));
    // Decided is not sent: the timeline shows the message sent only once it was handed over.
    let mut rec = d.decision_record().unwrap();
    let sent = |r: &DecisionRecord| {
        r.shown_timeline().iter().filter(|l| matches!(l.event, TimelineEvent::MessageSent { .. })).count()
    };
    assert_eq!(sent(&rec), 0);
    assert_eq!(rec.pending().len(), 2);
    let msg_id = rec.effects.iter().find(|e| matches!(e, Effect::Outbound(_))).unwrap().id().to_string();
    rec.sent.insert(msg_id, t0() + chrono::Duration::seconds(1));
    assert_eq!(sent(&rec), 1);
    assert_eq!(rec.pending().len(), 1);
    assert!(!rec.is_settled());
}

#[test]
fn settling_marks_the_decisions_own_effects_and_moves_sent_seq_once_its_events_are_out() {
    let d = escalate(&settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi), Channel::Chat);
    let mut rec = d.decision_record().unwrap();
    let ids = |f: fn(&Effect) -> bool| rec.effects.iter().filter(|e| f(e)).map(|e| e.id().to_string()).collect();
    let events: Vec<String> = ids(|e| matches!(e, Effect::Outbound(_)));
    let timers: Vec<String> = ids(|e| matches!(e, Effect::SetTimer(_)));
    assert!(!events.is_empty() && !timers.is_empty());
    // An id of no effect of this decision is left out.
    assert_eq!(rec.settle(&["elsewhere".to_string()]), Settlement { to_mark: vec![], settled: false, sent_seq: None });
    // Every outbound event out: `sent_seq` moves to the last one's; the timer is still pending.
    let last = (HandoffId::parse("hnd_1").unwrap(), rec.last_seq().unwrap());
    let acked = [events.clone(), vec!["elsewhere".to_string()]].concat();
    let s = rec.settle(&acked);
    assert_eq!(s.to_mark, events.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((s.settled, s.sent_seq), (false, Some(last.clone())));
    // With those marked, the timer settles the decision; an id marked already stays in.
    for id in &events {
        rec.sent.insert(id.clone(), t0());
    }
    let acked = [timers.clone(), events.clone()].concat();
    let s = rec.settle(&acked);
    assert_eq!((s.to_mark.len(), s.settled, s.sent_seq), (timers.len() + events.len(), true, Some(last)));
}

#[test]
fn voice_escalation_rings_with_ring_timer() {
    let d = escalate(&settings(true, Routing::Human, VoiceTimeoutAction::EndCall), Channel::Voice);
    assert_eq!(d.record.outcome, EscalationOutcome::Ringing);
    assert_eq!(d.created.as_ref().unwrap().state, State::Ringing);
    let timer = d
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::SetTimer(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(timer.kind, TimerKind::Ring);
    assert_eq!(timer.due_at, t0() + chrono::Duration::seconds(30));
}

#[test]
fn already_active_returns_existing_and_sends_nothing_even_when_disabled() {
    let existing = handoff_in(State::Waiting, VoiceTimeoutAction::ReturnToAi);
    for enabled in [true, false] {
        let d = decide_escalation(
            &settings(enabled, Routing::Human, VoiceTimeoutAction::ReturnToAi),
            &Teams::default(),
            &request(Channel::Chat),
            Actor::Ai,
            Some(&existing),
            HandoffId::parse("hnd_2").unwrap(),
            t0(),
        );
        assert_eq!(d.record.outcome, EscalationOutcome::AlreadyActive);
        assert_eq!(d.record.handoff_id.as_ref(), Some(&existing.handoff_id));
        assert!(d.created.is_none() && d.effects.is_empty());
    }
}

#[test]
fn effect_ids_are_stable_and_unique() {
    let s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    let a = escalate(&s, Channel::Chat);
    let b = escalate(&s, Channel::Chat);
    let ids: Vec<_> = a.effects.iter().map(|e| e.id().to_string()).collect();
    assert_eq!(ids, b.effects.iter().map(|e| e.id().to_string()).collect::<Vec<_>>());
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), ids.len());
}

/// Every (state, command) pair: the legal ones produce the spec's transition and outbound event,
/// the others are rejected or (timers) do nothing.
#[test]
fn every_transition_legal_and_illegal() {
    use State::*;
    let alice = uid("alice");
    let bob = uid("bob");
    for action in [VoiceTimeoutAction::ReturnToAi, VoiceTimeoutAction::EndCall] {
        for state in State::all() {
            let h = handoff_in(state, action);
            let cmds = [
                Command::Accept { by: bob.clone() },
                Command::Assign { by: alice.clone(), assignee: bob.clone() },
                Command::Resolve { by: alice.clone() },
                Command::ReturnToAi { by: alice.clone() },
                Command::StallTimerFired { set_at_version: h.version },
                Command::RingTimerFired { set_at_version: h.version },
            ];
            for cmd in cmds {
                let r = decide(&h, &cmd, t0());
                let expect: Option<(State, Vec<OutboundType>)> = match (&cmd, state) {
                    (Command::Accept { .. }, Waiting | Ringing) => Some((Assigned, vec![OutboundType::AgentJoined])),
                    (Command::Assign { .. }, Assigned) => Some((Assigned, vec![])),
                    (Command::Resolve { .. }, Assigned | Ticketed) => {
                        Some((Resolved, vec![OutboundType::HandoffResolved]))
                    }
                    (Command::ReturnToAi { .. }, Waiting | Ringing | Assigned) => {
                        Some((ReturnedToAi, vec![OutboundType::ReturnToAi]))
                    }
                    (Command::StallTimerFired { .. }, Waiting) => Some((Waiting, vec![OutboundType::CustomerMessage])),
                    (Command::RingTimerFired { .. }, Ringing) => Some(match action {
                        VoiceTimeoutAction::ReturnToAi => (ReturnedToAi, vec![OutboundType::ReturnToAi]),
                        VoiceTimeoutAction::EndCall => (Ended, vec![OutboundType::EndCall]),
                    }),
                    _ => None,
                };
                match expect {
                    Some((to, events)) => {
                        let d = changed(r);
                        assert_eq!(d.handoff.state, to, "{state} {cmd:?}");
                        assert_eq!(d.handoff.version, h.version + 1);
                        assert_eq!(outbound_types(&d.effects), events, "{state} {cmd:?}");
                        assert!(!d.timeline.is_empty(), "every change leaves a timeline line");
                        assert_eq!(d.record().version, d.handoff.version);
                    }
                    None => match cmd {
                        Command::StallTimerFired { .. } | Command::RingTimerFired { .. } => {
                            assert_eq!(r, Ok(Outcome::Unchanged), "{state} {cmd:?}")
                        }
                        Command::Accept { .. } if state == Assigned => {
                            assert_eq!(r, Err(Rejection::AssignedToSomeoneElse))
                        }
                        _ => assert_eq!(
                            r,
                            Err(Rejection::IllegalTransition { state, action: cmd.action() }),
                            "{state} {cmd:?}"
                        ),
                    },
                }
            }
        }
    }
}

#[test]
fn the_conversation_commands_in_every_state() {
    use State::*;
    let alice = uid("alice");
    let bob = uid("bob");
    for state in State::all() {
        let mut h = handoff_in(state, VoiceTimeoutAction::ReturnToAi);
        h.unread = true;
        let message = Command::CustomerMessage {
            message_id: EventId::parse("m-1").unwrap(),
            text: "Are you there?".into(),
            sent_at: t0(),
        };
        // A customer message joins an active handoff and marks it unread; nothing is sent.
        match decide(&h, &message, t0()) {
            Ok(Outcome::Changed(d)) => {
                assert!(state.is_active(), "{state}");
                assert!(d.effects.is_empty() && d.handoff.unread && d.handoff.state == state);
                // The customer talking does not silence the timer set before: it still acts.
                let timer = match state {
                    Ringing => Command::RingTimerFired { set_at_version: h.version },
                    _ => Command::StallTimerFired { set_at_version: h.version },
                };
                let fired = decide(&d.handoff, &timer, t0()).unwrap();
                assert_eq!(matches!(fired, Outcome::Changed(_)), state != Assigned, "{state}: {fired:?}");
                assert_eq!(d.transcript.len(), 1);
                assert_eq!((&d.transcript[0].author, d.transcript[0].kind), (&Actor::Customer, LineKind::Message));
                assert_eq!(d.transcript[0].message_id, "m-1");
            }
            other => {
                assert!(!state.is_active(), "{state}");
                assert_eq!(other, Err(Rejection::NoActiveHandoff));
            }
        }
        // The customer leaving abandons an active handoff, sends nothing, frees nothing else.
        match decide(&h, &Command::ConversationEnded, t0()) {
            Ok(Outcome::Changed(d)) => {
                assert!(state.is_active());
                assert_eq!(d.handoff.state, Abandoned);
                assert!(!d.handoff.state.is_active());
                assert!(d.effects.is_empty());
                // Its timers find it moved on.
                let later = decide(&d.handoff, &Command::StallTimerFired { set_at_version: d.handoff.version }, t0());
                assert_eq!(later, Ok(Outcome::Unchanged));
            }
            other => assert_eq!(other, Err(Rejection::NoActiveHandoff), "{state}"),
        }
        // Replies: only while assigned, by the assignee or an admin.
        let reply = |by: &UserId, admin| Command::Reply {
            by: by.clone(),
            admin,
            text: "Let me check.".into(),
            client_message_id: None,
        };
        for (by, admin) in [(&alice, false), (&bob, false), (&bob, true)] {
            let r = decide(&h, &reply(by, admin), t0());
            match (state, by == &alice || admin) {
                (Assigned, true) => {
                    let d = changed(r);
                    assert_eq!(outbound_types(&d.effects), vec![OutboundType::AgentMessage]);
                    let Effect::Outbound(ev) = &d.effects[0] else { unreachable!() };
                    assert_eq!((ev.text.as_deref(), ev.agent_id.as_ref()), (Some("Let me check."), Some(by)));
                    assert_eq!(ev.seq, h.seq + 1);
                    assert_eq!(d.transcript[0].author, Actor::Agent(by.clone()));
                    assert_eq!(d.transcript[0].message_id, ev.event_id);
                    assert_eq!(d.handoff.unread, admin, "the assignee replying has read it");
                }
                (Assigned, false) => assert_eq!(r, Err(Rejection::NotTheAssignee)),
                _ => assert_eq!(r, Err(Rejection::IllegalTransition { state, action: Action::Reply })),
            }
        }
        // Notes: in any state, internal, never sent.
        let d = changed(decide(&h, &Command::AddNote { by: bob.clone(), text: "VIP".into() }, t0()));
        assert!(d.effects.is_empty());
        assert_eq!((d.transcript[0].kind, d.handoff.state), (LineKind::Note, state));
        // Reading clears the mark for the assignee only.
        let read = decide(&h, &Command::MarkRead { by: alice.clone() }, t0());
        if h.assignee.as_ref() == Some(&alice) {
            let d = changed(read);
            assert!(!d.handoff.unread && d.effects.is_empty() && d.record().is_empty());
        } else {
            assert_eq!(read, Ok(Outcome::Unchanged));
        }
        assert_eq!(decide(&h, &Command::MarkRead { by: bob.clone() }, t0()), Ok(Outcome::Unchanged));
    }
}

#[test]
fn an_escalations_transcript_starts_the_handoffs() {
    let mut req = request(Channel::Chat);
    req.transcript = vec![
        TranscriptEntry { author: Actor::Customer, text: "My order is late".into(), sent_at: t0() },
        TranscriptEntry { author: Actor::Ai, text: "Let me get a person".into(), sent_at: t0() },
    ];
    let s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    let d = decide_escalation(&s, &Teams::default(), &req, Actor::Ai, None, HandoffId::parse("hnd_1").unwrap(), t0());
    let authors: Vec<String> = d.transcript.iter().map(|l| l.author.to_string()).collect();
    assert_eq!(authors, vec!["customer", "ai", "system"], "earlier messages, then the confirmation");
    assert_eq!(d.transcript[2].text, s.confirmation_message.as_str());
    assert_eq!(d.transcript[0].message_id, "evt_1:t0");
    let parsed = parse_escalation(
        &json!({"event_id": "e", "workspace_id": "w", "conversation_id": "c", "channel": "chat", "reason": "other",
                "transcript": [{"author": "customer", "text": "hi", "sent_at": "2026-11-24T09:59:00Z"}]}),
        Source::Queue,
    )
    .unwrap();
    assert_eq!(parsed.transcript.len(), 1);
}

#[test]
fn accept_sets_the_assignee_and_repeating_it_is_a_no_op() {
    let h = handoff_in(State::Waiting, VoiceTimeoutAction::ReturnToAi);
    let d = changed(decide(&h, &Command::Accept { by: uid("bob") }, t0()));
    assert_eq!(d.handoff.assignee, Some(uid("bob")));
    assert_eq!(decide(&d.handoff, &Command::Accept { by: uid("bob") }, t0()), Ok(Outcome::Unchanged));
    assert_eq!(decide(&d.handoff, &Command::Accept { by: uid("carol") }, t0()), Err(Rejection::AssignedToSomeoneElse));
    let r = changed(decide(&d.handoff, &Command::Assign { by: uid("bob"), assignee: uid("carol") }, t0()));
    assert_eq!(r.handoff.assignee, Some(uid("carol")));
    assert_eq!(
        decide(&r.handoff, &Command::Assign { by: uid("bob"), assignee: uid("carol") }, t0()),
        Ok(Outcome::Unchanged)
    );
}

#[test]
fn stall_fires_once_and_never_after_a_change() {
    let h = handoff_in(State::Waiting, VoiceTimeoutAction::ReturnToAi);
    let fire = Command::StallTimerFired { set_at_version: 1 };
    let d = changed(decide(&h, &fire, t0()));
    assert!(d.handoff.stall_notified);
    assert_eq!(d.handoff.state, State::Waiting);
    let text = d.effects.iter().find_map(|e| match e {
        Effect::Outbound(o) => o.text.clone(),
        _ => None,
    });
    assert_eq!(text.as_deref(), Some(DEFAULT_STALL));
    // delivered twice: acts once
    assert_eq!(decide(&d.handoff, &fire, t0()), Ok(Outcome::Unchanged));
    // a stale timer (set for an earlier version) does nothing
    let accepted = changed(decide(&h, &Command::Accept { by: uid("a") }, t0())).handoff;
    assert_eq!(decide(&accepted, &fire, t0()), Ok(Outcome::Unchanged));
    let mut back = accepted.clone();
    back.state = State::Waiting;
    assert_eq!(decide(&back, &fire, t0()), Ok(Outcome::Unchanged), "version moved on");
}

#[test]
fn ring_timer_for_an_old_version_does_nothing() {
    let h = handoff_in(State::Ringing, VoiceTimeoutAction::EndCall);
    assert_eq!(decide(&h, &Command::RingTimerFired { set_at_version: 0 }, t0()), Ok(Outcome::Unchanged));
}

#[test]
fn outbound_event_json_matches_the_spec() {
    let d = escalate(&settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi), Channel::Chat);
    let ev = d
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Outbound(o) => Some(o.clone()),
            _ => None,
        })
        .unwrap();
    let j = serde_json::to_value(&ev).unwrap();
    for k in ["event_id", "type", "workspace_id", "conversation_id", "handoff_id", "channel", "text", "occurred_at"] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    assert_eq!(j["type"], "customer_message");
    assert_eq!(j["occurred_at"], "2026-11-24T10:00:00Z");
}

#[test]
fn escalation_parser_lists_every_failing_field() {
    let errs = parse_escalation(
        &json!({"event_id": "bad id", "channel": "fax", "reason": "boredom", "priority": "meh",
                "summary": "x".repeat(4001), "customer": {"email": 7, "age": 3}, "extra": 1}),
        Source::Queue,
    )
    .unwrap_err();
    let mut fields: Vec<_> = errs.iter().map(|e| e.field.clone()).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "channel",
            "conversation_id",
            "customer.age",
            "customer.email",
            "event_id",
            "extra",
            "priority",
            "reason",
            "summary",
            "workspace_id"
        ]
    );
}

#[test]
fn escalation_over_http_takes_ids_from_the_path() {
    let ws = WorkspaceId::parse("ws_1").unwrap();
    let conv = ConversationId::parse("conv_9").unwrap();
    let src = || Source::Http { workspace_id: &ws, conversation_id: &conv };
    let r = parse_escalation(&json!({"event_id": "e1", "channel": "voice", "reason": "other"}), src()).unwrap();
    assert_eq!((r.workspace_id.as_str(), r.conversation_id.as_str(), r.priority), ("ws_1", "conv_9", Priority::Normal));
    let errs = parse_escalation(
        &json!({"event_id": "e1", "channel": "voice", "reason": "other", "workspace_id": "ws_2", "conversation_id": "c"}),
        src(),
    )
    .unwrap_err();
    assert_eq!(errs.len(), 2);
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        prop::sample::select(vec!["chat", "voice", "refund_request", "e-1", "urgent", "a@b"])
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "event_id",
                    "workspace_id",
                    "conversation_id",
                    "channel",
                    "reason",
                    "summary",
                    "customer",
                    "priority",
                    "id",
                    "name",
                    "email",
                    "x"
                ])
                .prop_map(String::from),
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Step {
    Accept(u8),
    Assign(u8),
    Resolve,
    Return,
    Stall(bool),
    Ring(bool),
    Customer(u8),
    Reply(u8),
    Note,
    Read(u8),
    Ended,
    Transfer(u8),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..3).prop_map(Step::Accept),
        (0u8..3).prop_map(Step::Assign),
        Just(Step::Resolve),
        Just(Step::Return),
        any::<bool>().prop_map(Step::Stall),
        any::<bool>().prop_map(Step::Ring),
        (0u8..4).prop_map(Step::Customer),
        (0u8..3).prop_map(Step::Reply),
        Just(Step::Note),
        (0u8..3).prop_map(Step::Read),
        Just(Step::Ended),
        (0u8..2).prop_map(Step::Transfer),
    ]
}

proptest! {
    #[test]
    fn escalation_parser_never_panics(doc in arb_json()) {
        let ws = WorkspaceId::parse("ws").unwrap();
        let conv = ConversationId::parse("c").unwrap();
        let _ = parse_escalation(&doc, Source::Queue);
        let _ = parse_escalation(&doc, Source::Http { workspace_id: &ws, conversation_id: &conv });
        let _ = parse_settings_update(&doc, &ws);
    }

    /// No sequence of commands reaches an illegal state: assigned always has an assignee,
    /// terminal states never change, versions grow by one per change, the stall message is sent
    /// at most once, and every effect id is unique.
    #[test]
    fn no_command_sequence_reaches_an_illegal_state(
        voice in any::<bool>(), end_call in any::<bool>(), steps in prop::collection::vec(arb_step(), 0..25)
    ) {
        let action = if end_call { VoiceTimeoutAction::EndCall } else { VoiceTimeoutAction::ReturnToAi };
        let d = escalate(&settings(true, Routing::Human, action), if voice { Channel::Voice } else { Channel::Chat });
        let mut h = d.created.unwrap();
        let mut ids: Vec<String> = d.effects.iter().map(|e| e.id().to_string()).collect();
        let mut events = h.seq;
        let mut stalls = 0;
        let mut figures = d.metrics.counts.clone();
        let users = ["u0", "u1", "u2"];
        for step in steps {
            let cmd = match step {
                Step::Accept(u) => Command::Accept { by: uid(users[u as usize]) },
                Step::Assign(u) => Command::Assign { by: uid("admin"), assignee: uid(users[u as usize]) },
                Step::Resolve => Command::Resolve { by: uid("u0") },
                Step::Return => Command::ReturnToAi { by: uid("u0") },
                Step::Stall(current) => Command::StallTimerFired { set_at_version: if current { h.timer_version() } else { 0 } },
                Step::Ring(current) => Command::RingTimerFired { set_at_version: if current { h.timer_version() } else { 0 } },
                // Message ids repeat on purpose: the store, not the domain, drops a repeat.
                Step::Customer(m) => Command::CustomerMessage {
                    message_id: EventId::parse(format!("m{m}")).unwrap(), text: "hi".into(), sent_at: t0(),
                },
                Step::Reply(u) => Command::Reply {
                    by: uid(users[u as usize]), admin: u == 2, text: "on it".into(), client_message_id: None,
                },
                Step::Note => Command::AddNote { by: uid("u1"), text: "vip".into() },
                Step::Read(u) => Command::MarkRead { by: uid(users[u as usize]) },
                Step::Ended => Command::ConversationEnded,
                Step::Transfer(t) => Command::Transfer { by: uid("u0"), team_id: TeamId::parse(format!("team{t}")).unwrap() },
            };
            let before = h.clone();
            match decide(&h, &cmd, t0()) {
                Ok(Outcome::Changed(d)) => {
                    if !before.state.is_active() {
                        // Once it is over only a note or a read mark is taken; the state stays.
                        prop_assert!(matches!(cmd, Command::AddNote { .. } | Command::MarkRead { .. }),
                            "terminal state {} changed", before.state);
                        prop_assert_eq!(d.handoff.state, before.state);
                    }
                    prop_assert_eq!(d.handoff.version, before.version + 1);
                    for e in &d.effects {
                        if let Effect::Outbound(o) = e {
                            if o.text.as_deref() == Some(DEFAULT_STALL) { stalls += 1; }
                            // Events are numbered 1, 2, 3, … per handoff, in the order decided.
                            events += 1;
                            prop_assert_eq!(o.seq, events);
                        }
                        ids.push(e.id().to_string());
                    }
                    prop_assert_eq!(d.handoff.seq, events);
                    for (k, v) in &d.metrics.counts {
                        *figures.entry(k.clone()).or_default() += v;
                    }
                    // A transfer tells the customer nothing.
                    if matches!(cmd, Command::Transfer { .. }) {
                        prop_assert!(d.effects.iter().all(|e| e.outbound().is_none()));
                    }
                    // Notes and customer messages never reach the customer.
                    if matches!(cmd, Command::AddNote { .. } | Command::CustomerMessage { .. } | Command::MarkRead { .. }) {
                        prop_assert!(d.effects.is_empty());
                    }
                    // A reply is the assignee's (or an admin's) and only while assigned.
                    if let Command::Reply { by, admin, .. } = &cmd {
                        prop_assert_eq!(before.state, State::Assigned);
                        prop_assert!(*admin || before.assignee.as_ref() == Some(by));
                    }
                    h = d.handoff;
                }
                Ok(Outcome::Unchanged) | Err(_) => {}
            }
            // Only a customer message marks a handoff unread.
            let by_customer = matches!(cmd, Command::CustomerMessage { .. });
            prop_assert!(before.unread || !h.unread || by_customer, "unread set by {:?}", cmd);
            prop_assert_eq!(h.state == State::Assigned, h.assignee.is_some() && h.state.is_active());
            // A call waits only after a transfer (it is never rung again).
            prop_assert!(!(voice && h.state == State::Waiting && h.team_id.is_none()));
            prop_assert!(!(!voice && (h.state == State::Ringing || h.state == State::Ended)));
            prop_assert!(h.state != State::RoutedToAi);
        }
        prop_assert!(stalls <= 1);
        // The figures: one escalation, one final state once it is over (none while active), at
        // most one time to accept, and every counter ≥ 0.
        let total = |prefix: &str| figures.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| *v).sum::<i64>();
        prop_assert_eq!(total("escalations."), 1);
        prop_assert_eq!(total("final."), if h.state.is_active() { 0 } else { 1 });
        prop_assert_eq!(total("accept."), if h.accepted_at.is_some() { 1 } else { 0 });
        prop_assert!(figures.values().all(|v| *v >= 0), "{:?}", figures);
        let n = ids.len();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), n);
    }
}

/// A chat handoff decided with this waiting policy (stalling time 60 s).
fn waiting_with(repeat: Option<u32>, max: u32, fallback: StallFallback) -> Handoff {
    let mut s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    s.stalling_time_seconds = StallingTime::parse(60).unwrap();
    s.waiting = WaitingPolicy {
        stall_repeat_seconds: repeat.map(|r| RepeatInterval::parse(r as u64).unwrap()),
        stall_repeat_max: max,
        stall_fallback: fallback,
        stall_fallback_message: Message::parse("We'll email you.").unwrap(),
    };
    escalate(&s, Channel::Chat).created.unwrap()
}

/// What one stall timer did: the events it sent, and in how many seconds the next one is due.
type StallStep = (Vec<OutboundType>, Option<u32>);

/// Fires the stall timers of `h` one after another until none is left: what each did.
fn run_stall_timers(mut h: Handoff) -> (Handoff, Vec<StallStep>) {
    let mut steps = Vec::new();
    let mut at = t0();
    let mut next = Some(60u32);
    while let Some(after) = next {
        at += chrono::Duration::seconds(after as i64);
        let d = changed(decide(&h, &Command::StallTimerFired { set_at_version: h.version }, at));
        next = d.effects.iter().find_map(Effect::timer).map(|t| (t.due_at - at).num_seconds() as u32);
        steps.push((outbound_types(&d.effects), next));
        h = d.handoff;
        assert!(steps.len() <= 25, "the notices end");
    }
    (h, steps)
}

#[test]
fn the_waiting_policy_repeats_then_falls_back() {
    use OutboundType::*;
    // §3's behaviour by default: one notice, then keep waiting.
    let (h, steps) = run_stall_timers(waiting_with(None, 0, StallFallback::KeepWaiting));
    assert_eq!(steps, vec![(vec![CustomerMessage], None)]);
    assert_eq!(h.state, State::Waiting);
    // Two repeats 30 s apart, then a ticket one interval after the last notice.
    let (h, steps) = run_stall_timers(waiting_with(Some(30), 2, StallFallback::OfferTicket));
    assert_eq!(
        steps,
        vec![
            (vec![CustomerMessage], Some(30)),
            (vec![CustomerMessage], Some(30)),
            (vec![CustomerMessage], Some(30)),
            (vec![TicketRequested, CustomerMessage], None),
        ]
    );
    assert_eq!((h.state, h.stall_repeats), (State::Ticketed, 2));
    assert!(!h.state.is_active());
    // No repeats: the fallback comes one stalling time after the notice.
    let (h, steps) = run_stall_timers(waiting_with(None, 5, StallFallback::ReturnToAi));
    assert_eq!(steps, vec![(vec![CustomerMessage], Some(60)), (vec![ReturnToAi, CustomerMessage], None)]);
    assert_eq!(h.state, State::ReturnedToAi);
    // Repeats without a fallback: the notices stop at the cap.
    let (h, steps) = run_stall_timers(waiting_with(Some(45), 1, StallFallback::KeepWaiting));
    assert_eq!(steps, vec![(vec![CustomerMessage], Some(45)), (vec![CustomerMessage], None)]);
    assert_eq!((h.state, h.stall_repeats), (State::Waiting, 1));
}

#[test]
fn the_fallback_message_is_sent_with_the_fallback() {
    let h = waiting_with(None, 0, StallFallback::OfferTicket);
    let first = changed(decide(&h, &Command::StallTimerFired { set_at_version: h.version }, t0()));
    let d = changed(decide(&first.handoff, &Command::StallTimerFired { set_at_version: first.handoff.version }, t0()));
    let texts: Vec<&str> = d.effects.iter().filter_map(Effect::outbound).filter_map(|e| e.text.as_deref()).collect();
    assert_eq!(texts, vec!["We'll email you."]);
    assert!(d.transcript.iter().any(|l| l.text == "We'll email you." && l.author == Actor::System));
}

proptest! {
    /// Whatever the policy and whenever agents act: a notice goes out at most 1 + max times, a
    /// fallback at most once and only while still waiting, and a timer delivered twice acts once.
    #[test]
    fn the_waiting_policy_never_overruns(
        repeat in prop::option::of(30u32..600), max in 0u32..=20, fallback in 0u8..3,
        accept_after in prop::option::of(0usize..25), twice in any::<bool>(),
    ) {
        let fallback = [StallFallback::KeepWaiting, StallFallback::ReturnToAi, StallFallback::OfferTicket][fallback as usize];
        let mut h = waiting_with(repeat, max, fallback);
        let (mut notices, mut fallbacks) = (0u32, 0u32);
        for step in 0..25 {
            if Some(step) == accept_after {
                if let Ok(Outcome::Changed(d)) = decide(&h, &Command::Accept { by: uid("alice") }, t0()) {
                    h = d.handoff;
                }
            }
            let timer = Command::StallTimerFired { set_at_version: h.version };
            let Ok(Outcome::Changed(d)) = decide(&h, &timer, t0()) else { break };
            let events = outbound_types(&d.effects);
            if events.contains(&OutboundType::TicketRequested) || events.contains(&OutboundType::ReturnToAi) {
                prop_assert_eq!(h.state, State::Waiting);
                fallbacks += 1;
            } else {
                notices += 1;
            }
            if twice {
                prop_assert_eq!(decide(&d.handoff, &timer, t0()), Ok(Outcome::Unchanged));
            }
            h = d.handoff;
        }
        let allowed = 1 + if repeat.is_some() { max } else { 0 };
        prop_assert!(notices <= allowed, "{} notices, {} allowed", notices, allowed);
        prop_assert!(fallbacks <= 1);
        if accept_after.is_none() {
            prop_assert_eq!(notices, allowed, "every notice went out while no one accepted");
            prop_assert_eq!(fallbacks, u32::from(fallback != StallFallback::KeepWaiting));
        }
    }
}

// --- Business hours (spec §11) ---

/// Open 09:00–17:00 Paris time on weekdays: t0 (Tuesday 10:00 UTC, 11:00 in Paris) is open.
fn office_hours(after_hours_chat: &str) -> BusinessHours {
    let day = json!([["09:00", "17:00"]]);
    let mut errs = validation::Errors::default();
    let v = json!({"time_zone": "Europe/Paris",
                   "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
                   "after_hours_message": "We're closed; back at 9.", "after_hours_chat": after_hours_chat});
    hours::parse_business_hours(&v, &mut errs).unwrap().unwrap()
}

fn at_hour(utc_hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, utc_hour, 0, 0).unwrap()
}

fn escalate_at(s: &Settings, channel: Channel, now: chrono::DateTime<Utc>) -> EscalationDecision {
    decide_escalation(s, &Teams::default(), &request(channel), Actor::Ai, None, HandoffId::parse("hnd_1").unwrap(), now)
}

fn texts(effects: &[Effect]) -> Vec<(OutboundType, Option<String>)> {
    effects.iter().filter_map(Effect::outbound).map(|e| (e.event_type, e.text.clone())).collect()
}

#[test]
fn inside_business_hours_nothing_changes() {
    let mut s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    s.business_hours = Some(office_hours("return_to_ai"));
    assert_eq!(escalate_at(&s, Channel::Chat, t0()).record.outcome, EscalationOutcome::Queued);
    assert_eq!(escalate_at(&s, Channel::Voice, t0()).record.outcome, EscalationOutcome::Ringing);
    assert_eq!(customer_text(&escalate_at(&s, Channel::Chat, t0()).effects), Some(DEFAULT_CONFIRMATION));
}

#[test]
fn after_hours_chat_is_queued_with_the_after_hours_message_and_stalls_from_the_opening() {
    let mut s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    s.business_hours = Some(office_hours("queue"));
    s.stalling_time_seconds = StallingTime::parse(60).unwrap();
    // 20:00 UTC on Tuesday is 21:00 in Paris: closed until Wednesday 09:00 (08:00 UTC).
    let now = at_hour(20);
    let d = escalate_at(&s, Channel::Chat, now);
    assert_eq!(d.record.outcome, EscalationOutcome::Queued);
    assert_eq!(d.created.as_ref().unwrap().state, State::Waiting);
    assert_eq!(texts(&d.effects), [(OutboundType::CustomerMessage, Some("We're closed; back at 9.".to_string()))]);
    assert!(d
        .timeline
        .iter()
        .any(|e| matches!(&e.event, TimelineEvent::MessageDecided { purpose: MessagePurpose::AfterHours, .. })));
    let timer = d.effects.iter().find_map(Effect::timer).unwrap();
    let opening = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
    assert_eq!(timer.due_at, opening + chrono::Duration::seconds(60));
}

#[test]
fn after_hours_chat_can_go_back_to_the_ai_without_an_inbox_entry() {
    let mut s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    s.business_hours = Some(office_hours("return_to_ai"));
    let d = escalate_at(&s, Channel::Chat, at_hour(20));
    assert_eq!(d.record.outcome, EscalationOutcome::AfterHours);
    assert!(d.created.is_none() && d.record.handoff_id.is_none());
    assert_eq!(texts(&d.effects), [(OutboundType::RouteToAi, Some("We're closed; back at 9.".to_string()))]);
    let rec = d.decision_record().unwrap();
    assert_eq!(rec.effects[0].id(), "ws_1:evt_1:after_hours");
}

#[test]
fn a_voice_call_never_rings_after_hours() {
    for (action, then) in [
        (VoiceTimeoutAction::ReturnToAi, OutboundType::ReturnToAi),
        (VoiceTimeoutAction::EndCall, OutboundType::EndCall),
    ] {
        for chat in ["queue", "return_to_ai"] {
            let mut s = settings(true, Routing::Human, action);
            s.business_hours = Some(office_hours(chat));
            let d = escalate_at(&s, Channel::Voice, at_hour(20));
            assert_eq!(d.record.outcome, EscalationOutcome::AfterHours);
            assert!(d.created.is_none());
            assert!(d.effects.iter().all(|e| e.timer().is_none()), "no ring timer");
            assert_eq!(
                texts(&d.effects),
                [(OutboundType::CustomerMessage, Some("We're closed; back at 9.".to_string())), (then, None)]
            );
            let seqs: Vec<u64> = d.effects.iter().filter_map(Effect::outbound).map(|e| e.seq).collect();
            assert_eq!(seqs, [1, 2]);
        }
    }
}

#[test]
fn routing_to_the_ai_and_turning_off_ignore_business_hours() {
    let mut s = settings(true, Routing::Ai, VoiceTimeoutAction::ReturnToAi);
    s.business_hours = Some(office_hours("return_to_ai"));
    assert_eq!(escalate_at(&s, Channel::Voice, at_hour(20)).record.outcome, EscalationOutcome::RoutedToAi);
    s.enabled = false;
    assert_eq!(escalate_at(&s, Channel::Voice, at_hour(20)).record.outcome, EscalationOutcome::Disabled);
}

proptest! {
    /// Whatever the hours and the moment: a voice escalation rings only when open, and a chat
    /// escalation is queued with the after-hours message exactly when closed.
    #[test]
    fn the_outcome_follows_the_hours(utc_hour in 0u32..24, day in 0i64..14, queue in any::<bool>(), voice in any::<bool>()) {
        let mut s = settings(true, Routing::Human, VoiceTimeoutAction::EndCall);
        let h = office_hours(if queue { "queue" } else { "return_to_ai" });
        let now = at_hour(utc_hour) + chrono::Duration::days(day);
        let open = h.is_open(now);
        s.business_hours = Some(h);
        let channel = if voice { Channel::Voice } else { Channel::Chat };
        let d = escalate_at(&s, channel, now);
        let expected = match (open, voice, queue) {
            (true, true, _) => EscalationOutcome::Ringing,
            (true, false, _) | (false, false, true) => EscalationOutcome::Queued,
            (false, _, _) => EscalationOutcome::AfterHours,
        };
        prop_assert_eq!(d.record.outcome, expected);
        let text = customer_text(&d.effects).unwrap();
        prop_assert_eq!(text == "We're closed; back at 9.", !open);
    }
}

// --- Teams, routing and transfer (spec §12) ---

fn teams_doc() -> Teams {
    teams::parse_teams_update(
        &json!({
            "teams": [{"team_id": "billing", "name": "Billing", "members": ["u1"]},
                      {"team_id": "general", "name": "General"}],
            "rules": [{"when": {"reason": ["refund_request"]}, "team_id": "billing"}],
            "default_team_id": "general"
        }),
        &WorkspaceId::parse("ws_1").unwrap(),
    )
    .unwrap()
    .teams
}

#[test]
fn an_escalation_takes_the_team_of_its_rule_and_keeps_it() {
    let s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    let req = request(Channel::Chat);
    let d = decide_escalation(&s, &teams_doc(), &req, Actor::Ai, None, HandoffId::parse("hnd_1").unwrap(), t0());
    assert_eq!(d.created.as_ref().unwrap().team_id.as_ref().map(|t| t.as_str()), Some("billing"));
    let other = EscalationRequest { reason: Reason::Other, ..req.clone() };
    let d = decide_escalation(&s, &teams_doc(), &other, Actor::Ai, None, HandoffId::parse("hnd_2").unwrap(), t0());
    assert_eq!(d.created.as_ref().unwrap().team_id.as_ref().map(|t| t.as_str()), Some("general"));
    // Routed to the AI: no team's queue.
    let ai = settings(true, Routing::Ai, VoiceTimeoutAction::ReturnToAi);
    let d = decide_escalation(&ai, &teams_doc(), &req, Actor::Ai, None, HandoffId::parse("hnd_3").unwrap(), t0());
    assert_eq!(d.created.unwrap().team_id, None);
    // The handoff keeps its team whatever the rules become: it is stored on the handoff.
    let h = escalate(&s, Channel::Chat).created.unwrap();
    assert_eq!(h.team_id, None);
}

#[test]
fn a_transfer_requeues_an_assigned_handoff_and_keeps_a_waiting_ones_place() {
    let billing = TeamId::parse("billing").unwrap();
    let mut assigned = handoff_in(State::Assigned, VoiceTimeoutAction::ReturnToAi);
    assigned.team_id = Some(TeamId::parse("general").unwrap());
    let d = changed(decide(&assigned, &Command::Transfer { by: uid("u0"), team_id: billing.clone() }, t0()));
    assert_eq!(
        (d.handoff.state, d.handoff.assignee.clone(), d.handoff.team_id.clone()),
        (State::Waiting, None, Some(billing.clone()))
    );
    assert!(d.effects.iter().all(|e| e.outbound().is_none()), "nothing new for the customer");
    let stall = d.effects.iter().find_map(Effect::timer).expect("waiting again: a stall timer");
    assert_eq!(stall.set_at_version, d.handoff.version);
    assert!(d.timeline.iter().any(|l| matches!(&l.event,
        TimelineEvent::Transferred { from_team_id: Some(f), team_id } if f.as_str() == "general" && team_id == &billing)));
    assert!(d.created_at_unchanged(&assigned), "its place in queue order");

    let waiting = handoff_in(State::Waiting, VoiceTimeoutAction::ReturnToAi);
    let d = changed(decide(&waiting, &Command::Transfer { by: uid("u0"), team_id: billing.clone() }, t0()));
    assert_eq!(
        (d.handoff.state, d.handoff.timer_version()),
        (State::Waiting, waiting.timer_version()),
        "a waiting handoff keeps its stall timer"
    );
    assert!(d.effects.is_empty());
    // The same team again: nothing to do.
    assert_eq!(
        decide(&d.handoff, &Command::Transfer { by: uid("u0"), team_id: billing.clone() }, t0()),
        Ok(Outcome::Unchanged)
    );
    for closed in [State::Resolved, State::ReturnedToAi, State::Ticketed, State::Abandoned] {
        let h = Handoff { state: closed, ..waiting.clone() };
        assert!(decide(&h, &Command::Transfer { by: uid("u0"), team_id: billing.clone() }, t0()).is_err(), "{closed}");
    }
}

impl Decision {
    fn created_at_unchanged(&self, before: &Handoff) -> bool {
        self.handoff.created_at == before.created_at
    }
}

// --- Figures (spec §13) ---

fn count(d: &MetricsDelta, name: &str) -> i64 {
    d.counts.get(name).copied().unwrap_or(0)
}

#[test]
fn each_change_adds_its_figures() {
    let s = settings(true, Routing::Human, VoiceTimeoutAction::ReturnToAi);
    let e = escalate(&s, Channel::Chat);
    assert_eq!((count(&e.metrics, "escalations.queued"), count(&e.metrics, "queued_or_ringing")), (1, 1));
    assert_eq!(e.metrics.day, t0().date_naive());
    let h = e.created.unwrap();
    let later = t0() + chrono::Duration::seconds(75);
    let accepted = changed(decide(&h, &Command::Accept { by: uid("u1") }, later));
    assert_eq!(count(&accepted.metrics, "accept.75"), 1);
    assert_eq!(accepted.metrics.day, h.created_at.date_naive(), "counted on the day the handoff was created");
    let resolved =
        changed(decide(&accepted.handoff, &Command::Resolve { by: uid("u1") }, later + chrono::Duration::seconds(25)));
    assert_eq!((count(&resolved.metrics, "final.resolved"), count(&resolved.metrics, "resolve.100")), (1, 1));
    // Abandoned before anyone accepted.
    let gone = changed(decide(&h, &Command::ConversationEnded, later));
    assert_eq!((count(&gone.metrics, "final.abandoned"), count(&gone.metrics, "abandoned_before_accept")), (1, 1));
    let gone_later = changed(decide(&accepted.handoff, &Command::ConversationEnded, later));
    assert_eq!(count(&gone_later.metrics, "abandoned_before_accept"), 0);
    // Returned by an agent; a stall notice; a ring timeout.
    let back = changed(decide(&h, &Command::ReturnToAi { by: uid("u1") }, later));
    assert_eq!(count(&back.metrics, "returned_by_agent"), 1);
    let stall = changed(decide(&h, &Command::StallTimerFired { set_at_version: 1 }, later));
    assert_eq!(count(&stall.metrics, "stall_notices"), 1);
    let ringing = handoff_in(State::Ringing, VoiceTimeoutAction::EndCall);
    let timeout = changed(decide(&ringing, &Command::RingTimerFired { set_at_version: 1 }, later));
    assert_eq!((count(&timeout.metrics, "ring_timeouts"), count(&timeout.metrics, "final.ended")), (1, 1));
    // A ticket resolved later moves from ticketed to resolved.
    let ticket = Handoff { state: State::Ticketed, ..h.clone() };
    let closed = changed(decide(&ticket, &Command::Resolve { by: uid("u1") }, later));
    assert_eq!((count(&closed.metrics, "final.ticketed"), count(&closed.metrics, "final.resolved")), (-1, 1));
    // A note adds nothing.
    assert!(changed(decide(&h, &Command::AddNote { by: uid("u1"), text: "x".into() }, later)).metrics.is_empty());
}
