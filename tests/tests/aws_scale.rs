//! DynamoDB on the emulator, at the edges a busy deployment reaches: long histories, races on
//! the same items, a conversation lock left behind, a crash between commit and send. Requests
//! are counted with the SDK interceptor, so "bounded" is asserted, not assumed.

use ::handoff::app::{App, AppError};
use ::handoff::domain::*;
use ::handoff::ports::{EscalationWrite, InboxQuery, StatusFilter, Store};
use futures::future::join_all;
use handoff_tests::aws::Env;
use handoff_tests::calls::CallLog;

fn ws(s: &str) -> WorkspaceId {
    WorkspaceId::parse(s).unwrap()
}
fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn request(w: &str, conv: &str, event: &str) -> EscalationRequest {
    EscalationRequest::new(
        EventId::parse(event).unwrap(),
        ws(w),
        ConversationId::parse(conv).unwrap(),
        Channel::Chat,
        Reason::BillingIssue,
    )
}

async fn enable(app: &App, w: &str) {
    let mut doc = serde_json::to_value(SettingsDoc::defaults(ws(w))).unwrap();
    doc["enabled"] = serde_json::json!(true);
    app.put_settings(&ws(w), &doc, None, &user("admin")).await.unwrap();
}

/// A workspace as it was saved before layouts existed: settings, no `LAYOUT` item. Its indexes
/// and figures keep the fixed count they were written with (`LEGACY_SHARDS`).
async fn legacy(env: &Env, w: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    enable(&env.app, w).await;
    let key = [
        ("pk".to_string(), AttributeValue::S(format!("SETTINGS#{w}#0"))),
        ("sk".to_string(), AttributeValue::S("LAYOUT".into())),
    ];
    env.dynamo.delete_item().table_name(&env.res.table).set_key(Some(key.into())).send().await.unwrap();
}

/// An escalation of `w` recorded as a first attempt that crashed before sending: the handoff
/// `id` and its decision committed, its effects pending. Returns the request (for a replay).
async fn committed_not_sent(
    app: &App,
    w: &str,
    conv: &str,
    event: &str,
    id: &HandoffId,
    at: chrono::DateTime<chrono::Utc>,
) -> EscalationRequest {
    let settings = app.get_settings(&ws(w)).await.unwrap();
    let req = request(w, conv, event);
    let d = decide_escalation(
        &settings.settings,
        &::handoff::domain::Teams::default(),
        &req,
        Actor::Ai,
        None,
        id.clone(),
        at,
    );
    let rec = d.decision_record();
    app.store
        .create_escalation(EscalationWrite {
            teams_version: None,
            metrics: None,
            record: &d.record,
            handoff: d.created.as_ref(),
            decision: rec.as_ref(),
            settings_version: None,
            stale_lock: None,
            transcript: &[],
        })
        .await
        .unwrap();
    req
}

fn query(status: StatusFilter, assignee: Option<&str>, limit: usize) -> InboxQuery {
    InboxQuery { teams: None, status, assignee: assignee.map(user), channel: None, reason: None, limit, after: None }
}

