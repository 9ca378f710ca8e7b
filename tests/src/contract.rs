//! The store contract: what every [`Store`] adapter must do, run against the embedded store and
//! DynamoDB on the emulator (tests/tests/store_contract.rs).

use ::handoff::domain::*;
use ::handoff::ports::{
    CommitError, EscalationWrite, EscalationWriteError, InboxCursor, InboxQuery, StatusFilter, Store, StoreError,
    Transition,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

pub fn ws(s: &str) -> WorkspaceId {
    WorkspaceId::parse(s).unwrap()
}

fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

/// A decided escalation: record, handoff (if any), effects.
pub fn escalation(
    w: &str,
    conv: &str,
    event: &str,
    channel: Channel,
    reason: Reason,
    at: DateTime<Utc>,
    enabled: bool,
) -> EscalationDecision {
    let settings = Settings { enabled, ..Settings::default() };
    let req = EscalationRequest {
        event_id: EventId::parse(event).unwrap(),
        workspace_id: ws(w),
        conversation_id: ConversationId::parse(conv).unwrap(),
        channel,
        reason,
        summary: Some("summary".into()),
        customer: Some(Customer { id: Some("c1".into()), name: Some("Ada".into()), email: None }),
        priority: Priority::High,
        transcript: vec![],
    };
    decide_escalation(
        &settings,
        &Teams::default(),
        &req,
        Actor::Ai,
        None,
        HandoffId::parse(format!("hnd_{event}")).unwrap(),
        at,
    )
}

fn changed(h: &Handoff, cmd: Command, at: DateTime<Utc>) -> Decision {
    match decide(h, &cmd, at) {
        Ok(Outcome::Changed(d)) => d,
        other => panic!("expected a change: {other:?}"),
    }
}

/// Records an escalation decision as the use case does (settings and teams never saved:
/// version 0).
async fn record(s: &dyn Store, d: &EscalationDecision) -> Result<(), EscalationWriteError> {
    record_on_teams(s, d, 0).await
}

async fn record_on_teams(s: &dyn Store, d: &EscalationDecision, teams: u64) -> Result<(), EscalationWriteError> {
    let decision = d.decision_record();
    s.create_escalation(EscalationWrite {
        teams_version: Some(teams),
        metrics: Some(&d.metrics),
        record: &d.record,
        handoff: d.created.as_ref(),
        decision: decision.as_ref(),
        settings_version: Some(0),
        stale_lock: None,
        transcript: &d.transcript,
    })
    .await
}

async fn commit(s: &dyn Store, d: &Decision, expected: u64) -> Result<(), CommitError> {
    let record = d.record();
    let key = None;
    s.commit_transition(Transition {
        metrics: (!d.metrics.is_empty()).then_some(&d.metrics),
        handoff: &d.handoff,
        expected_version: expected,
        decision: &record,
        transcript: &d.transcript,
        key,
    })
    .await
}

/// The escalation's own decision, as a replay reads it.
async fn first_decision(s: &dyn Store, h: &Handoff) -> DecisionRecord {
    let v = s.get_handoff_view(&h.workspace_id, &h.handoff_id, 0, 1).await.unwrap().unwrap();
    // As created, apart from how many of its events are out by now.
    assert_eq!(&Handoff { sent_seq: h.sent_seq, ..v.handoff.clone() }, h);
    v.decisions.into_iter().next().unwrap()
}

fn pending_ids(v: &[DecisionRecord]) -> Vec<String> {
    v.iter().flat_map(|d| d.pending().into_iter().map(|e| e.id().to_string())).collect()
}

fn query(status: StatusFilter) -> InboxQuery {
    InboxQuery { teams: None, status, assignee: None, channel: None, reason: None, limit: 50, after: None }
}

pub async fn settings_writes_are_conditional(s: &dyn Store) {
    let w = ws("ws_settings");
    assert!(s.get_settings(&w).await.unwrap().is_none());
    let v1 = SettingsDoc::defaults(w.clone()).saved(Settings { enabled: true, ..Settings::default() }, user("a"), t0());
    s.put_settings(&v1, 0).await.unwrap();
    assert!(matches!(s.put_settings(&v1, 0).await, Err(StoreError::VersionConflict)));
    assert_eq!(s.get_settings(&w).await.unwrap().as_ref(), Some(&v1));
    let mut changed = v1.settings.clone();
    changed.stall_message = Message::parse("second").unwrap();
    let v2 = v1.saved(changed, user("b"), t0() + Duration::seconds(1));
    assert!(matches!(s.put_settings(&v2, 0).await, Err(StoreError::VersionConflict)));
    assert!(matches!(s.put_settings(&v2, 2).await, Err(StoreError::VersionConflict)));
    s.put_settings(&v2, 1).await.unwrap();
    let back = s.get_settings(&w).await.unwrap().unwrap();
    assert_eq!(back, v2);
    assert_eq!(back.version, 2);
    assert!(s.get_settings(&ws("ws_other")).await.unwrap().is_none());
}

pub async fn escalations_are_recorded_once_and_atomically(s: &dyn Store) {
    let d = escalation("ws_e", "conv-1", "evt-1", Channel::Chat, Reason::Other, t0(), true);
    let h = d.created.clone().unwrap();
    record(s, &d).await.unwrap();
    assert_eq!(s.get_handoff(&ws("ws_e"), &h.handoff_id).await.unwrap().as_ref(), Some(&h));
    let first = first_decision(s, &h).await;
    assert_eq!(first, d.decision_record().unwrap(), "timeline lines and effects recorded with the handoff");

    // The same event again, even with another handoff for another conversation: a duplicate that
    // answers with the stored record, and nothing of it is written.
    let mut again = escalation("ws_e", "conv-2", "evt-1", Channel::Chat, Reason::Other, t0(), true);
    let other = again.created.as_mut().unwrap();
    other.handoff_id = HandoffId::parse("hnd_other").unwrap();
    let other = other.clone();
    match record(s, &again).await {
        Err(EscalationWriteError::Duplicate(rec)) => assert_eq!(*rec, d.record),
        other => panic!("expected a duplicate: {other:?}"),
    }
    assert!(s.get_handoff(&ws("ws_e"), &other.handoff_id).await.unwrap().is_none());

    // An escalation without a handoff (Human Handoff off) records its outcome and its effect,
    // under the event.
    let off = escalation("ws_e", "conv-3", "evt-off", Channel::Chat, Reason::Other, t0(), false);
    assert!(off.created.is_none());
    record(s, &off).await.unwrap();
    let dec = s.get_event_decision(&ws("ws_e"), &off.record.event_id).await.unwrap().unwrap();
    assert_eq!(dec.effects, off.effects);
    match record(s, &off).await {
        Err(EscalationWriteError::Duplicate(rec)) => assert_eq!(rec.outcome, EscalationOutcome::Disabled),
        other => panic!("expected a duplicate: {other:?}"),
    }
    // Records are per workspace.
    assert!(s.get_event_decision(&ws("ws_other"), &off.record.event_id).await.unwrap().is_none());
    assert!(s.get_handoff(&ws("ws_other"), &h.handoff_id).await.unwrap().is_none());
}

pub async fn escalations_check_the_settings_version(s: &dyn Store) {
    let d = escalation("ws_sv", "conv-1", "evt-sv", Channel::Chat, Reason::Other, t0(), true);
    let decision = d.decision_record();
    let write = |v| EscalationWrite {
        teams_version: None,
        metrics: None,
        record: &d.record,
        handoff: d.created.as_ref(),
        decision: decision.as_ref(),
        settings_version: Some(v),
        stale_lock: None,
        transcript: &d.transcript,
    };
    // Decided on version 1 while the workspace never saved: stale, nothing written.
    assert!(matches!(s.create_escalation(write(1)).await, Err(EscalationWriteError::SettingsChanged)));
    assert!(s.get_handoff(&ws("ws_sv"), &d.created.as_ref().unwrap().handoff_id).await.unwrap().is_none());
    let v1 =
        SettingsDoc::defaults(ws("ws_sv")).saved(Settings { enabled: true, ..Settings::default() }, user("a"), t0());
    s.put_settings(&v1, 0).await.unwrap();
    // Decided on the defaults (version 0) after a save: stale too.
    assert!(matches!(s.create_escalation(write(0)).await, Err(EscalationWriteError::SettingsChanged)));
    s.create_escalation(write(1)).await.unwrap();
    assert!(s.get_handoff(&ws("ws_sv"), &d.created.as_ref().unwrap().handoff_id).await.unwrap().is_some());
}

pub async fn one_active_handoff_per_conversation(s: &dyn Store) {
    let a = escalation("ws_c", "conv-1", "evt-a", Channel::Chat, Reason::Other, t0(), true);
    let ha = a.created.clone().unwrap();
    record(s, &a).await.unwrap();
    let b = escalation("ws_c", "conv-1", "evt-b", Channel::Voice, Reason::Other, t0(), true);
    let hb = b.created.clone().unwrap();
    match record(s, &b).await {
        Err(EscalationWriteError::ConversationBusy(id)) => assert_eq!(id, ha.handoff_id, "names the active handoff"),
        other => panic!("expected busy: {other:?}"),
    }
    // Atomic: the losing escalation left no record, handoff or effects.
    assert!(s.get_handoff(&ws("ws_c"), &hb.handoff_id).await.unwrap().is_none());
    let pending = pending_ids(&s.pending_decisions(t0() + Duration::days(1), 100).await.unwrap());
    assert!(b.effects.iter().all(|e| !pending.contains(&e.id().to_string())));

    // Once the first handoff is over, the conversation is free.
    let done = changed(&ha, Command::ReturnToAi { by: user("u") }, t0() + Duration::seconds(5));
    commit(s, &done, ha.version).await.unwrap();
    record(s, &b).await.unwrap();
    assert_eq!(s.get_handoff(&ws("ws_c"), &hb.handoff_id).await.unwrap().unwrap().state, State::Ringing);
    // And busy again while that one is active.
    let c = escalation("ws_c", "conv-1", "evt-c", Channel::Chat, Reason::Other, t0(), true);
    assert!(matches!(record(s, &c).await, Err(EscalationWriteError::ConversationBusy(id)) if id == hb.handoff_id));
}

pub async fn expired_escalation_records_can_be_replaced(s: &dyn Store) {
    let mut d = escalation("ws_x", "conv-1", "evt-old", Channel::Chat, Reason::Other, t0() - Duration::days(10), false);
    d.record.expires_at = t0() - Duration::days(7);
    let mut old = d.decision_record().unwrap();
    old.sent.insert(old.effects[0].id().to_string(), t0() - Duration::days(10));
    s.create_escalation(EscalationWrite {
        teams_version: None,
        metrics: None,
        record: &d.record,
        handoff: None,
        decision: Some(&old),
        settings_version: None,
        stale_lock: None,
        transcript: &[],
    })
    .await
    .unwrap();
    let fresh = escalation("ws_x", "conv-1", "evt-old", Channel::Chat, Reason::Other, t0(), true);
    record(s, &fresh).await.unwrap();
    match record(s, &fresh).await {
        Err(EscalationWriteError::Duplicate(rec)) => assert_eq!(rec.outcome, EscalationOutcome::Queued),
        other => panic!("expected a duplicate: {other:?}"),
    }
}

pub async fn transitions_are_conditional_on_the_version_read(s: &dyn Store) {
    let d = escalation("ws_t", "conv-1", "evt-t", Channel::Voice, Reason::Other, t0(), true);
    let h = d.created.clone().unwrap();
    record(s, &d).await.unwrap();
    let by_alice = changed(&h, Command::Accept { by: user("alice") }, t0() + Duration::seconds(1));
    let by_bob = changed(&h, Command::Accept { by: user("bob") }, t0() + Duration::seconds(1));
    commit(s, &by_alice, h.version).await.unwrap();
    // Bob read the same version: he loses cleanly, and his decision is not recorded.
    match commit(s, &by_bob, h.version).await {
        // The failed write brings the stored handoff back, so Bob's request needs no read.
        Err(CommitError::Stale { current: Some(c) }) => assert_eq!((c.version, c.assignee), (2, Some(user("alice")))),
        other => panic!("expected a stale commit with the stored handoff: {other:?}"),
    }
    let now = s.get_handoff(&ws("ws_t"), &h.handoff_id).await.unwrap().unwrap();
    assert_eq!(now.assignee, Some(user("alice")));
    assert_eq!(now.version, 2);
    let view = s.get_handoff_view(&ws("ws_t"), &h.handoff_id, 0, 10).await.unwrap().unwrap();
    assert_eq!(view.decisions.len(), 2);
    assert_eq!(view.decisions[1], by_alice.record(), "Alice's decision, once");
    assert!(s.get_handoff(&ws("ws_t"), &HandoffId::parse("hnd_none").unwrap()).await.unwrap().is_none());
    assert!(s.get_handoff_view(&ws("ws_t"), &HandoffId::parse("hnd_none").unwrap(), 0, 5).await.unwrap().is_none());
}

pub async fn a_recorded_decision_is_never_reset(s: &dyn Store) {
    let d = escalation("ws_r", "conv-1", "evt-r", Channel::Chat, Reason::Other, t0(), true);
    let h = d.created.clone().unwrap();
    record(s, &d).await.unwrap();
    let first = first_decision(s, &h).await;
    let ids: Vec<String> = first.effects.iter().map(|e| e.id().to_string()).collect();
    s.mark_sent(&first, &ids, t0() + Duration::seconds(1)).await.unwrap();
    let h = s.get_handoff(&ws("ws_r"), &h.handoff_id).await.unwrap().unwrap();
    // A decision with the same owner and version written again (a reused id): refused, and the
    // stored one keeps its sent marks.
    let accept = changed(&h, Command::Accept { by: user("a") }, t0() + Duration::seconds(2));
    let mut clash = accept.record();
    clash.version = 1;
    let t = Transition {
        metrics: None,
        handoff: &accept.handoff,
        expected_version: 1,
        decision: &clash,
        transcript: &[],
        key: None,
    };
    assert!(matches!(s.commit_transition(t).await, Err(CommitError::Stale { .. })));
    let back = first_decision(s, &h).await;
    assert!(back.is_settled(), "still sent");
    assert_eq!(s.get_handoff(&ws("ws_r"), &h.handoff_id).await.unwrap().unwrap().version, 1, "nothing changed");
}

pub async fn sent_seq_follows_the_outbox_and_guards_commits(s: &dyn Store) {
    let d = escalation("ws_q", "conv-1", "evt-q", Channel::Chat, Reason::Other, t0(), true);
    let h = d.created.clone().unwrap();
    record(s, &d).await.unwrap();
    assert_eq!((h.seq, h.sent_seq), (1, 0), "the confirmation is event 1, not sent yet");
    let first = first_decision(s, &h).await;
    let (events, timers): (Vec<&Effect>, Vec<&Effect>) =
        first.effects.iter().partition(|e| matches!(e, Effect::Outbound(_)));
    let get = || async { s.get_handoff(&ws("ws_q"), &h.handoff_id).await.unwrap().unwrap() };
    // A copy ahead of what went out (a timer's snapshot is taken as if the confirmation were
    // out): its decision would let the next event leave before the confirmation.
    let ahead = Handoff { sent_seq: 1, ..h.clone() };
    let on_ahead = changed(&ahead, Command::Accept { by: user("a") }, t0() + Duration::seconds(1));
    match commit(s, &on_ahead, 1).await {
        Err(CommitError::Stale { current: Some(c) }) => assert_eq!((c.sent_seq, c.version), (0, 1)),
        other => panic!("expected a stale commit: {other:?}"),
    }
    // Only the timer handed over: no event is out yet.
    s.mark_sent(&first, &[timers[0].id().to_string()], t0()).await.unwrap();
    assert_eq!(get().await.sent_seq, 0);
    s.mark_sent(&first, &[events[0].id().to_string()], t0()).await.unwrap();
    let now = get().await;
    assert_eq!((now.sent_seq, now.version), (1, 1), "the acknowledgement moves sent_seq, not the version");
    // A copy read before that acknowledgement is stale: its decision could send out of order.
    let on_stale = changed(&h, Command::Accept { by: user("a") }, t0() + Duration::seconds(1));
    match commit(s, &on_stale, 1).await {
        Err(CommitError::Stale { current: Some(c) }) => assert_eq!(c.sent_seq, 1),
        other => panic!("expected a stale commit: {other:?}"),
    }
    let accept = changed(&now, Command::Accept { by: user("a") }, t0() + Duration::seconds(1));
    commit(s, &accept, 1).await.unwrap();
    let stored = get().await;
    assert_eq!((stored.version, stored.seq, stored.sent_seq), (2, 2, 1), "agent_joined is event 2, pending");
    // Acknowledging an older decision again never moves sent_seq back.
    let ids: Vec<String> = accept.effects.iter().map(|e| e.id().to_string()).collect();
    s.mark_sent(&accept.record(), &ids, t0()).await.unwrap();
    s.mark_sent(&first, &[events[0].id().to_string()], t0()).await.unwrap();
    assert_eq!(get().await.sent_seq, 2);
}

/// Commits `cmd` on `h` as the use case does (with the command's idempotency key).
async fn apply(s: &dyn Store, h: &Handoff, cmd: Command, at: DateTime<Utc>) -> Result<Handoff, CommitError> {
    let d = changed(h, cmd.clone(), at);
    let record = d.record();
    let key = cmd.idempotency_key();
    s.commit_transition(Transition {
        metrics: None,
        handoff: &d.handoff,
        expected_version: h.version,
        decision: &record,
        transcript: &d.transcript,
        key: key.as_deref(),
    })
    .await
    .map(|()| d.handoff)
}

fn customer(id: &str, text: &str) -> Command {
    Command::CustomerMessage { message_id: EventId::parse(id).unwrap(), text: text.into(), sent_at: t0() }
}

pub async fn the_transcript_is_kept_in_order_and_paged(s: &dyn Store) {
    let w = ws("ws_tr");
    let req = EscalationRequest {
        event_id: EventId::parse("evt-tr").unwrap(),
        workspace_id: w.clone(),
        conversation_id: ConversationId::parse("conv-tr").unwrap(),
        channel: Channel::Chat,
        reason: Reason::Other,
        summary: None,
        customer: None,
        priority: Priority::Normal,
        transcript: vec![
            TranscriptEntry { author: Actor::Customer, text: "Where is my parcel?".into(), sent_at: t0() },
            TranscriptEntry { author: Actor::Ai, text: "Let me find a person.".into(), sent_at: t0() },
        ],
    };
    let settings = Settings { enabled: true, ..Settings::default() };
    let d = decide_escalation(
        &settings,
        &Teams::default(),
        &req,
        Actor::Ai,
        None,
        HandoffId::parse("hnd_tr").unwrap(),
        t0(),
    );
    record(s, &d).await.unwrap();
    let mut h = d.created.clone().unwrap();
    let id = h.handoff_id.clone();
    assert_eq!(s.active_handoff_of(&w, &h.conversation_id).await.unwrap(), Some(id.clone()));
    h = apply(s, &h, Command::Accept { by: user("alice") }, t0()).await.unwrap();
    for i in 0..5 {
        h = apply(s, &h, customer(&format!("m{i}"), &format!("message {i}")), t0()).await.unwrap();
    }
    assert!(h.unread);
    // The same message again: refused as a repeat, nothing stored.
    match apply(s, &h, customer("m1", "message 1"), t0()).await {
        Err(CommitError::Duplicate { message_id }) => assert_eq!(message_id, "m1"),
        other => panic!("expected a repeat: {other:?}"),
    }
    assert_eq!(s.get_handoff(&w, &id).await.unwrap().unwrap().version, h.version, "nothing changed");
    assert_eq!(s.change_key(&w, &id, "customer:m1").await.unwrap().as_deref(), Some("m1"));
    assert_eq!(s.change_key(&w, &id, "customer:m9").await.unwrap(), None);
    h = apply(s, &h, Command::AddNote { by: user("alice"), text: "VIP".into() }, t0()).await.unwrap();
    // Read whole: the escalation's lines, the confirmation, the messages, the note, in order.
    let first = s.get_transcript(&w, &id, None, 100).await.unwrap().unwrap();
    assert_eq!(first.handoff.as_ref().map(|x| x.version), Some(h.version), "the first page brings the handoff");
    let texts: Vec<&str> = first.lines.iter().map(|(_, l)| l.text.as_str()).collect();
    let mut expected = vec!["Where is my parcel?", "Let me find a person.", settings.confirmation_message.as_str()];
    let messages: Vec<String> = (0..5).map(|i| format!("message {i}")).collect();
    expected.extend(messages.iter().map(String::as_str));
    expected.push("VIP");
    assert_eq!(texts, expected);
    assert!(!first.more);
    assert_eq!(first.lines.last().unwrap().1.kind, LineKind::Note);
    // In pages of 3: the same lines, each page one read, the cursor where the last one ended.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s.get_transcript(&w, &id, after, 3).await.unwrap().unwrap();
        assert!(page.lines.len() <= 3);
        assert_eq!(page.handoff.is_some(), after.is_none());
        paged.extend(page.lines.iter().map(|(_, l)| l.text.clone()));
        if !page.more {
            break;
        }
        after = page.lines.last().map(|(p, _)| *p);
    }
    assert_eq!(paged, expected);
    // A read mark cleared records no decision: the history is not padded by reads.
    let before = s.get_handoff_view(&w, &id, 0, 100).await.unwrap().unwrap().decisions.len();
    h = apply(s, &h, Command::MarkRead { by: user("alice") }, t0()).await.unwrap();
    assert!(!s.get_handoff(&w, &id).await.unwrap().unwrap().unread);
    let view = s.get_handoff_view(&w, &id, 0, 100).await.unwrap().unwrap();
    assert_eq!(view.decisions.len(), before, "the timeline holds decisions only, never transcript lines");
    // The customer leaves: the conversation is free, and the transcript stays readable.
    apply(s, &h, Command::ConversationEnded, t0()).await.unwrap();
    assert_eq!(s.active_handoff_of(&w, &h.conversation_id).await.unwrap(), None);
    assert_eq!(s.get_transcript(&w, &id, None, 100).await.unwrap().unwrap().lines.len(), expected.len());
    assert!(s.get_transcript(&w, &HandoffId::parse("hnd_none").unwrap(), None, 5).await.unwrap().is_none());
}

