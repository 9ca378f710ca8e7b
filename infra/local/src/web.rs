//! The agent workspace (spec §14): the web app's files, served at `/` by the local stack, and the
//! local sign-in that mints a token for a chosen user id and role.

use crate::auth;
use crate::http::HttpState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use handoff::api::ApiError;
use handoff::domain::{FieldError, Role, UserId, WorkspaceId};
use std::path::PathBuf;

/// How long a token from the local sign-in is valid.
pub const SIGN_IN_TTL_SECONDS: i64 = 12 * 3600;

/// Where the files come from.
#[derive(Debug, Clone, Default)]
pub enum WebFiles {
    /// The copies compiled into the binary.
    #[default]
    Embedded,
    /// Read from this directory on every request (for working on the pages).
    Dir(PathBuf),
}

impl WebFiles {
    async fn get(&self, name: &str) -> Option<(&'static str, Vec<u8>)> {
        let (mime, compiled_in) = handoff::web::asset(name)?;
        match self {
            // The files only; config.js is made from the configuration either way.
            WebFiles::Dir(dir) if handoff::web::file(name).is_some() => {
                std::fs::read(dir.join(name)).ok().map(|b| (mime, b))
            }
            _ => Some((mime, compiled_in.into_owned().into_bytes())),
        }
    }
}

async fn serve(state: &HttpState, name: &str) -> Response {
    match state.web.get(name).await {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

pub async fn index(State(state): State<HttpState>) -> Response {
    serve(&state, "index.html").await
}
pub async fn script(State(state): State<HttpState>) -> Response {
    serve(&state, "app.js").await
}
pub async fn styles(State(state): State<HttpState>) -> Response {
    serve(&state, "app.css").await
}
pub async fn config(State(state): State<HttpState>) -> Response {
    serve(&state, "config.js").await
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    workspace_id: String,
    user_id: String,
    role: String,
}

/// Local only: a token for the chosen workspace, user id and role, as an identity provider would
/// issue after sign-in. The local stack trusts whoever can reach it; never expose it.
pub async fn sign_in(
    State(state): State<HttpState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !state.sign_in {
        return crate::http::error(ApiError::Forbidden(
            "the local sign-in is offered on a loopback address only (it trusts whoever reaches it), and \
             not with an identity provider (--jwks) unless asked for (--local-sign-in); listen on \
             127.0.0.1, or sign in with your identity provider"
                .into(),
        ));
    }
    if state.hosts.cross_site(&headers) {
        return crate::http::error(ApiError::Forbidden(
            "the local sign-in answers the stack's own pages and scripts, not a page of another site".into(),
        ));
    }
    // Read as JSON whatever the content type says (a script's bare POST included).
    let Ok(req) = serde_json::from_slice::<SignIn>(&body) else {
        return crate::http::error(ApiError::MalformedJson(
            "send a JSON object with workspace_id, user_id and role".into(),
        ));
    };
    let mut fields = Vec::new();
    if let Err(e) = WorkspaceId::parse(req.workspace_id.clone()) {
        fields.push(FieldError::new("workspace_id", e));
    }
    if let Err(e) = UserId::parse(req.user_id.clone()) {
        fields.push(FieldError::new("user_id", e));
    }
    if Role::parse(&req.role).is_none() {
        fields.push(FieldError::new("role", format!("must be one of {}", Role::names().join(", "))));
    }
    if !fields.is_empty() {
        return crate::http::error(ApiError::Invalid(fields));
    }
    match auth::mint_for(&state.secret, &req.workspace_id, &req.role, &req.user_id, SIGN_IN_TTL_SECONDS, &state.tokens)
    {
        Ok(token) => Json(serde_json::json!({
            "token": token,
            "workspace_id": req.workspace_id,
            "user_id": req.user_id,
            "role": req.role,
            "expires_in": SIGN_IN_TTL_SECONDS,
        }))
        .into_response(),
        Err(e) => crate::http::error(ApiError::App(handoff::app::AppError::Store(
            handoff::ports::StoreError::Unavailable(format!("cannot mint a token: {e}")),
        ))),
    }
}
