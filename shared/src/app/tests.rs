//! Use-case tests over the in-memory embedded store with controllable publisher and clock.

use super::*;
use crate::adapters::embedded::{EmbeddedDb, EmbeddedStore, EmbeddedTimers};
use crate::domain::*;
use crate::ports::{Clock, DrivenClock, PublishError, Publisher};
use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Records what was published; can be switched off to simulate an outage.
#[derive(Default)]
struct FlakyPublisher {
    down: AtomicBool,
    sent: Mutex<Vec<OutboundEvent>>,
}

#[async_trait]
impl Publisher for FlakyPublisher {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PublishError { event_id: events[0].event_id.clone(), reason: "queue unavailable".into() });
        }
        self.sent.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

fn setup() -> (App, Arc<FlakyPublisher>, Arc<DrivenClock>, EmbeddedTimers) {
    let db = EmbeddedDb::in_memory().unwrap();
    let publisher = Arc::new(FlakyPublisher::default());
    let clock = Arc::new(DrivenClock::starting_at(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()));
    let timers = EmbeddedTimers::new(db.clone(), clock.clone());
    let app = App::new(
        Arc::new(EmbeddedStore::new(db)),
        publisher.clone(),
        Arc::new(timers.clone()),
        clock.clone(),
        Arc::new(crate::ports::UuidIds),
    );
    (app, publisher, clock, timers)
}

fn request(event: &str) -> EscalationRequest {
    EscalationRequest::new(
        EventId::parse(event).unwrap(),
        WorkspaceId::parse("ws").unwrap(),
        ConversationId::parse("conv").unwrap(),
        Channel::Chat,
        Reason::Other,
    )
}

async fn enable(app: &App) {
    let ws = WorkspaceId::parse("ws").unwrap();
    let doc = SettingsDoc::defaults(ws.clone());
    let next =
        doc.saved(Settings { enabled: true, ..Settings::default() }, UserId::parse("a").unwrap(), app.clock.now());
    app.store.put_settings(&next, 0).await.unwrap();
}

