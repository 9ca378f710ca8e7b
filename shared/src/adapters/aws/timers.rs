//! Timers: an SQS message timer (`DelaySeconds`) for a timer due within 15 minutes, an
//! EventBridge Scheduler one-time schedule (see `scheduler.rs`) for a later one; both deliver the
//! same timer message to the same timer queue.

use super::sqs::{attr, sqs_error};
use crate::domain::{TimerKind, TimerMessage};
use crate::ports::{Clock, TimerError, Timers};
use async_trait::async_trait;
use std::sync::Arc;

/// The longest delay an SQS message timer can have.
pub const MAX_SQS_DELAY_SECONDS: i64 = 900;

pub use super::config::QueueRef;

/// Timers on SQS (≤ 15 min) and EventBridge Scheduler (later).
#[derive(Clone)]
pub struct SqsSchedulerTimers {
    pub sqs: aws_sdk_sqs::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub stall: QueueRef,
    pub ring: QueueRef,
    pub schedule_group: String,
    /// The role EventBridge Scheduler assumes to send to the timer queues.
    pub scheduler_role_arn: String,
    pub clock: Arc<dyn Clock>,
}

impl SqsSchedulerTimers {
    fn queue(&self, kind: TimerKind) -> &QueueRef {
        match kind {
            TimerKind::Stall => &self.stall,
            TimerKind::Ring => &self.ring,
        }
    }
}

#[async_trait]
impl Timers for SqsSchedulerTimers {
    async fn set(&self, timer: &TimerMessage) -> Result<(), TimerError> {
        let err = |reason: String| TimerError { timer_id: timer.timer_id.clone(), reason };
        let queue = self.queue(timer.kind);
        // Round up: a timer must never act early.
        let delay_ms = (timer.due_at - self.clock.now()).num_milliseconds().max(0);
        let delay = (delay_ms + 999) / 1000;
        if delay <= MAX_SQS_DELAY_SECONDS {
            let body = serde_json::to_string(timer).map_err(|e| err(e.to_string()))?;
            self.sqs
                .send_message()
                .queue_url(&queue.url)
                .message_body(body)
                .delay_seconds(delay as i32)
                .message_attributes("timer_id", attr(&timer.timer_id))
                .send()
                .await
                .map_err(|e| err(sqs_error(e)))?;
            tracing::info!(timer_id = %timer.timer_id, delay_seconds = delay, "timer set on SQS");
            return Ok(());
        }
        super::scheduler::schedule(&self.scheduler, timer, &queue.arn, &self.scheduler_role_arn, &self.schedule_group)
            .await
            .map_err(err)
    }
}
