//! inbox-api: the support team's Inbox: list, read, accept, assign, resolve, hand back to the AI,
//! and the conversation of a handoff (read the transcript, reply, add a note).

use handoff::api::{expect_no_fields, respond, ApiError, ApiRequest, ApiResponse, Operation, Role};
use handoff::app::{App, MessageResult, TeamFilter, TranscriptView};
use handoff::domain::{
    parse_agent_reply, parse_note, validation::as_str, Channel, Command, FieldError, Handoff, HandoffId, LinePosition,
    Reason, State, TeamId, UserId,
};
use handoff::ports::{HandoffView, InboxCursor, InboxQuery, StatusFilter};
use serde_json::{json, Value};

pub const GET_INBOX: &str = "GET /v1/workspaces/{workspace_id}/inbox";
pub const GET_CHANGES: &str = "GET /v1/workspaces/{workspace_id}/inbox/changes";
pub const GET_HANDOFF: &str = "GET /v1/workspaces/{workspace_id}/handoffs/{handoff_id}";
pub const ACCEPT: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/accept";
pub const ASSIGN: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/assign";
pub const RESOLVE: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/resolve";
pub const RETURN_TO_AI: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/return-to-ai";
pub const GET_MESSAGES: &str = "GET /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/messages";
pub const POST_REPLY: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/messages";
pub const POST_NOTE: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/notes";
pub const TRANSFER: &str = "POST /v1/workspaces/{workspace_id}/handoffs/{handoff_id}/transfer";
/// Every route this function serves.
pub const ROUTES: [&str; 11] = [
    GET_INBOX,
    GET_CHANGES,
    GET_HANDOFF,
    ACCEPT,
    ASSIGN,
    RESOLVE,
    RETURN_TO_AI,
    GET_MESSAGES,
    POST_REPLY,
    POST_NOTE,
    TRANSFER,
];

pub const DEFAULT_LIMIT: usize = 25;
/// The largest handoff version there can be (versions are kept as 10 digits).
pub const MAX_VERSION: u64 = 9_999_999_999;
pub const MAX_LIMIT: usize = 100;
/// Transcript lines per page unless `limit` says otherwise.
pub const DEFAULT_MESSAGES_LIMIT: usize = 50;

/// The answer to a reply or a note.
pub fn message_body(r: &MessageResult) -> Value {
    json!({"message_id": r.message_id, "replayed": r.replayed, "handoff": summary(&r.handoff)})
}

/// A page of the transcript.
pub fn transcript_body(v: &TranscriptView) -> Value {
    json!({"items": v.lines, "next_cursor": v.next.map(|p| p.encode())})
}

/// Reads a query string parameter by parameter: `read` takes each (name, value) given once and
/// says what is wrong with it; a parameter given twice is an error of its own. Every problem is
/// reported.
fn read_params(
    query: &[(String, String)],
    mut read: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in query {
        if !seen.insert(k.as_str()) {
            errs.push(FieldError::new(k.clone(), "may be given only once"));
        } else if let Err(problem) = read(k, v) {
            errs.push(FieldError::new(k.clone(), problem));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

fn parse_limit(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {MAX_LIMIT}")),
    }
}

const NOT_OUR_CURSOR: &str = "is not a cursor this API returned";

/// A page's `limit` (1–100, else `default`) and `cursor` (a `next_cursor` this route returned).
fn parse_page_query<C>(
    query: &[(String, String)],
    default: usize,
    decode: impl Fn(&str) -> Option<C>,
) -> Result<(usize, Option<C>), Vec<FieldError>> {
    let (mut limit, mut cursor) = (default, None);
    read_params(query, |k, v| {
        match k {
            "limit" => limit = parse_limit(v)?,
            "cursor" => cursor = Some(decode(v).ok_or(NOT_OUR_CURSOR)?),
            _ => return Err("unknown query parameter".into()),
        }
        Ok(())
    })?;
    Ok((limit, cursor))
}

/// `GET /handoffs/{id}/messages` takes `limit` (1–100, default 50) and `cursor`.
pub fn parse_messages_query(query: &[(String, String)]) -> Result<(usize, Option<LinePosition>), Vec<FieldError>> {
    parse_page_query(query, DEFAULT_MESSAGES_LIMIT, LinePosition::decode)
}

/// `GET /inbox/changes` takes `limit` (1–100, default 100) and `cursor`.
pub fn parse_changes_query(query: &[(String, String)]) -> Result<(usize, Option<InboxCursor>), Vec<FieldError>> {
    parse_page_query(query, MAX_LIMIT, InboxCursor::decode)
}

/// Handles one API request.
pub async fn handle(app: &App, req: ApiRequest) -> ApiResponse {
    respond(route(app, &req).await)
}

/// An Inbox line: the handoff without its policy.
pub fn summary(h: &Handoff) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("policy");
    }
    v
}

