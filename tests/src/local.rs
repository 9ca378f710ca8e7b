//! A local stack on a free port with its own data directory,
//! tokens, and a small JSON HTTP client.

use handoff::ports::DrivenClock;
use handoff_local::{auth, start, LocalClock, LocalConfig, RunningStack};
use serde_json::{json, Value};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const SECRET: &str = "test-secret-for-the-local-stack";

/// A local stack serving on 127.0.0.1 with a temporary data directory.
pub struct Stack {
    pub running: Option<RunningStack>,
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
    /// The clock the stack runs on, when the test drives it.
    pub clock: Option<DrivenClock>,
}

impl Stack {
    pub async fn start() -> Stack {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// A stack on a clock the test drives ([`Stack::advance`]), starting at the present.
    pub async fn start_driven() -> Stack {
        let tmp = tempfile::tempdir().expect("temp dir");
        let clock = DrivenClock::starting_at(chrono::Utc::now());
        let mut s = Self::start_on(tmp.path().to_path_buf(), LocalClock::Driven(clock)).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts a stack on an existing data directory (a restart).
    pub async fn start_in(data_dir: PathBuf) -> Stack {
        Self::start_on(data_dir, LocalClock::System).await
    }

    /// Moves the stack's driven clock forward.
    pub fn advance(&self, seconds: i64) {
        self.clock.as_ref().expect("a stack started with start_driven").advance(chrono::Duration::seconds(seconds));
    }

    /// Starts a stack on an existing data directory, on `clock`.
    pub async fn start_on(data_dir: PathBuf, clock: LocalClock) -> Stack {
        let driven = match &clock {
            LocalClock::Driven(c) => Some(c.clone()),
            LocalClock::System => None,
        };
        let running = start(LocalConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: Some(data_dir.clone()),
            jwt_secret: SECRET.into(),
            tokens: Default::default(),
            demo_workspace: None,
            web: Default::default(),
            clock,
            allowed_hosts: vec![],
            local_sign_in: false,
        })
        .await
        .expect("local stack starts");
        Stack {
            url: running.url(),
            running: Some(running),
            data_dir,
            _tmp: None,
            http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
            clock: driven,
        }
    }

    /// Stops the stack, keeping its data directory; returns it for a restart.
    pub async fn stop(mut self) -> (PathBuf, Option<tempfile::TempDir>) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        (self.data_dir.clone(), self._tmp.take())
    }

    /// A request with a JSON body (or none); answers the status and the JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.raw(method, path, token, body).await
    }

    /// A request with these exact body bytes.
    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Saves settings for `ws` (Human Handoff on, routing to humans) with `overrides`.
    pub async fn configure(&self, ws: &str, overrides: Value) -> Value {
        let admin = token(ws, "admin", "admin-1");
        let (status, current) =
            self.call("GET", &format!("/v1/workspaces/{ws}/handoff-settings"), Some(&admin), None).await;
        assert_eq!(status, 200, "{current}");
        let mut doc = json!({
            "enabled": true, "routing": "human",
            "confirmation_message": current["confirmation_message"],
            "stalling_time_seconds": current["stalling_time_seconds"],
            "stall_message": current["stall_message"],
            "voice_ring_timeout_seconds": current["voice_ring_timeout_seconds"],
            "voice_timeout_action": current["voice_timeout_action"],
            "version": current["version"],
        });
        for (k, v) in overrides.as_object().unwrap() {
            doc[k] = v.clone();
        }
        let (status, saved) =
            self.call("PUT", &format!("/v1/workspaces/{ws}/handoff-settings"), Some(&admin), Some(doc)).await;
        assert_eq!(status, 200, "{saved}");
        saved
    }

    /// Escalates `conversation` over HTTP as the AI.
    pub async fn escalate(&self, ws: &str, conversation: &str, event_id: &str, channel: &str) -> (u16, Value) {
        let ai = token(ws, "ai", "ai-runtime");
        self.call(
            "POST",
            &format!("/v1/workspaces/{ws}/conversations/{conversation}/escalations"),
            Some(&ai),
            Some(json!({"event_id": event_id, "channel": channel, "reason": "billing_issue", "summary": "Charged twice"})),
        )
        .await
    }

    pub async fn handoff(&self, ws: &str, id: &str) -> Value {
        let (status, h) = self
            .call("GET", &format!("/v1/workspaces/{ws}/handoffs/{id}"), Some(&token(ws, "agent", "agent-1")), None)
            .await;
        assert_eq!(status, 200, "{h}");
        h
    }

    /// What the AI runtime received for a workspace (the local outbound event log).
    pub async fn outbound(&self, ws: &str) -> Vec<Value> {
        let (status, v) = self
            .call("GET", &format!("/v1/workspaces/{ws}/local/outbound-events"), Some(&token(ws, "ai", "ai")), None)
            .await;
        assert_eq!(status, 200, "{v}");
        v["items"].as_array().cloned().unwrap_or_default()
    }
}

/// A valid token for the test secret.
pub fn token(ws: &str, role: &str, sub: &str) -> String {
    auth::mint(SECRET, ws, role, sub, 3600).unwrap()
}

/// A unique id for this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Polls `check` until it returns Some or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The timeline entries of a handoff with the given `type`.
pub fn timeline_of<'a>(h: &'a Value, kind: &str) -> Vec<&'a Value> {
    h["timeline"].as_array().map(|t| t.iter().filter(|e| e["type"] == kind).collect()).unwrap_or_default()
}

/// Outbound events of one type for one handoff.
pub fn events_of<'a>(events: &'a [Value], handoff_id: &str, kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["handoff_id"] == handoff_id && e["type"] == kind).collect()
}
