//! The voice-timeout Lambda function: consumes its timer queue.

use aws_lambda_events::sqs::SqsEvent;
use handoff::adapters::aws::{config, lambda};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let app: &'static _ =
        Box::leak(Box::new(config::app_from_env(voice_timeout::lambda::NEEDS, "voice-timeout").await));
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(voice_timeout::lambda::handler(app, event.payload).await)
    }))
    .await
}
