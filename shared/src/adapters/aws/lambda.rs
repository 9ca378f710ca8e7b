//! The Lambda edge: the start-up and event loop every function shares ([`start`], [`serve`]), API
//! Gateway HTTP API (v2) events to and from the neutral [`ApiRequest`] / [`ApiResponse`], SQS
//! batches with partial batch responses, logging, and the outbox sweep.

use crate::api::{ApiRequest, ApiResponse, RawClaims};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use base64::Engine;
use futures::stream::{self, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tracing::{error, warn};

/// Structured logs that follow the function's log configuration (`AWS_LAMBDA_LOG_FORMAT=JSON`
/// gives JSON; `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, sets the level).
///
/// The filter is `tracing-subscriber`'s `Targets` (a level, or `target=level` pairs) rather than
/// the runtime's default `EnvFilter`, whose regular-expression engine every function would
/// otherwise link (about 150 KB of a zip; docs/BENCHMARKS.md).
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let filter = log_filter(var("AWS_LAMBDA_LOG_LEVEL").or_else(|| var("RUST_LOG")).as_deref());
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(filter).with(fmt).try_init();
}

/// The log filter from the function's configuration: Lambda's levels (`TRACE` … `ERROR`, and
/// `FATAL`, which is `ERROR` here) or `RUST_LOG`-style `target=level` pairs. Anything else, or
/// nothing, is `INFO`, so a typo never silences the logs.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let spec = spec.map(str::trim).unwrap_or("");
    if spec.eq_ignore_ascii_case("fatal") {
        return Targets::new().with_default(LevelFilter::ERROR);
    }
    match spec.parse::<Targets>() {
        Ok(t) if !spec.is_empty() && t.default_level().is_some() => t,
        // `target=level` pairs alone: the other targets log at INFO, as with the runtime's filter.
        Ok(t) if !spec.is_empty() => t.with_default(LevelFilter::INFO),
        _ => Targets::new().with_default(LevelFilter::INFO),
    }
}

/// The start-up every function shares: logging, the configuration (or a stop at start naming
/// what is missing), and the dependencies built once per container, for [`serve`].
pub async fn start(function: &'static str, needs: super::config::Needs) -> &'static crate::app::App {
    init_tracing();
    let app = super::config::app_from_env(needs, function).await.holding_acknowledgements();
    Box::leak(Box::new(app))
}

/// Runs `handler` for each event of the Lambda Runtime API, one at a time. Once an event's
/// response has been sent, and before the next event is asked for, the acknowledgements the
/// event's use cases held are recorded ([`crate::app::App::acknowledge_held`]): the caller gets
/// its answer after the conditional write and the sends, without waiting for that last write,
/// and the container does not freeze with it unwritten.
pub async fn serve<A, R, E, F, Fut>(app: &'static crate::app::App, handler: F) -> Result<(), lambda_runtime::Error>
where
    A: for<'de> serde::Deserialize<'de>,
    R: serde::Serialize,
    E: Into<lambda_runtime::Diagnostic> + std::fmt::Debug,
    F: Fn(&'static crate::app::App, A) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    use lambda_runtime::tower::{layer::layer_fn, ServiceExt};
    let events = lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<A>| handler(app, event.payload));
    lambda_runtime::Runtime::new(events)
        // Around the service that sends the response: what it does after that service comes
        // after the response. (The tracing layer, outside it, keeps the invocation's span.)
        .layer(layer_fn(move |sent_response| {
            ServiceExt::then(sent_response, move |sent: Result<(), lambda_runtime::Error>| async move {
                app.acknowledge_held().await;
                sent
            })
        }))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// Reads an API Gateway HTTP API (payload 2.0) event. The claims come from the JWT authorizer.
pub fn api_request(event: ApiGatewayV2httpRequest) -> ApiRequest {
    let route_key = event.route_key.clone().or_else(|| event.request_context.route_key.clone()).unwrap_or_default();
    let claims = event.request_context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).and_then(|jwt| {
        let get = |k: &str| jwt.claims.get(k).cloned();
        Some(RawClaims { sub: get("sub")?, workspace_id: get("workspace_id")?, role: get("role")? })
    });
    let headers: HashMap<String, String> = event
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect();
    let body = match (event.body, event.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(b), false) => b.into_bytes(),
        // A body that claims to be base64 but is not is passed on as is, to fail JSON parsing.
        (Some(b), true) => base64::engine::general_purpose::STANDARD.decode(&b).unwrap_or_else(|_| b.into_bytes()),
    };
    let query = event
        .raw_query_string
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    ApiRequest { route_key, path_params: event.path_parameters, query, headers, body, claims }
}