/// The handoff with a page of its timeline: the lines of up to [`handoff::app::HISTORY_PAGE`]
/// decisions, and `timeline_next` (for `?timeline_after=`) when more follow.
pub fn handoff_with_timeline(view: &HandoffView) -> Value {
    let mut v = serde_json::to_value(&view.handoff).unwrap_or_default();
    let lines: Vec<_> = view.decisions.iter().flat_map(|d| d.shown_timeline()).collect();
    v["timeline"] = serde_json::to_value(lines).unwrap_or_default();
    if let Some(next) = view.next {
        v["timeline_next"] = json!(next);
    }
    v
}

/// `GET /handoffs/{id}` takes one optional parameter: where the timeline page starts.
pub fn parse_timeline_after(query: &[(String, String)]) -> Result<u64, Vec<FieldError>> {
    let mut after = 0;
    let mut errs = Vec::new();
    for (i, (k, v)) in query.iter().enumerate() {
        match k.as_str() {
            "timeline_after" if query[..i].iter().any(|(p, _)| p == k) => {
                errs.push(FieldError::new(k.clone(), "may be given only once"))
            }
            "timeline_after" => match v.parse::<u64>() {
                Ok(n) if n <= MAX_VERSION => after = n,
                _ => errs.push(FieldError::new("timeline_after", "must be a whole number (a `timeline_next`)")),
            },
            _ => errs.push(FieldError::new(k.clone(), "is not a parameter of this route")),
        }
    }
    if errs.is_empty() {
        Ok(after)
    } else {
        Err(errs)
    }
}

/// Reads the Inbox query string, reporting every bad parameter. The `team` filter comes apart:
/// `mine` needs the teams document to become team ids.
pub fn parse_inbox_query(
    query: &[(String, String)],
    me: &UserId,
) -> Result<(InboxQuery, Option<TeamFilter>), Vec<FieldError>> {
    let mut q = InboxQuery {
        status: StatusFilter::Active,
        assignee: None,
        channel: None,
        reason: None,
        teams: None,
        limit: DEFAULT_LIMIT,
        after: None,
    };
    let mut team = None;
    read_params(query, |k, v| {
        match k {
            "status" => {
                q.status = match (v, State::parse(v)) {
                    ("active", _) => StatusFilter::Active,
                    (_, Some(s)) => StatusFilter::One(s),
                    _ => return Err(format!("must be active, {}", State::names().join(", "))),
                }
            }
            "assignee" if v == "me" => q.assignee = Some(me.clone()),
            "assignee" => {
                q.assignee = Some(UserId::parse(v).map_err(|p| format!("must be `me` or a user id: {p}"))?);
            }
            "channel" => q.channel = Some(Channel::parse(v).ok_or("must be chat or voice")?),
            "reason" => q.reason = Some(Reason::parse(v).ok_or("is not a known escalation reason")?),
            "limit" => q.limit = parse_limit(v)?,
            "cursor" => q.after = Some(InboxCursor::decode(v).ok_or(NOT_OUR_CURSOR)?),
            "team" if v == "mine" => team = Some(TeamFilter::Mine),
            "team" => {
                team = Some(TeamFilter::One(TeamId::parse(v).map_err(|p| format!("must be `mine` or a team id: {p}"))?))
            }
            _ => return Err("unknown query parameter".into()),
        }
        Ok(())
    })?;
    Ok((q, team))
}

