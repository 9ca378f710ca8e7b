//! settings-api: a workspace's administration: its Human Handoff settings, its teams and
//! routing rules, and its handoff metrics.

use handoff::api::{respond, ApiError, ApiRequest, ApiResponse, Operation};
use handoff::app::App;
use handoff::domain::metrics::parse_metrics_query;
use handoff::domain::{SettingsDoc, TeamsDoc, WorkspaceId};
use serde_json::json;

pub const GET_SETTINGS: &str = "GET /v1/workspaces/{workspace_id}/handoff-settings";
pub const PUT_SETTINGS: &str = "PUT /v1/workspaces/{workspace_id}/handoff-settings";
pub const GET_TEAMS: &str = "GET /v1/workspaces/{workspace_id}/teams";
pub const PUT_TEAMS: &str = "PUT /v1/workspaces/{workspace_id}/teams";
pub const GET_METRICS: &str = "GET /v1/workspaces/{workspace_id}/metrics";
/// Every route of the API this function serves.
pub const ROUTES: [&str; 5] = [GET_SETTINGS, PUT_SETTINGS, GET_TEAMS, PUT_TEAMS, GET_METRICS];
/// The agent workspace's files (spec §14), served without a token: the page signs in itself.
pub const WEB_ROUTES: [&str; 4] = ["GET /", "GET /app.js", "GET /app.css", "GET /config.js"];

/// A file of the web app, or its configuration (from the environment: the identity provider the
/// page signs in with).
pub fn web_file(route_key: &str) -> Option<ApiResponse> {
    let name = match route_key.strip_prefix("GET /")? {
        "" => "index.html",
        other => other,
    };
    let (mime, text) = handoff::web::asset(name)?;
    Some(ApiResponse::text(mime, text).header("cache-control", "no-cache"))
}

/// Handles one API request.
pub async fn handle(app: &App, req: ApiRequest) -> ApiResponse {
    if let Some(file) = WEB_ROUTES.contains(&req.route_key.as_str()).then(|| web_file(&req.route_key)).flatten() {
        return file;
    }
    respond(route(app, &req).await)
}

fn with_etag(doc: &SettingsDoc) -> ApiResponse {
    ApiResponse::ok(doc).header("etag", format!("\"{}\"", doc.version))
}

fn teams_with_etag(doc: &TeamsDoc) -> ApiResponse {
    ApiResponse::ok(doc).header("etag", format!("\"{}\"", doc.version))
}

/// Reads `If-Match: "3"` (or `3`, or `W/"3"`).
fn if_match(req: &ApiRequest) -> Result<Option<u64>, ApiError> {
    let Some(raw) = req.header("if-match") else {
        return Ok(None);
    };
    let bad = || ApiError::invalid("If-Match", "must be the document's version, for example \"3\"");
    let v = raw.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let digits = v.strip_prefix('"').and_then(|d| d.strip_suffix('"')).unwrap_or(v);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse::<u64>().map(Some).map_err(|_| bad())
}

async fn route(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    match req.route_key.as_str() {
        GET_SETTINGS => {
            let caller = req.authorize(Operation::ReadSettings)?;
            Ok(with_etag(&app.get_settings(&caller.workspace).await?))
        }
        PUT_SETTINGS => {
            let caller = req.authorize(Operation::WriteSettings)?;
            let body = req.json_object()?;
            let version = if_match(req)?;
            let ws: WorkspaceId = caller.workspace.clone();
            let doc = app.put_settings(&ws, &body, version, &caller.user).await?;
            tracing::info!(workspace_id = %ws, version = doc.version, "settings saved");
            Ok(with_etag(&doc))
        }
        GET_TEAMS => {
            let caller = req.authorize(Operation::ReadTeams)?;
            Ok(teams_with_etag(&app.get_teams(&caller.workspace).await?))
        }
        PUT_TEAMS => {
            let caller = req.authorize(Operation::WriteTeams)?;
            let body = req.json_object()?;
            let version = if_match(req)?;
            let doc = app.put_teams(&caller.workspace, &body, version, &caller.user).await?;
            tracing::info!(workspace_id = %caller.workspace, version = doc.version, teams = doc.teams.teams.len(),
                           "teams saved");
            Ok(teams_with_etag(&doc))
        }
        GET_METRICS => {
            let caller = req.authorize(Operation::ReadMetrics)?;
            let q = parse_metrics_query(&req.query).map_err(ApiError::Invalid)?;
            let groups = app.metrics(&caller.workspace, &q).await?;
            Ok(ApiResponse::ok(json!({
                "from": q.from,
                "to": q.to,
                "group_by": q.group_by,
                "groups": groups,
            })))
        }
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// The Lambda edge: API Gateway HTTP API events in, responses out.
#[cfg(feature = "lambda")]
pub mod lambda {
    use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
    use handoff::adapters::aws::config::Needs;
    use handoff::adapters::aws::lambda::{api_request, api_response};
    use handoff::app::App;

    /// What this function talks to.
    pub const NEEDS: Needs = Needs::Store;

    pub async fn handler(app: &App, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        api_response(super::handle(app, api_request(event)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_if_match(v: &str) -> ApiRequest {
        let mut r = ApiRequest::default();
        r.headers.insert("if-match".into(), v.into());
        r
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&ApiRequest::default()).unwrap(), None);
        assert_eq!(if_match(&with_if_match("\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&with_if_match("W/\"12\"")).unwrap(), Some(12));
        assert_eq!(if_match(&with_if_match("7")).unwrap(), Some(7));
        assert!(if_match(&with_if_match("*")).is_err());
        assert!(if_match(&with_if_match("\"-1\"")).is_err());
        // Only the documented forms: no sign, no stray or doubled quotes.
        for bad in ["+3", "\"3", "3\"", "\"\"3\"\"", "", "W/", "12345678901234567890"] {
            assert!(if_match(&with_if_match(bad)).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_if_match_is_a_version_or_a_clear_error(v in "\\PC{0,40}") {
            match if_match(&with_if_match(&v)) {
                Ok(Some(n)) => prop_assert!(v.contains(&n.to_string())),
                Ok(None) => prop_assert!(false, "a header was sent"),
                Err(ApiError::Invalid(f)) => prop_assert_eq!(f[0].field.as_str(), "If-Match"),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
