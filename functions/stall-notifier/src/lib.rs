//! stall-notifier: when nobody accepted a chat handoff within the stalling time, sends the
//! customer the stall message (once).

use handoff::app::{parse_timer_message, App, TimerMessageError, TimerResult};
use handoff::domain::{TimerKind, TimerMessage};

/// The kind of timer this function handles.
pub const KIND: TimerKind = TimerKind::Stall;

/// Handles one fired stall timer. Safe to call more than once for the same timer.
pub async fn handle(app: &App, timer: &TimerMessage) -> Result<TimerResult, TimerMessageError> {
    app.on_timer_of_kind(KIND, timer).await
}

/// Handles the body of one timer message.
pub async fn handle_message(app: &App, body: &str) -> Result<TimerResult, TimerMessageError> {
    handle(app, &parse_timer_message(body, KIND)?).await
}

/// The Lambda edge: batches from the timer queue, with partial batch responses.
#[cfg(feature = "lambda")]
pub mod lambda {
    use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    use handoff::adapters::aws::config::Needs;
    use handoff::adapters::aws::lambda::sqs_batch;
    use handoff::app::App;

    /// What this function talks to.
    pub const NEEDS: Needs = Needs::StoreAndOutbound;

    /// Handles a batch of timer messages; only the failed ones are named for a retry.
    pub async fn handler(app: &App, event: SqsEvent) -> SqsBatchResponse {
        sqs_batch(event, |body| async move { super::handle_message(app, &body).await }).await
    }
}