/// A body of exactly one required field, read with `parse`.
fn one_field<T>(req: &ApiRequest, name: &str, parse: impl Fn(String) -> Result<T, String>) -> Result<T, ApiError> {
    let body = req.json_object()?;
    let obj = body.as_object().expect("json_object returns an object");
    let mut errs: Vec<FieldError> =
        obj.keys().filter(|k| k.as_str() != name).map(|k| FieldError::new(k.clone(), "unknown field")).collect();
    let value = match obj.get(name) {
        None => {
            errs.push(FieldError::new(name, "is required"));
            None
        }
        Some(v) => match as_str(v).map(str::to_owned).and_then(&parse) {
            Ok(t) => Some(t),
            Err(p) => {
                errs.push(FieldError::new(name, p));
                None
            }
        },
    };
    match value {
        Some(t) if errs.is_empty() => Ok(t),
        _ => Err(ApiError::Invalid(errs)),
    }
}

async fn route(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if !ROUTES.contains(&req.route_key.as_str()) {
        return Err(ApiError::NotFound("no such route".into()));
    }
    let op = match req.route_key.as_str() {
        GET_INBOX | GET_CHANGES => Operation::ReadInbox,
        GET_HANDOFF | GET_MESSAGES => Operation::ReadHandoff,
        _ => Operation::ActOnHandoff,
    };
    let caller = req.authorize(op)?;
    let ws = &caller.workspace;
    if req.route_key == GET_INBOX {
        let (mut q, team) = parse_inbox_query(&req.query, &caller.user).map_err(ApiError::Invalid)?;
        if let Some(t) = &team {
            q.teams = Some(app.teams_for_filter(ws, t, &caller.user).await?);
        }
        let page = app.inbox(ws, &q).await?;
        let items: Vec<Value> = page.items.iter().map(summary).collect();
        return Ok(ApiResponse::ok(json!({
            "items": items,
            "next_cursor": page.next.map(|c| c.encode()),
        })));
    }
    if req.route_key == GET_CHANGES {
        let (limit, cursor) = parse_changes_query(&req.query).map_err(ApiError::Invalid)?;
        let page = app.inbox_changes(ws, cursor, limit).await?;
        let items: Vec<Value> = page.items.iter().map(summary).collect();
        return Ok(ApiResponse::ok(json!({
            "items": items,
            "next_cursor": page.next.encode(),
            "more": page.more,
        })));
    }
    let id: HandoffId = req.path("handoff_id", HandoffId::parse)?;
    let me = caller.user.clone();
    let cmd = match req.route_key.as_str() {
        GET_HANDOFF => {
            let after = parse_timeline_after(&req.query).map_err(ApiError::Invalid)?;
            return Ok(ApiResponse::ok(handoff_with_timeline(&app.handoff_view(ws, &id, after).await?)));
        }
        GET_MESSAGES => {
            let (limit, cursor) = parse_messages_query(&req.query).map_err(ApiError::Invalid)?;
            return Ok(ApiResponse::ok(transcript_body(&app.transcript(ws, &id, &me, cursor, limit).await?)));
        }
        POST_REPLY => {
            let reply = parse_agent_reply(&req.json_object()?).map_err(ApiError::Invalid)?;
            let r = app.reply(ws, &id, &me, caller.role == Role::Admin, reply).await?;
            return Ok(ApiResponse::ok(message_body(&r)));
        }
        POST_NOTE => {
            let text = parse_note(&req.json_object()?).map_err(ApiError::Invalid)?;
            return Ok(ApiResponse::ok(message_body(&app.add_note(ws, &id, &me, text).await?)));
        }
        ACCEPT => {
            expect_no_fields(req)?;
            Command::Accept { by: me }
        }
        ASSIGN => Command::Assign { by: me, assignee: one_field(req, "assignee", UserId::parse)? },
        TRANSFER => {
            let team_id = one_field(req, "team_id", TeamId::parse)?;
            return Ok(ApiResponse::ok(app.transfer(ws, &id, team_id, &me).await?));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn me() -> UserId {
        UserId::parse("me-user").unwrap()
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_every_filter() {
        let (d, team) = parse_inbox_query(&[], &me()).unwrap();
        assert_eq!(team, None);
        assert_eq!((d.status, d.limit, d.assignee, d.after), (StatusFilter::Active, DEFAULT_LIMIT, None, None));
        let cursor = InboxCursor { created_at: chrono_now(), handoff_id: HandoffId::parse("hnd_1").unwrap() };
        let all = parse_inbox_query(
            &q(&[
                ("status", "resolved"),
                ("assignee", "me"),
                ("channel", "voice"),
                ("reason", "other"),
                ("limit", "100"),
                ("cursor", &cursor.encode()),
                ("team", "mine"),
            ]),
            &me(),
        )
        .unwrap();
        let (all, team) = all;
        assert_eq!(team, Some(TeamFilter::Mine));
        let (_, one) = parse_inbox_query(&q(&[("team", "billing")]), &me()).unwrap();
        assert_eq!(one, Some(TeamFilter::One(TeamId::parse("billing").unwrap())));
        assert_eq!(parse_inbox_query(&q(&[("team", "no such")]), &me()).unwrap_err()[0].field, "team");
        assert_eq!(all.status, StatusFilter::One(State::Resolved));
        assert_eq!(all.assignee, Some(me()));
        assert_eq!((all.channel, all.reason, all.limit), (Some(Channel::Voice), Some(Reason::Other), 100));
        assert_eq!(all.after, Some(cursor));
        let errs = parse_inbox_query(&q(&[("limit", "101"), ("limit", "1"), ("status", "open")]), &me()).unwrap_err();
        assert_eq!(errs.len(), 3);
    }

    fn chrono_now() -> chrono::DateTime<chrono::Utc> {
        serde_json::from_value(serde_json::json!("2026-11-24T10:00:00.123456Z")).unwrap()
    }

    proptest! {
        /// Any query string: a clear answer, never a panic; each bad parameter is named.
        #[test]
        fn any_query_is_answered(pairs in prop::collection::vec(("[a-z_]{0,10}", "\\PC{0,30}"), 0..8)) {
            match parse_inbox_query(&pairs, &me()) {
                Ok((parsed, _)) => prop_assert!((1..=MAX_LIMIT).contains(&parsed.limit)),
                Err(errs) => {
                    prop_assert!(!errs.is_empty());
                    for e in errs {
                        prop_assert!(pairs.iter().any(|(k, _)| *k == e.field));
                    }
                }
            }
        }

        /// Every string of the documented cursor shape is a cursor (a client generated from the
        /// OpenAPI document never sends one the API refuses).
        #[test]
        fn every_cursor_of_the_documented_shape_is_understood(s in "[0-9]{1,12}\\.[0-9]{1,9}\\.[A-Za-z0-9._:-]{1,128}") {
            prop_assert!(InboxCursor::decode(&s).is_some(), "{}", s);
            prop_assert!(parse_messages_query(&[("cursor".into(), "12.3".into())]).is_ok());
        }

        /// Cursors: whatever a client sends is rejected or understood; ours round-trip.
        #[test]
        fn cursors_decode_or_are_rejected(s in "\\PC{0,80}", secs in 0i64..4_000_000_000, id in "[A-Za-z0-9._:-]{1,128}") {
            let _ = InboxCursor::decode(&s);
            let c = InboxCursor {
                created_at: chrono::DateTime::from_timestamp(secs, 0).unwrap(),
                handoff_id: HandoffId::parse(id).unwrap(),
            };
            prop_assert_eq!(InboxCursor::decode(&c.encode()), Some(c));
        }
    }
}
