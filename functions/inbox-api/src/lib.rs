//! inbox-api: the support team's Inbox: list, read, accept, assign, resolve, hand back to the AI.

use handoff::api::{expect_no_fields, respond, ApiError, ApiRequest, ApiResponse, Role};
use handoff::app::App;
use handoff::domain::{validation::as_str, Channel, Command, FieldError, Handoff, HandoffId, Reason, State, UserId};
use handoff::ports::{InboxCursor, InboxQuery, StatusFilter};
use serde_json::{json, Value};

pub const GET_INBOX: &str = "GET /v1/workspaces/{workspace_id}/inbox";
pub const GET_HANDOFF: &str = "GET /v1/workspaces/{workspace_id}/handoffs/{handoff_id}";
pub const ACCEPT: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/accept";
pub const ASSIGN: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/assign";
pub const RESOLVE: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/resolve";
pub const RETURN_TO_AI: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/return-to-ai";
/// Every route this function serves.
pub const ROUTES: [&str; 6] = [GET_INBOX, GET_HANDOFF, ACCEPT, ASSIGN, RESOLVE, RETURN_TO_AI];

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

/// Handles one API request.
pub async fn handle(app: &App, req: ApiRequest) -> ApiResponse {
    respond(route(app, &req).await)
}

/// An Inbox line: the handoff without its timeline and policy.
pub fn summary(h: &Handoff) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("timeline");
        m.remove("policy");
    }
    v
}

/// Reads the Inbox query string, reporting every bad parameter.
pub fn parse_inbox_query(query: &[(String, String)], me: &UserId) -> Result<InboxQuery, Vec<FieldError>> {
    let mut q = InboxQuery {
        status: StatusFilter::Active,
        assignee: None,
        channel: None,
        reason: None,
        limit: DEFAULT_LIMIT,
        after: None,
    };
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in query {
        if !seen.insert(k.as_str()) {
            errs.push(FieldError::new(k.clone(), "may be given only once"));
            continue;
        }
        match k.as_str() {
            "status" => match (v.as_str(), State::parse(v)) {
                ("active", _) => q.status = StatusFilter::Active,
                (_, Some(s)) => q.status = StatusFilter::One(s),
                _ => errs.push(FieldError::new(
                    "status",
                    "must be active, waiting, ringing, assigned, resolved, returned_to_ai, ended or routed_to_ai",
                )),
            },
            "assignee" => {
                if v == "me" {
                    q.assignee = Some(me.clone());
                } else {
                    match UserId::parse(v.clone()) {
                        Ok(u) => q.assignee = Some(u),
                        Err(p) => errs.push(FieldError::new("assignee", format!("must be `me` or a user id: {p}"))),
                    }
                }
            }
            "channel" => match Channel::ALL.iter().find(|(n, _)| n == v) {
                Some((_, c)) => q.channel = Some(*c),
                None => errs.push(FieldError::new("channel", "must be chat or voice")),
            },
            "reason" => match Reason::ALL.iter().find(|(n, _)| n == v) {
                Some((_, r)) => q.reason = Some(*r),
                None => errs.push(FieldError::new("reason", "is not a known escalation reason")),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                _ => errs.push(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
            },
            "cursor" => match InboxCursor::decode(v) {
                Some(c) => q.after = Some(c),
                None => errs.push(FieldError::new("cursor", "is not a cursor this API returned")),
            },
            other => errs.push(FieldError::new(other.to_string(), "unknown query parameter")),
        }
    }
    if errs.is_empty() {
        Ok(q)
    } else {
        Err(errs)
    }
}

fn parse_assignee(req: &ApiRequest) -> Result<UserId, ApiError> {
    let body = req.json_object()?;
    let obj = body.as_object().expect("json_object returns an object");
    let mut errs: Vec<FieldError> =
        obj.keys().filter(|k| k.as_str() != "assignee").map(|k| FieldError::new(k.clone(), "unknown field")).collect();
    let assignee = match obj.get("assignee") {
        None => {
            errs.push(FieldError::new("assignee", "is required"));
            None
        }
        Some(v) => match as_str(v).and_then(UserId::parse) {
            Ok(u) => Some(u),
            Err(p) => {
                errs.push(FieldError::new("assignee", p));
                None
            }
        },
    };
    match assignee {
        Some(a) if errs.is_empty() => Ok(a),
        _ => Err(ApiError::Invalid(errs)),
    }
}

async fn route(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if !ROUTES.contains(&req.route_key.as_str()) {
        return Err(ApiError::NotFound("no such route".into()));
    }
    let caller = req.authorize(&[Role::Admin, Role::Agent])?;
    let ws = &caller.workspace;
    if req.route_key == GET_INBOX {
        let q = parse_inbox_query(&req.query, &caller.user).map_err(ApiError::Invalid)?;
        let page = app.inbox(ws, &q).await?;
        let items: Vec<Value> = page.items.iter().map(summary).collect();
        return Ok(ApiResponse::ok(json!({
            "items": items,
            "next_cursor": page.next.map(|c| c.encode()),
        })));
    }
    let id: HandoffId = req.path("handoff_id", HandoffId::parse)?;
    let me = caller.user.clone();
    let cmd = match req.route_key.as_str() {
        GET_HANDOFF => return Ok(ApiResponse::ok(app.get_handoff(ws, &id).await?)),
        ACCEPT => {
            expect_no_fields(req)?;
            Command::Accept { by: me }
        }
        ASSIGN => Command::Assign { by: me, assignee: parse_assignee(req)? },
        RESOLVE => {
            expect_no_fields(req)?;
            Command::Resolve { by: me }
        }
        _ => {
            expect_no_fields(req)?;
            Command::ReturnToAi { by: me }
        }
    };
    let h = app.apply(ws, &id, cmd).await?;
    Ok(ApiResponse::ok(h))
}

/// The Lambda edge: API Gateway HTTP API events in, responses out.
#[cfg(feature = "lambda")]
pub mod lambda {
    use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
    use handoff::adapters::aws::config::Needs;
    use handoff::adapters::aws::lambda::{api_request, api_response};
    use handoff::app::App;

    /// What this function talks to.
    pub const NEEDS: Needs = Needs::StoreAndOutbound;

    pub async fn handler(app: &App, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        api_response(super::handle(app, api_request(event)).await)
    }
}