/// Writes a handoff straight through the store, assigned to `agent` and, if `close`, already
/// resolved (as its last state would be stored): a history without the cost of living it.
async fn seeded(store: &dyn Store, w: &str, i: usize, agent: &str, close: bool) -> Handoff {
    let at = chrono::Utc::now() - chrono::Duration::days(30) + chrono::Duration::seconds(i as i64);
    let settings = Settings { enabled: true, ..Settings::default() };
    let id = HandoffId::parse(format!("hnd_seed_{i:05}")).unwrap();
    let d = decide_escalation(
        &settings,
        &::handoff::domain::Teams::default(),
        &request(w, &format!("conv-{i}"), &format!("evt-{i}")),
        Actor::Ai,
        None,
        id,
        at,
    );
    let mut h = d.created.clone().unwrap();
    let mut cmds = vec![Command::Accept { by: user(agent) }];
    if close {
        cmds.push(Command::Resolve { by: user(agent) });
    }
    for cmd in cmds {
        let Ok(Outcome::Changed(next)) = decide(&h, &cmd, at) else { panic!("{cmd:?}") };
        h = next.handoff;
    }
    store
        .create_escalation(EscalationWrite {
            teams_version: None,
            metrics: None,
            record: &d.record,
            handoff: Some(&h),
            decision: None,
            settings_version: None,
            stale_lock: None,
            transcript: &[],
        })
        .await
        .unwrap();
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_reads_a_page_however_long_the_history() {
    let log = CallLog::default();
    let env = Env::counted(&log).await;
    let w = "ws_history";
    // 300 closed handoffs of alice, then 3 active ones. (One at a time: the emulator's
    // transactions are not safe to run side by side with each other.)
    for i in 0..300 {
        seeded(env.app.store.as_ref(), w, i, "alice", true).await;
    }
    for i in 300..303 {
        seeded(env.app.store.as_ref(), w, i, "alice", false).await;
    }
    log.take();

    // "Mine, active": one request, three handoffs, whatever alice did before.
    let page = env.app.inbox(&ws(w), &query(StatusFilter::Active, Some("alice"), 25)).await.unwrap();
    let calls = log.take();
    println!("mine, active: {calls}");
    assert_eq!(page.items.len(), 3);
    assert!(page.next.is_none());
    assert_eq!(calls.count(), 1, "{calls}");

    // Her resolved ones, a page at a time: one request a page.
    let page = env.app.inbox(&ws(w), &query(StatusFilter::One(State::Resolved), Some("alice"), 25)).await.unwrap();
    let calls = log.take();
    assert_eq!(page.items.len(), 25);
    assert!(page.next.is_some());
    assert_eq!(calls.count(), 1, "{calls}");

    // The whole team's active view: one request per index shard of the workspace's layout (one,
    // for a new workspace), however many closed handoffs the workspace has.
    let page = env.app.inbox(&ws(w), &query(StatusFilter::Active, None, 25)).await.unwrap();
    let calls = log.take();
    println!("active: {calls}");
    assert_eq!(page.items.len(), 3);
    assert_eq!(calls.count(), 1, "{calls}");
    assert_eq!(calls.in_sequence(), 1, "{calls}");

    // A filter that matches nothing among 300 resolved handoffs: a bounded number of reads and a
    // partial (here empty) page with a cursor to continue, not a loop over the history.
    let mut q = query(StatusFilter::One(State::Resolved), Some("alice"), 5);
    q.reason = Some(Reason::RefundRequest);
    let mut pages = 0;
    let mut requests = Vec::new();
    loop {
        let page = env.app.inbox(&ws(w), &q).await.unwrap();
        requests.push(log.take().count());
        assert!(page.items.is_empty());
        pages += 1;
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
        assert!(pages < 50, "the cursor must move forward");
    }
    println!("filter matching nothing: {pages} pages, requests per page {requests:?}");
    assert!(pages > 1, "a partial page came back before the end");
    assert!(requests.iter().all(|n| *n <= ::handoff::adapters::aws::dynamodb::MAX_READS_PER_PAGE), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn races_on_dynamodb_have_one_winner() {
    let env = Env::new().await;
    let w = "ws_race";
    enable(&env.app, w).await;
    // 20 escalations of one conversation at once, each from its own container: one handoff.
    let apps: Vec<App> = (0..20).map(|_| env.container(&CallLog::default())).collect();
    let results = join_all(apps.iter().enumerate().map(|(i, app)| async move {
        app.escalate(&request(w, "conv-race", &format!("evt-race-{i}")), Actor::Ai).await
    }))
    .await;
    join_all(apps.iter().map(App::acknowledge_held)).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| r.as_ref().expect("every escalation is answered").handoff.as_ref().unwrap().handoff_id.to_string())
        .collect();
    assert_eq!(ids.len(), 1, "one active handoff for the conversation");
    let queued = results.iter().filter(|r| r.as_ref().unwrap().outcome == EscalationOutcome::Queued).count();
    assert_eq!(queued, 1);
    let active = env.app.inbox(&ws(w), &query(StatusFilter::Active, None, 50)).await.unwrap();
    assert_eq!(active.items.len(), 1);

    // 10 agents accept it at once: one wins, the others get the conflict.
    let id = active.items[0].handoff_id.clone();
    let results = join_all(apps.iter().take(10).enumerate().map(|(i, app)| {
        let id = id.clone();
        async move { app.apply(&ws(w), &id, Command::Accept { by: user(&format!("agent{i}")) }).await }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(AppError::AssignedToSomeoneElse))));

    // Settings saved at once from the same version: one save wins.
    let results = join_all(apps.iter().take(5).map(|app| {
        let mut doc = serde_json::to_value(SettingsDoc::defaults(ws(w))).unwrap();
        doc["enabled"] = serde_json::json!(true);
        doc["stalling_time_seconds"] = serde_json::json!(30);
        doc["version"] = serde_json::json!(1);
        async move { app.put_settings(&ws(w), &doc, None, &user("admin")).await }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .filter(|r| r.is_err())
        .all(|r| matches!(r, Err(AppError::SettingsVersionConflict { expected: 1, .. }))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_behind_is_repaired_not_busy_forever() {
    let env = Env::new().await;
    let w = "ws_lock";
    enable(&env.app, w).await;
    // A lock naming a handoff that does not exist (or is closed): left by an older version or a
    // manual change.
    env.dynamo
        .put_item()
        .table_name(&env.res.table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONV#{w}#conv-stuck")))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::S("LOCK".into()))
        .item("handoff_id", aws_sdk_dynamodb::types::AttributeValue::S("hnd_gone".into()))
        .send()
        .await
        .unwrap();
    let r = env.app.escalate(&request(w, "conv-stuck", "evt-stuck"), Actor::Ai).await.unwrap();
    assert_eq!(r.outcome, EscalationOutcome::Queued, "the stale lock was taken over");
    let again = env.app.escalate(&request(w, "conv-stuck", "evt-stuck-2"), Actor::Ai).await.unwrap();
    assert_eq!(again.outcome, EscalationOutcome::AlreadyActive, "and now guards the new handoff");
    assert_eq!(again.handoff.unwrap().handoff_id, r.handoff.unwrap().handoff_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_sends_what_the_first_attempt_left_pending() {
    let env = Env::new().await;
    let w = "ws_replay";
    enable(&env.app, w).await;
    // The first attempt committed and crashed before sending: its effects are pending.
    let id = HandoffId::parse("hnd_replay").unwrap();
    let req = committed_not_sent(&env.app, w, "conv-replay", "evt-replay", &id, chrono::Utc::now()).await;
    assert!(env.outbound().await.is_empty());
    // SQS delivers the escalation again: the first answer, and the confirmation goes out now,
    // not when the sweep comes round.
    let r = env.app.escalate(&req, Actor::Ai).await.unwrap();
    assert!(r.replayed);
    let out = env.outbound().await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["event_id"], "hnd_replay:v1:0");
    let view = env.app.handoff_view(&ws(w), &HandoffId::parse("hnd_replay").unwrap(), 0).await.unwrap();
    assert!(view.decisions[0].is_settled(), "the message and the timer are recorded as sent");
    // And a third delivery sends nothing.
    env.app.escalate(&req, Actor::Ai).await.unwrap();
    assert!(env.outbound().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledgements_leave_the_handoff_item_and_its_index_entries_alone() {
    let env = Env::new().await;
    let w = "ws_ack";
    enable(&env.app, w).await;
    let r = env.app.escalate(&request(w, "conv-ack", "evt-ack"), Actor::Ai).await.unwrap();
    let id = r.handoff.unwrap().handoff_id;
    let raw = || async {
        let key = |k: &str, v: String| (k.to_string(), aws_sdk_dynamodb::types::AttributeValue::S(v));
        env.dynamo
            .get_item()
            .table_name(&env.res.table)
            .set_key(Some([key("pk", format!("HANDOFF#{w}#{id}")), key("sk", "#HANDOFF".into())].into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    };
    // The confirmation went out and was acknowledged: the handoff says so, but its item (which
    // every Inbox index copies) was written once, by the escalation.
    let h = env.app.store.get_handoff(&ws(w), &id).await.unwrap().unwrap();
    assert_eq!((h.seq, h.sent_seq, h.version), (1, 1, 1), "{h:?}");
    let before = raw().await;
    assert_eq!(before["sent_seq"].as_n().unwrap(), "0", "the item keeps what its commit saw");
    // An accept commits (the item changes with its version), and its acknowledgement does not.
    env.app.apply(&ws(w), &id, Command::Accept { by: user("alice") }).await.unwrap();
    let accepted = env.app.store.get_handoff(&ws(w), &id).await.unwrap().unwrap();
    assert_eq!((accepted.version, accepted.seq, accepted.sent_seq), (2, 2, 2), "agent_joined out and acknowledged");
    let after = raw().await;
    assert_eq!(after["version"].as_n().unwrap(), "2");
    assert_eq!(after["sent_seq"].as_n().unwrap(), "1", "written by the commit, not by the acknowledgement");
    // A command decided on the Inbox's copy (whose item says sent_seq 1) commits on its first
    // write: the copy is taken as caught up, as the sent item proves it is.
    // (a fresh container: the one above remembers the handoff as its own acknowledgement left it)
    let log = CallLog::default();
    let other = env.container(&log);
    other.inbox(&ws(w), &query(StatusFilter::Active, None, 10)).await.unwrap();
    log.take();
    other.apply(&ws(w), &id, Command::Resolve { by: user("alice") }).await.unwrap();
    other.acknowledge_held().await;
    let ops = log.take().operations().iter().map(|o| o.to_string()).collect::<Vec<_>>();
    assert_eq!(ops, ["TransactWriteItems", "SendMessage", "TransactWriteItems"], "{ops:?}");
    let resolved = env.app.store.get_handoff(&ws(w), &id).await.unwrap().unwrap();
    assert_eq!((resolved.state, resolved.version, resolved.seq, resolved.sent_seq), (State::Resolved, 3, 3, 3));
    assert_eq!(env.outbound().await.len(), 3, "confirmation, agent joined, resolved: each once");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sharded_inbox_pages_through_every_handoff_in_queue_order() {
    let log = CallLog::default();
    let env = Env::counted(&log).await;
    let w = "ws_pages";
    legacy(&env, w).await;
    let mut expected = Vec::new();
    for i in 0..130 {
        expected.push(seeded(env.app.store.as_ref(), w, i, "bob", false).await.handoff_id);
    }
    // (the layout, once, before the first page)
    env.app.inbox(&ws(w), &query(StatusFilter::Active, None, 1)).await.unwrap();
    log.take();
    // Pages of 25 over the 64 shards of a workspace saved before layouts: each shard reads its
    // share of a page, not a whole page, and the pages still come back full, in queue order,
    // each handoff once.
    let mut seen = Vec::new();
    let mut q = query(StatusFilter::Active, None, 25);
    let mut sizes = Vec::new();
    loop {
        let page = env.app.inbox(&ws(w), &q).await.unwrap();
        let calls = log.take();
        assert_eq!(calls.count(), ::handoff::adapters::aws::dynamodb::INBOX_SHARDS as usize, "{calls}");
        sizes.push(page.items.len());
        seen.extend(page.items.into_iter().map(|h| h.handoff_id));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [25, 25, 25, 25, 25, 5]);
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn raising_the_settings_copies_needs_no_migration() {
    use ::handoff::adapters::aws::dynamodb::SETTINGS_COPIES;
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = Env::new().await;
    let w = "ws_copies";
    enable(&env.app, w).await;
    // As a workspace saved when there were half as many copies: the upper half is missing.
    let key = |copy: u32| {
        [
            ("pk".to_string(), AttributeValue::S(format!("SETTINGS#{w}#{copy}"))),
            ("sk".to_string(), AttributeValue::S("SETTINGS".into())),
        ]
    };
    for copy in SETTINGS_COPIES / 2..SETTINGS_COPIES {
        env.dynamo.delete_item().table_name(&env.res.table).set_key(Some(key(copy).into())).send().await.unwrap();
    }
    // Escalations whose conversations check a missing copy still go through.
    for i in 0..40 {
        let r = env.app.escalate(&request(w, &format!("conv-c{i}"), &format!("evt-c{i}")), Actor::Ai).await.unwrap();
        assert_eq!(r.outcome, EscalationOutcome::Queued, "conversation {i}");
    }
    // The next save creates the missing copies, at the new version, and later checks are exact.
    let current = env.app.get_settings(&ws(w)).await.unwrap();
    let mut doc = serde_json::to_value(&current).unwrap();
    doc["enabled"] = serde_json::json!(false);
    let saved = env.app.put_settings(&ws(w), &doc, Some(current.version), &user("admin")).await.unwrap();
    for copy in [0, SETTINGS_COPIES / 2, SETTINGS_COPIES - 1] {
        let item =
            env.dynamo.get_item().table_name(&env.res.table).set_key(Some(key(copy).into())).send().await.unwrap();
        let version = item.item.unwrap()["version"].as_n().unwrap().parse::<u64>().unwrap();
        assert_eq!(version, saved.version, "copy {copy}");
    }
    let r = env.app.escalate(&request(w, "conv-after", "evt-after"), Actor::Ai).await.unwrap();
    assert_eq!(r.outcome, EscalationOutcome::Disabled, "the saved change applies at once");
}

/// The pending-effects index is keyed per workspace, and the sweep scans it: a decision left
/// pending by a crash is found whatever its workspace, and so is one recorded under the previous
/// layout's key (`PENDING#<shard>`, shared by every workspace), so an upgrade loses nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_finds_pending_effects_of_every_workspace_and_of_the_previous_layout() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = Env::new().await;
    let mut crashed = Vec::new();
    for w in ["ws_sweep_a", "ws_sweep_b"] {
        enable(&env.app, w).await;
        let id = HandoffId::parse(format!("hnd_{w}")).unwrap();
        let two_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(2);
        committed_not_sent(&env.app, w, "conv-sweep", &format!("evt-{w}"), &id, two_minutes_ago).await;
        crashed.push((w, id));
    }
    let key = |w: &str, id: &HandoffId| {
        [
            ("pk".to_string(), AttributeValue::S(format!("HANDOFF#{w}#{id}"))),
            ("sk".to_string(), AttributeValue::S("D#0000000001".into())),
        ]
    };
    async fn pending_key(env: &Env, key: [(String, AttributeValue); 2]) -> Option<String> {
        let item = env.dynamo.get_item().table_name(&env.res.table).set_key(Some(key.into())).send().await.unwrap();
        item.item.unwrap().get("gsi4pk").map(|v| v.as_s().unwrap().clone())
    }
    let (wa, a) = &crashed[0];
    assert!(
        pending_key(&env, key(wa, a)).await.unwrap().starts_with(&format!("PENDING#{wa}#")),
        "a key of its workspace"
    );
    // The second as the previous layout wrote it.
    let (wb, b) = &crashed[1];
    env.dynamo
        .update_item()
        .table_name(&env.res.table)
        .set_key(Some(key(wb, b).into()))
        .update_expression("SET gsi4pk = :old")
        .expression_attribute_values(":old", AttributeValue::S("PENDING#17".into()))
        .send()
        .await
        .unwrap();
    assert!(env.outbound().await.is_empty());
    let report = env.app.redispatch_older_than(std::time::Duration::from_secs(60), 100).await.unwrap();
    assert_eq!((report.pending, report.dispatched), (2, 4), "a confirmation and a stall timer each: {report:?}");
    let out = env.outbound().await;
    let mut sent: Vec<&str> = out.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    sent.sort();
    assert_eq!(sent, [format!("{a}:v1:0"), format!("{b}:v1:0")]);
    for (w, id) in &crashed {
        assert_eq!(pending_key(&env, key(w, id)).await, None, "{w}: settled, out of the index");
    }
    let again = env.app.redispatch_older_than(std::time::Duration::from_secs(60), 100).await.unwrap();
    assert_eq!(again.dispatched, 0);
}

/// When an Inbox copy's guess is wrong (an event of the handoff is in fact not acknowledged yet),
/// the commit's check of the sent item fails, the handoff is read, and the command is decided
/// again on it: a read more, never an event ahead of an earlier one.
#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_copy_with_an_event_still_pending_is_read_again() {
    let env = Env::new().await;
    let w = "ws_guess";
    enable(&env.app, w).await;
    // The confirmation could not be sent (the queue was down): event 1 is pending.
    struct Down;
    #[async_trait::async_trait]
    impl ::handoff::ports::Publisher for Down {
        async fn publish(&self, events: &[OutboundEvent]) -> Result<(), ::handoff::ports::PublishError> {
            Err(::handoff::ports::PublishError { event_id: events[0].event_id.clone(), reason: "down".into() })
        }
    }
    let down = env.app.clone().with_publisher(std::sync::Arc::new(Down));
    let r = down.escalate(&request(w, "conv-guess", "evt-guess"), Actor::Ai).await.unwrap();
    let id = r.handoff.unwrap().handoff_id;
    let log = CallLog::default();
    let other = env.container(&log);
    other.inbox(&ws(w), &query(StatusFilter::Active, None, 10)).await.unwrap();
    log.take();
    let h = other.apply(&ws(w), &id, Command::Accept { by: user("alice") }).await.unwrap();
    assert_eq!((h.state, h.version), (State::Assigned, 2));
    let ops = log.take().operations().iter().map(|o| o.to_string()).collect::<Vec<_>>();
    assert_eq!(&ops[..3], ["TransactWriteItems", "Query", "TransactWriteItems"], "{ops:?}");
    // agent_joined (event 2) was held back behind the confirmation (event 1), which the sweep
    // sends again; then agent_joined follows, in order.
    let first = env.outbound().await;
    assert!(first.iter().all(|e| e["type"] != "agent_joined"), "not ahead of the confirmation: {first:?}");
    let swept = env.app.redispatch_older_than(std::time::Duration::ZERO, 100).await.unwrap();
    assert!(swept.dispatched >= 2, "{swept:?}");
    let out = env.outbound().await;
    let seqs: Vec<u64> = out.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, [1, 2], "{out:?}");
}

/// A workspace's shard count grows with its escalation rate (spec §15): readers cover the new
/// count at once, writers use it once the lead has passed, and every handoff, written before or
/// after, is still read, in queue order. A workspace saved before layouts keeps its 64.
#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_s_shards_grow_with_its_rate_and_nothing_is_lost() {
    use ::handoff::adapters::aws::dynamodb::{DynamoStore, GROWTH_LEAD, LEGACY_SHARDS};
    use ::handoff::ports::{Clock, DrivenClock};
    use std::sync::Arc;
    let log = CallLog::default();
    let env = Env::counted(&log).await;
    let clock = DrivenClock::starting_at(chrono::Utc::now());
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&env.sdk).interceptor(log.interceptor()).build(),
    );
    let store = Arc::new(DynamoStore::new(client, env.res.table.clone()).with_clock(Arc::new(clock.clone())));
    let app = App::new(
        store.clone(),
        env.app.publisher.clone(),
        env.app.timers.clone(),
        Arc::new(clock.clone()),
        env.app.ids.clone(),
    );
    let w = "ws_grows";
    enable(&app, w).await;
    assert_eq!(store.stored_layout(&ws(w)).await.unwrap().for_read(), 1, "a new workspace starts on one shard");
    let mut expected = Vec::new();
    for i in 0..6 {
        let r = app.escalate(&request(w, &format!("conv-g{i}"), &format!("evt-g{i}")), Actor::Ai).await.unwrap();
        expected.push(r.handoff.unwrap().handoff_id);
        clock.advance(chrono::Duration::milliseconds(10));
    }
    // 900 escalations a second, as busy processes report them once a second for half a minute:
    // 75 shards needed at 12 a shard, so 128 (through 8, 16, 32 and 64 as the minute's count
    // builds up; writers keep the one they use until a lead has passed).
    let minute = clock.now().timestamp() / 60 * 60 + 60;
    clock.advance_to(chrono::DateTime::from_timestamp(minute, 0).unwrap());
    let mut grown = store.stored_layout(&ws(w)).await.unwrap();
    for _ in 0..30 {
        clock.advance(chrono::Duration::seconds(1));
        grown = store.observe_rate(&ws(w), 900).await.unwrap();
    }
    assert_eq!((grown.shards, grown.previous), (128, 1), "{grown:?}");
    assert_eq!(store.stored_layout(&ws(w)).await.unwrap(), grown, "recorded for every process");
    assert_eq!(grown.for_write(clock.now()), 1, "writers keep one shard until the lead has passed");
    clock.advance(GROWTH_LEAD + chrono::Duration::seconds(1));
    for i in 6..40 {
        let r = app.escalate(&request(w, &format!("conv-g{i}"), &format!("evt-g{i}")), Actor::Ai).await.unwrap();
        expected.push(r.handoff.unwrap().handoff_id);
        clock.advance(chrono::Duration::milliseconds(10));
    }
    // The new ones spread over the 128 shards of the `active` index; the old ones stay on shard 0.
    let out = env
        .dynamo
        .scan()
        .table_name(&env.res.table)
        .filter_expression("begins_with(gsi2pk, :p)")
        .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S(format!("WS#{w}#ACTIVE#")))
        .send()
        .await
        .unwrap();
    let shards: std::collections::HashSet<String> =
        out.items().iter().map(|i| i["gsi2pk"].as_s().unwrap().clone()).collect();
    assert!(shards.len() > 20, "34 new handoffs over 128 shards: {} keys", shards.len());
    // Every handoff, old and new, in queue order, a page at a time: 128 Queries a page now (the
    // layout read again first, as every minute).
    app.inbox(&ws(w), &query(StatusFilter::Active, None, 1)).await.unwrap();
    log.take();
    let mut seen = Vec::new();
    let mut q = query(StatusFilter::Active, None, 15);
    loop {
        let page = app.inbox(&ws(w), &q).await.unwrap();
        assert_eq!(log.take().count(), 128);
        seen.extend(page.items.into_iter().map(|h| h.handoff_id));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // The figures: every escalation counted, whichever shard it was added to.
    let rows = app
        .store
        .read_metrics(
            &ws(w),
            Dimension::Channel,
            clock.now().date_naive() - chrono::Days::new(1),
            clock.now().date_naive() + chrono::Days::new(1),
        )
        .await
        .unwrap();
    let queued: i64 = rows.iter().map(|r| r.counts.get("escalations.queued").copied().unwrap_or(0)).sum();
    assert_eq!(queued, 40, "{rows:?}");

    // A workspace saved before layouts keeps its fixed count, for reads and writes.
    let old = "ws_before_layouts";
    legacy(&env, old).await;
    let l = store.stored_layout(&ws(old)).await.unwrap();
    assert_eq!((l.for_read(), l.for_write(clock.now())), (LEGACY_SHARDS, LEGACY_SHARDS));
    app.escalate(&request(old, "conv-l", "evt-l"), Actor::Ai).await.unwrap();
    log.take();
    let page = app.inbox(&ws(old), &query(StatusFilter::Active, None, 25)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(log.take().count(), LEGACY_SHARDS as usize);
}
