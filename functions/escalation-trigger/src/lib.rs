//! escalation-trigger: the AI runtime's entry (HTTP requests, or SQS messages): escalations
//! (spec §4), and, while a person holds the conversation, customer messages and the customer
//! leaving (spec §10).

use handoff::api::{expect_no_fields, respond, ApiError, ApiRequest, ApiResponse, Operation, Role};
use handoff::app::{App, AppError, EscalationResult, MessageResult};
use handoff::domain::{
    parse_conversation_ended, parse_customer_message, parse_escalation, queue_message_type, Actor, ConversationId,
    FieldError, Handoff, InputSource, QueueMessageType, Source,
};
use serde_json::{json, Value};
use tracing::warn;

pub const POST_ESCALATION: &str = "POST /v1/workspaces/{workspace_id}/conversations/{conversation_id}/escalations";
pub const POST_CUSTOMER_MESSAGE: &str = "POST /v1/workspaces/{workspace_id}/conversations/{conversation_id}/messages";
pub const POST_CONVERSATION_ENDED: &str = "POST /v1/workspaces/{workspace_id}/conversations/{conversation_id}/ended";
/// Every route this function serves.
pub const ROUTES: [&str; 3] = [POST_ESCALATION, POST_CUSTOMER_MESSAGE, POST_CONVERSATION_ENDED];

/// The answer to a customer message.
pub fn message_body(r: &MessageResult) -> Value {
    json!({"handoff_id": r.handoff.handoff_id, "message_id": r.message_id, "replayed": r.replayed})
}

/// The answer to "the conversation ended".
pub fn ended_body(h: &Handoff) -> Value {
    json!({"handoff": h})
}

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
    if !ROUTES.contains(&req.route_key.as_str()) {
        return Err(ApiError::NotFound("no such route".into()));
    }
    let op = if req.route_key == POST_ESCALATION { Operation::Escalate } else { Operation::ForwardConversation };
    let caller = req.authorize(op)?;
    let conversation: ConversationId = req.path("conversation_id", ConversationId::parse)?;
    let source = InputSource::Http { workspace_id: &caller.workspace, conversation_id: &conversation };
    if req.route_key == POST_CUSTOMER_MESSAGE {
        let m = parse_customer_message(&req.json_object()?, source).map_err(ApiError::Invalid)?;
        return Ok(ApiResponse::ok(message_body(&app.customer_message(&m).await?)));
    }
    if req.route_key == POST_CONVERSATION_ENDED {
        expect_no_fields(req)?;
        let e = parse_conversation_ended(None, source).map_err(ApiError::Invalid)?;
        return Ok(ApiResponse::ok(ended_body(&app.conversation_ended(&e).await?)));
    }
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

/// What a queued message came to.
#[derive(Debug)]
pub enum QueueOutcome {
    Escalation(EscalationResult),
    CustomerMessage(MessageResult),
    ConversationEnded(Handoff),
    /// A customer message or "ended" for a conversation no person holds: acknowledged (the AI
    /// keeps the conversation), logged with its ids, never retried.
    NoActiveHandoff,
}

fn malformed(f: Vec<FieldError>) -> MessageError {
    MessageError::Malformed(f.iter().map(|e| format!("{}: {}", e.field, e.problem)).collect::<Vec<_>>().join("; "))
}

/// Handles the body of one message of the escalation queue (the AI runtime's usual path): an
/// escalation (no `type`, or `"escalation"`), a `customer_message` or a `conversation_ended`.
pub async fn handle_message(app: &App, body: &str) -> Result<QueueOutcome, MessageError> {
    let doc: Value = serde_json::from_str(body).map_err(|e| MessageError::Malformed(format!("not JSON: {e}")))?;
    let kind = queue_message_type(&doc).map_err(|e| malformed(vec![e]))?;
    let result = match kind {
        QueueMessageType::Escalation => {
            let mut doc = doc;
            if let Some(m) = doc.as_object_mut() {
                m.remove("type");
            }
            let escalation = parse_escalation(&doc, Source::Queue).map_err(malformed)?;
            return Ok(QueueOutcome::Escalation(app.escalate(&escalation, Actor::Ai).await?));
        }
        QueueMessageType::CustomerMessage => {
            let m = parse_customer_message(&doc, InputSource::Queue).map_err(malformed)?;
            let r = app.customer_message(&m).await.map(QueueOutcome::CustomerMessage);
            if matches!(r, Err(AppError::NoActiveHandoff)) {
                warn!(workspace_id = %m.workspace_id, conversation_id = %m.conversation_id, message_id = %m.message_id,
                      "customer message for a conversation without an active handoff; acknowledged, not recorded");
            }
            r
        }
        QueueMessageType::ConversationEnded => {
            let e = parse_conversation_ended(Some(&doc), InputSource::Queue).map_err(malformed)?;
            let r = app.conversation_ended(&e).await.map(QueueOutcome::ConversationEnded);
            if matches!(r, Err(AppError::NoActiveHandoff)) {
                warn!(workspace_id = %e.workspace_id, conversation_id = %e.conversation_id,
                      "conversation ended without an active handoff; acknowledged");
            }
            r
        }
    };
    match result {
        Err(AppError::NoActiveHandoff) => Ok(QueueOutcome::NoActiveHandoff),
        r => Ok(r?),
    }
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
        api_request, api_response, app_batch, is_sqs_event, is_sweep, sweep_answer, SWEEP_AGE,
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
            let resp = app_batch(app, batch, |body| async move { super::handle_message(app, &body).await }).await;
            return serde_json::to_value(resp).map_err(unsupported);
        }
        let req: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(unsupported)?;
        serde_json::to_value(api_response(super::handle_http(app, api_request(req)).await)).map_err(unsupported)
    }
}
