//! The escalation-trigger Lambda function: escalations from the SQS queue and from HTTP, and the
//! scheduled outbox sweep.

use handoff::adapters::aws::lambda::{serve, start};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("escalation-trigger", escalation_trigger::lambda::NEEDS).await;
    serve(app, |app, event: serde_json::Value| async move {
        escalation_trigger::lambda::handler(app, event).await.map_err(Error::from)
    })
    .await
}
