//! Measures the local stack: how late stall and ring timers act after their due time, and how
//! long the main HTTP calls take. Prints the figures as Markdown (infra/bench.sh puts them in
//! docs/BENCHMARKS.md). Run: `cargo bench -p handoff-tests --bench local_stack`.

use handoff_tests::{timeline_of, token, unique, Stack};
use serde_json::json;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut v: Vec<f64>, unit: &str) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "| {name} | {} | {:.1} {unit} | {:.1} {unit} | {:.1} {unit} |",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v[v.len() - 1]
    )
}

#[tokio::main]
async fn main() {
    let s = Stack::start().await;
    let ws = unique("bench");
    s.configure(&ws, json!({"stalling_time_seconds": 10, "voice_ring_timeout_seconds": 5})).await;
    let ai = token(&ws, "ai", "ai");
    let agent = token(&ws, "agent", "a");

    // HTTP latency of escalations (each a new conversation) and accepts, one at a time.
    let n = 200;
    let mut escalate_ms = Vec::new();
    let mut accept_ms = Vec::new();
    let mut accepted = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        let (st, r) = s
            .call(
                "POST",
                &format!("/v1/workspaces/{ws}/conversations/c-{i}/escalations"),
                Some(&ai),
                Some(json!({"event_id": format!("e-{i}"), "channel": "chat", "reason": "other"})),
            )
            .await;
        escalate_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(st, 200);
        if i % 2 == 0 {
            let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
            let started = Instant::now();
            let (st, _) =
                s.call("POST", &format!("/v1/workspaces/{ws}/handoffs/{id}/accept"), Some(&agent), None).await;
            accept_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(st, 200);
            accepted.push(id);
        }
    }
    let started = Instant::now();
    let mut inbox_ms = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let (st, _) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?limit=100"), Some(&agent), None).await;
        assert_eq!(st, 200);
        inbox_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = started;

    // Timers: the 100 waiting chats stall 10 s after their escalation; add 50 ringing calls.
    let ws2 = unique("bench-voice");
    s.configure(&ws2, json!({"voice_ring_timeout_seconds": 5})).await;
    let ai2 = token(&ws2, "ai", "ai");
    let mut calls = Vec::new();
    for i in 0..50 {
        let (_, r) = s
            .call(
                "POST",
                &format!("/v1/workspaces/{ws2}/conversations/v-{i}/escalations"),
                Some(&ai2),
                Some(json!({"event_id": format!("v-{i}"), "channel": "voice", "reason": "other"})),
            )
            .await;
        calls.push(r["handoff"]["handoff_id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let lateness = |h: &serde_json::Value, action: &str| -> Option<f64> {
        let due = chrono::DateTime::parse_from_rfc3339(timeline_of(h, "timer_set")[0]["due_at"].as_str()?).ok()?;
        let acted = timeline_of(h, "transition").into_iter().find(|t| t["action"] == action)?;
        let at = chrono::DateTime::parse_from_rfc3339(acted["at"].as_str()?).ok()?;
        Some((at - due).num_microseconds()? as f64 / 1000.0)
    };
    let (_, page) =
        s.call("GET", &format!("/v1/workspaces/{ws}/inbox?status=waiting&limit=100"), Some(&agent), None).await;
    let mut stall_late = Vec::new();
    for item in page["items"].as_array().unwrap() {
        let h = s.handoff(&ws, item["handoff_id"].as_str().unwrap()).await;
        stall_late.push(lateness(&h, "stall_timer").expect("every waiting chat stalled"));
    }
    let mut ring_late = Vec::new();
    for id in &calls {
        let h = s.handoff(&ws2, id).await;
        ring_late.push(lateness(&h, "ring_timer").expect("every call timed out"));
    }
    assert_eq!(stall_late.len(), 100);
    println!("| measure | n | median | p95 | max |");
    println!("|---|---|---|---|---|");
    println!("{}", summary("stall timer: acted after due time", stall_late, "ms"));
    println!("{}", summary("ring timer: acted after due time", ring_late, "ms"));
    println!("{}", summary("POST escalation (new chat)", escalate_ms, "ms"));
    println!("{}", summary("POST accept", accept_ms, "ms"));
    println!("{}", summary("GET inbox (limit 100)", inbox_ms, "ms"));
    s.stop().await;
}