/// Writes the API Gateway response.
pub fn api_response(r: ApiResponse) -> ApiGatewayV2httpResponse {
    let mut resp = ApiGatewayV2httpResponse::default();
    resp.status_code = r.status as i64;
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), http::HeaderValue::try_from(v)) {
            resp.headers.insert(k, v);
        }
    }
    resp.body = Some(Body::Text(r.text.unwrap_or_else(|| r.body.to_string())));
    resp.is_base64_encoded = false;
    resp
}

/// How many messages of a batch are processed at once.
pub const BATCH_CONCURRENCY: usize = 10;

/// Processes an SQS batch concurrently and names only the failed messages, so one bad message
/// is retried (and, after the queue's receive limit, moved to its dead-letter queue) alone.
pub async fn sqs_batch<F, Fut, T, E>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let jobs = event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.clone();
        let fut = body.map(&handle);
        async move {
            match fut {
                None => {
                    warn!(message_id = %id, "message without a body");
                    Some(id)
                }
                Some(f) => match f.await {
                    Ok(_) => None,
                    Err(e) => {
                        error!(message_id = %id, error = %e, "message failed; it will be retried");
                        Some(id)
                    }
                },
            }
        }
    });
    let failed: Vec<String> =
        stream::iter(jobs).buffer_unordered(BATCH_CONCURRENCY).filter_map(|f| async move { f }).collect().await;
    let mut resp = SqsBatchResponse::default();
    for id in failed {
        resp.add_failure(id);
    }
    resp
}

/// [`sqs_batch`] for messages that `app`'s use cases handle. No caller waits on a message, so
/// what each one sent is recorded as soon as it is done ([`crate::app::App::acknowledge_held`]):
/// other containers then see its events out without waiting for the whole batch.
pub async fn app_batch<F, Fut, T, E>(app: &crate::app::App, event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    sqs_batch(event, |body| {
        let done = handle(body);
        async move {
            let done = done.await;
            app.acknowledge_held().await;
            done
        }
    })
    .await
}

/// A batch from a timer queue for the function that owns timers of `kind`.
pub async fn timer_batch(app: &crate::app::App, kind: crate::domain::TimerKind, event: SqsEvent) -> SqsBatchResponse {
    app_batch(app, event, |body| async move {
        let timer = crate::app::parse_timer_message(&body, kind)?;
        Ok::<_, crate::app::TimerMessageError>(app.on_timer(&timer).await?)
    })
    .await
}

/// Whether a raw event is an SQS batch (escalation-trigger takes SQS and HTTP events).
pub fn is_sqs_event(event: &serde_json::Value) -> bool {
    event
        .get("Records")
        .and_then(serde_json::Value::as_array)
        .map(|r| r.iter().all(|m| m.get("eventSource").and_then(serde_json::Value::as_str) == Some("aws:sqs")))
        .unwrap_or(false)
}

/// The input the outbox-sweep schedule sends to escalation-trigger.
pub fn is_sweep(event: &serde_json::Value) -> bool {
    event.get("handoff_sweep") == Some(&serde_json::Value::Bool(true))
}

/// Effects older than this and still pending are re-sent by the sweep.
pub const SWEEP_AGE: Duration = Duration::from_secs(30);

/// The CloudWatch namespace of the functions' own metrics.
pub use super::emf::NAMESPACE as METRICS_NAMESPACE;
/// Effects pending for more than five minutes, as the outbox sweep found them (the template's
/// `StuckEffectsAlarm` watches it).
pub const STUCK_EFFECTS_METRIC: &str = "StuckEffects";

/// One CloudWatch embedded-metric-format record (counts, no dimensions): a JSON line on stdout,
/// which CloudWatch Logs turns into metrics without any API call from the function.
pub fn emf_line(metrics: &[(&str, f64)], at_ms: i64) -> serde_json::Value {
    let metrics: Vec<(String, &str, f64)> = metrics.iter().map(|(n, v)| (n.to_string(), "Count", *v)).collect();
    super::emf::record(&metrics, &[&[]], serde_json::Map::new(), at_ms)
}

