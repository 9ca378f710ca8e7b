//! The settings-api Lambda function: dependencies built once per container, then one API Gateway
//! event at a time.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use handoff::adapters::aws::{config, lambda};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let app: &'static _ = Box::leak(Box::new(config::app_from_env(settings_api::lambda::NEEDS, "settings-api").await));
    run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
        Ok::<_, Error>(settings_api::lambda::handler(app, event.payload).await)
    }))
    .await
}
