//! escalation-trigger: turns an escalation (HTTP request, or SQS message from the AI runtime)
//! into its outcome (spec §4).

use handoff::api::{respond, ApiError, ApiRequest, ApiResponse, Role};
use handoff::app::{App, AppError, EscalationResult};
use handoff::domain::{parse_escalation, Actor, ConversationId, FieldError, Source};
use serde_json::{json, Value};

pub const POST_ESCALATION: &str =
    "POST /v1/workspaces/{workspace_id}/conversations/{conversation_id}/escalations";
/// Every route this function serves.
pub const ROUTES: [&str; 1] = [POST_ESCALATION];

/// The answer body of an escalation.
pub fn result_body(r: &EscalationResult) -> Value {
    json!({
        "outcome": r.outcome,
        "replayed": r.replayed,
        "handoff": r.handoff,
        "confirmation_message": r.confirmation_message,
    })
}

/// Handles one API request.
pub async fn handle_http(app: &App, req: ApiRequest) -> ApiResponse {
    respond(route(app, &req).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if req.route_key != POST_ESCALATION {
        return Err(ApiError::NotFound("no such route".into()));
    }
    let caller = req.authorize(&[Role::Ai, Role::Admin])?;
    let conversation: ConversationId = req.path("conversation_id", ConversationId::parse)?;
    let body = req.json_object()?;
    let escalation = parse_escalation(
        &body,
        Source::Http {
            workspace_id: &caller.workspace,
            conversation_id: &conversation,
        },
    )
    .map_err(ApiError::Invalid)?;
    let actor = match caller.role {
        Role::Ai => Actor::Ai,
        _ => Actor::Agent(caller.user.clone()),
    };
    let result = app.escalate(&escalation, actor).await?;
    Ok(ApiResponse::ok(result_body(&result)))
}

/// Why a queued escalation message was not processed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The message can never succeed (bad JSON or values); retrying will not help.
    #[error("malformed escalation message: {0}")]
    Malformed(String),
    #[error(transparent)]
    App(#[from] AppError),
}

/// Handles the body of one queued escalation message (the AI runtime's usual path).
pub async fn handle_message(app: &App, body: &str) -> Result<EscalationResult, MessageError> {
    let doc: Value = serde_json::from_str(body)
        .map_err(|e| MessageError::Malformed(format!("not JSON: {e}")))?;
    let escalation = parse_escalation(&doc, Source::Queue).map_err(|f: Vec<FieldError>| {
        MessageError::Malformed(
            f.iter()
                .map(|e| format!("{}: {}", e.field, e.problem))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Ok(app.escalate(&escalation, Actor::Ai).await?)
}
