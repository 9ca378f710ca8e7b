//! The store contract: what every [`Store`] adapter must do, run against the embedded store and
//! DynamoDB on the emulator (tests/tests/store_contract.rs).

use ::handoff::domain::*;
use ::handoff::ports::{InboxQuery, StatusFilter, Store, StoreError};
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
    };
    decide_escalation(&settings, &req, Actor::Ai, None, HandoffId::parse(format!("hnd_{event}")).unwrap(), at)
}

fn changed(h: &Handoff, cmd: Command, at: DateTime<Utc>) -> Decision {
    match decide(h, &cmd, at) {
        Ok(Outcome::Changed(d)) => d,
        other => panic!("expected a change: {other:?}"),
    }
}

fn query(status: StatusFilter) -> InboxQuery {
    InboxQuery { status, assignee: None, channel: None, reason: None, limit: 50, after: None }
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
    s.create_escalation(&d.record, Some(&h), &d.effects).await.unwrap();
    assert_eq!(s.get_escalation(&ws("ws_e"), &d.record.event_id).await.unwrap().as_ref(), Some(&d.record));
    assert_eq!(s.get_handoff(&ws("ws_e"), &h.handoff_id).await.unwrap().as_ref(), Some(&h));
    assert_eq!(s.find_active_handoff(&ws("ws_e"), &h.conversation_id).await.unwrap().as_ref(), Some(&h));

    // The same event again, even with another handoff for another conversation: a duplicate, and
    // nothing of it is written.
    let mut again = escalation("ws_e", "conv-2", "evt-1", Channel::Chat, Reason::Other, t0(), true);
    let other = again.created.as_mut().unwrap();
    other.handoff_id = HandoffId::parse("hnd_other").unwrap();
    let other = other.clone();
    assert!(matches!(
        s.create_escalation(&again.record, Some(&other), &again.effects).await,
        Err(StoreError::DuplicateEvent)
    ));
    assert!(s.get_handoff(&ws("ws_e"), &other.handoff_id).await.unwrap().is_none());
    assert!(s.find_active_handoff(&ws("ws_e"), &other.conversation_id).await.unwrap().is_none());

    // An escalation without a handoff (Human Handoff off) records its outcome and effect.
    let off = escalation("ws_e", "conv-3", "evt-off", Channel::Chat, Reason::Other, t0(), false);
    assert!(off.created.is_none());
    s.create_escalation(&off.record, None, &off.effects).await.unwrap();
    let rec = s.get_escalation(&ws("ws_e"), &off.record.event_id).await.unwrap().unwrap();
    assert_eq!(rec.outcome, EscalationOutcome::Disabled);
    // Records are per workspace.
    assert!(s.get_escalation(&ws("ws_other"), &d.record.event_id).await.unwrap().is_none());
}

pub async fn one_active_handoff_per_conversation(s: &dyn Store) {
    let a = escalation("ws_c", "conv-1", "evt-a", Channel::Chat, Reason::Other, t0(), true);
    let ha = a.created.clone().unwrap();
    s.create_escalation(&a.record, Some(&ha), &a.effects).await.unwrap();
    let b = escalation("ws_c", "conv-1", "evt-b", Channel::Voice, Reason::Other, t0(), true);
    let hb = b.created.clone().unwrap();
    assert!(matches!(s.create_escalation(&b.record, Some(&hb), &b.effects).await, Err(StoreError::ConversationBusy)));
    // Atomic: the losing escalation left no record, handoff or effects.
    assert!(s.get_escalation(&ws("ws_c"), &b.record.event_id).await.unwrap().is_none());
    assert!(s.get_handoff(&ws("ws_c"), &hb.handoff_id).await.unwrap().is_none());
    let pending: Vec<String> = s
        .pending_effects(t0() + Duration::days(1), 100)
        .await
        .unwrap()
        .iter()
        .map(|p| p.effect.id().to_string())
        .collect();
    assert!(b.effects.iter().all(|e| !pending.contains(&e.id().to_string())));

    // Once the first handoff is over, the conversation is free.
    let done = changed(&ha, Command::ReturnToAi { by: user("u") }, t0() + Duration::seconds(5));
    s.commit_transition(&done.handoff, ha.version, &done.effects).await.unwrap();
    assert!(s.find_active_handoff(&ws("ws_c"), &ha.conversation_id).await.unwrap().is_none());
    s.create_escalation(&b.record, Some(&hb), &b.effects).await.unwrap();
    assert_eq!(
        s.find_active_handoff(&ws("ws_c"), &hb.conversation_id).await.unwrap().unwrap().handoff_id,
        hb.handoff_id
    );
}

pub async fn expired_escalation_records_can_be_replaced(s: &dyn Store) {
    let mut d = escalation("ws_x", "conv-1", "evt-old", Channel::Chat, Reason::Other, t0() - Duration::days(10), false);
    d.record.expires_at = t0() - Duration::days(7);
    s.create_escalation(&d.record, None, &d.effects).await.unwrap();
    let fresh = escalation("ws_x", "conv-1", "evt-old", Channel::Chat, Reason::Other, t0(), true);
    s.create_escalation(&fresh.record, fresh.created.as_ref(), &fresh.effects).await.unwrap();
    let rec = s.get_escalation(&ws("ws_x"), &fresh.record.event_id).await.unwrap().unwrap();
    assert_eq!(rec.outcome, EscalationOutcome::Queued);
}

