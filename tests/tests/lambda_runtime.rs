//! The Lambda edge as Lambda runs it: a function's event loop (`serve`) under a stand-in Lambda
//! Runtime API on loopback, with its AWS calls going to the emulator. An accept is answered once
//! the handoff is written and `agent_joined` is on the outbound queue; the acknowledgement that
//! records the send is written after that response and before the function asks for its next
//! event, so the caller never waits for it and the container never freezes with it unwritten.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use handoff::app::App;
use handoff::domain::{State as HandoffState, WorkspaceId};
use handoff_tests::aws::{active_handoff, apigw, configure, escalate_sqs, fixture, Env};
use handoff_tests::calls::CallLog;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the stand-in Runtime API saw, and the one event it hands out.
#[derive(Default)]
struct Runtime {
    event: Mutex<Option<Value>>,
    polls: Mutex<Vec<Instant>>,
    responses: Mutex<Vec<(Instant, Value)>>,
}

async fn next(State(rt): State<Arc<Runtime>>) -> (HeaderMap, String) {
    rt.polls.lock().unwrap().push(Instant::now());
    let Some(event) = rt.event.lock().unwrap().take() else {
        // No more events: the function waits here, as a frozen container would.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:inbox-api".parse().unwrap(),
    );
    (headers, event.to_string())
}

async fn response(State(rt): State<Arc<Runtime>>, Path(id): Path<String>, body: Bytes) -> &'static str {
    assert_eq!(id, "req-1");
    let body: Value = serde_json::from_slice(&body).expect("a JSON response");
    rt.responses.lock().unwrap().push((Instant::now(), body));
    "{}"
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accept_is_answered_before_its_acknowledgement_is_written() {
    let env = Env::new().await;
    configure(&env, json!({})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    let ws = WorkspaceId::parse("ws_fixture").unwrap();
    let id = active_handoff(&env, "conv_fixture_chat").await.handoff_id;

    let rt = Arc::new(Runtime::default());
    *rt.event.lock().unwrap() = Some(apigw("apigw-post-accept.json", Some(id.as_str()), "agent", "alice"));
    let api = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });
    // What Lambda sets for every function (this test binary runs this one test).
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", addr.to_string());
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "inbox-api");
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
    std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "1");

    let log = CallLog::default();
    let app: &'static App = Box::leak(Box::new(env.container(&log)));
    let function = handoff::adapters::aws::lambda::serve(
        app,
        |app, event: aws_lambda_events::apigw::ApiGatewayV2httpRequest| async move {
            Ok::<_, std::convert::Infallible>(inbox_api::lambda::handler(app, event).await)
        },
    );
    let asked_twice = async {
        let waited = Instant::now();
        while rt.polls.lock().unwrap().len() < 2 {
            assert!(waited.elapsed() < Duration::from_secs(30), "the function never asked for its next event");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        stopped = function => panic!("the function stopped: {stopped:?}"),
        () = asked_twice => {}
    }

    let (answered, body) = rt.responses.lock().unwrap().pop().expect("a response was posted");
    assert_eq!(body["statusCode"], 200, "{body}");
    let accepted: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(accepted["state"], "assigned", "{accepted}");
    let asked_again = rt.polls.lock().unwrap()[1];
    let calls = log.take().0;
    let ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    // The handoff and, beside it, the workspace's layout (a new container), the conditional
    // write and the send before the answer; the acknowledgement after it, and finished before the
    // next event was asked for.
    assert_eq!(ops, ["Query", "Query", "TransactWriteItems", "SendMessage", "TransactWriteItems"], "{calls:?}");
    assert!(calls[..4].iter().all(|c| c.end <= answered), "{calls:?}");
    assert!(calls[4].start >= answered, "the acknowledgement started after the response");
    assert!(calls[4].end <= asked_again, "the acknowledgement finished before the next poll");

    // It was recorded: agent_joined is out and acknowledged, so the handoff's next event may
    // leave at once, from any container.
    let h = env.app.store.get_handoff(&ws, &id).await.unwrap().unwrap();
    assert_eq!((h.state, h.seq, h.sent_seq), (HandoffState::Assigned, 2, 2), "{h:?}");
    let types: Vec<String> =
        env.outbound().await.iter().map(|e| e["type"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(types, ["customer_message", "agent_joined"]);
}
