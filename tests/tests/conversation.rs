//! The conversation during a handoff on the local stack (spec §10): the escalation's transcript,
//! customer messages and the unread mark, replies, notes, reading in pages, the customer leaving,
//! and what bad input gets.

use handoff_tests::{events_of, eventually, token, unique, Stack};
use serde_json::{json, Value};
use std::time::Duration;

/// Escalates `conv` with two earlier messages; returns the handoff id.
async fn escalate_with_transcript(s: &Stack, ws: &str, conv: &str) -> String {
    let ai = token(ws, "ai", "ai-runtime");
    let body = json!({
        "event_id": format!("evt-{conv}"), "channel": "chat", "reason": "delivery_problem",
        "transcript": [
            {"author": "customer", "text": "My parcel never arrived.", "sent_at": "2026-11-24T09:58:00Z"},
            {"author": "ai", "text": "I'll get a person for you.", "sent_at": "2026-11-24T09:59:00Z"}
        ]
    });
    let (st, r) =
        s.call("POST", &format!("/v1/workspaces/{ws}/conversations/{conv}/escalations"), Some(&ai), Some(body)).await;
    assert_eq!((st, r["outcome"].as_str()), (200, Some("queued")), "{r}");
    r["handoff"]["handoff_id"].as_str().unwrap().to_string()
}

async fn say(s: &Stack, ws: &str, conv: &str, message_id: &str, text: &str) -> (u16, Value) {
    let ai = token(ws, "ai", "ai-runtime");
    let body = json!({"message_id": message_id, "text": text, "sent_at": "2026-11-24T10:01:00Z"});
    s.call("POST", &format!("/v1/workspaces/{ws}/conversations/{conv}/messages"), Some(&ai), Some(body)).await
}

async fn read_all(s: &Stack, ws: &str, id: &str, who: &str, limit: usize) -> Vec<Value> {
    let mut lines = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/workspaces/{ws}/handoffs/{id}/messages?limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (st, page) = s.call("GET", &path, Some(who), None).await;
        assert_eq!(st, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        lines.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return lines,
        }
    }
}

