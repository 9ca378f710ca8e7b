//! How many AWS calls each operation makes, in a warm container, against the emulator: the
//! latency and the cost of the product in AWS. Counted with an SDK interceptor on every client
//! (`handoff_tests::calls`); "in sequence" is the longest chain of calls each started after the
//! previous one finished, counted up to the response; the acknowledgements a Lambda container
//! writes after an HTTP response are counted apart (`App::acknowledge_held`; an SQS message
//! writes its own before the batch's answer). The figures are printed (infra/bench.sh copies them into
//! docs/BENCHMARKS.md) and the goals asserted, so a regression fails here.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use handoff::app::App;
use handoff::domain::{Effect, HandoffId, WorkspaceId};
use handoff_tests::aws::{apigw, configure, fixture, http_on, metrics_event_around_today, sqs_event, Api, Env};
use handoff_tests::calls::{CallLog, Calls};
use serde_json::{json, Value};

fn ws() -> WorkspaceId {
    WorkspaceId::parse("ws_fixture").unwrap()
}

/// What one invocation of `app` cost since the last look: the calls before its response, then
/// those its Lambda edge makes once the response has gone (the acknowledgements it held).
async fn invocation(app: &App, log: &CallLog) -> (Calls, Calls) {
    let before = log.take();
    app.acknowledge_held().await;
    (before, log.take())
}

/// Prints one line of the table and checks it against its goal: at most `max_calls` in all, at
/// most `max_in_sequence` before the response.
async fn report(what: &str, app: &App, log: &CallLog, max_calls: usize, max_in_sequence: usize) -> Calls {
    let (before, after) = invocation(app, log).await;
    let all = before.count() + after.count();
    println!(
        "CALLS | {what} | {all} | {} | {} | {} | {}",
        before.in_sequence(),
        after.count(),
        before.operations().join(" "),
        after.operations().join(" ")
    );
    assert!(all <= max_calls, "{what}: {before}; after the response: {after} (goal: at most {max_calls})");
    assert!(
        before.in_sequence() <= max_in_sequence,
        "{what}: {before} (goal: at most {max_in_sequence} in sequence before the response)"
    );
    assert!(after.in_sequence() <= 1, "{what}: after the response, {after}");
    before
}

async fn escalate_sqs(app: &App, body: Value) {
    let ev = sqs_event("sqs-escalation.json", &[("m-1".into(), body.to_string())]);
    let out = escalation_trigger::lambda::handler(app, ev).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
}

async fn escalate_http(app: &App, conversation: &str, event_id: &str, channel: &str) -> Value {
    let mut ev = fixture("apigw-post-escalation.json");
    ev["pathParameters"]["conversation_id"] = json!(conversation);
    let mut body: Value = serde_json::from_str(ev["body"].as_str().unwrap()).unwrap();
    body["event_id"] = json!(event_id);
    body["channel"] = json!(channel);
    ev["body"] = json!(body.to_string());
    let out = escalation_trigger::lambda::handler(app, ev).await.unwrap();
    assert!(out["statusCode"] == 200 || out["statusCode"] == 201, "{out}");
    serde_json::from_str(out["body"].as_str().unwrap()).unwrap()
}

fn sqs_body(event_id: &str, conversation: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(fixture("sqs-escalation.json")["Records"][0]["body"].as_str().unwrap()).unwrap();
    body["event_id"] = json!(event_id);
    body["conversation_id"] = json!(conversation);
    body
}

async fn inbox(app: &App, fixture_name: &str, handoff_id: &str, sub: &str) -> (i64, Value) {
    http_on(app, Api::Inbox, apigw(fixture_name, Some(handoff_id), "agent", sub)).await
}

