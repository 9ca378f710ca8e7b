//! Escalations over HTTP: every outcome, replays, one active handoff per conversation.

use handoff_tests::{events_of, timeline_of, token, unique, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn disabled_workspace_declines_and_nothing_enters_the_inbox() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let (status, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["outcome"], "disabled");
    assert!(r["handoff"].is_null());
    let (_, inbox) =
        s.call("GET", &format!("/v1/workspaces/{ws}/inbox?status=active"), Some(&token(&ws, "agent", "a")), None).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 0);
    let out = s.outbound(&ws).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["type"], "handoff_declined");
    assert_eq!(out[0]["conversation_id"], "conv-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_to_ai_records_the_handoff_and_tells_the_ai() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"routing": "ai", "confirmation_message": "Our assistant will continue."})).await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    assert_eq!(r["outcome"], "routed_to_ai");
    assert_eq!(r["handoff"]["state"], "routed_to_ai");
    assert_eq!(r["confirmation_message"], "Our assistant will continue.");
    let id = r["handoff"]["handoff_id"].as_str().unwrap();
    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, id, "route_to_ai").len(), 1);
    assert_eq!(events_of(&out, id, "customer_message")[0]["text"], "Our assistant will continue.");
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&token(&ws, "agent", "a")), None).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 0, "routed_to_ai is not active");
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_is_queued_and_voice_rings_with_the_confirmation_message() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"confirmation_message": "Connecting you to a person."})).await;
    let (_, chat) = s.escalate(&ws, "conv-chat", "evt-chat", "chat").await;
    assert_eq!(chat["outcome"], "queued");
    assert_eq!(chat["handoff"]["state"], "waiting");
    assert_eq!(chat["confirmation_message"], "Connecting you to a person.");
    let (_, voice) = s.escalate(&ws, "conv-voice", "evt-voice", "voice").await;
    assert_eq!(voice["outcome"], "ringing");
    assert_eq!(voice["handoff"]["state"], "ringing");

    for r in [&chat, &voice] {
        let id = r["handoff"]["handoff_id"].as_str().unwrap();
        let h = s.handoff(&ws, id).await;
        let sent = timeline_of(&h, "message_sent");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["purpose"], "confirmation");
        assert_eq!(sent[0]["text"], "Connecting you to a person.");
        assert_eq!(sent[0]["actor"], "system", "handed to the queue by the system");
        let decided = timeline_of(&h, "message_decided");
        assert_eq!(decided.len(), 1);
        assert_eq!(decided[0]["actor"], "ai", "decided on the AI's escalation");
        assert_eq!(decided[0]["event_id"], sent[0]["event_id"]);
        assert_eq!(timeline_of(&h, "timer_set").len(), 1);
        assert_eq!(timeline_of(&h, "timer_scheduled").len(), 1);
        let out = s.outbound(&ws).await;
        let msgs = events_of(&out, id, "customer_message");
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["text"], "Connecting you to a person.");
    }
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&token(&ws, "agent", "a")), None).await;
    let states: Vec<&str> = inbox["items"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["waiting", "ringing"], "oldest first");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_event_returns_the_first_outcome_and_sends_nothing_again() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let (_, first) = s.escalate(&ws, "conv-1", "evt-same", "chat").await;
    assert_eq!(first["replayed"], false);
    let before = s.outbound(&ws).await.len();
    // Settings change in between: the replay still answers the first outcome.
    s.configure(&ws, json!({"enabled": false})).await;
    let (status, again) = s.escalate(&ws, "conv-1", "evt-same", "chat").await;
    assert_eq!(status, 200);
    assert_eq!(again["outcome"], "queued");
    assert_eq!(again["replayed"], true);
    assert_eq!(again["handoff"]["handoff_id"], first["handoff"]["handoff_id"]);
    assert_eq!(again["confirmation_message"], first["confirmation_message"]);
    assert_eq!(s.outbound(&ws).await.len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_escalation_of_an_active_conversation_is_already_active() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let (_, first) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let before = s.outbound(&ws).await.len();
    let (_, second) = s.escalate(&ws, "conv-1", "evt-2", "chat").await;
    assert_eq!(second["outcome"], "already_active");
    assert_eq!(second["handoff"]["handoff_id"], first["handoff"]["handoff_id"]);
    assert!(second["confirmation_message"].is_null());
    assert_eq!(s.outbound(&ws).await.len(), before, "nothing is sent again");

    // Once the first is over, the conversation can be escalated again.
    let id = first["handoff"]["handoff_id"].as_str().unwrap();
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/return-to-ai"), Some(&token(&ws, "agent", "a")), None)
        .await;
    assert_eq!(st, 200);
    let (_, third) = s.escalate(&ws, "conv-1", "evt-3", "chat").await;
    assert_eq!(third["outcome"], "queued");
    assert_ne!(third["handoff"]["handoff_id"], first["handoff"]["handoff_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn simultaneous_escalations_of_one_conversation_make_one_active_handoff() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let calls = (0..8).map(|i| {
        let s = &s;
        let ws = ws.clone();
        async move { s.escalate(&ws, "conv-race", &format!("evt-{i}"), "chat").await }
    });
    let results = futures::future::join_all(calls).await;
    let outcomes: Vec<&str> = results
        .iter()
        .map(|(st, r)| {
            assert_eq!(*st, 200, "{r}");
            r["outcome"].as_str().unwrap()
        })
        .collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "queued").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "already_active").count(), 7, "{outcomes:?}");
    let ids: std::collections::HashSet<&str> =
        results.iter().map(|(_, r)| r["handoff"]["handoff_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_escalations_are_rejected_with_every_field_and_change_nothing() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let ai = token(&ws, "ai", "ai");
    let (status, err) = s
        .call("POST", &format!("/v1/workspaces/{ws}/conversations/conv-1/escalations"), Some(&ai),
              Some(json!({"event_id": "has space", "channel": "sms", "reason": "bored", "priority": "asap", "summary": "x".repeat(4001)})))
        .await;
    assert_eq!(status, 422, "{err}");
    let mut fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, vec!["channel", "event_id", "priority", "reason", "summary"]);
    assert!(s.outbound(&ws).await.is_empty());
    let (status, _) = s
        .raw(
            "POST",
            &format!("/v1/workspaces/{ws}/conversations/conv-1/escalations"),
            Some(&ai),
            b"{\"event_id\": ".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    // A conversation id that breaks the identifier rule is not a resource.
    let (status, _) = s
        .call(
            "POST",
            &format!("/v1/workspaces/{ws}/conversations/bad%20id/escalations"),
            Some(&ai),
            Some(json!({"event_id": "e", "channel": "chat", "reason": "other"})),
        )
        .await;
    assert_eq!(status, 404);
}
