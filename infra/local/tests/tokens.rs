//! The local stack checks bearer tokens as API Gateway's JWT authorizer does: the issuer and the
//! audiences when configured, `exp` and `nbf`, HS256 with the local secret and RS256/ES256 keys
//! of a JWKS (a file or a URL); each refusal is a 401 saying precisely what was wrong.

use handoff_local::auth::{JwksSource, TokenPolicy};
use handoff_local::{start, LocalConfig, RunningStack};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::PathBuf;

const SECRET: &str = "local-secret";
const ISSUER: &str = "https://id.example.com/";

fn keys() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/keys")
}

async fn stack(tokens: TokenPolicy) -> RunningStack {
    start(LocalConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        jwt_secret: SECRET.into(),
        tokens,
        demo_workspace: Some("ws_demo".into()),
        web: Default::default(),
        clock: Default::default(),
        allowed_hosts: vec![],
        local_sign_in: false,
    })
    .await
    .expect("the stack starts")
}

fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "alice", "workspace_id": "ws_demo", "role": "admin", "iat": now, "exp": now + 600,
           "iss": ISSUER, "aud": ["handoff-api"]})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    encode(&h, claims, key).unwrap()
}

fn hs(claims: &Value) -> String {
    sign(Algorithm::HS256, None, &EncodingKey::from_secret(SECRET.as_bytes()), claims)
}

fn rs(file: &str, kid: &str, claims: &Value) -> String {
    let der = std::fs::read(keys().join(file)).unwrap();
    sign(Algorithm::RS256, Some(kid), &EncodingKey::from_rsa_der(&der), claims)
}

fn es(claims: &Value) -> String {
    let der = std::fs::read(keys().join("ec.der")).unwrap();
    sign(Algorithm::ES256, Some("ec-1"), &EncodingKey::from_ec_der(&der), claims)
}

/// A token with a header of our choosing and no valid signature (alg none, HS512, …).
fn with_alg(alg: &str, claims: &Value) -> String {
    use base64::Engine;
    let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let sig = if alg == "none" { String::new() } else { "c2lnbmF0dXJl".into() };
    format!("{}.{}.{sig}", b(&json!({"alg": alg, "typ": "JWT"})), b(claims))
}

/// The status and error message of reading the settings with `token`.
async fn call(s: &RunningStack, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/workspaces/ws_demo/handoff-settings", s.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"]["message"].as_str().unwrap_or_default().to_string())
}

fn without(claim: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(claim);
    c
}

fn with(claim: &str, v: Value) -> Value {
    let mut c = claims();
    c[claim] = v;
    c
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_reason() {
    let policy = TokenPolicy {
        issuer: Some(ISSUER.into()),
        audiences: vec!["handoff-api".into(), "web".into()],
        jwks: Some(JwksSource::File(keys().join("jwks.json"))),
    };
    let s = stack(policy).await;
    // Accepted: the local secret, and the identity provider's RSA and EC keys.
    for token in [hs(&claims()), rs("rsa.der", "rsa-1", &claims()), es(&claims())] {
        assert_eq!(call(&s, &token).await.0, 200);
    }
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", with_alg("none", &claims()), "unsigned tokens (alg none) are not accepted"),
        ("HS512", with_alg("HS512", &claims()), "tokens signed with HS512 are not accepted (HS256, RS256 or ES256)"),
        (
            "another secret",
            sign(Algorithm::HS256, None, &EncodingKey::from_secret(b"guess"), &claims()),
            "the token's signature is not valid",
        ),
        ("a key not in the JWKS", rs("rsa-other.der", "rsa-1", &claims()), "the token's signature is not valid"),
        ("an unknown kid", rs("rsa.der", "rsa-9", &claims()), "no key `rsa-9` in the JWKS"),
        (
            "another audience",
            hs(&with("aud", json!("someone-else"))),
            "the token's audience is not one of handoff-api, web",
        ),
        (
            "another issuer",
            hs(&with("iss", json!("https://evil.example.com/"))),
            "the token's issuer is not https://id.example.com/",
        ),
        ("nbf in the future", hs(&with("nbf", json!(now + 600))), "the token is not valid yet (nbf is in the future)"),
        ("expired", hs(&with("exp", json!(now - 600))), "the token has expired"),
        ("no exp", hs(&without("exp")), "the token has no `exp` claim"),
        ("no iss", hs(&without("iss")), "the token has no `iss` claim"),
        ("no aud", hs(&without("aud")), "the token has no `aud` claim"),
        ("no sub", hs(&without("sub")), "the token has no `sub` claim"),
        ("no workspace_id", hs(&without("workspace_id")), "the token has no `workspace_id` claim"),
        ("no role", hs(&without("role")), "the token has no `role` claim"),
        ("a numeric role", hs(&with("role", json!(7))), "the token's `role` claim must be a non-empty string"),
    ];
    for (what, token, message) in cases {
        assert_eq!(call(&s, &token).await, (401, message.to_string()), "{what}");
    }
    // No `iat` is needed (API Gateway does not ask for one).
    assert_eq!(call(&s, &hs(&without("iat"))).await.0, 200);
    // A role that is not one of ours is authenticated, then forbidden.
    let (status, message) = call(&s, &hs(&with("role", json!("superuser")))).await;
    assert_eq!((status, message.as_str()), (403, "role \"superuser\" may not do this"));
    s.stop().await;
}

