//! stall-notifier: when nobody accepted a chat handoff within the stalling time, sends the
//! customer the stall message (once).

use handoff::app::{App, TimerMessageError, TimerResult};
use handoff::domain::{TimerKind, TimerMessage};

/// The kind of timer this function handles.
pub const KIND: TimerKind = TimerKind::Stall;

/// Handles one fired stall timer. Safe to call more than once for the same timer.
pub async fn handle(app: &App, timer: &TimerMessage) -> Result<TimerResult, TimerMessageError> {
    app.on_timer_of_kind(KIND, timer).await
}

/// The Lambda edge: batches from the timer queue, with partial batch responses.
#[cfg(feature = "lambda")]
pub mod lambda {
    use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    use handoff::adapters::aws::config::Needs;
    use handoff::app::App;

    /// What this function talks to.
    pub const NEEDS: Needs = Needs::Everything;

    /// Handles a batch of timer messages; only the failed ones are named for a retry.
    pub async fn handler(app: &App, event: SqsEvent) -> SqsBatchResponse {
        handoff::adapters::aws::lambda::timer_batch(app, super::KIND, event).await
    }
}
