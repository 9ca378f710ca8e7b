//! The inbox-api Lambda function: the agents' routes of the HTTP API.

use handoff::adapters::aws::lambda::{serve, start};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("inbox-api", inbox_api::lambda::NEEDS).await;
    serve(app, |app, event: aws_lambda_events::apigw::ApiGatewayV2httpRequest| async move {
        Ok::<_, Error>(inbox_api::lambda::handler(app, event).await)
    })
    .await
}
