//! Throughput of the local stack as it fills: new-chat escalations per second over HTTP, on an
//! empty store and again with 100,000 handoffs stored, in memory and on disk; each the median of
//! three runs on a fresh stack (the machine is shared and noisy). Prints a Markdown table
//! (infra/bench.sh puts it in docs/BENCHMARKS.md).
//! Run: `cargo bench -p handoff-tests --bench local_load` (FILL=… changes the 100,000, RUNS=… the 3).

use futures::future::join_all;
use handoff::domain::{Actor, Channel, ConversationId, EscalationRequest, EventId, Reason, WorkspaceId};
use handoff_local::{start, LocalConfig};
use handoff_tests::{token, SECRET};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 32;
const MEASURE: Duration = Duration::from_secs(5);

/// Escalations per second over HTTP from `CLIENTS` concurrent clients during `MEASURE`.
async fn rate(url: &str, ws: &str, run: &str) -> f64 {
    let http = reqwest::Client::new();
    let ai = token(ws, "ai", "ai");
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    join_all((0..CLIENTS).map(|c| {
        let (http, ai, done) = (http.clone(), ai.clone(), done.clone());
        let url = url.to_string();
        let ws = ws.to_string();
        let run = run.to_string();
        async move {
            let mut i = 0;
            while started.elapsed() < MEASURE {
                let conv = format!("{run}-{c}-{i}");
                let r = http
                    .post(format!("{url}/v1/workspaces/{ws}/conversations/{conv}/escalations"))
                    .bearer_auth(&ai)
                    .json(&json!({"event_id": format!("evt-{conv}"), "channel": "chat", "reason": "other"}))
                    .send()
                    .await
                    .expect("the stack answers");
                assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }
    }))
    .await;
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// One run on a fresh stack: escalations/s empty, then with `fill` stored, and the fill rate.
async fn measure(data_dir: Option<std::path::PathBuf>, fill: usize) -> [f64; 3] {
    let stack = start(LocalConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        jwt_secret: SECRET.into(),
        tokens: Default::default(),
        demo_workspace: None,
        web: Default::default(),
        clock: Default::default(),
        allowed_hosts: vec![],
        local_sign_in: false,
    })
    .await
    .expect("local stack starts");
    let url = stack.url();
    let ws = "ws_load";
    // Timers far away, so none fires while measuring.
    let mut doc =
        serde_json::to_value(handoff::domain::SettingsDoc::defaults(WorkspaceId::parse(ws).unwrap())).unwrap();
    doc["enabled"] = json!(true);
    doc["stalling_time_seconds"] = json!(86400);
    let r = reqwest::Client::new()
        .put(format!("{url}/v1/workspaces/{ws}/handoff-settings"))
        .bearer_auth(token(ws, "admin", "admin"))
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let fresh = rate(&url, ws, "fresh").await;
    // Fill through the use case (no HTTP), many at a time.
    let filled = Arc::new(AtomicUsize::new(0));
    let fill_started = Instant::now();
    join_all((0..64).map(|w| {
        let (app, filled) = (stack.app.clone(), filled.clone());
        async move {
            loop {
                let i = filled.fetch_add(1, Ordering::Relaxed);
                if i >= fill {
                    return;
                }
                let req = EscalationRequest::new(
                    EventId::parse(format!("evt-fill-{i}")).unwrap(),
                    WorkspaceId::parse(ws).unwrap(),
                    ConversationId::parse(format!("conv-fill-{w}-{i}")).unwrap(),
                    Channel::Chat,
                    Reason::Other,
                );
                app.escalate(&req, Actor::Ai).await.expect("filled");
            }
        }
    }))
    .await;
    let fill_rate = fill as f64 / fill_started.elapsed().as_secs_f64();
    let full = rate(&url, ws, "full").await;
    stack.stop().await;
    [fresh, full, fill_rate]
}

/// The table row for `runs` runs: the median of each figure, and of the per-run ratios.
async fn row(label: &str, on_disk: bool, fill: usize, runs: usize) -> String {
    let mut results = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        results.push(measure(on_disk.then(|| dir.path().to_path_buf()), fill).await);
    }
    let median = |f: &dyn Fn(&[f64; 3]) -> f64| {
        let mut v: Vec<f64> = results.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (fresh, full, fill_rate) = (median(&|r| r[0]), median(&|r| r[1]), median(&|r| r[2]));
    let ratio = median(&|r| 100.0 * r[1] / r[0]);
    format!("| {label} | {fresh:.0} | {full:.0} | {ratio:.0} % | {fill_rate:.0} |")
}

#[tokio::main]
async fn main() {
    let var = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (fill, runs) = (var("FILL", 100_000), var("RUNS", 3).max(1));
    println!("| store | escalations/s, empty | escalations/s, {fill} stored | ratio | fill rate (in-process)/s |");
    println!("|---|---|---|---|---|");
    println!("{}", row("in memory", false, fill, runs).await);
    println!("{}", row("on disk (WAL, synchronous=FULL, group commit)", true, fill, runs).await);
}