fn inbox_item<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["items"].as_array().unwrap().iter().find(|h| h["handoff_id"] == id).expect("in the Inbox")
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_read_and_answer_the_conversation() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"confirmation_message": "A teammate will be with you shortly."})).await;
    let id = escalate_with_transcript(&s, &ws, "conv-1").await;
    let alice = token(&ws, "agent", "alice");
    let bob = token(&ws, "agent", "bob");
    let base = format!("/v1/workspaces/{ws}/handoffs/{id}");
    let (st, _) = s.call("POST", &format!("{base}/accept"), Some(&alice), None).await;
    assert_eq!(st, 200);

    // The customer writes while Alice holds the conversation: the Inbox shows it unread.
    let (st, r) = say(&s, &ws, "conv-1", "msg-1", "Hello? Anyone there?").await;
    assert_eq!((st, r["handoff_id"].as_str(), r["replayed"].as_bool()), (200, Some(id.as_str()), Some(false)), "{r}");
    let (st, again) = say(&s, &ws, "conv-1", "msg-1", "Hello? Anyone there?").await;
    assert_eq!((st, again["replayed"].as_bool()), (200, Some(true)), "the same message_id is recorded once");
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&alice), None).await;
    assert_eq!(inbox_item(&inbox, &id)["unread"], true);

    // Bob (not the assignee) reads it: the mark stays. Alice reads it: the mark clears.
    let lines = read_all(&s, &ws, &id, &bob, 2).await;
    let shown: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| (l["author"].as_str().unwrap(), l["kind"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("customer", "message", "My parcel never arrived."),
            ("ai", "message", "I'll get a person for you."),
            ("system", "message", "A teammate will be with you shortly."),
            ("customer", "message", "Hello? Anyone there?"),
        ],
        "the whole conversation, oldest first, once"
    );
    assert_eq!(s.handoff(&ws, &id).await["unread"], true, "read by someone else");
    read_all(&s, &ws, &id, &alice, 50).await;
    assert_eq!(s.handoff(&ws, &id).await["unread"], false, "read by the assignee");

    // Alice answers; repeating the client_message_id sends nothing again.
    let reply = json!({"text": "Hi! I'm looking into it now.", "client_message_id": "c-1"});
    let (st, r) = s.call("POST", &format!("{base}/messages"), Some(&alice), Some(reply.clone())).await;
    assert_eq!((st, r["replayed"].as_bool()), (200, Some(false)), "{r}");
    let message_id = r["message_id"].as_str().unwrap().to_string();
    let (st, r) = s.call("POST", &format!("{base}/messages"), Some(&alice), Some(reply)).await;
    assert_eq!((st, r["replayed"].as_bool(), r["message_id"].as_str()), (200, Some(true), Some(message_id.as_str())));
    // Bob may not answer Alice's customer; a note is fine for anyone on the team.
    let (st, err) = s.call("POST", &format!("{base}/messages"), Some(&bob), Some(json!({"text": "me too"}))).await;
    assert_eq!((st, err["error"]["code"].as_str()), (403, Some("forbidden")), "{err}");
    let (st, _) = s.call("POST", &format!("{base}/notes"), Some(&bob), Some(json!({"text": "VIP customer"}))).await;
    assert_eq!(st, 200);

    let out = s.outbound(&ws).await;
    let replies = events_of(&out, &id, "agent_message");
    assert_eq!(replies.len(), 1, "one reply sent, once");
    assert_eq!(replies[0]["event_id"], message_id.as_str());
    assert_eq!(
        (replies[0]["text"].as_str(), replies[0]["agent_id"].as_str()),
        (Some("Hi! I'm looking into it now."), Some("alice"))
    );
    assert!(!out.iter().any(|e| e["text"] == "VIP customer"), "notes are never sent");
    let seqs: Vec<u64> =
        out.iter().filter(|e| e["handoff_id"] == id.as_str()).map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3], "confirmation, agent_joined, the reply");

    let lines = read_all(&s, &ws, &id, &alice, 50).await;
    let last: Vec<(&str, &str)> =
        lines[4..].iter().map(|l| (l["author"].as_str().unwrap(), l["kind"].as_str().unwrap())).collect();
    assert_eq!(last, vec![("agent:alice", "message"), ("agent:bob", "note")]);

    // Resolved: no more replies (409), but a retry of one sent before is still a repeat; the
    // transcript stays readable.
    s.call("POST", &format!("{base}/resolve"), Some(&alice), None).await;
    let retry = json!({"text": "Hi! I'm looking into it now.", "client_message_id": "c-1"});
    let (st, r) = s.call("POST", &format!("{base}/messages"), Some(&alice), Some(retry)).await;
    assert_eq!((st, r["replayed"].as_bool(), r["message_id"].as_str()), (200, Some(true), Some(message_id.as_str())));
    let (st, err) = s.call("POST", &format!("{base}/messages"), Some(&alice), Some(json!({"text": "one more"}))).await;
    assert_eq!((st, err["error"]["code"].as_str()), (409, Some("illegal_transition")));
    let (st, err) = say(&s, &ws, "conv-1", "msg-2", "Thanks!").await;
    assert_eq!((st, err["error"]["code"].as_str()), (409, Some("no_active_handoff")), "{err}");
    assert_eq!(read_all(&s, &ws, &id, &alice, 50).await.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_customer_leaving_abandons_the_handoff_and_silences_its_timers() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"stalling_time_seconds": 10})).await;
    let id = escalate_with_transcript(&s, &ws, "conv-2").await;
    let ai = token(&ws, "ai", "ai-runtime");
    let agent = token(&ws, "agent", "alice");
    let ended = format!("/v1/workspaces/{ws}/conversations/conv-2/ended");
    let (st, r) = s.call("POST", &ended, Some(&ai), None).await;
    assert_eq!((st, r["handoff"]["state"].as_str()), (200, Some("abandoned")), "{r}");
    let (st, err) = s.call("POST", &ended, Some(&ai), None).await;
    assert_eq!((st, err["error"]["code"].as_str()), (409, Some("no_active_handoff")));
    // The stall timer (10 s) comes and goes: nothing is sent for an abandoned handoff.
    let stack = s.running.as_ref().unwrap();
    assert_eq!(stack.timers.pending().await.unwrap(), 1, "the stall timer is set");
    s.advance(11);
    let fired =
        eventually(Duration::from_secs(5), || async { (stack.timers.pending().await.unwrap() == 0).then_some(()) })
            .await;
    assert!(fired.is_some(), "the stall timer never fired");
    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, &id, "customer_message").len(), 1, "the confirmation only: {out:?}");
    // Out of the default Inbox; in the `abandoned` filter.
    let (_, active) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&agent), None).await;
    assert!(active["items"].as_array().unwrap().is_empty());
    let (st, gone) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?status=abandoned"), Some(&agent), None).await;
    assert_eq!(st, 200, "{gone}");
    assert_eq!(inbox_item(&gone, &id)["state"], "abandoned");
    // The conversation is free: the customer can be handed off again.
    let (st, r) = s.escalate(&ws, "conv-2", "evt-again", "chat").await;
    assert_eq!((st, r["outcome"].as_str()), (200, Some("queued")));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_every_failing_field_and_nothing_stored() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let id = escalate_with_transcript(&s, &ws, "conv-3").await;
    let ai = token(&ws, "ai", "ai-runtime");
    let admin = token(&ws, "admin", "root");
    let agent = token(&ws, "agent", "alice");
    let fields = |err: &Value| -> Vec<String> {
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect()
    };
    let conv_messages = format!("/v1/workspaces/{ws}/conversations/conv-3/messages");
    let bad = json!({"message_id": "m 1", "text": "a\u{7}b", "sent_at": "soon", "author": "customer"});
    let (st, err) = s.call("POST", &conv_messages, Some(&ai), Some(bad)).await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(fields(&err), vec!["author", "message_id", "text", "sent_at"]);
    let long = json!({"message_id": "m2", "text": "x".repeat(4001), "sent_at": "2026-11-24T10:00:00Z"});
    let (st, err) = s.call("POST", &conv_messages, Some(&ai), Some(long)).await;
    assert_eq!((st, fields(&err)), (422, vec!["text".to_string()]));
    // An agent is not the AI runtime; another workspace's token is refused.
    let ok = json!({"message_id": "m3", "text": "hi", "sent_at": "2026-11-24T10:00:00Z"});
    let (st, _) = s.call("POST", &conv_messages, Some(&agent), Some(ok.clone())).await;
    assert_eq!(st, 403);
    let (st, _) = s.call("POST", &conv_messages, Some(&token("ws-other", "ai", "ai")), Some(ok)).await;
    assert_eq!(st, 403, "a message for another workspace's conversation");
    // Escalation transcripts: too many entries, a wrong author, an empty text.
    let entry = json!({"author": "customer", "text": "hi", "sent_at": "2026-11-24T10:00:00Z"});
    let body = json!({"event_id": "evt-bad", "channel": "chat", "reason": "other",
                      "transcript": vec![entry; 51]});
    let (st, err) =
        s.call("POST", &format!("/v1/workspaces/{ws}/conversations/conv-4/escalations"), Some(&ai), Some(body)).await;
    assert_eq!((st, fields(&err)), (422, vec!["transcript".to_string()]));
    let body = json!({"event_id": "evt-bad2", "channel": "chat", "reason": "other",
                      "transcript": [{"author": "agent", "text": "", "sent_at": "2026-11-24T10:00:00Z"}]});
    let (st, err) =
        s.call("POST", &format!("/v1/workspaces/{ws}/conversations/conv-4/escalations"), Some(&ai), Some(body)).await;
    assert_eq!((st, fields(&err)), (422, vec!["transcript[0].author".to_string(), "transcript[0].text".to_string()]));
    let (_, none) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&agent), None).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 1, "no handoff for the refused escalations");
    // Replies and notes.
    let base = format!("/v1/workspaces/{ws}/handoffs/{id}");
    s.call("POST", &format!("{base}/accept"), Some(&agent), None).await;
    let (st, err) =
        s.call("POST", &format!("{base}/messages"), Some(&admin), Some(json!({"text": " ", "to": "x"}))).await;
    assert_eq!((st, fields(&err)), (422, vec!["to".to_string(), "text".to_string()]));
    let (st, err) = s.call("POST", &format!("{base}/notes"), Some(&agent), Some(json!({}))).await;
    assert_eq!((st, fields(&err)), (422, vec!["text".to_string()]));
    let (st, err) = s.call("GET", &format!("{base}/messages?limit=0&cursor=zz&x=1"), Some(&agent), None).await;
    assert_eq!(st, 422);
    assert_eq!(fields(&err), vec!["limit", "cursor", "x"]);
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/conversations/conv-3/ended"), Some(&ai), Some(json!({"why": 1})))
        .await;
    assert_eq!(st, 422);
    // None of it was stored: the transcript is what the escalation brought.
    let (_, page) = s.call("GET", &format!("{base}/messages"), Some(&agent), None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(s.handoff(&ws, &id).await["state"], "assigned");
    // An admin may answer a customer assigned to someone else.
    let (st, _) = s.call("POST", &format!("{base}/messages"), Some(&admin), Some(json!({"text": "Admin here."}))).await;
    assert_eq!(st, 200);
    let (st, _) =
        s.call("GET", &format!("/v1/workspaces/{ws}/handoffs/hnd_missing/messages"), Some(&agent), None).await;
    assert_eq!(st, 404);
}
