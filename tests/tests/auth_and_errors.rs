//! The auth matrix (no token, bad tokens, other workspace, each role on each route) and the
//! error contract (400, 401, 403, 404, 405, 413, 422; never a 500).

use handoff_local::auth;
use handoff_tests::{token, unique, Stack, SECRET};
use serde_json::{json, Value};

/// Every route with a body that is valid for it.
fn routes(ws: &str, handoff: &str) -> Vec<(&'static str, String, Option<Value>, &'static [&'static str])> {
    let b = format!("/v1/workspaces/{ws}");
    vec![
        ("GET", format!("{b}/handoff-settings"), None, &["admin", "agent"]),
        (
            "PUT",
            format!("{b}/handoff-settings"),
            Some(json!({
            "enabled": true, "routing": "human", "confirmation_message": "hi", "stalling_time_seconds": 60,
            "stall_message": "wait", "voice_ring_timeout_seconds": 30, "voice_timeout_action": "end_call"})),
            &["admin"],
        ),
        (
            "POST",
            format!("{b}/conversations/conv-auth/escalations"),
            Some(json!({"event_id": "e-auth", "channel": "chat", "reason": "other"})),
            &["ai", "admin"],
        ),
        ("GET", format!("{b}/inbox"), None, &["admin", "agent"]),
        ("GET", format!("{b}/handoffs/{handoff}"), None, &["admin", "agent"]),
        ("POST", format!("{b}/handoffs/{handoff}/accept"), None, &["admin", "agent"]),
        ("POST", format!("{b}/handoffs/{handoff}/assign"), Some(json!({"assignee": "someone"})), &["admin", "agent"]),
        ("POST", format!("{b}/handoffs/{handoff}/resolve"), None, &["admin", "agent"]),
        ("POST", format!("{b}/handoffs/{handoff}/return-to-ai"), None, &["admin", "agent"]),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_checks_the_token_the_workspace_and_the_role() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let other = unique("ws");
    let expired = auth::mint(SECRET, &ws, "admin", "u", -3600).unwrap();
    let forged = auth::mint("not-the-secret", &ws, "admin", "u", 600).unwrap_or_default();
    for (method, path, body, allowed) in routes(&ws, "hnd_missing") {
        // No token, a token signed with another secret, an expired one, garbage.
        for bad in [None, Some(forged.as_str()), Some(expired.as_str()), Some("not.a.jwt")] {
            let (st, err) = s.call(method, &path, bad, body.clone()).await;
            assert_eq!(st, 401, "{method} {path} with {bad:?}: {err}");
            assert_eq!(err["error"]["code"], "unauthorized");
        }
        // Right role, other workspace.
        let (st, _) = s.call(method, &path, Some(&token(&other, allowed[0], "u")), body.clone()).await;
        assert_eq!(st, 403, "{method} {path} from another workspace");
        for role in ["admin", "agent", "ai", "superuser"] {
            let (st, resp) = s.call(method, &path, Some(&token(&ws, role, "u")), body.clone()).await;
            if allowed.contains(&role) {
                assert!(st != 401 && st != 403, "{role} may {method} {path}: got {st} {resp}");
            } else {
                assert_eq!(st, 403, "{role} may not {method} {path}: {resp}");
                assert_eq!(resp["error"]["code"], "forbidden");
            }
        }
    }
    // An escalation into this workspace with another workspace's token creates nothing here.
    s.configure(&ws, json!({})).await;
    let body = json!({"event_id": "evt-cross", "channel": "chat", "reason": "other"});
    let path = format!("/v1/workspaces/{ws}/conversations/conv-cross/escalations");
    let (st, _) = s.call("POST", &path, Some(&token(&other, "ai", "u")), Some(body.clone())).await;
    assert_eq!(st, 403);
    let admin = token(&ws, "admin", "u");
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?limit=100"), Some(&admin), None).await;
    let convs: Vec<&str> =
        inbox["items"].as_array().unwrap().iter().map(|h| h["conversation_id"].as_str().unwrap()).collect();
    assert!(!convs.contains(&"conv-cross"), "{convs:?}");
    // The same request with this workspace's token is taken: the check above could see one.
    let (st, r) = s.call("POST", &path, Some(&token(&ws, "ai", "u")), Some(body)).await;
    assert_eq!(st, 200, "{r}");
    let (_, inbox) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox?limit=100"), Some(&admin), None).await;
    assert!(inbox["items"].as_array().unwrap().iter().any(|h| h["conversation_id"] == "conv-cross"));
}

/// A token missing any one claim the authorizer passes on (or needs) is not valid, and the answer
/// names that claim.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_without_the_claims_are_rejected() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let s = Stack::start().await;
    let ws = unique("ws");
    let full = json!({"sub": "u", "workspace_id": ws, "role": "admin", "exp": chrono::Utc::now().timestamp() + 600});
    let sign =
        |claims: &Value| encode(&Header::default(), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    let (st, _) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&sign(&full)), None).await;
    assert_eq!(st, 200, "with every claim");
    for claim in ["sub", "workspace_id", "role", "exp"] {
        let mut c = full.clone();
        c.as_object_mut().unwrap().remove(claim);
        let (st, err) = s.call("GET", &format!("/v1/workspaces/{ws}/inbox"), Some(&sign(&c)), None).await;
        assert_eq!(st, 401, "without {claim}");
        assert_eq!(err["error"]["message"], format!("the token has no `{claim}` claim"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_follow_the_contract_and_change_nothing() {
    let s = Stack::start().await;
    let ws = unique("ws");
    let admin = token(&ws, "admin", "boss");
    let settings = format!("/v1/workspaces/{ws}/handoff-settings");
    for body in [&b"{not json"[..], b"", b"[1,2]", b"\"text\"", b"\xff\xfe"] {
        let (st, err) = s.raw("PUT", &settings, Some(&admin), body.to_vec()).await;
        assert_eq!(st, 400, "{:?}: {err}", String::from_utf8_lossy(body));
        assert_eq!(err["error"]["code"], "malformed_json");
    }
    let big = format!("{{\"stall_message\": \"{}\"}}", "x".repeat(70 * 1024));
    let (st, err) = s.raw("PUT", &settings, Some(&admin), big.into_bytes()).await;
    assert_eq!(st, 413, "{err}");
    assert_eq!(err["error"]["code"], "payload_too_large");
    let (_, doc) = s.call("GET", &settings, Some(&admin), None).await;
    assert_eq!(doc["version"], 0, "rejected requests changed nothing");

    let (st, err) = s.call("DELETE", &settings, Some(&admin), None).await;
    assert_eq!(st, 405, "{err}");
    let (st, err) = s.call("GET", "/v1/nowhere", Some(&admin), None).await;
    assert_eq!(st, 404, "{err}");
    assert_eq!(err["error"]["code"], "not_found");
}

/// Arbitrary bodies on every route: never a 500, always a JSON error or success.
#[tokio::test(flavor = "multi_thread")]
async fn no_input_makes_a_route_fail_with_500() {
    let s = Stack::start().await;
    let ws = unique("ws");
    s.configure(&ws, json!({})).await;
    let (_, r) = s.escalate(&ws, "conv-1", "evt-1", "chat").await;
    let id = r["handoff"]["handoff_id"].as_str().unwrap().to_string();
    let admin = token(&ws, "admin", "boss");
    let bodies: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        b"null".to_vec(),
        b"{\"version\": 1e400}".to_vec(),
        b"{\"enabled\": {\"a\": [1]}}".to_vec(),
        b"{\"assignee\": 42}".to_vec(),
        b"{\"event_id\": \"\\u0000\", \"channel\": null}".to_vec(),
        "{\"customer\": {\"email\": \"\u{1F600}@x\"}, \"summary\": \"\u{202E}\"}".as_bytes().to_vec(),
        vec![b'['; 10_000],
        b"{\"a\":".repeat(5000),
    ];
    for (method, path, _, _) in routes(&ws, &id) {
        for body in &bodies {
            let (st, resp) = s.raw(method, &path, Some(&admin), body.clone()).await;
            assert!(st < 500, "{method} {path} answered {st}: {resp}");
            assert!(resp.is_object(), "{method} {path} answered a non-JSON body");
        }
    }
}

/// DNS rebinding: a page of another site that points a name of its own at the stack's address is
/// refused on every route (421, before anything runs), and the sign-in refuses a request a
/// browser marks as coming from another site (403), even one that names the stack correctly.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_stack_s_own_host_is_answered_and_no_other_site_signs_in() {
    let s = Stack::start().await;
    let port = s.running.as_ref().unwrap().addr.port();
    let ws = unique("ws");
    let sign_in = json!({"workspace_id": ws, "user_id": "mallory", "role": "admin"});
    let send = |path: &str, host: String, origin: Option<String>| {
        let mut req = s
            .http
            .post(format!("{}{path}", s.url))
            .header("host", host)
            .header("content-type", "application/json")
            .body(sign_in.to_string());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let evil = format!("evil.example:{port}");
    let (st, body) = send("/local/sign-in", evil.clone(), Some(format!("http://{evil}"))).await;
    assert_eq!((st, body["error"]["code"].as_str()), (421, Some("host_not_allowed")), "{body}");
    assert!(body.get("token").is_none());
    let (st, _) = send(&format!("/v1/workspaces/{ws}/conversations/c/escalations"), evil.clone(), None).await;
    assert_eq!(st, 421, "every route, not only the sign-in");
    let get = s.http.get(format!("{}/", s.url)).header("host", evil.clone()).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 421, "the web app too");
    // The right Host, but a page of another site: no token.
    let (st, body) = send("/local/sign-in", format!("127.0.0.1:{port}"), Some(format!("http://{evil}"))).await;
    assert_eq!((st, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    // The stack's own page, and a script (no Origin): a token.
    let (st, body) =
        send("/local/sign-in", format!("localhost:{port}"), Some(format!("http://localhost:{port}"))).await;
    assert_eq!(st, 200, "{body}");
    assert!(body["token"].is_string());
    let (st, _) = send("/local/sign-in", format!("127.0.0.1:{port}"), None).await;
    assert_eq!(st, 200);
}