/// Adds `lines` customer lines to `h`, 50 to a change (as a busy conversation would, faster).
async fn talk(s: &dyn Store, mut h: Handoff, lines: usize) -> Handoff {
    let mut written = 0;
    while written < lines {
        let n = (lines - written).min(50);
        let mut next = h.clone();
        next.version += 1;
        next.unread = true;
        let transcript: Vec<TranscriptLine> = (0..n)
            .map(|i| TranscriptLine {
                message_id: format!("m{}", written + i),
                author: Actor::Customer,
                kind: LineKind::Message,
                text: format!("line {}", written + i),
                at: t0(),
            })
            .collect();
        let record = DecisionRecord::of_handoff(
            h.workspace_id.clone(),
            h.handoff_id.clone(),
            next.version,
            t0(),
            vec![],
            vec![],
        );
        let t = Transition {
            metrics: None,
            handoff: &next,
            expected_version: h.version,
            decision: &record,
            transcript: &transcript,
            key: None,
        };
        s.commit_transition(t).await.unwrap();
        h = next;
        written += n;
    }
    h
}

pub async fn a_long_transcript_reads_like_a_short_one(s: &dyn Store) {
    let w = ws("ws_long");
    let mut stored = Vec::new();
    for (event, lines) in [("evt-short", 10), ("evt-long", 10_000)] {
        let d = escalation("ws_long", event, event, Channel::Chat, Reason::Other, t0(), true);
        record(s, &d).await.unwrap();
        let h = talk(s, d.created.clone().unwrap(), lines).await;
        let id = h.handoff_id.clone();
        // The first page: the handoff and the oldest lines.
        let first = s.get_transcript(&w, &id, None, 50).await.unwrap().unwrap();
        assert_eq!(first.lines.len(), (lines + 1).min(50), "{event}");
        assert_eq!(first.lines[1].1.text, "line 0");
        // A page from deep inside: exactly the lines after the cursor.
        let deep = LinePosition { version: h.version, index: 0 };
        let page = s.get_transcript(&w, &id, Some(deep), 50).await.unwrap().unwrap();
        let last_batch = if lines % 50 == 0 { 50 } else { lines % 50 };
        assert_eq!(page.lines.len(), last_batch - 1, "{event}");
        assert_eq!(page.lines[0].1.text, format!("line {}", lines - last_batch + 1));
        assert!(!page.more);
        // A new message still joins with one conditional write on the same small item.
        let next = apply(s, &h, customer("late", "one more"), t0()).await.unwrap();
        let back = s.get_handoff(&w, &id).await.unwrap().unwrap();
        assert_eq!(back.version, next.version);
        let last =
            s.get_transcript(&w, &id, Some(LinePosition { version: h.version, index: 49 }), 50).await.unwrap().unwrap();
        assert_eq!(last.lines.last().map(|(_, l)| l.text.as_str()), Some("one more"));
        // (Its ids name the event three times, and its version has more digits.)
        stored.push(serde_json::to_string(&back).unwrap().len() - event.len() * 3 - back.version.to_string().len());
        // The timeline view does not read transcript lines.
        let view = s.get_handoff_view(&w, &id, 0, 50).await.unwrap().unwrap();
        assert!(view.decisions.len() <= 3, "{event}: {}", view.decisions.len());
    }
    assert_eq!(stored[0], stored[1], "the handoff item is the same size whatever the transcript's length");
}

