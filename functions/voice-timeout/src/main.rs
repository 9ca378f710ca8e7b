//! The voice-timeout Lambda function: consumes its timer queue.

use handoff::adapters::aws::lambda::{serve, start};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("voice-timeout", voice_timeout::lambda::NEEDS).await;
    serve(app, |app, event: aws_lambda_events::sqs::SqsEvent| async move {
        Ok::<_, Error>(voice_timeout::lambda::handler(app, event).await)
    })
    .await
}