#[tokio::test]
async fn without_an_audience_configured_any_aud_is_accepted() {
    // The defaults: the local secret only. Identity providers' tokens always carry `aud`.
    let s = stack(TokenPolicy::default()).await;
    assert_eq!(call(&s, &hs(&claims())).await.0, 200);
    assert_eq!(call(&s, &hs(&without("aud"))).await.0, 200);
    let (status, message) = call(&s, &rs("rsa.der", "rsa-1", &claims())).await;
    assert_eq!(
        (status, message.as_str()),
        (401, "RS256 tokens need a JWKS (set HANDOFF_JWKS or --jwks); only HS256 is configured")
    );
    s.stop().await;
}

#[tokio::test]
async fn a_jwks_is_read_from_a_url() {
    let jwks = std::fs::read_to_string(keys().join("jwks.json")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/.well-known/jwks.json", axum::routing::get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = stack(TokenPolicy { issuer: None, audiences: vec![], jwks: Some(JwksSource::parse(&url)) }).await;
    assert_eq!(call(&s, &es(&claims())).await.0, 200);
    s.stop().await;
    // A JWKS that cannot be read stops the start with the reason.
    let bad = start(LocalConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        jwt_secret: SECRET.into(),
        tokens: TokenPolicy { issuer: None, audiences: vec![], jwks: Some(JwksSource::File(keys().join("none.json"))) },
        demo_workspace: None,
        web: Default::default(),
        clock: Default::default(),
        allowed_hosts: vec![],
        local_sign_in: false,
    })
    .await;
    let err = bad.err().expect("no start without its JWKS").to_string();
    assert!(err.contains("cannot read the JWKS") && err.contains("none.json"), "{err}");
}

#[tokio::test]
async fn the_stacks_own_tokens_pass_its_issuer_and_audience_checks() {
    let policy = TokenPolicy { issuer: Some(ISSUER.into()), audiences: vec!["handoff-api".into()], jwks: None };
    let s = stack(policy.clone()).await;
    let minted = handoff_local::auth::mint_for(SECRET, "ws_demo", "admin", "alice", 600, &policy).unwrap();
    assert_eq!(call(&s, &minted).await.0, 200, "minted for this policy");
    let plain = handoff_local::auth::mint(SECRET, "ws_demo", "admin", "alice", 600).unwrap();
    let (status, message) = call(&s, &plain).await;
    assert_eq!(status, 401, "a token without them is refused");
    assert!(message == "the token has no `iss` claim" || message == "the token has no `aud` claim", "{message}");
    s.stop().await;
}

#[tokio::test]
async fn the_local_sign_in_mints_a_token_for_the_chosen_user_and_role() {
    let s = stack(TokenPolicy::default()).await;
    let client = reqwest::Client::new();
    // A bare POST (no content type) is read as JSON too.
    let r = client
        .post(format!("{}/local/sign-in", s.url()))
        .body(r#"{"workspace_id": "ws_demo", "user_id": "alice", "role": "agent"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    let inbox = client.get(format!("{}/v1/workspaces/ws_demo/inbox", s.url())).bearer_auth(token).send().await.unwrap();
    assert_eq!(inbox.status(), 200, "the token works as the agent alice");
    let settings = client
        .put(format!("{}/v1/workspaces/ws_demo/handoff-settings", s.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 403, "an agent's token");
    let bad = client
        .post(format!("{}/local/sign-in", s.url()))
        .json(&serde_json::json!({"workspace_id": "ws demo", "user_id": "", "role": "boss"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let err: serde_json::Value = bad.json().await.unwrap();
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["workspace_id", "user_id", "role"]);
    // The web app is served at `/`.
    let page = client.get(format!("{}/", s.url())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("app.js"));
}

/// With an identity provider (`--jwks`) the local sign-in is off unless asked for
/// (`--local-sign-in`): tokens come from the provider.
#[tokio::test]
async fn with_an_identity_provider_the_local_sign_in_is_off_unless_asked_for() {
    let with_jwks =
        || TokenPolicy { issuer: None, audiences: vec![], jwks: Some(JwksSource::File(keys().join("jwks.json"))) };
    let body = r#"{"workspace_id": "ws_demo", "user_id": "alice", "role": "admin"}"#;
    let client = reqwest::Client::new();
    let off = stack(with_jwks()).await;
    let r = client.post(format!("{}/local/sign-in", off.url())).body(body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("--local-sign-in"), "{err}");
    off.stop().await;
    let on = start(LocalConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        jwt_secret: SECRET.into(),
        tokens: with_jwks(),
        demo_workspace: Some("ws_demo".into()),
        web: Default::default(),
        clock: Default::default(),
        allowed_hosts: vec![],
        local_sign_in: true,
    })
    .await
    .expect("the stack starts");
    let r = client.post(format!("{}/local/sign-in", on.url())).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200, "asked for");
    on.stop().await;
}
