//! Spec §11–13 over HTTP on the local stack: business hours, teams and routing, transfer, the
//! `team` Inbox filter, the metrics route, and the changes feed of the web Inbox.

use handoff_tests::{events_of, timeline_of, token, unique, Stack};
use serde_json::{json, Value};

/// Hours that are never open (no range on any day): every moment is after hours.
fn closed(after_hours_chat: &str) -> Value {
    json!({
        "time_zone": "Europe/Paris",
        "weekly": {"mon": [], "tue": [], "wed": [], "thu": [], "fri": [], "sat": [], "sun": []},
        "holidays": [],
        "after_hours_message": "We're closed. We'll write back tomorrow.",
        "after_hours_chat": after_hours_chat,
    })
}

/// Open around the clock on every day.
fn always_open() -> Value {
    let day = json!([["00:00", "24:00"]]);
    json!({"time_zone": "America/New_York",
           "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}})
}

#[tokio::test(flavor = "multi_thread")]
async fn after_hours_a_chat_goes_back_to_the_ai_and_a_call_never_rings() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"business_hours": closed("return_to_ai"), "voice_timeout_action": "end_call"})).await;
    let (st, chat) = s.escalate(&ws, "conv-chat", "evt-chat", "chat").await;
    assert_eq!(st, 200, "{chat}");
    assert_eq!(chat["outcome"], "after_hours");
    assert!(chat["handoff"].is_null(), "no Inbox entry");
    assert_eq!(chat["confirmation_message"], "We're closed. We'll write back tomorrow.");
    let (_, call) = s.escalate(&ws, "conv-call", "evt-call", "voice").await;
    assert_eq!(call["outcome"], "after_hours");
    let admin = token(&ws, "admin", "admin-1");
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&admin), None).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 0);
    let out = s.outbound(&ws).await;
    let kinds: Vec<(&str, &str, Option<&str>)> = out
        .iter()
        .map(|e| (e["conversation_id"].as_str().unwrap(), e["type"].as_str().unwrap(), e["text"].as_str()))
        .collect();
    assert!(
        kinds.contains(&("conv-chat", "route_to_ai", Some("We're closed. We'll write back tomorrow."))),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("conv-call", "customer_message", Some("We're closed. We'll write back tomorrow."))));
    assert!(kinds.contains(&("conv-call", "end_call", None)));
    // The same event again: the first answer.
    let (_, again) = s.escalate(&ws, "conv-chat", "evt-chat", "chat").await;
    assert_eq!((again["outcome"].as_str(), again["replayed"].as_bool()), (Some("after_hours"), Some(true)));
    assert_eq!(again["confirmation_message"], chat["confirmation_message"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_hours_a_queued_chat_gets_the_after_hours_message_and_waits_for_the_opening() {
    let s = Stack::start().await;
    let ws = unique("ws");
    // Open on Mondays only, and every day of the coming week is a holiday: closed now, and the
    // next opening is more than a week away.
    let mut hours = closed("queue");
    hours["weekly"]["mon"] = json!([["09:00", "17:00"]]);
    let today = chrono::Utc::now().date_naive();
    hours["holidays"] = (-1..8).map(|d| json!((today + chrono::Duration::days(d)).to_string())).collect();
    s.configure(&ws, json!({"business_hours": hours, "stalling_time_seconds": 10})).await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    assert_eq!(r["confirmation_message"], "We're closed. We'll write back tomorrow.");
    assert_eq!(r["outcome"], "queued", "{r}");
    let id = r["handoff"]["handoff_id"].as_str().unwrap();
    let h = s.handoff(&ws, id).await;
    let timer = timeline_of(&h, "timer_set");
    let due = chrono::DateTime::parse_from_rfc3339(timer[0]["due_at"].as_str().unwrap()).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(h["created_at"].as_str().unwrap()).unwrap();
    assert!(due - created > chrono::Duration::days(7), "the stall timer counts from the next opening: {due}");
    let msgs = timeline_of(&h, "message_decided");
    assert_eq!(msgs[0]["purpose"], "after_hours");
}

#[tokio::test(flavor = "multi_thread")]
async fn business_hours_are_checked_field_by_field_and_nothing_is_stored() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let before = s.configure(&ws, json!({"business_hours": always_open()})).await;
    let admin = token(&ws, "admin", "admin-1");
    let mut doc = before.clone();
    doc["business_hours"] = json!({
        "time_zone": "Atlantis/Lost",
        "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]], "tue": [["18:00", "08:00"]],
                   "wed": [["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"]]},
        "holidays": ["2026-02-30", "2026-12-25", "2026-12-25"],
        "after_hours_message": "",
        "after_hours_chat": "sleep",
    });
    let (st, err) = s.call("PUT", &format!("/v1/workspaces/{ws}/handoff-settings"), Some(&admin), Some(doc)).await;
    assert_eq!(st, 422, "{err}");
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "business_hours.time_zone",
            "business_hours.weekly.mon[1]",
            "business_hours.weekly.tue[0]",
            "business_hours.weekly.wed",
            "business_hours.holidays[0]",
            "business_hours.holidays[2]",
            "business_hours.after_hours_message",
            "business_hours.after_hours_chat",
        ]
    );
    let (_, now) = s.call("GET", &format!("/v1/workspaces/{ws}/handoff-settings"), Some(&admin), None).await;
    assert_eq!(now, before, "nothing stored");
    assert_eq!(now["business_hours"]["weekly"]["mon"], json!([["00:00", "24:00"]]));
    assert_eq!(now["business_hours"]["after_hours_chat"], "queue");
}