#[tokio::test]
async fn an_effect_that_could_not_be_sent_is_sent_later_with_the_same_id() {
    let (app, publisher, clock, timers) = setup();
    enable(&app).await;
    publisher.down.store(true, Ordering::SeqCst);
    let r = app.escalate(&request("e1"), Actor::Ai).await.unwrap();
    assert_eq!(r.outcome, EscalationOutcome::Queued, "the state change stands even if the queue is down");
    assert!(publisher.sent.lock().unwrap().is_empty());
    assert_eq!(timers.pending().await.unwrap(), 1, "the timer, on another adapter, was set");

    // A replay while the queue is still down cannot send either: the effect stays pending.
    let again = app.escalate(&request("e1"), Actor::Ai).await.unwrap();
    assert!(again.replayed);
    let pending = app.store.pending_decisions(clock.now() + Duration::seconds(1), 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].pending().len(), 1, "only the message is pending; the timer was set");
    let id = pending[0].pending()[0].id().to_string();

    publisher.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::seconds(400));
    let report = app.redispatch_pending(clock.now(), 10).await.unwrap();
    assert_eq!(report, SweepReport { pending: 1, dispatched: 1, stuck: 1 }, "pending for 400 s: stuck, and sent");
    let sent = publisher.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_id, id);
    assert_eq!(sent[0].event_type, OutboundType::CustomerMessage);
    // Nothing is left, so nothing is sent twice.
    assert_eq!(app.redispatch_pending(clock.now(), 10).await.unwrap(), SweepReport::default());
    assert_eq!(publisher.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn settings_updates_name_their_version() {
    let (app, _, _, _) = setup();
    let ws = WorkspaceId::parse("ws").unwrap();
    let by = UserId::parse("admin").unwrap();
    let mut body = serde_json::to_value(SettingsDoc::defaults(ws.clone())).unwrap();
    body.as_object_mut().unwrap().remove("version");
    assert!(matches!(app.put_settings(&ws, &body, None, &by).await, Err(AppError::Invalid(_))));
    let saved = app.put_settings(&ws, &body, Some(0), &by).await.unwrap();
    assert_eq!(saved.version, 1);
    body["version"] = serde_json::json!(1);
    assert!(
        matches!(app.put_settings(&ws, &body, Some(0), &by).await, Err(AppError::Invalid(_))),
        "header and body disagree"
    );
    match app.put_settings(&ws, &body, None, &by).await {
        Ok(d) => assert_eq!(d.version, 2),
        Err(e) => panic!("{e}"),
    }
    match app.put_settings(&ws, &body, None, &by).await {
        Err(AppError::SettingsVersionConflict { expected: 1, current }) => assert_eq!(current.version, 2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_timer_for_a_handoff_that_is_gone_is_ignored() {
    let (app, _, clock, _) = setup();
    let t = TimerMessage {
        timer_id: "stall:hnd_gone:v1".into(),
        kind: TimerKind::Stall,
        workspace_id: WorkspaceId::parse("ws").unwrap(),
        handoff_id: HandoffId::parse("hnd_gone").unwrap(),
        set_at_version: 1,
        due_at: clock.now(),
        snapshot: None,
    };
    assert_eq!(app.on_timer(&t).await.unwrap(), TimerResult::Ignored);
    assert!(matches!(app.on_timer_of_kind(TimerKind::Ring, &t).await, Err(TimerMessageError::Malformed(_))));
    assert!(matches!(
        parse_timer_message("{\"kind\": \"stall\"}", TimerKind::Stall),
        Err(TimerMessageError::Malformed(_))
    ));
    let body = serde_json::to_string(&t).unwrap();
    assert!(parse_timer_message(&body, TimerKind::Stall).is_ok());
    assert!(parse_timer_message(&body, TimerKind::Ring).is_err());
}

fn request_in(event: &str, conversation: &str) -> EscalationRequest {
    EscalationRequest { conversation_id: ConversationId::parse(conversation).unwrap(), ..request(event) }
}

fn seqs_of(publisher: &FlakyPublisher, conversation: &str) -> Vec<(u64, OutboundType)> {
    let sent = publisher.sent.lock().unwrap();
    sent.iter().filter(|e| e.conversation_id.as_str() == conversation).map(|e| (e.seq, e.event_type)).collect()
}

#[tokio::test]
async fn an_event_waits_for_the_earlier_events_of_its_handoff_and_no_other() {
    let (app, publisher, clock, _) = setup();
    enable(&app).await;
    let ws = WorkspaceId::parse("ws").unwrap();
    let agent = UserId::parse("agent").unwrap();
    // The queue is down for conversation A's escalation: its confirmation (event 1) stays pending.
    publisher.down.store(true, Ordering::SeqCst);
    let a = app.escalate(&request_in("ea", "conv-a"), Actor::Ai).await.unwrap().handoff.unwrap();
    publisher.down.store(false, Ordering::SeqCst);
    let b = app.escalate(&request_in("eb", "conv-b"), Actor::Ai).await.unwrap().handoff.unwrap();
    // Both accepted: A's agent_joined (event 2) must not overtake its confirmation; B is unaffected.
    app.apply(&ws, &a.handoff_id, Command::Accept { by: agent.clone() }).await.unwrap();
    app.apply(&ws, &b.handoff_id, Command::Accept { by: agent.clone() }).await.unwrap();
    assert_eq!(seqs_of(&publisher, "conv-a"), vec![], "A's events wait for its first");
    assert_eq!(seqs_of(&publisher, "conv-b"), vec![(1, OutboundType::CustomerMessage), (2, OutboundType::AgentJoined)]);
    // The sweep sends A's events oldest first.
    clock.advance(Duration::seconds(30));
    let report = app.redispatch_pending(clock.now(), 10).await.unwrap();
    assert_eq!(report.dispatched, 2);
    assert_eq!(seqs_of(&publisher, "conv-a"), vec![(1, OutboundType::CustomerMessage), (2, OutboundType::AgentJoined)]);
    assert_eq!(app.get_handoff(&ws, &a.handoff_id).await.unwrap().sent_seq, 2);
    // From now on A's events leave at once again.
    app.apply(&ws, &a.handoff_id, Command::Resolve { by: agent }).await.unwrap();
    assert_eq!(seqs_of(&publisher, "conv-a").last(), Some(&(3, OutboundType::HandoffResolved)));
    assert_eq!(app.redispatch_pending(clock.now() + Duration::seconds(60), 10).await.unwrap(), SweepReport::default());
}

#[tokio::test]
async fn a_stall_timer_still_acts_when_the_confirmation_left_late() {
    let (app, publisher, clock, timers) = setup();
    enable(&app).await;
    publisher.down.store(true, Ordering::SeqCst);
    let h = app.escalate(&request_in("e1", "conv-s"), Actor::Ai).await.unwrap().handoff.unwrap();
    publisher.down.store(false, Ordering::SeqCst);
    // The timer carries the handoff as it would be with its confirmation out; it is not out. The
    // write fails, returns the stored handoff, and the timer acts on that.
    clock.advance(Duration::seconds(600));
    let stall = timers.next().await.unwrap().expect("the stall timer was set");
    assert_eq!(app.on_timer(&stall).await.unwrap(), TimerResult::Acted);
    let now = app.get_handoff(&h.workspace_id, &h.handoff_id).await.unwrap();
    assert!(now.stall_notified);
    assert_eq!((now.seq, now.sent_seq), (2, 0), "the stall notice waits for the confirmation");
    assert_eq!(seqs_of(&publisher, "conv-s"), vec![]);
    app.redispatch_pending(clock.now() + Duration::seconds(1), 10).await.unwrap();
    assert_eq!(
        seqs_of(&publisher, "conv-s"),
        vec![(1, OutboundType::CustomerMessage), (2, OutboundType::CustomerMessage)],
        "confirmation, then the stall notice"
    );
}

#[tokio::test]
async fn a_held_back_event_leaves_as_soon_as_the_earlier_one_is_out() {
    let (app, publisher, clock, _) = setup();
    enable(&app).await;
    let ws = WorkspaceId::parse("ws").unwrap();
    publisher.down.store(true, Ordering::SeqCst);
    let h = app.escalate(&request_in("e1", "conv-w"), Actor::Ai).await.unwrap().handoff.unwrap();
    publisher.down.store(false, Ordering::SeqCst);
    let escalated_at = clock.now();
    clock.advance(Duration::seconds(10));
    // The accept's agent_joined waits for the confirmation, which another process sends (here:
    // the sweep, for decisions before the accept) while it waits.
    let sweeper = {
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            app.redispatch_pending(escalated_at + Duration::seconds(1), 10).await.unwrap()
        })
    };
    app.apply(&ws, &h.handoff_id, Command::Accept { by: UserId::parse("agent").unwrap() }).await.unwrap();
    assert_eq!(sweeper.await.unwrap().dispatched, 1, "the sweep sent the confirmation only");
    assert_eq!(
        seqs_of(&publisher, "conv-w"),
        vec![(1, OutboundType::CustomerMessage), (2, OutboundType::AgentJoined)],
        "agent_joined left right after the confirmation, without waiting for the next sweep"
    );
    assert!(app.store.pending_decisions(clock.now() + Duration::seconds(60), 10).await.unwrap().is_empty());
}

/// An app that holds its acknowledgements (as in Lambda), with one handoff of `conversation`
/// escalated and accepted by `agent`, nothing recorded yet.
async fn held_and_accepted(conversation: &str) -> (App, Arc<FlakyPublisher>, Arc<DrivenClock>, Handoff) {
    let (app, publisher, clock, _) = setup();
    let app = app.holding_acknowledgements();
    enable(&app).await;
    let h = app.escalate(&request_in("e1", conversation), Actor::Ai).await.unwrap().handoff.unwrap();
    app.apply(&h.workspace_id, &h.handoff_id, Command::Accept { by: UserId::parse("agent").unwrap() }).await.unwrap();
    (app, publisher, clock, h)
}

#[tokio::test]
async fn held_acknowledgements_keep_the_order_and_are_recorded_after_the_response() {
    // One invocation: the escalation, then its accept, before any acknowledgement is written.
    let (app, publisher, clock, h) = held_and_accepted("conv-h").await;
    let (ws, agent) = (h.workspace_id.clone(), UserId::parse("agent").unwrap());
    // agent_joined did not wait for the confirmation's record: this process handed it over.
    assert_eq!(seqs_of(&publisher, "conv-h"), vec![(1, OutboundType::CustomerMessage), (2, OutboundType::AgentJoined)]);
    let stored = app.store.get_handoff(&ws, &h.handoff_id).await.unwrap().unwrap();
    assert_eq!(stored.sent_seq, 0, "nothing recorded before the response");
    let later = clock.now() + Duration::seconds(60);
    assert_eq!(app.store.pending_decisions(later, 10).await.unwrap().len(), 2, "a crash here leaves both to the sweep");

    // After the response: both recorded, and the copy this process keeps says so (the next
    // command's conditional write checks it).
    assert_eq!(app.acknowledge_held().await, 2);
    assert_eq!(app.acknowledge_held().await, 0, "nothing held twice");
    let stored = app.store.get_handoff(&ws, &h.handoff_id).await.unwrap().unwrap();
    assert_eq!((stored.seq, stored.sent_seq), (2, 2));
    assert_eq!(app.seen_handoff(&ws, &h.handoff_id).map(|h| h.sent_seq), Some(2));
    assert!(app.store.pending_decisions(later, 10).await.unwrap().is_empty());
    app.apply(&ws, &h.handoff_id, Command::Resolve { by: agent }).await.unwrap();
    assert_eq!(seqs_of(&publisher, "conv-h").last(), Some(&(3, OutboundType::HandoffResolved)));
    app.acknowledge_held().await;
    assert_eq!(app.store.get_handoff(&ws, &h.handoff_id).await.unwrap().unwrap().sent_seq, 3);
}

#[tokio::test]
async fn a_container_that_stops_before_its_acknowledgement_leaves_the_effects_to_the_sweep() {
    let (app, publisher, clock, _) = setup();
    let app = app.holding_acknowledgements();
    enable(&app).await;
    let h = app.escalate(&request_in("e1", "conv-f"), Actor::Ai).await.unwrap().handoff.unwrap();
    // The container dies after its response: the held acknowledgement is never written.
    let fresh = App::new(app.store.clone(), publisher.clone(), app.timers.clone(), clock.clone(), app.ids.clone());
    drop(app);
    let report = fresh.redispatch_pending(clock.now() + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(report.dispatched, 2, "the confirmation and the timer, again, with the same ids");
    let ids: Vec<String> = publisher.sent.lock().unwrap().iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the same event, so its consumer drops the copy");
    assert_eq!(fresh.store.get_handoff(&h.workspace_id, &h.handoff_id).await.unwrap().unwrap().sent_seq, 1);
}

#[tokio::test]
async fn concurrent_commands_on_one_handoff_keep_its_order_while_acknowledgements_are_held() {
    let (app, publisher, clock, h) = held_and_accepted("conv-c").await;
    let (ws, agent) = (h.workspace_id.clone(), UserId::parse("agent").unwrap());
    // Two replies at once, as two messages of one SQS batch would be, before anything is recorded.
    let reply =
        |n: &str| AgentReply { text: format!("reply {n}"), client_message_id: Some(EventId::parse(n).unwrap()) };
    let (a, b) = tokio::join!(
        app.reply(&ws, &h.handoff_id, &agent, false, reply("r1")),
        app.reply(&ws, &h.handoff_id, &agent, false, reply("r2"))
    );
    a.unwrap();
    b.unwrap();
    let seqs: Vec<u64> = seqs_of(&publisher, "conv-c").into_iter().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "every event out, in order, without waiting for the sweep");
    assert_eq!(app.acknowledge_held().await, 4);
    let stored = app.store.get_handoff(&ws, &h.handoff_id).await.unwrap().unwrap();
    assert_eq!((stored.seq, stored.sent_seq), (4, 4));
    assert!(app.store.pending_decisions(clock.now() + Duration::seconds(60), 10).await.unwrap().is_empty());
}
