//! Stall and ring timers fire in the local stack, act once, and do nothing after the handoff
//! moved on; pending timers survive a restart. The stack runs on a clock the tests drive
//! (`Stack::start_driven`), so no test waits for a timer's real time but the one about the real
//! clock itself (a 5 s ring).

use handoff_local::LocalClock;
use handoff_tests::{events_of, eventually, timeline_of, token, unique, Stack};
use serde_json::{json, Value};
use std::time::Duration;

const STALL: &str = "Sorry, everyone is busy right now.";

async fn stall_events(s: &Stack, ws: &str, id: &str) -> Vec<Value> {
    s.outbound(ws)
        .await
        .into_iter()
        .filter(|e| e["handoff_id"] == id && e["type"] == "customer_message" && e["text"] == STALL)
        .collect()
}

/// Real time for the stack's timer loop to act on a clock just moved (it wakes at once; this
/// only lets it finish), before a test checks that nothing happened.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Until the stack has no timer left (each is removed once handled), in real time.
async fn timers_handled(s: &Stack) -> bool {
    let stack = s.running.as_ref().unwrap();
    eventually(Duration::from_secs(5), || async { (stack.timers.pending().await.unwrap() == 0).then_some(()) })
        .await
        .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stall_message_is_sent_once_when_nobody_accepts() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"stalling_time_seconds": 10, "stall_message": STALL})).await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    s.advance(9);
    settle().await;
    assert!(stall_events(&s, &ws, &id).await.is_empty(), "not before the stalling time");
    s.advance(1);
    let sent = eventually(Duration::from_secs(5), || async {
        Some(stall_events(&s, &ws, &id).await).filter(|v| !v.is_empty())
    })
    .await;
    assert!(sent.is_some(), "the stall message was never sent");
    let h = s.handoff(&ws, &id).await;
    assert_eq!(h["state"], "waiting");
    assert_eq!(h["stall_notified"], true);
    let stalls: Vec<&Value> = timeline_of(&h, "message_sent").into_iter().filter(|m| m["purpose"] == "stall").collect();
    assert_eq!(stalls.len(), 1);
    assert_eq!(stalls[0]["actor"], "system");
    // Due time vs. when it acted, from the timeline.
    let due =
        chrono::DateTime::parse_from_rfc3339(timeline_of(&h, "timer_set")[0]["due_at"].as_str().unwrap()).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(stalls[0]["at"].as_str().unwrap()).unwrap();
    assert!(at >= due, "never early");
    // Nothing more happens: sent once.
    s.advance(60);
    settle().await;
    assert_eq!(stall_events(&s, &ws, &id).await.len(), 1);
    // It is still in the Inbox and can be accepted.
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&token(&ws, "agent", "late")), None)
        .await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_stall_message_after_an_accept() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"stalling_time_seconds": 10, "stall_message": STALL})).await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&token(&ws, "agent", "quick")), None)
        .await;
    assert_eq!(st, 200);
    // Past the due time: the timer fires, is handled and removed.
    s.advance(11);
    assert!(timers_handled(&s).await, "the timer never fired");
    assert!(stall_events(&s, &ws, &id).await.is_empty());
    let h = s.handoff(&ws, &id).await;
    assert_eq!(h["stall_notified"], false);
    assert_eq!(h["state"], "assigned");
}