fn teams_doc(version: u64) -> Value {
    json!({
        "teams": [
            {"team_id": "billing", "name": "Billing", "members": ["alice"]},
            {"team_id": "general", "name": "General", "members": ["bob", "alice"]}
        ],
        "rules": [{"when": {"reason": ["billing_issue"], "channel": ["chat"]}, "team_id": "billing"}],
        "default_team_id": "general",
        "version": version
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_route_escalations_filter_the_inbox_and_take_transfers() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let admin = token(&ws, "admin", "admin-1");
    let (alice, bob) = (token(&ws, "agent", "alice"), token(&ws, "agent", "bob"));
    let teams = format!("/v1/workspaces/{ws}/teams");

    let (st, empty) = s.call("GET", &teams, Some(&bob), None).await;
    assert_eq!((st, empty["version"].as_u64(), empty["teams"].clone()), (200, Some(0), json!([])));
    let (st, _) = s.call("PUT", &teams, Some(&bob), Some(teams_doc(0))).await;
    assert_eq!(st, 403, "agents read the teams, admins change them");
    let (st, saved) = s.call("PUT", &teams, Some(&admin), Some(teams_doc(0))).await;
    assert_eq!(st, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    let (st, conflict) = s.call("PUT", &teams, Some(&admin), Some(teams_doc(0))).await;
    assert_eq!(st, 409, "{conflict}");
    assert_eq!(conflict["current"]["version"], 1);
    let mut bad = teams_doc(1);
    bad["rules"][0]["team_id"] = json!("legal");
    bad["teams"][1]["team_id"] = json!("billing");
    let (st, err) = s.call("PUT", &teams, Some(&admin), Some(bad)).await;
    assert_eq!(st, 422, "{err}");
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["teams[1].team_id", "rules[0].team_id", "default_team_id"]);

    // Billing issues over chat go to billing; a call goes to the default team.
    let (_, chat) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let (_, call) = s.escalate(&ws, "conv-2", "evt-2", "voice").await;
    assert_eq!(chat["handoff"]["team_id"], "billing");
    assert_eq!(call["handoff"]["team_id"], "general");
    let chat_id = chat["handoff"]["handoff_id"].as_str().unwrap().to_string();

    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|h| h["handoff_id"].as_str().unwrap().to_string()).collect()
    };
    let inbox = |q: &str| format!("/v1/workspaces/{ws}/inbox?{q}");
    let (_, bobs) = s.call("GET", &inbox("team=mine"), Some(&bob), None).await;
    assert_eq!(bobs["items"].as_array().unwrap().len(), 1, "bob is in general only: {bobs}");
    let (_, alices) = s.call("GET", &inbox("team=mine"), Some(&alice), None).await;
    assert_eq!(alices["items"].as_array().unwrap().len(), 2);
    let (_, billing) = s.call("GET", &inbox("team=billing"), Some(&bob), None).await;
    assert_eq!(ids(&billing), vec![chat_id.clone()]);
    let (_, nobody) = s.call("GET", &inbox("team=mine"), Some(&token(&ws, "agent", "carol")), None).await;
    assert_eq!(nobody["items"].as_array().unwrap().len(), 0, "carol is in no team");

    // Transfer: to an unknown team is refused; an assigned handoff waits in the other queue.
    let base = format!("/v1/workspaces/{ws}/handoffs/{chat_id}");
    s.call("POST", &format!("{base}/accept"), Some(&alice), None).await;
    let (st, err) = s.call("POST", &format!("{base}/transfer"), Some(&alice), Some(json!({"team_id": "legal"}))).await;
    assert_eq!((st, err["error"]["fields"][0]["field"].as_str()), (422, Some("team_id")));
    let before = s.outbound(&ws).await.len();
    let (st, moved) =
        s.call("POST", &format!("{base}/transfer"), Some(&alice), Some(json!({"team_id": "general"}))).await;
    assert_eq!(st, 200, "{moved}");
    assert_eq!(
        (moved["state"].as_str(), moved["assignee"].is_null(), moved["team_id"].as_str()),
        (Some("waiting"), true, Some("general"))
    );
    assert_eq!(s.outbound(&ws).await.len(), before, "nothing new for the customer");
    let (_, bobs) = s.call("GET", &inbox("team=mine"), Some(&bob), None).await;
    assert_eq!(bobs["items"].as_array().unwrap().len(), 2);
    assert!(timeline_of(&s.handoff(&ws, &chat_id).await, "transferred").len() == 1);
    let (st, _) = s
        .call("POST", &format!("{base}/transfer"), Some(&token(&ws, "ai", "ai")), Some(json!({"team_id": "billing"})))
        .await;
    assert_eq!(st, 403);
    // A later change of the rules does not move a handoff.
    let mut doc = teams_doc(1);
    doc["rules"] = json!([]);
    let (st, _) = s.call("PUT", &teams, Some(&admin), Some(doc)).await;
    assert_eq!(st, 200);
    assert_eq!(s.handoff(&ws, &chat_id).await["team_id"], "general");
    let (_, later) = s.escalate(&ws, "conv-3", "evt-3", "chat").await;
    assert_eq!(later["handoff"]["team_id"], "general", "the saved rules apply to the next escalation");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_route_counts_what_happened() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let admin = token(&ws, "admin", "admin-1");
    let alice = token(&ws, "agent", "alice");
    let (_, a) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let (_, _b) = s.escalate(&ws, "conv-2", "evt-2", "voice").await;
    let (_, _again) = s.escalate(&ws, "conv-1", "evt-3", "chat").await;
    let id = a["handoff"]["handoff_id"].as_str().unwrap();
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&alice), None).await;
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/resolve"), Some(&alice), None).await;

    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let url = |q: &str| format!("/v1/workspaces/{ws}/metrics?from={from}&to={to}{q}");
    let (st, all) = s.call("GET", &url(""), Some(&admin), None).await;
    assert_eq!(st, 200, "{all}");
    let g = &all["groups"][0];
    assert!(g["key"].is_null());
    assert_eq!(
        g["escalations"],
        json!({"queued": 1, "ringing": 1, "routed_to_ai": 0, "after_hours": 0, "disabled": 0, "already_active": 1})
    );
    assert_eq!(g["final_states"]["resolved"], 1);
    assert_eq!(g["time_to_accept_seconds"]["count"], 1);
    assert_eq!(g["abandonment_rate"], 0.0);
    let (_, by_channel) = s.call("GET", &url("&group_by=channel"), Some(&admin), None).await;
    let keys: Vec<&str> = by_channel["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["chat", "voice"]);
    let (st, _) = s.call("GET", &url(""), Some(&alice), None).await;
    assert_eq!(st, 403, "admins only");
    let (st, err) = s
        .call(
            "GET",
            &format!("/v1/workspaces/{ws}/metrics?from=2026-01-01&to=2026-06-01&group_by=day"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, 422);
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["group_by", "to"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_changes_feed_brings_new_and_changed_handoffs() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let alice = token(&ws, "agent", "alice");
    let feed = |c: Option<&str>| match c {
        Some(c) => format!("/v1/workspaces/{ws}/inbox/changes?cursor={c}"),
        None => format!("/v1/workspaces/{ws}/inbox/changes"),
    };
    let (st, first) = s.call("GET", &feed(None), Some(&alice), None).await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 0);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap();
    let (_, seen) = s.call("GET", &feed(Some(&cursor)), Some(&alice), None).await;
    assert_eq!(seen["items"][0]["handoff_id"], id, "{seen}");
    assert_eq!(seen["items"][0]["state"], "waiting");
    assert!(seen["items"][0].get("policy").is_none(), "an Inbox line");
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&alice), None).await;
    let (_, again) = s.call("GET", &feed(seen["next_cursor"].as_str()), Some(&alice), None).await;
    let newest = again["items"].as_array().unwrap().iter().rfind(|h| h["handoff_id"] == id).cloned().unwrap();
    assert_eq!(newest["state"], "assigned");
    let (st, err) = s.call("GET", &format!("{}?cursor=nope", feed(None)), Some(&alice), None).await;
    assert_eq!((st, err["error"]["fields"][0]["field"].as_str()), (422, Some("cursor")));
    let (st, _) = s.call("GET", &feed(None), Some(&token(&ws, "ai", "ai")), None).await;
    assert_eq!(st, 403);
    let _ = events_of(&s.outbound(&ws).await, id, "agent_joined");
}
