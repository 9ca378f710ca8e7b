//! Use-case tests over the in-memory embedded store with controllable publisher and clock.

use super::*;
use crate::adapters::embedded::{EmbeddedDb, EmbeddedStore, EmbeddedTimers};
use crate::domain::*;
use crate::ports::{PublishError, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
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

struct FixedClock(Mutex<DateTime<Utc>>);
impl crate::ports::Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn setup() -> (App, Arc<FlakyPublisher>, Arc<FixedClock>, EmbeddedTimers) {
    let db = EmbeddedDb::in_memory().unwrap();
    let publisher = Arc::new(FlakyPublisher::default());
    let clock = Arc::new(FixedClock(Mutex::new(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap())));
    let timers = EmbeddedTimers::new(db.clone());
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
    EscalationRequest {
        event_id: EventId::parse(event).unwrap(),
        workspace_id: WorkspaceId::parse("ws").unwrap(),
        conversation_id: ConversationId::parse("conv").unwrap(),
        channel: Channel::Chat,
        reason: Reason::Other,
        summary: None,
        customer: None,
        priority: Priority::Normal,
    }
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
    *clock.0.lock().unwrap() += Duration::seconds(400);
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
