//! escalation-trigger: turns an escalation (HTTP request, or SQS message from the AI runtime)
//! into its outcome (spec §4).

use handoff::api::{respond, ApiError, ApiRequest, ApiResponse, Operation, Role};
use handoff::app::{App, AppError, EscalationResult};
use handoff::domain::{parse_escalation, Actor, ConversationId, FieldError, Source};
use serde_json::{json, Value};

pub const POST_ESCALATION: &str = "POST /v1/workspaces/{workspace_id}/conversations/{conversation_id}/escalations";
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
    let caller = req.authorize(Operation::Escalate)?;
    let conversation: ConversationId = req.path("conversation_id", ConversationId::parse)?;
    let body = req.json_object()?;
    let escalation =
        parse_escalation(&body, Source::Http { workspace_id: &caller.workspace, conversation_id: &conversation })
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
    let doc: Value = serde_json::from_str(body).map_err(|e| MessageError::Malformed(format!("not JSON: {e}")))?;
    let escalation = parse_escalation(&doc, Source::Queue).map_err(|f: Vec<FieldError>| {
        MessageError::Malformed(f.iter().map(|e| format!("{}: {}", e.field, e.problem)).collect::<Vec<_>>().join("; "))
    })?;
    Ok(app.escalate(&escalation, Actor::Ai).await?)
}

/// The Lambda edge: one function for both event sources, SQS batches from the escalation queue
/// (partial batch responses) and API Gateway HTTP API requests, plus the outbox sweep that a
/// schedule invokes every minute.
#[cfg(feature = "lambda")]
pub mod lambda {
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    use aws_lambda_events::sqs::SqsEvent;
    use handoff::adapters::aws::config::Needs;
    use handoff::adapters::aws::lambda::{
        api_request, api_response, is_sqs_event, is_sweep, sqs_batch, sweep_answer, SWEEP_AGE,
    };
    use handoff::app::{App, AppError};
    use serde_json::Value;

    /// What this function talks to.
    pub const NEEDS: Needs = Needs::Everything;

    /// How many pending effects one sweep re-sends at most.
    pub const SWEEP_LIMIT: usize = 200;

    #[derive(Debug, thiserror::Error)]
    pub enum HandlerError {
        /// The event is none of the three this function is invoked with.
        #[error("unsupported event: {0}")]
        Unsupported(String),
        /// The sweep could not read the outbox (the invocation fails, so the error alarm sees it).
        #[error("outbox sweep failed: {0}")]
        Sweep(#[from] AppError),
    }

    /// Handles an SQS batch, an HTTP request, or the outbox sweep.
    pub async fn handler(app: &App, event: Value) -> Result<Value, HandlerError> {
        let unsupported = |e: serde_json::Error| HandlerError::Unsupported(e.to_string());
        if is_sweep(&event) {
            let report = app.redispatch_older_than(SWEEP_AGE, SWEEP_LIMIT).await?;
            return Ok(sweep_answer(&report));
        }
        if is_sqs_event(&event) {
            let batch: SqsEvent = serde_json::from_value(event).map_err(unsupported)?;
            let resp = sqs_batch(batch, |body| async move { super::handle_message(app, &body).await }).await;
            return serde_json::to_value(resp).map_err(unsupported);
        }
        let req: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(unsupported)?;
        serde_json::to_value(api_response(super::handle_http(app, api_request(req)).await)).map_err(unsupported)
    }
}