pub async fn history_is_read_in_bounded_pages(s: &dyn Store) {
    let d = escalation("ws_h", "conv-1", "evt-h", Channel::Chat, Reason::Other, t0(), true);
    let mut h = d.created.clone().unwrap();
    record(s, &d).await.unwrap();
    h = {
        let a = changed(&h, Command::Accept { by: user("a0") }, t0() + Duration::seconds(1));
        commit(s, &a, h.version).await.unwrap();
        a.handoff
    };
    // A long reassignment history: the handoff item itself does not grow.
    for i in 1..=30 {
        let a = changed(
            &h,
            Command::Assign { by: user("a0"), assignee: user(&format!("a{i}")) },
            t0() + Duration::seconds(1 + i),
        );
        commit(s, &a, h.version).await.unwrap();
        h = a.handoff;
    }
    let mut versions = Vec::new();
    let mut after = 0;
    loop {
        let v = s.get_handoff_view(&ws("ws_h"), &h.handoff_id, after, 7).await.unwrap().unwrap();
        assert_eq!(v.handoff, h);
        assert!(v.decisions.len() <= 7);
        versions.extend(v.decisions.iter().map(|d| d.version));
        match v.next {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(versions, (1..=h.version).collect::<Vec<_>>(), "every decision once, in order");
    assert!(serde_json::to_string(&h).unwrap().len() < 2_000, "the handoff stays small");
}

pub async fn effects_stay_pending_until_dispatched(s: &dyn Store) {
    let d = escalation("ws_o", "conv-1", "evt-o", Channel::Chat, Reason::Other, t0(), true);
    record(s, &d).await.unwrap();
    let later =
        escalation("ws_o", "conv-2", "evt-o2", Channel::Chat, Reason::Other, t0() + Duration::seconds(30), true);
    record(s, &later).await.unwrap();
    let mine = |v: Vec<String>| v.into_iter().filter(|id| id.contains("evt-o")).collect::<Vec<_>>();
    let first: Vec<String> = d.effects.iter().map(|e| e.id().to_string()).collect();
    // Only those recorded before the cut-off, oldest first.
    assert_eq!(mine(pending_ids(&s.pending_decisions(t0() + Duration::seconds(10), 100).await.unwrap())), first);
    let all = mine(pending_ids(&s.pending_decisions(t0() + Duration::days(1), 100).await.unwrap()));
    assert_eq!(all.len(), d.effects.len() + later.effects.len());
    assert_eq!(&all[..first.len()], &first[..]);
    let dec = first_decision(s, d.created.as_ref().unwrap()).await;
    // One of two sent: the decision stays pending with the other.
    s.mark_sent(&dec, &first[..1], t0() + Duration::seconds(40)).await.unwrap();
    let left = mine(pending_ids(&s.pending_decisions(t0() + Duration::days(1), 100).await.unwrap()));
    assert_eq!(left.len(), all.len() - 1);
    assert!(!left.contains(&first[0]));
    let dec = first_decision(s, d.created.as_ref().unwrap()).await;
    assert_eq!(dec.sent.get(&first[0]), Some(&(t0() + Duration::seconds(40))));
    s.mark_sent(&dec, &first[1..], t0() + Duration::seconds(41)).await.unwrap();
    let left = mine(pending_ids(&s.pending_decisions(t0() + Duration::days(1), 100).await.unwrap()));
    assert_eq!(left, later.effects.iter().map(|e| e.id().to_string()).collect::<Vec<_>>());
    assert_eq!(s.pending_decisions(t0() + Duration::days(1), 1).await.unwrap().len(), 1, "limit");
}

pub async fn the_inbox_filters_orders_and_pages(s: &dyn Store) {
    let w = "ws_inbox";
    let mut ids = Vec::new();
    let reasons = [Reason::RefundRequest, Reason::BillingIssue];
    for i in 0..9 {
        let channel = if i % 3 == 2 { Channel::Voice } else { Channel::Chat };
        let d = escalation(
            w,
            &format!("conv-{i}"),
            &format!("evt-{i}"),
            channel,
            reasons[i % 2],
            t0() + Duration::seconds(i as i64),
            true,
        );
        let h = d.created.clone().unwrap();
        record(s, &d).await.unwrap();
        ids.push(h);
    }
    // 1 accepted by alice, 4 accepted by bob then resolved, 7 returned to the AI.
    let apply = |h: &Handoff, cmd: Command| changed(h, cmd, t0() + Duration::seconds(100));
    let a1 = apply(&ids[1], Command::Accept { by: user("alice") });
    commit(s, &a1, 1).await.unwrap();
    let a4 = apply(&ids[4], Command::Accept { by: user("bob") });
    commit(s, &a4, 1).await.unwrap();
    let r4 = apply(&a4.handoff, Command::Resolve { by: user("bob") });
    commit(s, &r4, 2).await.unwrap();
    let x7 = apply(&ids[7], Command::ReturnToAi { by: user("carol") });
    commit(s, &x7, 1).await.unwrap();

    let list = |q: InboxQuery| async move {
        let mut out = Vec::new();
        let mut q = q;
        loop {
            let page = s.list_inbox(&ws(w), &q).await.unwrap();
            assert!(page.items.len() <= q.limit);
            out.extend(page.items.iter().map(|h| h.handoff_id.as_str().to_string()));
            match page.next {
                Some(c) => q.after = Some(c),
                None => return out,
            }
        }
    };
    let id = |i: usize| ids[i].handoff_id.as_str().to_string();
    let active: Vec<String> = [0, 1, 2, 3, 5, 6, 8].iter().map(|i| id(*i)).collect();
    assert_eq!(list(query(StatusFilter::Active)).await, active);
    for limit in [1, 2, 3, 7, 8] {
        assert_eq!(list(InboxQuery { limit, ..query(StatusFilter::Active) }).await, active, "paged by {limit}");
    }
    assert_eq!(list(query(StatusFilter::One(State::Assigned))).await, vec![id(1)]);
    assert_eq!(list(query(StatusFilter::One(State::Resolved))).await, vec![id(4)]);
    assert_eq!(list(query(StatusFilter::One(State::ReturnedToAi))).await, vec![id(7)]);
    assert_eq!(list(query(StatusFilter::One(State::Ringing))).await, vec![id(2), id(5), id(8)]);
    assert_eq!(
        list(InboxQuery { teams: None, assignee: Some(user("alice")), ..query(StatusFilter::Active) }).await,
        vec![id(1)]
    );
    assert!(list(InboxQuery { teams: None, assignee: Some(user("bob")), ..query(StatusFilter::Active) })
        .await
        .is_empty());
    assert_eq!(
        list(InboxQuery { teams: None, assignee: Some(user("bob")), ..query(StatusFilter::One(State::Resolved)) })
            .await,
        vec![id(4)]
    );
    assert_eq!(
        list(InboxQuery { teams: None, channel: Some(Channel::Voice), ..query(StatusFilter::Active) }).await,
        vec![id(2), id(5), id(8)]
    );
    assert_eq!(
        list(InboxQuery { teams: None, reason: Some(Reason::RefundRequest), limit: 2, ..query(StatusFilter::Active) })
            .await,
        vec![id(0), id(2), id(6), id(8)]
    );
    assert_eq!(
        list(InboxQuery {
            teams: None,
            reason: Some(Reason::BillingIssue),
            channel: Some(Channel::Chat),
            limit: 1,
            ..query(StatusFilter::One(State::Waiting))
        })
        .await,
        vec![id(3)]
    );
    // Other workspaces see nothing of it.
    assert!(s.list_inbox(&ws("ws_elsewhere"), &query(StatusFilter::Active)).await.unwrap().items.is_empty());
    // A listed handoff is the whole handoff.
    let page = s
        .list_inbox(&ws(w), &InboxQuery { teams: None, limit: 1, ..query(StatusFilter::One(State::Assigned)) })
        .await
        .unwrap();
    assert_eq!(page.items[0], a1.handoff);
    assert!(page.next.is_none());
}

// --- Teams (spec §12) ---

fn teams_doc(w: &str, members: &[(&str, &[&str])], version: u64) -> TeamsDoc {
    let teams = Teams {
        teams: members
            .iter()
            .map(|(id, m)| Team {
                team_id: TeamId::parse(*id).unwrap(),
                name: format!("Team {id}"),
                members: m.iter().map(|u| user(u)).collect(),
            })
            .collect(),
        rules: vec![RoutingRule {
            when: RuleWhen { reason: vec![Reason::RefundRequest], ..Default::default() },
            team_id: TeamId::parse(members[0].0).unwrap(),
        }],
        default_team_id: None,
    };
    TeamsDoc {
        version,
        updated_at: Some(t0()),
        updated_by: Some(user("admin")),
        ..TeamsDoc::empty(ws(w)).saved(teams, user("admin"), t0())
    }
}

pub async fn teams_writes_are_conditional_and_keep_every_member(s: &dyn Store) {
    let w = ws("ws_teams");
    assert!(s.get_teams(&w).await.unwrap().is_none());
    // Big enough to need more than one item for its member lists on DynamoDB.
    let many: Vec<String> = (0..500).map(|i| format!("agent-{i:03}-{}", "x".repeat(200))).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let v1 = teams_doc("ws_teams", &[("billing", &many[..]), ("vip", &many[..300]), ("general", &["carol"])], 1);
    s.put_teams(&v1, 0).await.unwrap();
    assert!(matches!(s.put_teams(&v1, 0).await, Err(StoreError::VersionConflict)), "a second save on version 0 loses");
    assert_eq!(s.get_teams(&w).await.unwrap().as_ref(), Some(&v1));
    // What an escalation decides on: the same teams and rules, without the member lists.
    let (settings, routing) = s.get_decision_config(&w).await.unwrap();
    assert!(settings.is_none());
    let routing = routing.unwrap();
    assert_eq!((routing.version, &routing.teams.rules), (1, &v1.teams.rules));
    assert!(routing.teams.teams.iter().all(|t| t.members.is_empty()));
    // A smaller document replaces it entirely: no member of the old one is left behind.
    let v2 = teams_doc("ws_teams", &[("general", &["dave"])], 2);
    assert!(matches!(s.put_teams(&v2, 0).await, Err(StoreError::VersionConflict)));
    s.put_teams(&v2, 1).await.unwrap();
    assert_eq!(s.get_teams(&w).await.unwrap().as_ref(), Some(&v2));
    assert!(matches!(s.put_teams(&v2, 1).await, Err(StoreError::VersionConflict)));
    assert_eq!(s.get_teams(&w).await.unwrap().as_ref(), Some(&v2), "a lost save leaves nothing of itself");
}

pub async fn escalations_check_the_teams_version(s: &dyn Store) {
    let d = escalation("ws_tv", "c1", "e1", Channel::Chat, Reason::Other, t0(), true);
    s.put_teams(&teams_doc("ws_tv", &[("general", &[])], 1), 0).await.unwrap();
    // Decided on teams never saved (version 0): refused, nothing written.
    assert!(matches!(record(s, &d).await, Err(EscalationWriteError::SettingsChanged)));
    assert!(s.get_handoff(&ws("ws_tv"), &d.created.as_ref().unwrap().handoff_id).await.unwrap().is_none());
    record_on_teams(s, &d, 1).await.unwrap();
}

fn routed(w: &str, conv: &str, event: &str, reason: Reason, teams: &Teams, at: DateTime<Utc>) -> EscalationDecision {
    let req = EscalationRequest::new(
        EventId::parse(event).unwrap(),
        ws(w),
        ConversationId::parse(conv).unwrap(),
        Channel::Chat,
        reason,
    );
    let settings = Settings { enabled: true, ..Settings::default() };
    decide_escalation(&settings, teams, &req, Actor::Ai, None, HandoffId::parse(format!("hnd_{event}")).unwrap(), at)
}

pub async fn the_team_filter_reads_only_those_teams(s: &dyn Store) {
    let doc = teams_doc("ws_tf", &[("billing", &["alice"]), ("general", &["bob"])], 1);
    let teams = Teams { default_team_id: Some(TeamId::parse("general").unwrap()), ..doc.teams.clone() };
    let mut billing = Vec::new();
    for i in 0..6 {
        let reason = if i % 2 == 0 { Reason::RefundRequest } else { Reason::Other };
        let d = routed("ws_tf", &format!("c{i}"), &format!("tf{i}"), reason, &teams, t0() + Duration::seconds(i));
        record(s, &d).await.unwrap();
        if i % 2 == 0 {
            billing.push(d.created.unwrap().handoff_id);
        }
    }
    let ids = |p: ::handoff::ports::InboxPage| p.items.into_iter().map(|h| h.handoff_id).collect::<Vec<_>>();
    let q = |teams: Vec<&str>| InboxQuery {
        teams: Some(teams.into_iter().map(|t| TeamId::parse(t).unwrap()).collect()),
        ..query(StatusFilter::Active)
    };
    assert_eq!(ids(s.list_inbox(&ws("ws_tf"), &q(vec!["billing"])).await.unwrap()), billing);
    let both = ids(s.list_inbox(&ws("ws_tf"), &q(vec!["billing", "general"])).await.unwrap());
    assert_eq!(both.len(), 6);
    // An agent in more teams than their queues are read for (DynamoDB then reads the workspace's
    // Inbox with a team filter): the same handoffs in the same order.
    assert_eq!(ids(s.list_inbox(&ws("ws_tf"), &q(vec!["billing", "general", "vip"])).await.unwrap()), both);
    assert_eq!(ids(s.list_inbox(&ws("ws_tf"), &q(vec!["vip", "billing", "sales"])).await.unwrap()), billing);
    assert!(s.list_inbox(&ws("ws_tf"), &q(vec![])).await.unwrap().items.is_empty(), "in no team: nothing");
    assert_eq!(
        s.list_inbox(&ws("ws_tf"), &InboxQuery { limit: 2, ..q(vec!["billing"]) }).await.unwrap().items.len(),
        2
    );
    // A transfer moves it from one team's queue to the other's.
    let h = s.get_handoff(&ws("ws_tf"), &billing[0]).await.unwrap().unwrap();
    let moved = changed(&h, Command::Transfer { by: user("alice"), team_id: TeamId::parse("general").unwrap() }, t0());
    commit(s, &moved, h.version).await.unwrap();
    assert_eq!(ids(s.list_inbox(&ws("ws_tf"), &q(vec!["billing"])).await.unwrap()), billing[1..].to_vec());
    // By state, and mine within a team.
    let waiting = InboxQuery { status: StatusFilter::One(State::Waiting), ..q(vec!["general"]) };
    assert_eq!(s.list_inbox(&ws("ws_tf"), &waiting).await.unwrap().items.len(), 4);
    let waiting_many = InboxQuery { status: StatusFilter::One(State::Waiting), ..q(vec!["general", "vip", "sales"]) };
    assert_eq!(s.list_inbox(&ws("ws_tf"), &waiting_many).await.unwrap().items.len(), 4);
    let accepted = changed(&moved.handoff, Command::Accept { by: user("bob") }, t0());
    commit(s, &accepted, moved.handoff.version).await.unwrap();
    let mine = InboxQuery { assignee: Some(user("bob")), ..q(vec!["general"]) };
    assert_eq!(ids(s.list_inbox(&ws("ws_tf"), &mine).await.unwrap()), vec![billing[0].clone()]);
    let mine_elsewhere = InboxQuery { assignee: Some(user("bob")), ..q(vec!["billing"]) };
    assert!(s.list_inbox(&ws("ws_tf"), &mine_elsewhere).await.unwrap().items.is_empty());
}

// --- Figures (spec §13) ---

pub async fn figures_add_up_per_day_and_grouping(s: &dyn Store) {
    let w = "ws_fig";
    let day1 = t0();
    let day2 = t0() + Duration::days(1);
    let a = escalation(w, "c1", "f1", Channel::Chat, Reason::BillingIssue, day1, true);
    let b = escalation(w, "c2", "f2", Channel::Voice, Reason::BillingIssue, day1, true);
    let c = escalation(w, "c3", "f3", Channel::Chat, Reason::Other, day2, true);
    let off = escalation(w, "c4", "f4", Channel::Chat, Reason::Other, day1, false);
    for d in [&a, &b, &c, &off] {
        record(s, d).await.unwrap();
    }
    let h = a.created.clone().unwrap();
    let accepted = changed(&h, Command::Accept { by: user("u1") }, day1 + Duration::seconds(42));
    commit(s, &accepted, 1).await.unwrap();
    let resolved = changed(&accepted.handoff, Command::Resolve { by: user("u1") }, day2 + Duration::seconds(5));
    commit(s, &resolved, 2).await.unwrap();

    let (from, to) = (day1.date_naive(), day2.date_naive());
    let by_channel = s.read_metrics(&ws(w), Dimension::Channel, from, to).await.unwrap();
    let figures = metrics::report(&by_channel, true);
    let chat = figures.iter().find(|g| g.key.as_deref() == Some("chat")).unwrap();
    let voice = figures.iter().find(|g| g.key.as_deref() == Some("voice")).unwrap();
    // Day 2's escalation is outside [day1, day2); the resolve counts on day 1, the handoff's day.
    assert_eq!((chat.escalations["queued"], chat.escalations["disabled"]), (1, 1));
    assert_eq!(voice.escalations["ringing"], 1);
    assert_eq!((chat.time_to_accept_seconds.count, chat.time_to_accept_seconds.max), (1, Some(42)));
    assert_eq!(chat.final_states["resolved"], 1);
    assert_eq!(chat.time_to_resolve_seconds.count, 1);
    let everything = s.read_metrics(&ws(w), Dimension::Reason, from, to + chrono::Days::new(1)).await.unwrap();
    let all = &metrics::report(&everything, false)[0];
    assert_eq!(all.escalations["queued"], 2);
    let by_team = s.read_metrics(&ws(w), Dimension::Team, from, to).await.unwrap();
    assert!(by_team.iter().all(|r| r.key == metrics::NO_TEAM));
    assert!(s.read_metrics(&ws("ws_nobody"), Dimension::Reason, from, to).await.unwrap().is_empty());
}

// --- The changes feed of the web Inbox (spec §14) ---

pub async fn changes_come_in_the_order_they_happened(s: &dyn Store) {
    let w = ws("ws_feed");
    let mut ids = Vec::new();
    for i in 0..3 {
        let d = escalation(
            "ws_feed",
            &format!("c{i}"),
            &format!("feed{i}"),
            Channel::Chat,
            Reason::Other,
            t0() + Duration::seconds(i),
            true,
        );
        record(s, &d).await.unwrap();
        ids.push(d.created.unwrap());
    }
    // The first handoff changes last.
    let accepted = changed(&ids[0], Command::Accept { by: user("u1") }, t0() + Duration::seconds(10));
    commit(s, &accepted, 1).await.unwrap();
    let from = |at: DateTime<Utc>| InboxCursor { created_at: at, handoff_id: HandoffId::parse("0").unwrap() };
    let order = |p: &::handoff::ports::InboxPage| p.items.iter().map(|h| h.handoff_id.clone()).collect::<Vec<_>>();
    let all = s.changed_handoffs(&w, &from(t0() + Duration::milliseconds(500)), 10).await.unwrap();
    assert_eq!(order(&all), vec![ids[1].handoff_id.clone(), ids[2].handoff_id.clone(), ids[0].handoff_id.clone()]);
    assert_eq!(all.items[2].version, 2, "the handoff as it is now");
    assert!(all.next.is_none());
    // Page by page, the cursor following the changes.
    let first = s.changed_handoffs(&w, &from(t0() - Duration::seconds(1)), 2).await.unwrap();
    assert_eq!(order(&first), vec![ids[1].handoff_id.clone(), ids[2].handoff_id.clone()]);
    let next = first.next.expect("more follow");
    assert_eq!(next.created_at, ids[2].updated_at);
    let rest = s.changed_handoffs(&w, &next, 2).await.unwrap();
    assert_eq!(order(&rest), vec![ids[0].handoff_id.clone()]);
    assert!(s.changed_handoffs(&w, &from(t0() + Duration::seconds(11)), 10).await.unwrap().items.is_empty());
    assert!(s.changed_handoffs(&ws("ws_quiet"), &from(t0()), 10).await.unwrap().items.is_empty());
}
