//! The HTTP edge shared by the Lambda functions and the local stack: a framework-neutral request
//! and response, the caller's verified claims, and the one place where errors become statuses.

use crate::app::AppError;
use crate::domain::{FieldError, UserId, WorkspaceId};
use crate::ports::StoreError;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use tracing::error;

/// Largest request body accepted (spec §6).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub use crate::domain::{Operation, Role};

/// The claims of a verified token, as API Gateway's JWT authorizer (or the local stack) gives
/// them. Kept as strings: checking them is the handler's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawClaims {
    pub sub: String,
    pub workspace_id: String,
    pub role: String,
}

/// A caller allowed to act on a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub workspace: WorkspaceId,
    pub role: Role,
}

/// An HTTP request routed to a function.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// API Gateway's route key, for example `GET /v1/workspaces/{workspace_id}/inbox`.
    pub route_key: String,
    pub path_params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// None when the request carried no verified token.
    pub claims: Option<RawClaims>,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A path parameter that must be an identifier; a bad one is a 404 (no such resource).
    pub fn path<T>(&self, name: &str, parse: impl Fn(String) -> Result<T, String>) -> Result<T, ApiError> {
        let raw = self.path_params.get(name).cloned().unwrap_or_default();
        parse(raw).map_err(|_| ApiError::NotFound(format!("no such {}", name.trim_end_matches("_id"))))
    }

    /// The body as a JSON value. Empty bodies are `None`.
    pub fn json_body(&self) -> Result<Option<Value>, ApiError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| ApiError::MalformedJson(e.to_string()))
    }

    /// The body as a JSON object; it is required.
    pub fn json_object(&self) -> Result<Value, ApiError> {
        match self.json_body()? {
            None => Err(ApiError::MalformedJson("a JSON body is required".into())),
            Some(v @ Value::Object(_)) => Ok(v),
            Some(_) => Err(ApiError::MalformedJson("the body must be a JSON object".into())),
        }
    }

    /// Checks the caller may do `op` on the path's workspace (the role matrix is
    /// [`crate::domain::may`]): 401 without claims, 403 for another workspace or a role that may not.
    pub fn authorize(&self, op: Operation) -> Result<Caller, ApiError> {
        let claims = self.claims.as_ref().ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        let user = UserId::parse(claims.sub.clone())
            .map_err(|_| ApiError::Unauthorized("the token has no valid sub claim".into()))?;
        let workspace = WorkspaceId::parse(claims.workspace_id.clone())
            .map_err(|_| ApiError::Unauthorized("the token has no valid workspace_id claim".into()))?;
        let path_ws = self.path_params.get("workspace_id").map(String::as_str).unwrap_or_default();
        if path_ws != workspace.as_str() {
            return Err(ApiError::Forbidden("the token is for another workspace".into()));
        }
        let role = Role::parse(&claims.role)
            .filter(|r| crate::domain::may(*r, op))
            .ok_or_else(|| ApiError::Forbidden(format!("role {:?} may not do this", claims.role)))?;
        Ok(Caller { user, workspace, role })
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// A body that is not JSON (the web app's files), sent as it is instead of `body`.
    pub text: Option<String>,
}

