//! The escalation-trigger Lambda function: escalations from the SQS queue and from HTTP, and the
//! scheduled outbox sweep.

use handoff::adapters::aws::{config, lambda};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let app: &'static _ =
        Box::leak(Box::new(config::app_from_env(escalation_trigger::lambda::NEEDS, "escalation-trigger").await));
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        escalation_trigger::lambda::handler(app, event.payload).await.map_err(Error::from)
    }))
    .await
}
