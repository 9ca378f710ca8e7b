//! The stall-notifier Lambda function: consumes its timer queue.

use handoff::adapters::aws::lambda::start;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    start("stall-notifier", stall_notifier::lambda::NEEDS, |app, event: aws_lambda_events::sqs::SqsEvent| async move {
        Ok::<_, Error>(stall_notifier::lambda::handler(app, event).await)
    })
    .await
}