impl ApiResponse {
    pub fn ok(body: impl Serialize) -> Self {
        Self::with_status(200, body)
    }
    pub fn with_status(status: u16, body: impl Serialize) -> Self {
        let body = serde_json::to_value(body)
            .unwrap_or_else(|e| json!({"error": {"code": "internal", "message": e.to_string()}}));
        Self { status, headers: vec![("content-type".into(), "application/json".into())], body, text: None }
    }
    /// A text body of another type (HTML, JavaScript, CSS).
    pub fn text(content_type: &str, text: impl Into<String>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: Value::Null,
            text: Some(text.into()),
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Every error an HTTP caller can see, with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("invalid values")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    App(#[from] AppError),
}

impl ApiError {
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, problem)])
    }

    /// The one mapping from errors to HTTP responses.
    pub fn into_response(self) -> ApiResponse {
        let body = |status: u16,
                    code: &str,
                    message: String,
                    fields: Option<Vec<FieldError>>,
                    extra: Option<(&str, Value)>| {
            let mut err = json!({"code": code, "message": message});
            if let Some(f) = fields {
                err["fields"] = serde_json::to_value(f).unwrap_or_default();
            }
            let mut b = json!({ "error": err });
            if let Some((k, v)) = extra {
                b[k] = v;
            }
            ApiResponse::with_status(status, b)
        };
        match self {
            ApiError::MalformedJson(m) => body(400, "malformed_json", m, None, None),
            ApiError::Unauthorized(m) => body(401, "unauthorized", m, None, None),
            ApiError::Forbidden(m) => body(403, "forbidden", m, None, None),
            ApiError::NotFound(m) => body(404, "not_found", m, None, None),
            ApiError::MethodNotAllowed => body(405, "method_not_allowed", "method not allowed".into(), None, None),
            ApiError::PayloadTooLarge => {
                body(413, "payload_too_large", "the request body is larger than 64 KiB".into(), None, None)
            }
            ApiError::Invalid(f) => body(422, "validation_failed", "invalid values; see fields".into(), Some(f), None),
            ApiError::App(e) => match e {
                AppError::Invalid(f) => {
                    body(422, "validation_failed", "invalid values; see fields".into(), Some(f), None)
                }
                AppError::HandoffNotFound => body(404, "not_found", "no such handoff".into(), None, None),
                AppError::SettingsVersionConflict { expected, current } => {
                    let (version, doc) = (current.version, serde_json::to_value(&*current).unwrap_or_default());
                    body(409, "version_conflict", stale("settings", version, expected), None, Some(("current", doc)))
                        .header("etag", format!("\"{version}\""))
                }
                AppError::TeamsVersionConflict { expected, current } => {
                    let (version, doc) = (current.version, serde_json::to_value(&*current).unwrap_or_default());
                    body(409, "version_conflict", stale("teams", version, expected), None, Some(("current", doc)))
                        .header("etag", format!("\"{version}\""))
                }
                e @ (AppError::IllegalTransition { .. } | AppError::AssignedToSomeoneElse) => {
                    body(409, "illegal_transition", e.to_string(), None, None)
                }
                e @ AppError::Contended => body(409, "conflict", e.to_string(), None, None),
                e @ AppError::NotTheAssignee => body(403, "forbidden", e.to_string(), None, None),
                e @ AppError::NoActiveHandoff => body(409, "no_active_handoff", e.to_string(), None, None),
                AppError::Store(StoreError::Unavailable(m)) => {
                    error!(error = %m, "store unavailable");
                    body(503, "unavailable", "the service is temporarily unavailable; retry".into(), None, None)
                        .header("retry-after", "1")
                }
                // The text of a decoding error may quote stored customer data: log the kind only.
                AppError::Store(StoreError::Corrupt(_)) => {
                    error!("stored data could not be read");
                    body(503, "unavailable", "the service is temporarily unavailable; retry".into(), None, None)
                        .header("retry-after", "1")
                }
                AppError::Store(e) => {
                    error!(error = %e, "unexpected store outcome");
                    body(503, "unavailable", "the service is temporarily unavailable; retry".into(), None, None)
                        .header("retry-after", "1")
                }
            },
        }
    }
}

/// The message of a save based on an outdated version.
fn stale(what: &str, version: u64, expected: u64) -> String {
    format!("the {what} are at version {version}, not {expected}; reload and apply your change again")
}

/// Runs a handler body and maps its error once.
pub fn respond(r: Result<ApiResponse, ApiError>) -> ApiResponse {
    r.unwrap_or_else(ApiError::into_response)
}

/// Rejects any field in an optional body: for actions that take no input.
pub fn expect_no_fields(req: &ApiRequest) -> Result<(), ApiError> {
    match req.json_body()? {
        None => Ok(()),
        Some(Value::Object(m)) => {
            let fields: Vec<FieldError> = m.keys().map(|k| FieldError::new(k.clone(), "unknown field")).collect();
            if fields.is_empty() {
                Ok(())
            } else {
                Err(ApiError::Invalid(fields))
            }
        }
        Some(_) => Err(ApiError::MalformedJson("the body must be a JSON object".into())),
    }
}
