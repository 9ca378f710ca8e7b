//! The AWS emulator for tests: moto server, reached through `AWS_ENDPOINT_URL`. Tests that need
//! it fail loudly, saying how to start it, when it is not there; nothing is skipped.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use handoff::adapters::aws::config::build_app_with;
use handoff::adapters::aws::provision::{create_all, Names, Provisioned};
use handoff::app::App;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Connects to the emulator, or panics with how to start it.
pub async fn emulator() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if endpoint.is_empty() {
        panic!(
            "this test needs moto server (the AWS emulator) and AWS_ENDPOINT_URL is not set.\n\
             Run every test with `bash infra/test.sh` (it starts moto), or start it yourself:\n    \
             eval \"$(bash infra/moto.sh)\"    # prints and exports AWS_ENDPOINT_URL\n\
             then run cargo test again."
        );
    }
    let probe =
        reqwest::Client::new().get(format!("{endpoint}/moto-api/")).timeout(Duration::from_secs(5)).send().await;
    if let Err(e) = probe {
        panic!("cannot reach moto server at AWS_ENDPOINT_URL={endpoint}: {e}\nStart it with `eval \"$(bash infra/moto.sh)\"`.");
    }
    handoff::adapters::aws::config::loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// An emulator with this test's own table, queues and schedule group.
pub struct Env {
    pub sdk: aws_config::SdkConfig,
    pub res: Provisioned,
    pub app: App,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Env {
    pub async fn new() -> Env {
        Self::build(None).await
    }

    /// An environment whose App counts its AWS calls in `log`.
    pub async fn counted(log: &crate::calls::CallLog) -> Env {
        Self::build(Some(log.interceptor())).await
    }

    async fn build(interceptor: Option<aws_sdk_dynamodb::config::SharedInterceptor>) -> Env {
        let sdk = emulator().await;
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let res = create_all(&sdk, &Names { prefix }).await.expect("resources created on the emulator");
        let app = build_app_with(&sdk, &res.settings(), "tests", interceptor);
        Env {
            sqs: aws_sdk_sqs::Client::new(&sdk),
            dynamo: aws_sdk_dynamodb::Client::new(&sdk),
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            sdk,
            res,
            app,
        }
    }

    /// Another container of the same deployment: its own App (nothing remembered yet) on the same
    /// table and queues, counting its calls in `log`. Like a Lambda container, it holds its
    /// acknowledgements until [`App::acknowledge_held`] (which the Lambda edge calls once an
    /// invocation's response has gone).
    pub fn container(&self, log: &crate::calls::CallLog) -> App {
        build_app_with(&self.sdk, &self.res.settings(), "tests", Some(log.interceptor())).holding_acknowledgements()
    }

    /// Receives up to 10 message bodies from a queue (waiting up to `wait_seconds`), deleting them.
    pub async fn receive(&self, queue_url: &str, wait_seconds: i32) -> Vec<(String, String)> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .expect("receive");
        let mut bodies = Vec::new();
        for m in out.messages.unwrap_or_default() {
            if let Some(h) = &m.receipt_handle {
                self.sqs.delete_message().queue_url(queue_url).receipt_handle(h).send().await.expect("delete");
            }
            bodies.push((m.message_id.unwrap_or_default(), m.body.unwrap_or_default()));
        }
        bodies
    }

    /// Every outbound event delivered so far (drains the queue).
    pub async fn outbound(&self) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let batch = self.receive(&self.res.outbound_queue.url, 1).await;
            if batch.is_empty() {
                return all;
            }
            all.extend(batch.into_iter().map(|(_, b)| serde_json::from_str(&b).expect("outbound events are JSON")));
        }
    }
}

/// The two API functions the HTTP fixtures go to.
#[derive(Clone, Copy)]
pub enum Api {
    Settings,
    Inbox,
}

pub async fn http(env: &Env, api: Api, event: Value) -> (i64, Value) {
    http_on(&env.app, api, event).await
}

