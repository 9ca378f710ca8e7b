//! The five Lambda handlers driven with the event fixtures against the AWS emulator: what lands
//! in DynamoDB, the outbound queue, the timer queues and EventBridge Scheduler.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use handoff::domain::{HandoffId, State, WorkspaceId};
use handoff_tests::aws::{
    active_handoff, apigw, configure, escalate_sqs, fixture, http, sqs_event, timer_batch, Api, Env,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WS: &str = "ws_fixture";

fn ws() -> WorkspaceId {
    WorkspaceId::parse(WS).unwrap()
}

/// Waits for the delayed timer message on a timer queue.
async fn wait_for_timer(env: &Env, queue_url: &str, within: Duration) -> (Vec<(String, String)>, Duration) {
    let start = Instant::now();
    loop {
        let got = env.receive(queue_url, 2).await;
        if !got.is_empty() {
            return (got, start.elapsed());
        }
        assert!(start.elapsed() < within, "no timer message within {within:?}");
    }
}

async fn handoff_of(env: &Env, conversation: &str) -> handoff::domain::Handoff {
    active_handoff(env, conversation).await
}

fn texts(events: &[Value], kind: &str) -> Vec<String> {
    events.iter().filter(|e| e["type"] == kind).map(|e| e["text"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_escalation_confirms_sets_a_stall_timer_and_stalls_once() {
    let env = Env::new().await;
    configure(&env, json!({"stalling_time_seconds": 10, "stall_message": "Nobody is free yet."})).await;
    let failed = escalate_sqs(&env, fixture("sqs-escalation.json")).await;
    assert!(failed.is_empty(), "{failed:?}");

    // DynamoDB holds the waiting handoff; the confirmation went out.
    let h = handoff_of(&env, "conv_fixture_chat").await;
    assert_eq!(h.state, State::Waiting);
    let out = env.outbound().await;
    assert_eq!(texts(&out, "customer_message"), vec!["Thanks for waiting - a teammate will join this chat shortly."]);
    assert_eq!(out[0]["handoff_id"], h.handoff_id.as_str());

    // The stall timer is an SQS message timer: not visible yet, then delivered after the delay.
    assert!(env.receive(&env.res.stall_queue.url, 0).await.is_empty(), "delivered before its delay");
    let (timer, _) = wait_for_timer(&env, &env.res.stall_queue.url, Duration::from_secs(20)).await;
    let received = chrono::Utc::now();
    let body: Value = serde_json::from_str(&timer[0].1).unwrap();
    // Not before it is due (the delay is rounded up to whole seconds; the emulator's clock reads
    // in milliseconds).
    let due: chrono::DateTime<chrono::Utc> = serde_json::from_value(body["due_at"].clone()).unwrap();
    assert!(received >= due - chrono::Duration::milliseconds(100), "delivered at {received}, due at {due}");
    assert_eq!(body["kind"], "stall");
    assert_eq!(body["handoff_id"], h.handoff_id.as_str());

    // stall-notifier sends the stall message once, even if the timer is delivered twice.
    assert!(timer_batch(&env, "stall", &timer).await.is_empty());
    assert!(timer_batch(&env, "stall", &timer).await.is_empty());
    let out = env.outbound().await;
    assert_eq!(texts(&out, "customer_message"), vec!["Nobody is free yet."]);
    let stored = env.app.store.get_handoff(&ws(), &h.handoff_id).await.unwrap().unwrap();
    assert!(stored.stall_notified);
    assert_eq!(stored.state, State::Waiting);
}

#[tokio::test(flavor = "multi_thread")]
async fn voice_ring_timeout_ends_the_call_per_the_setting() {
    let env = Env::new().await;
    configure(&env, json!({"voice_ring_timeout_seconds": 5, "voice_timeout_action": "end_call"})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation-voice.json")).await.is_empty());
    let h = handoff_of(&env, "conv_fixture_voice").await;
    assert_eq!(h.state, State::Ringing);
    let (timer, _) = wait_for_timer(&env, &env.res.ring_queue.url, Duration::from_secs(15)).await;
    assert!(timer_batch(&env, "ring", &timer).await.is_empty());
    let stored = env.app.store.get_handoff(&ws(), &h.handoff_id).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Ended);
    let types: Vec<String> = env.outbound().await.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, vec!["customer_message", "end_call"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn accepting_cancels_both_timers() {
    let env = Env::new().await;
    configure(&env, json!({"stalling_time_seconds": 10, "voice_ring_timeout_seconds": 5})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    assert!(escalate_sqs(&env, fixture("sqs-escalation-voice.json")).await.is_empty());
    let chat = handoff_of(&env, "conv_fixture_chat").await;
    let voice = handoff_of(&env, "conv_fixture_voice").await;
    for h in [&chat, &voice] {
        let (status, body) = http(
            &env,
            Api::Inbox,
            apigw("apigw-post-accept.json", Some(h.handoff_id.as_str()), "agent", "user-agent-1"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["state"], "assigned");
    }
    env.outbound().await; // confirmations and agent_joined
    let (ring, _) = wait_for_timer(&env, &env.res.ring_queue.url, Duration::from_secs(15)).await;
    let (stall, _) = wait_for_timer(&env, &env.res.stall_queue.url, Duration::from_secs(20)).await;
    assert!(timer_batch(&env, "ring", &ring).await.is_empty());
    assert!(timer_batch(&env, "stall", &stall).await.is_empty());
    assert!(env.outbound().await.is_empty(), "a timer acted after the accept");
    for h in [&chat, &voice] {
        assert_eq!(env.app.store.get_handoff(&ws(), &h.handoff_id).await.unwrap().unwrap().state, State::Assigned);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_sqs_delivery_acts_once() {
    let env = Env::new().await;
    configure(&env, json!({})).await;
    let ev = fixture("sqs-escalation.json");
    assert!(escalate_sqs(&env, ev.clone()).await.is_empty());
    assert!(escalate_sqs(&env, ev.clone()).await.is_empty());
    // The same event in one batch twice, too.
    let body = ev["Records"][0]["body"].as_str().unwrap().to_string();
    let doubled = sqs_event("sqs-escalation.json", &[("m-1".into(), body.clone()), ("m-2".into(), body)]);
    assert!(escalate_sqs(&env, doubled).await.is_empty());
    let out = env.outbound().await;
    assert_eq!(texts(&out, "customer_message").len(), 1, "{out:?}");
    let scan = env.dynamo.scan().table_name(&env.res.table).send().await.unwrap();
    let handoffs = scan.items().iter().filter(|i| i["sk"].as_s().map(|s| s == "#HANDOFF").unwrap_or(false)).count();
    assert_eq!(handoffs, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_message_fails_alone() {
    let env = Env::new().await;
    configure(&env, json!({})).await;
    let ev = fixture("sqs-escalation-batch-with-bad-message.json");
    let mut failed = escalate_sqs(&env, ev.clone()).await;
    failed.sort();
    let ids: Vec<String> =
        ev["Records"].as_array().unwrap().iter().map(|r| r["messageId"].as_str().unwrap().to_string()).collect();
    assert_eq!(failed, vec![ids[1].clone(), ids[2].clone()], "only the malformed and the invalid message fail");
    assert_eq!(handoff_of(&env, "conv_fixture_batch").await.state, State::Waiting);
    assert_eq!(env.outbound().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn timers_beyond_15_minutes_are_one_time_schedules() {
    let env = Env::new().await;
    configure(&env, json!({"stalling_time_seconds": 3600})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    let h = handoff_of(&env, "conv_fixture_chat").await;
    assert!(env.receive(&env.res.stall_queue.url, 1).await.is_empty(), "not an SQS message timer");
    let list = env.scheduler.list_schedules().group_name(&env.res.schedule_group).send().await.unwrap();
    assert_eq!(list.schedules().len(), 1);
    let name = list.schedules()[0].name().unwrap().to_string();
    assert_eq!(name, format!("stall-{}-v1", h.handoff_id));
    let s = env.scheduler.get_schedule().group_name(&env.res.schedule_group).name(&name).send().await.unwrap();
    assert_eq!(s.action_after_completion().map(|a| a.as_str()), Some("DELETE"));
    let due = h.created_at + chrono::Duration::seconds(3600);
    assert_eq!(
        s.schedule_expression(),
        Some(format!("at({})", handoff::adapters::aws::scheduler::schedule_time(due)).as_str())
    );
    assert_eq!(s.flexible_time_window().unwrap().mode().as_str(), "OFF");
    let target = s.target().unwrap();
    assert_eq!(target.arn(), env.res.stall_queue.arn);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["kind"], "stall");
    assert_eq!(input["handoff_id"], h.handoff_id.as_str());
    // What the schedule will deliver is the same timer message the stall-notifier reads.
    let msg: handoff::domain::TimerMessage = serde_json::from_value(input).unwrap();
    // Setting it again (a retry) is idempotent.
    use handoff::ports::Timers;
    let timers = handoff::adapters::aws::timers::SqsSchedulerTimers {
        sqs: env.sqs.clone(),
        scheduler: env.scheduler.clone(),
        stall: env.res.stall_queue.clone(),
        ring: env.res.ring_queue.clone(),
        schedule_group: env.res.schedule_group.clone(),
        scheduler_role_arn: env.res.scheduler_role_arn.clone(),
        clock: std::sync::Arc::new(handoff::ports::SystemClock),
    };
    timers.set(&msg).await.unwrap();
    assert_eq!(
        env.scheduler.list_schedules().group_name(&env.res.schedule_group).send().await.unwrap().schedules().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_routes_through_the_functions() {
    let env = Env::new().await;
    // Defaults, then a save, then a stale save.
    let (status, doc) = http(&env, Api::Settings, fixture("apigw-get-settings.json")).await;
    assert_eq!((status, doc["version"].as_u64()), (200, Some(0)));
    let (status, doc) = http(&env, Api::Settings, fixture("apigw-put-settings.json")).await;
    assert_eq!((status, doc["version"].as_u64()), (200, Some(1)), "{doc}");
    let (status, err) = http(&env, Api::Settings, fixture("apigw-put-settings.json")).await;
    assert_eq!(status, 409);
    assert_eq!(err["current"]["version"], 1);
    // An agent may not change settings.
    let (status, _) = http(&env, Api::Settings, apigw("apigw-put-settings.json", None, "agent", "user-agent-1")).await;
    assert_eq!(status, 403);

    // Escalation over HTTP, through the same function as the queue.
    let ev = fixture("apigw-post-escalation.json");
    let out = escalation_trigger::lambda::handler(&env.app, ev).await.unwrap();
    assert_eq!(out["statusCode"], 200);
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["outcome"], "queued");
    let id = body["handoff"]["handoff_id"].as_str().unwrap().to_string();

    let (status, page) = http(&env, Api::Inbox, fixture("apigw-get-inbox.json")).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["handoff_id"], id.as_str());
    let (status, h) = http(&env, Api::Inbox, apigw("apigw-get-handoff.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 200);
    assert_eq!(h["timeline"][0]["type"], "escalated");
    let (status, _) = http(&env, Api::Inbox, apigw("apigw-post-accept.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 200);
    let (status, h) = http(&env, Api::Inbox, apigw("apigw-post-assign.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!((status, h["assignee"].as_str()), (200, Some("user-agent-2")));
    let (status, h) =
        http(&env, Api::Inbox, apigw("apigw-post-resolve.json", Some(&id), "agent", "user-agent-2")).await;
    assert_eq!((status, h["state"].as_str()), (200, Some("resolved")));
    let (status, _) =
        http(&env, Api::Inbox, apigw("apigw-post-return-to-ai.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 409);
    let (status, _) = http(&env, Api::Inbox, apigw("apigw-get-handoff.json", Some("hnd_missing"), "agent", "u")).await;
    assert_eq!(status, 404);
    // Without authorizer claims (a route deployed without the authorizer) nothing is served.
    let mut anon = fixture("apigw-get-inbox.json");
    anon["requestContext"].as_object_mut().unwrap().remove("authorizer");
    let (status, _) = http(&env, Api::Inbox, anon).await;
    assert_eq!(status, 401);

    let types: Vec<String> = env.outbound().await.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, vec!["customer_message", "agent_joined", "handoff_resolved"]);
    let stored = env.app.store.get_handoff(&ws(), &HandoffId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Resolved);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_is_a_valid_event_of_its_kind() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/events");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let v = fixture(&name);
        if name.starts_with("eventbridge-") {
            assert!(handoff::adapters::aws::lambda::is_sweep(&v), "{name}");
        } else if name.starts_with("apigw-") {
            let e: ApiGatewayV2httpRequest = serde_json::from_value(v).unwrap();
            let key = e.route_key.clone().unwrap();
            let all: Vec<&str> = settings_api::ROUTES
                .iter()
                .chain(&escalation_trigger::ROUTES)
                .chain(&inbox_api::ROUTES)
                .copied()
                .collect();
            assert!(all.contains(&key.as_str()), "{name}: unknown route {key}");
        } else {
            let e: SqsEvent = serde_json::from_value(v).unwrap();
            assert!(!e.records.is_empty(), "{name}");
        }
        n += 1;
    }
    assert_eq!(n, 27);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_sweep_sends_effects_left_pending() {
    use ::handoff::domain::*;
    let env = Env::new().await;
    // An escalation committed a minute ago whose effects were never sent (the process died).
    let req = EscalationRequest::new(
        EventId::parse("evt_crashed").unwrap(),
        ws(),
        ConversationId::parse("conv_crashed").unwrap(),
        Channel::Chat,
        Reason::Other,
    );
    let settings = Settings { enabled: true, ..Settings::default() };
    let at = chrono::Utc::now() - chrono::Duration::seconds(60);
    let d = decide_escalation(
        &settings,
        &::handoff::domain::Teams::default(),
        &req,
        Actor::Ai,
        None,
        HandoffId::parse("hnd_crashed").unwrap(),
        at,
    );
    let decision = d.decision_record();
    env.app
        .store
        .create_escalation(::handoff::ports::EscalationWrite {
            teams_version: None,
            metrics: None,
            record: &d.record,
            handoff: d.created.as_ref(),
            decision: decision.as_ref(),
            settings_version: None,
            stale_lock: None,
            transcript: &d.transcript,
        })
        .await
        .unwrap();
    assert!(env.outbound().await.is_empty());

    let out = escalation_trigger::lambda::handler(&env.app, fixture("eventbridge-outbox-sweep.json")).await.unwrap();
    assert_eq!(out["dispatched"], 2, "the confirmation and the stall timer");
    assert_eq!(out["stuck"], 0, "pending for a minute is not yet stuck");
    let sent = env.outbound().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["event_id"], "hnd_crashed:v1:0");
    // The stall timer (due 60 s after a minute ago: one minute from now at most) is on its queue.
    let pending = env.app.store.pending_decisions(chrono::Utc::now() + chrono::Duration::days(1), 10).await.unwrap();
    assert!(pending.is_empty(), "nothing left pending");
    let again = escalation_trigger::lambda::handler(&env.app, fixture("eventbridge-outbox-sweep.json")).await.unwrap();
    assert_eq!(again["dispatched"], 0);
    assert!(env.outbound().await.is_empty(), "nothing sent twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conversation_through_the_functions() {
    let env = Env::new().await;
    configure(&env, json!({"routing": "human"})).await;
    // An escalation with the conversation so far.
    let mut body: Value =
        serde_json::from_str(fixture("sqs-escalation.json")["Records"][0]["body"].as_str().unwrap()).unwrap();
    body["transcript"] = json!([
        {"author": "customer", "text": "I was charged twice.", "sent_at": "2026-11-24T09:58:00Z"},
        {"author": "ai", "text": "Let me get someone from billing.", "sent_at": "2026-11-24T09:59:00Z"}
    ]);
    let failed = escalate_sqs(&env, sqs_event("sqs-escalation.json", &[("e-1".into(), body.to_string())])).await;
    assert!(failed.is_empty(), "{failed:?}");
    let id = handoff_of(&env, "conv_fixture_chat").await.handoff_id.to_string();
    let (status, _) = http(&env, Api::Inbox, apigw("apigw-post-accept.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 200);

    // The customer writes, through the queue and over HTTP.
    assert!(escalate_sqs(&env, fixture("sqs-customer-message.json")).await.is_empty());
    let out = escalation_trigger::lambda::handler(&env.app, fixture("apigw-post-customer-message.json")).await.unwrap();
    assert_eq!(out["statusCode"], 200, "{out}");
    assert!(handoff_of(&env, "conv_fixture_chat").await.unread);

    // The assignee reads it (the mark clears), answers, and notes.
    let (status, page) =
        http(&env, Api::Inbox, apigw("apigw-get-messages.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 200, "{page}");
    let authors: Vec<&str> = page["items"].as_array().unwrap().iter().map(|l| l["author"].as_str().unwrap()).collect();
    assert_eq!(authors, vec!["customer", "ai", "system", "customer", "customer"]);
    assert!(!handoff_of(&env, "conv_fixture_chat").await.unread);
    let (status, reply) =
        http(&env, Api::Inbox, apigw("apigw-post-reply.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(status, 200, "{reply}");
    let (status, _) = http(&env, Api::Inbox, apigw("apigw-post-note.json", Some(&id), "agent", "user-agent-2")).await;
    assert_eq!(status, 200);
    let (status, _) = http(&env, Api::Inbox, apigw("apigw-post-reply.json", Some(&id), "agent", "user-agent-2")).await;
    assert_eq!(status, 403, "only the assignee answers");

    // The reply is an outbound agent_message, after the confirmation and agent_joined.
    let out = env.outbound().await;
    let kinds: Vec<(&str, u64)> =
        out.iter().map(|e| (e["type"].as_str().unwrap(), e["seq"].as_u64().unwrap())).collect();
    assert_eq!(kinds, vec![("customer_message", 1), ("agent_joined", 2), ("agent_message", 3)]);
    assert_eq!(out[2]["agent_id"], "user-agent-1");
    assert_eq!(out[2]["event_id"], reply["message_id"]);
    assert!(out[2]["text"].as_str().unwrap().starts_with("Hi, I'm Ada"));

    // The customer leaves (queue): abandoned; a later message is acknowledged, not recorded.
    assert!(escalate_sqs(&env, fixture("sqs-conversation-ended.json")).await.is_empty());
    let h = env.app.store.get_handoff(&ws(), &HandoffId::parse(id.clone()).unwrap()).await.unwrap().unwrap();
    assert_eq!(h.state, State::Abandoned);
    let mut late = fixture("sqs-customer-message.json");
    let mut late_body: Value = serde_json::from_str(late["Records"][0]["body"].as_str().unwrap()).unwrap();
    late_body["message_id"] = json!("msg_after_leaving");
    late["Records"][0]["body"] = json!(late_body.to_string());
    assert!(escalate_sqs(&env, late).await.is_empty(), "acknowledged, not retried");
    let (_, page) = http(&env, Api::Inbox, apigw("apigw-get-messages.json", Some(&id), "agent", "user-agent-1")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 7, "five messages, the reply and the note; nothing after");
    assert!(env.outbound().await.is_empty(), "leaving sends nothing");
}

/// The timer a decision of `id` at `version` set, as its queue would deliver it.
async fn timer_set_at(env: &Env, id: &str, version: u64) -> String {
    let view =
        env.app.store.get_handoff_view(&ws(), &HandoffId::parse(id).unwrap(), version - 1, 1).await.unwrap().unwrap();
    let d = &view.decisions[0];
    assert_eq!(d.version, version);
    assert!(d.is_settled(), "the timer was handed to its queue");
    serde_json::to_string(d.effects.iter().find_map(handoff::domain::Effect::timer).expect("a timer")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_waiting_policy_through_the_stall_notifier() {
    let env = Env::new().await;
    configure(
        &env,
        json!({"stalling_time_seconds": 10, "stall_repeat_seconds": 60, "stall_repeat_max": 1,
               "stall_fallback": "offer_ticket", "stall_fallback_message": "We'll email you."}),
    )
    .await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    let id = handoff_of(&env, "conv_fixture_chat").await.handoff_id.to_string();
    // Each notice sets the next timer itself, on the stall queue (the notice, the repeat, the
    // fallback); here each is delivered as soon as it is set.
    for version in 1..=3 {
        let timer = timer_set_at(&env, &id, version).await;
        assert!(timer_batch(&env, "stall", &[(format!("t-{version}"), timer.clone())]).await.is_empty());
        // A timer delivered twice acts once.
        assert!(timer_batch(&env, "stall", &[(format!("t-{version}-again"), timer)]).await.is_empty());
    }
    let h = env.app.store.get_handoff(&ws(), &HandoffId::parse(id.clone()).unwrap()).await.unwrap().unwrap();
    assert_eq!((h.state, h.stall_repeats), (State::Ticketed, 1));
    let out = env.outbound().await;
    let kinds: Vec<(&str, &str)> =
        out.iter().map(|e| (e["type"].as_str().unwrap(), e["text"].as_str().unwrap_or(""))).collect();
    let stall = "Everyone is busy right now. We'll reply here as soon as someone is free.";
    assert_eq!(
        kinds,
        vec![
            ("customer_message", "Thanks for waiting - a teammate will join this chat shortly."),
            ("customer_message", stall),
            ("customer_message", stall),
            ("ticket_requested", ""),
            ("customer_message", "We'll email you."),
        ]
    );
    let seqs: Vec<u64> = out.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    // The conversation is free: the AI can hand it off again.
    let mut again: Value =
        serde_json::from_str(fixture("sqs-escalation.json")["Records"][0]["body"].as_str().unwrap()).unwrap();
    again["event_id"] = json!("evt_after_ticket");
    assert!(escalate_sqs(&env, sqs_event("sqs-escalation.json", &[("e-2".into(), again.to_string())]))
        .await
        .is_empty());
    assert_eq!(handoff_of(&env, "conv_fixture_chat").await.state, State::Waiting);
}