/// The stall timer message the escalation of `id` set (as its queue would deliver it).
async fn stall_timer_of(app: &App, id: &str) -> String {
    let view = app.store.get_handoff_view(&ws(), &HandoffId::parse(id).unwrap(), 0, 1).await.unwrap().unwrap();
    let timer = view.decisions[0]
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::SetTimer(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    serde_json::to_string(&timer).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_calls_per_operation_stay_within_their_goals() {
    let env = Env::new().await;
    configure(&env, json!({})).await;

    // settings-api: a save based on the current version is one conditional write.
    let log = CallLog::default();
    let settings_container = env.container(&log);
    let mut put = fixture("apigw-put-settings.json");
    let mut doc: Value = serde_json::from_str(put["body"].as_str().unwrap()).unwrap();
    doc["version"] = json!(1);
    put["body"] = json!(doc.to_string());
    let req: ApiGatewayV2httpRequest = serde_json::from_value(put).unwrap();
    assert_eq!(settings_api::lambda::handler(&settings_container, req).await.status_code, 200);
    report("PUT settings, version current", &settings_container, &log, 1, 1).await;

    // escalation-trigger, a container that has not decided an escalation of this workspace yet:
    // it reads the settings once. (An SQS message's acknowledgement is written before the
    // batch's answer; an HTTP one after the response.)
    let esc = env.container(&log);
    escalate_sqs(&esc, sqs_body("evt_cold", "conv_cold")).await;
    report("escalation (SQS), first in a new container", &esc, &log, 5, 4).await;

    let first = sqs_body("evt_chat", "conv_chat");
    escalate_sqs(&esc, first.clone()).await;
    report("chat escalation (SQS)", &esc, &log, 4, 3).await;
    let voice = escalate_http(&esc, "conv_voice", "evt_voice", "voice").await;
    report("voice escalation (HTTP)", &esc, &log, 4, 2).await;
    escalate_sqs(&esc, first).await;
    report("escalation, same event_id again", &esc, &log, 2, 2).await;
    escalate_sqs(&esc, sqs_body("evt_chat_2", "conv_chat")).await;
    report("escalation, conversation already active", &esc, &log, 3, 3).await;

    // Accept from the Inbox page (the common path): the page's copy of the handoff is what the
    // accept decides on and commits against; no read.
    escalate_sqs(&esc, sqs_body("evt_listed", "conv_listed")).await;
    invocation(&esc, &log).await;
    let lister = env.container(&log);
    let (status, page) = http_on(&lister, Api::Inbox, apigw("apigw-get-inbox.json", None, "agent", "dana")).await;
    assert_eq!(status, 200, "{page}");
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["conversation_id"] == "conv_listed")
        .unwrap_or_else(|| panic!("the new handoff is on the page: {page}"))["handoff_id"]
        .as_str()
        .unwrap()
        .to_string();
    invocation(&lister, &log).await;
    let (status, accepted) = inbox(&lister, "apigw-post-accept.json", &listed, "dana").await;
    assert_eq!((status, accepted["state"].as_str()), (200, Some("assigned")), "{accepted}");
    let calls = report("accept from the Inbox page", &lister, &log, 3, 2).await;
    assert!(!calls.operations().iter().any(|op| op.contains("Query") || op.contains("GetItem")), "{calls}");

    // inbox-api, in a container of its own.
    let agents = env.container(&log);
    let chat_id = esc
        .store
        .list_inbox(
            &ws(),
            &handoff::ports::InboxQuery {
                teams: None,
                status: handoff::ports::StatusFilter::Active,
                assignee: None,
                channel: Some(handoff::domain::Channel::Chat),
                reason: None,
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|h| h.conversation_id.as_str() == "conv_chat")
        .unwrap()
        .handoff_id;
    let voice_id = voice["handoff"]["handoff_id"].as_str().unwrap().to_string();
    invocation(&esc, &log).await;

    // A timer acting decides on the handoff it carries: no read.
    let stall = stall_timer_of(&esc, chat_id.as_str()).await;
    invocation(&esc, &log).await;
    let timers = env.container(&log);
    let ev: SqsEvent =
        serde_json::from_value(sqs_event("sqs-stall-timer.json", &[("t-1".into(), stall.clone())])).unwrap();
    assert!(stall_notifier::lambda::handler(&timers, ev).await.batch_item_failures.is_empty());
    // First in its container: the workspace's layout first (once per container), then the write.
    report("stall timer acting (SQS), first in a new container", &timers, &log, 4, 4).await;
    let ev: SqsEvent = serde_json::from_value(sqs_event("sqs-stall-timer.json", &[("t-2".into(), stall)])).unwrap();
    assert!(stall_notifier::lambda::handler(&timers, ev).await.batch_item_failures.is_empty());
    report("stall timer delivered again", &timers, &log, 1, 1).await;

    // Accept in a container that never saw the handoff: read (the workspace's layout beside it,
    // once per container), write and send, then (after the response) the acknowledgement.
    let (status, _) = inbox(&agents, "apigw-post-accept.json", chat_id.as_str(), "alice").await;
    assert_eq!(status, 200);
    report("accept, handoff not seen by this container", &agents, &log, 5, 3).await;
    // The agent opens the other handoff, then accepts it: decided on what was read.
    let (status, _) = inbox(&agents, "apigw-get-handoff.json", &voice_id, "bob").await;
    assert_eq!(status, 200);
    report("GET handoff (with its timeline)", &agents, &log, 1, 1).await;
    let (status, _) = inbox(&agents, "apigw-post-accept.json", &voice_id, "bob").await;
    assert_eq!(status, 200);
    report("accept, after opening the handoff", &agents, &log, 3, 2).await;
    let mut assign = apigw("apigw-post-assign.json", Some(&voice_id), "agent", "bob");
    assign["body"] = json!(json!({"assignee": "carol"}).to_string());
    let req: ApiGatewayV2httpRequest = serde_json::from_value(assign).unwrap();
    assert_eq!(inbox_api::lambda::handler(&agents, req).await.status_code, 200);
    report("assign", &agents, &log, 1, 1).await;
    let (status, _) = inbox(&agents, "apigw-post-resolve.json", &voice_id, "carol").await;
    assert_eq!(status, 200);
    report("resolve", &agents, &log, 3, 2).await;
    let (status, _) = inbox(&agents, "apigw-post-return-to-ai.json", chat_id.as_str(), "alice").await;
    assert_eq!(status, 200);
    report("return to AI", &agents, &log, 3, 2).await;
}

async fn customer_message(app: &App, message_id: &str, conversation: &str) {
    let body = json!({"type": "customer_message", "workspace_id": "ws_fixture", "conversation_id": conversation,
                      "message_id": message_id, "text": "Any news?", "sent_at": "2026-11-24T10:05:00Z"});
    let ev = sqs_event("sqs-customer-message.json", &[("c-1".into(), body.to_string())]);
    let out = escalation_trigger::lambda::handler(app, ev).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn conversation_calls_stay_within_their_goals() {
    let env = Env::new().await;
    configure(&env, json!({})).await;
    let log = CallLog::default();
    let ai = env.container(&log);
    escalate_sqs(&ai, sqs_body("evt_talk", "conv_talk")).await;
    invocation(&ai, &log).await;
    // The container that escalated knows the handoff: one conditional write.
    customer_message(&ai, "m-1", "conv_talk").await;
    report("customer message (SQS), container that escalated", &ai, &log, 1, 1).await;
    // Another container looks the conversation up first.
    let other = env.container(&log);
    customer_message(&other, "m-2", "conv_talk").await;
    // (and, beside the handoff, the workspace's layout: once per container)
    report("customer message, new container", &other, &log, 4, 3).await;
    customer_message(&other, "m-2", "conv_talk").await;
    report("customer message, same message_id again", &other, &log, 1, 1).await;

    let agents = env.container(&log);
    let id = ai
        .store
        .active_handoff_of(&ws(), &handoff::domain::ConversationId::parse("conv_talk").unwrap())
        .await
        .unwrap()
        .unwrap();
    invocation(&ai, &log).await;
    let (status, page) = inbox(&agents, "apigw-get-messages.json", id.as_str(), "bob").await;
    assert_eq!(status, 200, "{page}");
    report("GET transcript page", &agents, &log, 1, 1).await;
    let (status, _) = inbox(&agents, "apigw-post-accept.json", id.as_str(), "alice").await;
    assert_eq!(status, 200);
    invocation(&agents, &log).await;
    // The escalating container's copy is stale now: the failed write brings the current one.
    customer_message(&ai, "m-3", "conv_talk").await;
    report("customer message, handoff changed elsewhere", &ai, &log, 2, 2).await;
    let (status, _) = inbox(&agents, "apigw-get-messages.json", id.as_str(), "alice").await;
    assert_eq!(status, 200);
    report("GET transcript page, assignee with unread messages", &agents, &log, 2, 2).await;
    let (status, r) = inbox(&agents, "apigw-post-reply.json", id.as_str(), "alice").await;
    assert_eq!(status, 200, "{r}");
    report("agent reply", &agents, &log, 3, 2).await;
    let (status, r) = inbox(&agents, "apigw-post-reply.json", id.as_str(), "alice").await;
    assert_eq!((status, r["replayed"].as_bool()), (200, Some(true)));
    report("agent reply, same client_message_id again", &agents, &log, 1, 1).await;
    let (status, _) = inbox(&agents, "apigw-post-note.json", id.as_str(), "alice").await;
    assert_eq!(status, 200);
    report("note", &agents, &log, 1, 1).await;
}

/// Teams, figures and the changes feed (spec §12–14): what each costs, and that the figures and
/// the feed read the same whatever the number of handoffs. A workspace escalating below a few
/// hundred a second reads each in at most 4 Queries (spec §15; this one, new and quiet, in one).
#[tokio::test(flavor = "multi_thread")]
async fn teams_figures_and_the_changes_feed_cost_what_they_should() {
    let env = Env::new().await;
    configure(&env, json!({})).await;
    let log = CallLog::default();
    let admin = env.container(&log);

    let (status, saved) = http_on(&admin, Api::Settings, fixture("apigw-put-teams.json")).await;
    assert_eq!(status, 200, "{saved}");
    // Members first (one item here), then every copy in one transaction, then the clean-up read.
    report("PUT teams (first save)", &admin, &log, 3, 3).await;
    let (status, teams) = http_on(&admin, Api::Settings, apigw("apigw-get-teams.json", None, "agent", "alice")).await;
    assert_eq!((status, teams["teams"][0]["members"].clone()), (200, json!(["alice", "bob"])));
    report("GET teams", &admin, &log, 2, 2).await;

    // The escalation routes by the saved rules, checked in its own transaction: no more calls
    // than before teams existed.
    let esc = env.container(&log);
    escalate_sqs(&esc, sqs_body("evt_team_cold", "conv_team_cold")).await;
    report("escalation with teams (SQS), first in a new container", &esc, &log, 5, 4).await;
    escalate_sqs(&esc, sqs_body("evt_team", "conv_team")).await;
    report("escalation with teams (SQS)", &esc, &log, 4, 3).await;

    // The first read of an index in a container reads the workspace's layout first (then again
    // once a minute): the figures of a new workspace are one shard.
    let (status, m) = http_on(&admin, Api::Settings, metrics_event_around_today()).await;
    assert_eq!(status, 200, "{m}");
    report("GET metrics (a month, by team), first in a container", &admin, &log, 2, 2).await;
    let (status, m) = http_on(&admin, Api::Settings, metrics_event_around_today()).await;
    assert_eq!(status, 200, "{m}");
    let small = log.take().count();
    for i in 0..20 {
        escalate_sqs(&esc, sqs_body(&format!("evt_many_{i}"), &format!("conv_many_{i}"))).await;
    }
    invocation(&esc, &log).await;
    let (status, m) = http_on(&admin, Api::Settings, metrics_event_around_today()).await;
    assert_eq!(status, 200, "{m}");
    let calls = report("GET metrics (a month, by team)", &admin, &log, 4, 1).await;
    assert_eq!(calls.count(), small, "the figures read the same with 2 or 22 handoffs");
    let queued: u64 =
        m["groups"].as_array().unwrap().iter().map(|g| g["escalations"]["queued"].as_u64().unwrap()).sum();
    assert!(queued >= 22, "{m}");

    let agents = env.container(&log);
    let waiting = esc
        .store
        .list_inbox(
            &ws(),
            &handoff::ports::InboxQuery {
                teams: None,
                status: handoff::ports::StatusFilter::One(handoff::domain::State::Waiting),
                assignee: None,
                channel: None,
                reason: None,
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    invocation(&esc, &log).await;
    let (status, moved) = http_on(
        &agents,
        Api::Inbox,
        apigw("apigw-post-transfer.json", Some(waiting.handoff_id.as_str()), "agent", "alice"),
    )
    .await;
    assert_eq!((status, moved["team_id"].as_str()), (200, Some("general")), "{moved}");
    // The team checked against the saved teams (one read), the handoff read and moved.
    report("transfer, handoff not seen by this container", &agents, &log, 4, 3).await;
    // One team's queue: its shards of the `by_team` index, side by side.
    let mut get = apigw("apigw-get-inbox.json", None, "agent", "alice");
    get["rawQueryString"] = json!("status=active&team=general");
    get["queryStringParameters"] = json!({"status": "active", "team": "general"});
    let (status, page) = http_on(&agents, Api::Inbox, get).await;
    assert_eq!(status, 200, "{page}");
    assert!(page["items"].as_array().unwrap().iter().any(|h| h["handoff_id"] == moved["handoff_id"]), "{page}");
    report("GET inbox, one team's queue", &agents, &log, 4, 1).await;
    // An agent in more teams than those reads fit: the workspace's Inbox shards, with a filter.
    let teams = ["general", "billing", "vip"].map(|t| handoff::domain::TeamId::parse(t).unwrap()).to_vec();
    let q = handoff::ports::InboxQuery {
        teams: Some(teams),
        status: handoff::ports::StatusFilter::Active,
        assignee: None,
        channel: None,
        reason: None,
        limit: 25,
        after: None,
    };
    let page = agents.store.list_inbox(&ws(), &q).await.unwrap();
    assert!(page.items.iter().any(|h| h.handoff_id.as_str() == moved["handoff_id"]), "{:?}", page.items);
    report("GET inbox, three teams' queues", &agents, &log, 4, 1).await;
    let (status, feed) =
        http_on(&agents, Api::Inbox, apigw("apigw-get-inbox-changes.json", None, "agent", "alice")).await;
    assert_eq!(status, 200, "{feed}");
    // Every shard of the changes index side by side, then the changed handoffs by key, side by
    // side.
    let found = feed["items"].as_array().unwrap().len();
    assert!(found > 0, "{feed}");
    report("GET inbox changes, a poll that finds changes", &agents, &log, 4 + found, 2).await;
    let mut quiet = apigw("apigw-get-inbox-changes.json", None, "agent", "alice");
    quiet["rawQueryString"] = json!(format!("cursor={}.0.0", chrono::Utc::now().timestamp() + 60));
    let (status, feed) = http_on(&agents, Api::Inbox, quiet).await;
    assert_eq!((status, feed["items"].as_array().map(Vec::len)), (200, Some(0)), "{feed}");
    report("GET inbox changes, a quiet poll", &agents, &log, 4, 1).await;
}
