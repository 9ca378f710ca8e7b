//! The Inbox over HTTP: accept, a second accept, assign, resolve, return to AI, listing.

use handoff_tests::{events_of, timeline_of, token, unique, Stack};
use serde_json::{json, Value};

async fn queued(s: &Stack, ws: &str, conv: &str) -> String {
    let (_, r) = s.escalate(ws, conv, &format!("evt-{conv}"), "chat").await;
    assert_eq!(r["outcome"], "queued", "{r}");
    r["handoff"]["handoff_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_assign_resolve() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let id = queued(&s, &ws, "conv-1").await;
    let alice = token(&ws, "agent", "alice");
    let bob = token(&ws, "agent", "bob");
    let base = format!("/v1/workspaces/{ws}/handoffs/{id}");

    let (st, h) = s.call("POST", &format!("{base}/accept"), Some(&alice), None).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["state"], "assigned");
    assert_eq!(h["assignee"], "alice");

    // A second accept by someone else loses.
    let (st, err) = s.call("POST", &format!("{base}/accept"), Some(&bob), None).await;
    assert_eq!(st, 409, "{err}");
    assert_eq!(err["error"]["code"], "illegal_transition");
    // The same agent retrying is answered with the handoff, unchanged.
    let (st, again) = s.call("POST", &format!("{base}/accept"), Some(&alice), Some(json!({}))).await;
    assert_eq!(st, 200);
    assert_eq!(again["version"], h["version"]);

    let (st, h) = s.call("POST", &format!("{base}/assign"), Some(&alice), Some(json!({"assignee": "bob"}))).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["assignee"], "bob");
    let (st, err) = s.call("POST", &format!("{base}/assign"), Some(&alice), Some(json!({"assignee": ""}))).await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["fields"][0]["field"], "assignee");

    let (_, mine) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?assignee=me"), Some(&bob), None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, alices) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?assignee=me"), Some(&alice), None).await;
    assert_eq!(alices["items"].as_array().unwrap().len(), 0);

    let (st, h) = s.call("POST", &format!("{base}/resolve"), Some(&bob), None).await;
    assert_eq!(st, 200);
    assert_eq!(h["state"], "resolved");
    let (st, _) = s.call("POST", &format!("{base}/resolve"), Some(&bob), None).await;
    assert_eq!(st, 409, "resolving twice is an illegal transition");
    let (st, _) = s.call("POST", &format!("{base}/return-to-ai"), Some(&bob), None).await;
    assert_eq!(st, 409);

    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, &id, "agent_joined").len(), 1);
    assert_eq!(events_of(&out, &id, "handoff_resolved").len(), 1);
    // The outbound log lists the handoff's events in the order decided, numbered by `seq`.
    let listed: Vec<(u64, &str)> = out
        .iter()
        .filter(|e| e["handoff_id"] == id.as_str())
        .map(|e| (e["seq"].as_u64().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, vec![(1, "customer_message"), (2, "agent_joined"), (3, "handoff_resolved")]);
    let h = s.handoff(&ws, &id).await;
    assert_eq!((h["seq"].as_u64(), h["sent_seq"].as_u64()), (Some(3), Some(3)), "all three out");
    let actions: Vec<&str> = timeline_of(&h, "transition").iter().map(|t| t["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["accept", "assign", "resolve"]);
    let actors: Vec<&str> = timeline_of(&h, "transition").iter().map(|t| t["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, vec!["agent:alice", "agent:alice", "agent:bob"]);
    assert_eq!(timeline_of(&h, "event_sent").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn return_to_ai_from_waiting_and_assigned() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let agent = token(&ws, "agent", "alice");
    let a = queued(&s, &ws, "conv-a").await;
    let b = queued(&s, &ws, "conv-b").await;
    let (st, h) = s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{a}/return-to-ai"), Some(&agent), None).await;
    assert_eq!((st, h["state"].as_str()), (200, Some("returned_to_ai")));
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{b}/accept"), Some(&agent), None).await;
    let (st, h) = s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{b}/return-to-ai"), Some(&agent), None).await;
    assert_eq!((st, h["state"].as_str()), (200, Some("returned_to_ai")));
    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, &a, "return_to_ai").len(), 1);
    assert_eq!(events_of(&out, &b, "return_to_ai").len(), 1);
    // Assigning something not assigned is not a transition of the lifecycle.
    let c = queued(&s, &ws, "conv-c").await;
    let (st, _) = s
        .call(
            "POST",
            &format!("/v1/workspaces/{ws}/handoffs/{c}/assign"),
            Some(&agent),
            Some(json!({"assignee": "bob"})),
        )
        .await;
    assert_eq!(st, 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_accepting_at_once_one_wins() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let id = queued(&s, &ws, "conv-1").await;
    let calls = (0..6).map(|i| {
        let (s, ws, id) = (&s, ws.clone(), id.clone());
        async move {
            s.call(
                "POST",
                &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"),
                Some(&token(&ws, "agent", &format!("agent-{i}"))),
                None,
            )
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let statuses: Vec<u16> = results.iter().map(|(st, _)| *st).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");
    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, &id, "agent_joined").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_filters_and_pages_oldest_first() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(queued(&s, &ws, &format!("conv-{i}")).await);
    }
    let (_, v) = s.escalate(&ws, "conv-voice", "evt-voice", "voice").await;
    let voice = v["handoff"]["handoff_id"].as_str().unwrap().to_string();
    let agent = token(&ws, "agent", "alice");
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{}/accept", ids[1]), Some(&agent), None).await;
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{}/return-to-ai", ids[2]), Some(&agent), None).await;

    // Page through the active ones, three at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/workspaces/{ws}/inbox?limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (st, page) = s.call("GET", &path, Some(&agent), None).await;
        assert_eq!(st, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        assert!(items.iter().all(|i| i.get("timeline").is_none()));
        seen.extend(items.iter().map(|i| i["handoff_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected: Vec<String> = ids.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, id)| id.clone()).collect();
    expected.push(voice.clone());
    assert_eq!(seen, expected, "active handoffs, oldest first, each once");

    let list = |q: &'static str| {
        let (s, ws, agent) = (&s, ws.clone(), agent.clone());
        async move {
            let (st, page) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?{q}"), Some(&agent), None).await;
            assert_eq!(st, 200, "{page}");
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["handoff_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("status=assigned").await, vec![ids[1].clone()]);
    assert_eq!(list("status=returned_to_ai").await, vec![ids[2].clone()]);
    assert_eq!(list("channel=voice").await, vec![voice.clone()]);
    assert_eq!(list("assignee=alice").await, vec![ids[1].clone()]);
    assert_eq!(list("reason=refund_request").await, Vec::<String>::new());
    assert_eq!(list("reason=billing_issue&channel=chat&status=waiting").await.len(), 5);

    let (st, err) = s
        .call(
            "GET",
            &format!("/v1/workspaces/{ws}/inbox?limit=0&status=open&cursor=zzz&colour=red"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(st, 422);
    let mut fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f: &Value| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, vec!["colour", "cursor", "limit", "status"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_handoffs_are_404() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let agent = token(&ws, "agent", "alice");
    for (m, p) in [("GET", ""), ("POST", "/accept"), ("POST", "/resolve"), ("POST", "/return-to-ai")] {
        let (st, err) = s.call(m, &format!("/v1/workspaces/{ws}/handoffs/hnd_nope{p}"), Some(&agent), None).await;
        assert_eq!(st, 404, "{m} {p}");
        assert_eq!(err["error"]["code"], "not_found");
    }
    // Another workspace's handoff is not visible either.
    s.configure(&ws, json!({})).await;
    let id = queued(&s, &ws, "conv-x").await;
    let other = unique("ws");
    let (st, _) =
        s.call("GET", &format!("/v1/workspaces/{other}/handoffs/{id}"), Some(&token(&other, "agent", "z")), None).await;
    assert_eq!(st, 404);
}
