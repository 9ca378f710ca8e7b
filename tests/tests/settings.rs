//! Settings over HTTP: defaults, save, stale versions, validation.

use handoff_tests::{token, unique, Stack};
use serde_json::json;

fn full(version: u64) -> serde_json::Value {
    json!({
        "enabled": true, "routing": "ai", "confirmation_message": "A person will answer soon.",
        "stalling_time_seconds": 300, "stall_message": "Still looking for someone.",
        "voice_ring_timeout_seconds": 45, "voice_timeout_action": "end_call", "version": version
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_workspace_reads_the_defaults() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let (status, doc) =
        s.call("GET", &format!("/v1/workspaces/{ws}/handoff-settings"), Some(&token(&ws, "agent", "a1")), None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["enabled"], false);
    assert_eq!(doc["routing"], "human");
    assert_eq!(
        doc["confirmation_message"],
        "Your message has been forwarded to a human assistant. They will respond shortly."
    );
    assert_eq!(doc["stalling_time_seconds"], 120);
    assert_eq!(
        doc["stall_message"],
        "No human agent is available right now. We'll reply here as soon as someone is free."
    );
    assert_eq!(doc["voice_ring_timeout_seconds"], 30);
    assert_eq!(doc["voice_timeout_action"], "return_to_ai");
    assert_eq!(doc["version"], 0);
    assert_eq!(doc["workspace_id"], ws.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn saving_bumps_the_version_and_a_stale_version_is_a_conflict_with_the_current_document() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let admin = token(&ws, "admin", "boss");
    let path = format!("/v1/workspaces/{ws}/handoff-settings");
    let (status, saved) = s.call("PUT", &path, Some(&admin), Some(full(0))).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["updated_by"], "boss");
    assert!(saved["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(saved["routing"], "ai");

    // Someone else still holding version 0 cannot overwrite.
    let mut stale = full(0);
    stale["stall_message"] = json!("Overwritten?");
    let (status, err) = s.call("PUT", &path, Some(&admin), Some(stale)).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "version_conflict");
    assert_eq!(err["current"]["version"], 1);
    assert_eq!(err["current"]["stall_message"], "Still looking for someone.");

    let (_, now) = s.call("GET", &path, Some(&admin), None).await;
    assert_eq!(now["stall_message"], "Still looking for someone.");
    assert_eq!(now["version"], 1);

    // The If-Match header names the version too; the document read can be sent back as is.
    let mut doc = now.clone();
    doc.as_object_mut().unwrap().remove("version");
    doc["enabled"] = json!(false);
    let resp = s
        .http
        .put(format!("{}{path}", s.url))
        .bearer_auth(&admin)
        .header("If-Match", "\"1\"")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let resp = s
        .http
        .put(format!("{}{path}", s.url))
        .bearer_auth(&admin)
        .header("If-Match", "\"1\"")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_document_lists_every_failing_field_and_changes_nothing() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let admin = token(&ws, "admin", "boss");
    let path = format!("/v1/workspaces/{ws}/handoff-settings");
    let bad = json!({
        "enabled": "yes", "routing": "human", "confirmation_message": "",
        "stalling_time_seconds": 5, "stall_message": "ok",
        "voice_ring_timeout_seconds": 1000, "voice_timeout_action": "hang_up", "colour": "blue", "version": 0
    });
    let (status, err) = s.call("PUT", &path, Some(&admin), Some(bad)).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "validation_failed");
    let mut fields: Vec<String> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "colour",
            "confirmation_message",
            "enabled",
            "stalling_time_seconds",
            "voice_ring_timeout_seconds",
            "voice_timeout_action"
        ]
    );
    let (_, doc) = s.call("GET", &path, Some(&admin), None).await;
    assert_eq!(doc["version"], 0);

    // No version at all: the change must say what it was based on.
    let mut unversioned = full(0);
    unversioned.as_object_mut().unwrap().remove("version");
    let (status, err) = s.call("PUT", &path, Some(&admin), Some(unversioned)).await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["fields"][0]["field"], "version");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_change_applies_to_escalations_started_after_it() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({"confirmation_message": "First text"})).await;
    let (_, first) = s.escalate(&ws, "conv-a", "e-a", "chat").await;
    s.configure(&ws, json!({"confirmation_message": "Second text", "stall_message": "Changed stall"})).await;
    let (_, second) = s.escalate(&ws, "conv-b", "e-b", "chat").await;
    assert_eq!(first["confirmation_message"], "First text");
    assert_eq!(second["confirmation_message"], "Second text");
    // The first handoff keeps what it started with.
    let h = s.handoff(&ws, first["handoff"]["handoff_id"].as_str().unwrap()).await;
    assert_eq!(
        h["policy"]["stall_message"],
        "No human agent is available right now. We'll reply here as soon as someone is free."
    );
}