async fn ring_case(s: Stack, action: &str, expected_state: &str, expected_event: &str) {
    let ws = unique("ws");
    s.configure(&ws, json!({"voice_ring_timeout_seconds": 5, "voice_timeout_action": action})).await;
    let (_, r) = s.escalate(&ws, "call-1", "evt-1", "voice").await;
    assert_eq!(r["outcome"], "ringing");
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    if s.clock.is_some() {
        s.advance(5);
    }
    let done = eventually(Duration::from_secs(10), || async {
        let h = s.handoff(&ws, &id).await;
        (h["state"] == expected_state).then_some(h)
    })
    .await
    .unwrap_or_else(|| panic!("the ring timeout never moved the call to {expected_state}"));
    let t = timeline_of(&done, "transition");
    assert_eq!(t.last().unwrap()["action"], "ring_timer");
    assert_eq!(t.last().unwrap()["actor"], "system");
    let out = s.outbound(&ws).await;
    assert_eq!(events_of(&out, &id, expected_event).len(), 1);
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&token(&ws, "agent", "a")), None).await;
    assert!(inbox["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_timeout_returns_the_call_to_the_ai() {
    ring_case(Stack::start_driven().await, "return_to_ai", "returned_to_ai", "return_to_ai").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_timeout_ends_the_call_when_set_to() {
    ring_case(Stack::start_driven().await, "end_call", "ended", "end_call").await;
}

/// The one test of a timer on the real clock: a 5 s ring (the shortest the settings allow).
#[tokio::test(flavor = "multi_thread")]
async fn a_ring_timeout_fires_on_the_real_clock() {
    ring_case(Stack::start().await, "end_call", "ended", "end_call").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_timeout_does_nothing_after_the_agent_answered() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"voice_ring_timeout_seconds": 5, "voice_timeout_action": "end_call"})).await;
    let (_, r) = s.escalate(&ws, "call-1", "evt-1", "voice").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&token(&ws, "agent", "ans")), None)
        .await;
    assert_eq!(st, 200);
    s.advance(6);
    assert!(timers_handled(&s).await, "the ring timer never fired");
    let h = s.handoff(&ws, &id).await;
    assert_eq!(h["state"], "assigned");
    let out = s.outbound(&ws).await;
    assert!(events_of(&out, &id, "end_call").is_empty());
    assert!(events_of(&out, &id, "return_to_ai").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_every_handoff_and_still_fires_a_pending_timer() {
    let s = Stack::start_driven().await;
    let clock = s.clock.clone().unwrap();
    let ws = unique("ws");
    s.configure(&ws, json!({"stalling_time_seconds": 10, "stall_message": STALL})).await;
    let (_, a) = s.escalate(&ws, "conv-a", "evt-a", "chat").await;
    let (_, b) = s.escalate(&ws, "conv-b", "evt-b", "chat").await;
    let a = a["handoff"]["handoff_id"].as_str().unwrap().to_string();
    let b = b["handoff"]["handoff_id"].as_str().unwrap().to_string();
    s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{b}/accept"), Some(&token(&ws, "agent", "x")), None).await;
    let (dir, tmp) = s.stop().await;

    // Down past the due time: the timer fires right after the restart.
    clock.advance(chrono::Duration::seconds(11));
    let s = Stack::start_on(dir, LocalClock::Driven(clock)).await;
    let ha = s.handoff(&ws, &a).await;
    let hb = s.handoff(&ws, &b).await;
    assert_eq!(hb["state"], "assigned");
    assert_eq!(hb["assignee"], "x");
    assert_eq!(ha["conversation_id"], "conv-a");
    let sent = eventually(Duration::from_secs(5), || async {
        Some(stall_events(&s, &ws, &a).await).filter(|v| !v.is_empty())
    })
    .await;
    assert!(sent.is_some(), "the pending stall timer did not fire after the restart");
    assert!(stall_events(&s, &ws, &b).await.is_empty());
    // Replays still answer from the kept idempotency records.
    let (_, again) = s.escalate(&ws, "conv-a", "evt-a", "chat").await;
    assert_eq!(again["replayed"], true);
    assert_eq!(again["handoff"]["handoff_id"], a.as_str());
    drop(tmp);
}

/// The waiting policy: a notice at 10 s, a repeat 30 s later, and 30 s after that the fallback,
/// a ticket.
#[tokio::test(flavor = "multi_thread")]
async fn the_waiting_policy_repeats_the_notice_then_offers_a_ticket() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(
        &ws,
        json!({"stalling_time_seconds": 10, "stall_message": STALL, "stall_repeat_seconds": 30,
               "stall_repeat_max": 1, "stall_fallback": "offer_ticket",
               "stall_fallback_message": "We'll follow up by email."}),
    )
    .await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    s.advance(10);
    let one = eventually(Duration::from_secs(5), || async {
        Some(stall_events(&s, &ws, &id).await).filter(|v| v.len() == 1)
    })
    .await;
    assert!(one.is_some(), "the notice at 10 s");
    s.advance(29);
    settle().await;
    assert_eq!(stall_events(&s, &ws, &id).await.len(), 1, "no repeat before 30 s");
    s.advance(1);
    let two = eventually(Duration::from_secs(5), || async {
        Some(stall_events(&s, &ws, &id).await).filter(|v| v.len() == 2)
    })
    .await;
    assert!(two.is_some(), "the notice and its repeat");
    assert_eq!(s.handoff(&ws, &id).await["state"], "waiting");
    s.advance(30);
    let ticket = eventually(Duration::from_secs(5), || async {
        let out = s.outbound(&ws).await;
        (!events_of(&out, &id, "ticket_requested").is_empty()).then_some(out)
    })
    .await
    .expect("the fallback: a ticket");
    let texts: Vec<&str> =
        events_of(&ticket, &id, "customer_message").iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(texts.last(), Some(&"We'll follow up by email."));
    assert_eq!(stall_events(&s, &ws, &id).await.len(), 2, "no more notices than the policy allows");
    let h = s.handoff(&ws, &id).await;
    assert_eq!((h["state"].as_str(), h["stall_repeats"].as_u64()), (Some("ticketed"), Some(1)));
    // Out of the active Inbox, in the `ticketed` filter; the conversation is free again.
    let agent = token(&ws, "agent", "a");
    let (_, active) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&agent), None).await;
    assert!(active["items"].as_array().unwrap().is_empty());
    let (_, tickets) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?status=ticketed"), Some(&agent), None).await;
    assert_eq!(tickets["items"][0]["handoff_id"], id.as_str());
}

/// Accepting between two notices stops the rest: no repeat, no fallback.
#[tokio::test(flavor = "multi_thread")]
async fn accepting_between_notices_stops_the_rest() {
    let s = Stack::start_driven().await;
    let ws = unique("ws");
    s.configure(
        &ws,
        json!({"stalling_time_seconds": 10, "stall_message": STALL, "stall_repeat_seconds": 30,
               "stall_repeat_max": 3, "stall_fallback": "return_to_ai"}),
    )
    .await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    s.advance(10);
    let first = eventually(Duration::from_secs(5), || async {
        Some(stall_events(&s, &ws, &id).await).filter(|v| !v.is_empty())
    })
    .await;
    assert!(first.is_some(), "the first notice");
    let (st, _) = s
        .call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&token(&ws, "agent", "late")), None)
        .await;
    assert_eq!(st, 200);
    // The repeat was due 30 s after the notice: it comes and does nothing.
    s.advance(30);
    assert!(timers_handled(&s).await, "the repeat timer never fired");
    assert_eq!(stall_events(&s, &ws, &id).await.len(), 1);
    let out = s.outbound(&ws).await;
    assert!(events_of(&out, &id, "return_to_ai").is_empty());
    assert_eq!(s.handoff(&ws, &id).await["state"], "assigned");
}