pub async fn transitions_are_conditional_on_the_version_read(s: &dyn Store) {
    let d = escalation("ws_t", "conv-1", "evt-t", Channel::Voice, Reason::Other, t0(), true);
    let h = d.created.clone().unwrap();
    s.create_escalation(&d.record, Some(&h), &d.effects).await.unwrap();
    let by_alice = changed(&h, Command::Accept { by: user("alice") }, t0() + Duration::seconds(1));
    let by_bob = changed(&h, Command::Accept { by: user("bob") }, t0() + Duration::seconds(1));
    s.commit_transition(&by_alice.handoff, h.version, &by_alice.effects).await.unwrap();
    // Bob read the same version: he loses cleanly, and his effects are not recorded.
    assert!(matches!(
        s.commit_transition(&by_bob.handoff, h.version, &by_bob.effects).await,
        Err(StoreError::VersionConflict)
    ));
    let now = s.get_handoff(&ws("ws_t"), &h.handoff_id).await.unwrap().unwrap();
    assert_eq!(now.assignee, Some(user("alice")));
    assert_eq!(now.version, 2);
    // Both decisions produce the same effect ids (same version); the stored one is Alice's, once.
    let pending = s.pending_effects(t0() + Duration::days(1), 100).await.unwrap();
    let joined: Vec<_> = pending.iter().filter(|p| p.effect.id() == by_alice.effects[0].id()).collect();
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].effect, by_alice.effects[0]);
    assert!(s.get_handoff(&ws("ws_t"), &HandoffId::parse("hnd_none").unwrap()).await.unwrap().is_none());
}

pub async fn effects_stay_pending_until_dispatched(s: &dyn Store) {
    let d = escalation("ws_o", "conv-1", "evt-o", Channel::Chat, Reason::Other, t0(), true);
    s.create_escalation(&d.record, d.created.as_ref(), &d.effects).await.unwrap();
    let later =
        escalation("ws_o", "conv-2", "evt-o2", Channel::Chat, Reason::Other, t0() + Duration::seconds(30), true);
    s.create_escalation(&later.record, later.created.as_ref(), &later.effects).await.unwrap();
    let ids =
        |v: Vec<::handoff::ports::PendingEffect>| v.into_iter().map(|p| p.effect.id().to_string()).collect::<Vec<_>>();
    let mine = |v: Vec<String>| v.into_iter().filter(|id| id.contains("evt-o")).collect::<Vec<_>>();
    let first: Vec<String> = d.effects.iter().map(|e| e.id().to_string()).collect();
    // Only those recorded before the cut-off, oldest first.
    assert_eq!(mine(ids(s.pending_effects(t0() + Duration::seconds(10), 100).await.unwrap())), first);
    let all = mine(ids(s.pending_effects(t0() + Duration::days(1), 100).await.unwrap()));
    assert_eq!(all.len(), d.effects.len() + later.effects.len());
    assert_eq!(&all[..first.len()], &first[..]);
    for id in &first {
        s.mark_dispatched(id).await.unwrap();
    }
    s.mark_dispatched("never-recorded").await.unwrap();
    let left = mine(ids(s.pending_effects(t0() + Duration::days(1), 100).await.unwrap()));
    assert_eq!(left, later.effects.iter().map(|e| e.id().to_string()).collect::<Vec<_>>());
    assert_eq!(s.pending_effects(t0() + Duration::days(1), 1).await.unwrap().len(), 1, "limit");
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
        s.create_escalation(&d.record, Some(&h), &d.effects).await.unwrap();
        ids.push(h);
    }
    // 1 accepted by alice, 4 accepted by bob then resolved, 7 returned to the AI.
    let apply = |h: &Handoff, cmd: Command| changed(h, cmd, t0() + Duration::seconds(100));
    let a1 = apply(&ids[1], Command::Accept { by: user("alice") });
    s.commit_transition(&a1.handoff, 1, &a1.effects).await.unwrap();
    let a4 = apply(&ids[4], Command::Accept { by: user("bob") });
    s.commit_transition(&a4.handoff, 1, &a4.effects).await.unwrap();
    let r4 = apply(&a4.handoff, Command::Resolve { by: user("bob") });
    s.commit_transition(&r4.handoff, 2, &r4.effects).await.unwrap();
    let x7 = apply(&ids[7], Command::ReturnToAi { by: user("carol") });
    s.commit_transition(&x7.handoff, 1, &x7.effects).await.unwrap();

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
    assert_eq!(list(InboxQuery { assignee: Some(user("alice")), ..query(StatusFilter::Active) }).await, vec![id(1)]);
    assert!(list(InboxQuery { assignee: Some(user("bob")), ..query(StatusFilter::Active) }).await.is_empty());
    assert_eq!(
        list(InboxQuery { assignee: Some(user("bob")), ..query(StatusFilter::One(State::Resolved)) }).await,
        vec![id(4)]
    );
    assert_eq!(
        list(InboxQuery { channel: Some(Channel::Voice), ..query(StatusFilter::Active) }).await,
        vec![id(2), id(5), id(8)]
    );
    assert_eq!(
        list(InboxQuery { reason: Some(Reason::RefundRequest), limit: 2, ..query(StatusFilter::Active) }).await,
        vec![id(0), id(2), id(6), id(8)]
    );
    assert_eq!(
        list(InboxQuery {
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
    let page =
        s.list_inbox(&ws(w), &InboxQuery { limit: 1, ..query(StatusFilter::One(State::Assigned)) }).await.unwrap();
    assert_eq!(page.items[0], a1.handoff);
    assert!(page.next.is_none());
}