/// [`http`] on a given container's App.
pub async fn http_on(app: &App, api: Api, event: Value) -> (i64, Value) {
    let req: ApiGatewayV2httpRequest = serde_json::from_value(event).expect("fixture is an API Gateway v2 event");
    let resp = match api {
        Api::Settings => settings_api::lambda::handler(app, req).await,
        Api::Inbox => inbox_api::lambda::handler(app, req).await,
    };
    let body = match resp.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    (resp.status_code, body)
}

/// The active handoff of `conversation` in the fixtures' workspace, as the Inbox lists it.
pub async fn active_handoff(env: &Env, conversation: &str) -> handoff::domain::Handoff {
    let query = handoff::ports::InboxQuery {
        teams: None,
        status: handoff::ports::StatusFilter::Active,
        assignee: None,
        channel: None,
        reason: None,
        limit: 100,
        after: None,
    };
    let ws = handoff::domain::WorkspaceId::parse("ws_fixture").unwrap();
    let page = env.app.store.list_inbox(&ws, &query).await.unwrap();
    page.items.into_iter().find(|h| h.conversation_id.as_str() == conversation).expect("handoff in the Inbox")
}

/// Saves settings through settings-api with the PUT fixture and `overrides`.
pub async fn configure(env: &Env, overrides: Value) {
    let mut ev = fixture("apigw-put-settings.json");
    let mut body: Value = serde_json::from_str(ev["body"].as_str().unwrap()).unwrap();
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    ev["body"] = Value::String(body.to_string());
    let (status, doc) = http(env, Api::Settings, ev).await;
    assert_eq!(status, 200, "{doc}");
}

/// Sends an SQS event to escalation-trigger; returns the failed message ids.
pub async fn escalate_sqs(env: &Env, event: Value) -> Vec<String> {
    let out = escalation_trigger::lambda::handler(&env.app, event).await.expect("an SQS event");
    out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

pub async fn timer_batch(env: &Env, kind: &str, messages: &[(String, String)]) -> Vec<String> {
    let resp = match kind {
        "stall" => {
            let ev: SqsEvent = serde_json::from_value(sqs_event("sqs-stall-timer.json", messages)).unwrap();
            stall_notifier::lambda::handler(&env.app, ev).await
        }
        _ => {
            let ev: SqsEvent = serde_json::from_value(sqs_event("sqs-ring-timer.json", messages)).unwrap();
            voice_timeout::lambda::handler(&env.app, ev).await
        }
    };
    resp.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

/// A fixture event from tests/fixtures/events.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The figures fixture (`apigw-get-metrics.json`) asking for the month that ends tomorrow, so
/// the handoffs a test has just created are in the window whatever day it runs.
pub fn metrics_event_around_today() -> Value {
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Days::new(30), today + chrono::Days::new(1));
    let mut ev = fixture("apigw-get-metrics.json");
    let group_by = ev["queryStringParameters"]["group_by"].clone();
    ev["queryStringParameters"] = json!({"from": from.to_string(), "to": to.to_string(), "group_by": group_by});
    ev["rawQueryString"] = Value::String(format!("from={from}&to={to}&group_by={}", group_by.as_str().unwrap()));
    ev
}

/// An SQS event like `fixture_name`, carrying these message bodies instead.
pub fn sqs_event(fixture_name: &str, bodies: &[(String, String)]) -> Value {
    let mut ev = fixture(fixture_name);
    let template = ev["Records"][0].clone();
    ev["Records"] = Value::Array(
        bodies
            .iter()
            .map(|(id, body)| {
                let mut r = template.clone();
                r["messageId"] = Value::String(id.clone());
                r["body"] = Value::String(body.clone());
                r
            })
            .collect(),
    );
    ev
}

/// An API Gateway fixture aimed at `handoff_id` and the given caller.
pub fn apigw(name: &str, handoff_id: Option<&str>, role: &str, sub: &str) -> Value {
    let mut ev = fixture(name);
    if let Some(h) = handoff_id {
        ev["pathParameters"]["handoff_id"] = Value::String(h.into());
        let raw = ev["rawPath"].as_str().unwrap().replace("hnd_fixture", h);
        ev["rawPath"] = Value::String(raw.clone());
        ev["requestContext"]["http"]["path"] = Value::String(raw);
    }
    ev["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = Value::String(role.into());
    ev["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = Value::String(sub.into());
    ev
}
