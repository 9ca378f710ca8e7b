//! The local HTTP server: every route of the API, each handed to the same handler code the
//! Lambda functions run, with the claims API Gateway's JWT authorizer would pass.

use crate::auth;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use handoff::adapters::embedded::LogPublisher;
use handoff::api::{ApiError, ApiRequest, ApiResponse, Operation, MAX_BODY_BYTES};
use handoff::app::App;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct HttpState {
    pub app: App,
    pub publisher: LogPublisher,
    pub verifier: Arc<auth::Verifier>,
    /// The HS256 secret and token checks the local sign-in mints for.
    pub secret: Arc<str>,
    pub tokens: auth::TokenPolicy,
    pub web: crate::web::WebFiles,
    /// The local sign-in is offered only on a loopback address: it trusts whoever reaches it.
    pub sign_in: bool,
    /// The `Host` names and port requests must give.
    pub hosts: Arc<crate::hosts::AllowedHosts>,
}

/// Which function serves a route.
#[derive(Debug, Clone, Copy)]
enum Function {
    Settings,
    Escalation,
    Inbox,
}

/// Every route of the API, with the function that serves it.
pub fn api_routes() -> Vec<&'static str> {
    settings_api::ROUTES
        .iter()
        .chain(escalation_trigger::ROUTES.iter())
        .chain(inbox_api::ROUTES.iter())
        .copied()
        .collect()
}

fn function_of(route_key: &str) -> Option<Function> {
    if settings_api::ROUTES.contains(&route_key) {
        Some(Function::Settings)
    } else if escalation_trigger::ROUTES.contains(&route_key) {
        Some(Function::Escalation)
    } else if inbox_api::ROUTES.contains(&route_key) {
        Some(Function::Inbox)
    } else {
        None
    }
}

fn to_http(r: ApiResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match r.text {
        Some(text) => (status, text).into_response(),
        None => (status, Json(r.body)).into_response(),
    };
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (axum::http::HeaderName::try_from(k), axum::http::HeaderValue::try_from(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

pub(crate) fn error(e: ApiError) -> Response {
    to_http(e.into_response())
}

fn parse_query(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

async fn invoke(
    State(state): State<HttpState>,
    method: Method,
    matched: MatchedPath,
    path: Result<Path<HashMap<String, String>>, axum::extract::rejection::PathRejection>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route_key = format!("{} {}", method, matched.as_str());
    let Some(function) = function_of(&route_key) else {
        return error(ApiError::NotFound("no such route".into()));
    };
    let Ok(Path(path_params)) = path else {
        return error(ApiError::NotFound("no such resource".into()));
    };
    let headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect();
    // API Gateway's authorizer rejects a bad token before the function runs; so do we.
    let claims = match state.verifier.verify(headers.get("authorization").map(String::as_str)).await {
        Ok(c) => c,
        Err(why) => return error(ApiError::Unauthorized(why)),
    };
    let body = match to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) => b.to_vec(),
        Err(_) => return error(ApiError::PayloadTooLarge),
    };
    let req = ApiRequest { route_key, path_params, query: parse_query(raw_query), headers, body, claims: Some(claims) };
    let app = &state.app;
    let resp = match function {
        Function::Settings => settings_api::handle(app, req).await,
        Function::Escalation => escalation_trigger::handle_http(app, req).await,
        Function::Inbox => inbox_api::handle(app, req).await,
    };
    to_http(resp)
}

/// Local only: the outbound events published for a workspace (what the AI runtime would
/// receive). Any role of the workspace may read them.
async fn outbound_events(State(state): State<HttpState>, Path(ws): Path<String>, headers: HeaderMap) -> Response {
    let claims = match state.verifier.verify(headers.get("authorization").and_then(|v| v.to_str().ok())).await {
        Ok(c) => c,
        Err(why) => return error(ApiError::Unauthorized(why)),
    };
    let req = ApiRequest {
        path_params: HashMap::from([("workspace_id".to_string(), ws)]),
        claims: Some(claims),
        ..Default::default()
    };
    let caller = match req.authorize(Operation::ReadLocalOutbound) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    match state.publisher.published(&caller.workspace).await {
        Ok(events) => to_http(ApiResponse::ok(serde_json::json!({ "items": events }))),
        Err(e) => error(ApiError::App(e.into())),
    }
}

async fn not_found() -> Response {
    error(ApiError::NotFound("no such route".into()))
}

async fn method_not_allowed() -> Response {
    error(ApiError::MethodNotAllowed)
}

pub fn router(state: HttpState) -> Router {
    // Group the methods of each path into one method router.
    let mut paths: Vec<(&str, MethodRouter<HttpState>)> = Vec::new();
    for key in api_routes() {
        let (method, path) = key.split_once(' ').expect("route keys are `METHOD /path`");
        let filter = match method {
            "GET" => MethodFilter::GET,
            "PUT" => MethodFilter::PUT,
            "POST" => MethodFilter::POST,
            other => panic!("unexpected method {other}"),
        };
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, mr)) => *mr = std::mem::take(mr).on(filter, invoke),
            None => paths.push((path, on(filter, invoke))),
        }
    }
    let mut router = Router::new();
    for (path, mr) in paths {
        router = router.route(path, mr);
    }
    router
        .route("/v1/workspaces/{workspace_id}/local/outbound-events", get(outbound_events))
        .route("/", get(crate::web::index))
        .route("/app.js", get(crate::web::script))
        .route("/app.css", get(crate::web::styles))
        .route("/config.js", get(crate::web::config))
        .route("/local/sign-in", axum::routing::post(crate::web::sign_in))
        .route("/healthz", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.hosts.clone(), crate::hosts::require_host))
        .with_state(state)
}