/// What the outbox sweep reports: its answer, and the metrics its alarm watches.
pub fn sweep_answer(report: &crate::app::SweepReport) -> serde_json::Value {
    let line = emf_line(
        &[
            (STUCK_EFFECTS_METRIC, report.stuck as f64),
            ("PendingDecisions", report.pending as f64),
            ("RedispatchedEffects", report.dispatched as f64),
        ],
        chrono::Utc::now().timestamp_millis(),
    );
    println!("{line}");
    serde_json::to_value(report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(body: Option<&str>, base64: bool, claims: Option<serde_json::Value>) -> ApiGatewayV2httpRequest {
        let mut v = json!({
            "version": "2.0",
            "routeKey": "GET /v1/workspaces/{workspace_id}/inbox",
            "rawPath": "/v1/workspaces/ws_1/inbox",
            "rawQueryString": "status=waiting&assignee=a%7Cb&limit=5",
            "headers": {"If-Match": "\"3\"", "content-type": "application/json"},
            "requestContext": {"accountId": "1", "apiId": "x", "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1", "userAgent": "t"},
                               "requestId": "r", "routeKey": "GET /v1/workspaces/{workspace_id}/inbox", "stage": "$default", "time": "t", "timeEpoch": 0},
            "pathParameters": {"workspace_id": "ws_1"},
            "isBase64Encoded": base64
        });
        if let Some(b) = body {
            v["body"] = json!(b);
        }
        if let Some(c) = claims {
            v["requestContext"]["authorizer"] = json!({"jwt": {"claims": c, "scopes": null}});
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_log_level_follows_lambdas_setting_and_a_typo_keeps_info() {
        use tracing::Level;
        use tracing_subscriber::filter::LevelFilter;
        let level = |spec: Option<&str>, target: &str, level: Level| log_filter(spec).would_enable(target, &level);
        assert!(level(None, "handoff", Level::INFO) && !level(None, "handoff", Level::DEBUG));
        assert!(level(Some("DEBUG"), "handoff", Level::DEBUG) && !level(Some("DEBUG"), "handoff", Level::TRACE));
        assert!(level(Some("FATAL"), "handoff", Level::ERROR) && !level(Some("FATAL"), "handoff", Level::WARN));
        assert!(!level(Some("warn"), "handoff", Level::INFO));
        assert_eq!(log_filter(Some("loud=please")).default_level(), Some(LevelFilter::INFO));
        assert_eq!(log_filter(Some("  ")).default_level(), Some(LevelFilter::INFO));
        // RUST_LOG-style pairs: that target as asked, the rest at INFO.
        assert!(level(Some("handoff=trace"), "handoff::app", Level::TRACE));
        assert!(level(Some("handoff=trace"), "aws_smithy", Level::INFO));
        assert!(!level(Some("handoff=trace"), "aws_smithy", Level::DEBUG));
    }

    #[test]
    fn reads_route_claims_query_headers_and_body() {
        let r = api_request(event(
            Some("{\"a\":1}"),
            false,
            Some(json!({"sub": "u1", "workspace_id": "ws_1", "role": "agent", "exp": "1"})),
        ));
        assert_eq!(r.route_key, "GET /v1/workspaces/{workspace_id}/inbox");
        assert_eq!(r.path_params["workspace_id"], "ws_1");
        assert_eq!(
            r.query,
            vec![("status".into(), "waiting".into()), ("assignee".into(), "a|b".into()), ("limit".into(), "5".into())]
        );
        assert_eq!(r.header("if-match"), Some("\"3\""));
        assert_eq!(r.body, b"{\"a\":1}");
        let c = r.claims.unwrap();
        assert_eq!((c.sub.as_str(), c.workspace_id.as_str(), c.role.as_str()), ("u1", "ws_1", "agent"));
    }

    #[test]
    fn base64_bodies_are_decoded_and_missing_claims_mean_no_caller() {
        let r = api_request(event(Some("eyJhIjoxfQ=="), true, Some(json!({"sub": "u1", "role": "agent"}))));
        assert_eq!(r.body, b"{\"a\":1}");
        assert!(r.claims.is_none(), "a token without workspace_id is no caller");
        assert!(api_request(event(None, false, None)).claims.is_none());
    }

    #[test]
    fn responses_carry_status_headers_and_json() {
        let resp = api_response(ApiResponse::with_status(409, json!({"error": {"code": "x"}})).header("etag", "\"2\""));
        assert_eq!(resp.status_code, 409);
        assert_eq!(resp.headers["etag"], "\"2\"");
        assert_eq!(resp.headers["content-type"], "application/json");
        match resp.body {
            Some(Body::Text(t)) => {
                assert_eq!(serde_json::from_str::<serde_json::Value>(&t).unwrap()["error"]["code"], "x")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_names_only_its_failed_messages() {
        let ev: SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "m1", "body": "ok", "eventSource": "aws:sqs"},
            {"messageId": "m2", "body": "bad", "eventSource": "aws:sqs"},
            {"messageId": "m3", "eventSource": "aws:sqs"},
            {"messageId": "m4", "body": "ok", "eventSource": "aws:sqs"}
        ]}))
        .unwrap();
        let resp = sqs_batch(ev, |body| async move {
            if body == "ok" {
                Ok(())
            } else {
                Err("malformed")
            }
        })
        .await;
        let mut failed: Vec<String> = resp.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        failed.sort();
        assert_eq!(failed, vec!["m2", "m3"]);
    }
}
