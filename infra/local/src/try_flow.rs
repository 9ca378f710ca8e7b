//! The seed's test workflow as a command: start a test conversation, trigger an escalation,
//! verify the confirmation message, check the conversation is in the Inbox, post a customer
//! message as the AI runtime and find it in the transcript, then hand it back to the AI. Works against any stack that serves the API (local, `cargo lambda watch`, AWS).

use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let url = format!("{}/v1/workspaces/{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }
}

fn error_text(v: &Value) -> String {
    v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// Runs the workflow, printing each step to `out`. Returns every step's result; the workflow
/// passed if all passed.
pub async fn run(base_url: &str, token: &str, workspace: &str, out: &mut dyn Write) -> Vec<StepResult> {
    let client = Client {
        http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client"),
        base: base_url.trim_end_matches('/').to_string(),
        token: token.to_string(),
    };
    let mut results = Vec::new();
    let mut report = |r: StepResult, out: &mut dyn Write| {
        let _ = writeln!(out, "[{}] {}: {}", if r.passed { "PASS" } else { "FAIL" }, r.name, r.detail);
        results.push(r);
    };
    let conversation = format!("try-{}", uuid::Uuid::new_v4().simple());
    let event_id = format!("try-{}", uuid::Uuid::new_v4().simple());

    // 1. Start a test conversation: the API answers and the workspace's settings can be read.
    let step1 = "start a test conversation";
    let settings = match client.call(reqwest::Method::GET, &format!("{workspace}/handoff-settings"), None).await {
        Ok((200, s)) => {
            let enabled = s["enabled"].as_bool().unwrap_or(false);
            let routing = s["routing"].as_str().unwrap_or("?").to_string();
            let ok = enabled && routing == "human";
            let detail = if ok {
                format!("conversation {conversation} in workspace {workspace} (Human Handoff on, routing to humans)")
            } else if !enabled {
                format!("Human Handoff is off in workspace {workspace}: turn it on (PUT /v1/workspaces/{workspace}/handoff-settings with \"enabled\": true) and run again")
            } else {
                format!("workspace {workspace} routes escalations to the AI (routing {routing:?}): set routing to \"human\" and run again")
            };
            report(StepResult { name: step1, passed: ok, detail }, out);
            if !ok {
                return skip_rest(results, out, 1);
            }
            s
        }
        Ok((status, body)) => {
            report(
                StepResult {
                    name: step1,
                    passed: false,
                    detail: format!("reading the settings answered {status}: {}", error_text(&body)),
                },
                out,
            );
            return skip_rest(results, out, 1);
        }
        Err(e) => {
            report(StepResult { name: step1, passed: false, detail: e }, out);
            return skip_rest(results, out, 1);
        }
    };
    let expected = settings["confirmation_message"].as_str().unwrap_or_default().to_string();

    // 2. Trigger an escalation.
    let step2 = "trigger an escalation";
    let body = json!({"event_id": event_id, "channel": "chat", "reason": "customer_request",
                      "summary": "Test conversation started by the try command", "priority": "low"});
    let escalation = match client
        .call(reqwest::Method::POST, &format!("{workspace}/conversations/{conversation}/escalations"), Some(body))
        .await
    {
        Ok((200, r)) if r["outcome"] == "queued" => {
            let id = r["handoff"]["handoff_id"].as_str().unwrap_or_default().to_string();
            report(StepResult { name: step2, passed: true, detail: format!("outcome queued, handoff {id}") }, out);
            r
        }
        Ok((status, r)) => {
            let detail = if status == 200 {
                format!("expected outcome \"queued\", got {}", r["outcome"])
            } else {
                format!("the escalation answered {status}: {}", error_text(&r))
            };
            report(StepResult { name: step2, passed: false, detail }, out);
            return skip_rest(results, out, 2);
        }
        Err(e) => {
            report(StepResult { name: step2, passed: false, detail: e }, out);
            return skip_rest(results, out, 2);
        }
    };
    let handoff_id = escalation["handoff"]["handoff_id"].as_str().unwrap_or_default().to_string();

    // 3. Verify the confirmation message: the answer and the handoff's timeline both carry the
    //    workspace's setting.
    let step3 = "verify the confirmation message";
    let answered = escalation["confirmation_message"].as_str().unwrap_or_default();
    match client.call(reqwest::Method::GET, &format!("{workspace}/handoffs/{handoff_id}"), None).await {
        Ok((200, h)) => {
            let sent: Vec<&str> = h["timeline"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter(|e| e["type"] == "message_sent" && e["purpose"] == "confirmation")
                        .filter_map(|e| e["text"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let ok = answered == expected && sent == vec![expected.as_str()];
            let detail = if ok {
                format!("the customer was sent {expected:?}")
            } else {
                format!("expected {expected:?}; the escalation answered {answered:?} and the timeline shows {sent:?}")
            };
            report(StepResult { name: step3, passed: ok, detail }, out);
        }
        Ok((status, b)) => report(
            StepResult {
                name: step3,
                passed: false,
                detail: format!("reading the handoff answered {status}: {}", error_text(&b)),
            },
            out,
        ),
        Err(e) => report(StepResult { name: step3, passed: false, detail: e }, out),
    }

    // 4. Check the conversation is in the Inbox (active handoffs, oldest first, paged).
    let step4 = "check the conversation is in the Inbox";
    let mut cursor: Option<String> = None;
    let mut found = None;
    let mut failure = None;
    for _ in 0..100 {
        let mut path = format!("{workspace}/inbox?status=active&limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        match client.call(reqwest::Method::GET, &path, None).await {
            Ok((200, page)) => {
                found = page["items"].as_array().and_then(|items| {
                    items
                        .iter()
                        .find(|i| {
                            i["handoff_id"] == handoff_id.as_str() && i["conversation_id"] == conversation.as_str()
                        })
                        .cloned()
                });
                cursor = page["next_cursor"].as_str().map(str::to_owned);
                if found.is_some() || cursor.is_none() {
                    break;
                }
            }
            Ok((status, b)) => {
                failure = Some(format!("the Inbox answered {status}: {}", error_text(&b)));
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    match (found, failure) {
        (Some(item), _) => report(
            StepResult {
                name: step4,
                passed: true,
                detail: format!(
                    "conversation {conversation} is in the Inbox, {}",
                    item["state"].as_str().unwrap_or("?")
                ),
            },
            out,
        ),
        (None, Some(f)) => report(StepResult { name: step4, passed: false, detail: f }, out),
        (None, None) => report(
            StepResult {
                name: step4,
                passed: false,
                detail: format!("handoff {handoff_id} is not among the Inbox's active handoffs"),
            },
            out,
        ),
    }

    // 5. The customer writes while a person holds the conversation: the message joins the
    //    handoff's transcript.
    let step5 = "post a customer message and find it in the transcript";
    let text = "Hello, is anyone there? (a test message)";
    let message = json!({"message_id": format!("{event_id}-m1"), "text": text, "sent_at": chrono::Utc::now()});
    let posted = client
        .call(reqwest::Method::POST, &format!("{workspace}/conversations/{conversation}/messages"), Some(message))
        .await;
    let result = match posted {
        Ok((200, _)) => match client
            .call(reqwest::Method::GET, &format!("{workspace}/handoffs/{handoff_id}/messages?limit=100"), None)
            .await
        {
            Ok((200, page)) => {
                let found = page["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|l| l["author"] == "customer" && l["text"] == text));
                if found {
                    Ok(format!("the message is in handoff {handoff_id}'s transcript"))
                } else {
                    Err(format!("the message is not in the transcript: {page}"))
                }
            }
            Ok((status, b)) => Err(format!("reading the transcript answered {status}: {}", error_text(&b))),
            Err(e) => Err(e),
        },
        Ok((status, b)) => Err(format!("posting the message answered {status}: {}", error_text(&b))),
        Err(e) => Err(e),
    };
    match result {
        Ok(detail) => report(StepResult { name: step5, passed: true, detail }, out),
        Err(detail) => report(StepResult { name: step5, passed: false, detail }, out),
    }

    // Clean up: hand the test conversation back to the AI.
    let step6 = "clean up: return the conversation to the AI";
    match client.call(reqwest::Method::POST, &format!("{workspace}/handoffs/{handoff_id}/return-to-ai"), None).await {
        Ok((200, h)) if h["state"] == "returned_to_ai" => report(
            StepResult { name: step6, passed: true, detail: format!("handoff {handoff_id} returned to the AI") },
            out,
        ),
        Ok((status, b)) => report(
            StepResult {
                name: step6,
                passed: false,
                detail: format!("return-to-ai answered {status}: {}", error_text(&b)),
            },
            out,
        ),
        Err(e) => report(StepResult { name: step6, passed: false, detail: e }, out),
    }
    results
}

const STEPS: [&str; 6] = [
    "start a test conversation",
    "trigger an escalation",
    "verify the confirmation message",
    "check the conversation is in the Inbox",
    "post a customer message and find it in the transcript",
    "clean up: return the conversation to the AI",
];

fn skip_rest(mut results: Vec<StepResult>, out: &mut dyn Write, done: usize) -> Vec<StepResult> {
    for name in &STEPS[done..] {
        let _ = writeln!(out, "[SKIP] {name}: not run because an earlier step failed");
        results.push(StepResult { name, passed: false, detail: "skipped".into() });
    }
    results
}
