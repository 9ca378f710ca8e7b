//! SQS adapters: the outbound event publisher, and timers (SQS message timers for timers due
//! within 15 minutes, EventBridge Scheduler one-time schedules for later ones; both deliver the
//! same timer message to the same timer queue).

use crate::domain::{OutboundEvent, TimerKind, TimerMessage};
use crate::ports::{Clock, PublishError, Publisher, TimerError, Timers};
use async_trait::async_trait;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use aws_sdk_sqs::types::MessageAttributeValue;
use std::sync::Arc;

/// The longest delay an SQS message timer can have.
pub const MAX_SQS_DELAY_SECONDS: i64 = 900;

fn attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(v).build().expect("data type and value are set")
}

/// Publishes outbound events to the outbound queue. An event is only reported published once
/// SQS accepted it; its `event_id` travels in the body and as a message attribute.
#[derive(Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish(&self, event: &OutboundEvent) -> Result<(), PublishError> {
        let err = |reason: String| PublishError { event_id: event.event_id.clone(), reason };
        let body = serde_json::to_string(event).map_err(|e| err(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("event_id", attr(&event.event_id))
            .message_attributes("event_type", attr(event.event_type.as_str()))
            .send()
            .await
            .map_err(|e| {
                err(format!("{}: {}", e.code().unwrap_or("error"), aws_sdk_sqs::error::DisplayErrorContext(&e)))
            })?;
        tracing::info!(event_type = event.event_type.as_str(), event_id = %event.event_id,
                       workspace_id = %event.workspace_id, conversation_id = %event.conversation_id, "outbound event published");
        Ok(())
    }
}

/// Where the timers of one kind go.
#[derive(Debug, Clone)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

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

/// A schedule name derived from what the timer is for (so re-creating it is idempotent):
/// the timer id with characters Scheduler does not allow replaced, at most 64 characters.
pub fn schedule_name(timer: &TimerMessage) -> String {
    let name: String = timer
        .timer_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' })
        .collect();
    if name.len() <= 64 {
        name
    } else {
        // Keep it unique: a stable digest of the whole id after a readable prefix.
        format!("{}-{:016x}", &name[..47], super::stable_hash(&timer.timer_id))
    }
}

/// The `at()` time of a schedule: the due time rounded up to the second, in UTC.
pub fn schedule_time(due: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{SubsecRound, Timelike};
    let whole = due.trunc_subsecs(0);
    let up = if due.nanosecond() > 0 { whole + chrono::Duration::seconds(1) } else { whole };
    up.format("%Y-%m-%dT%H:%M:%S").to_string()
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
        let body = serde_json::to_string(timer).map_err(|e| err(e.to_string()))?;
        let queue = self.queue(timer.kind);
        // Round up: a timer must never act early.
        let delay_ms = (timer.due_at - self.clock.now()).num_milliseconds().max(0);
        let delay = (delay_ms + 999) / 1000;
        if delay <= MAX_SQS_DELAY_SECONDS {
            self.sqs
                .send_message()
                .queue_url(&queue.url)
                .message_body(body)
                .delay_seconds(delay as i32)
                .message_attributes("timer_id", attr(&timer.timer_id))
                .send()
                .await
                .map_err(|e| {
                    err(format!("{}: {}", e.code().unwrap_or("error"), aws_sdk_sqs::error::DisplayErrorContext(&e)))
                })?;
            tracing::info!(timer_id = %timer.timer_id, delay_seconds = delay, "timer set on SQS");
            return Ok(());
        }
        // `at()` has second precision: round up so the schedule never fires before the due time.
        let at = schedule_time(timer.due_at);
        let target = Target::builder()
            .arn(&queue.arn)
            .role_arn(&self.scheduler_role_arn)
            .input(body)
            .build()
            .map_err(|e| err(e.to_string()))?;
        let window =
            FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(|e| err(e.to_string()))?;
        let name = schedule_name(timer);
        let r = self
            .scheduler
            .create_schedule()
            .name(&name)
            .group_name(&self.schedule_group)
            .schedule_expression(format!("at({at})"))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match r {
            Ok(_) => {
                tracing::info!(timer_id = %timer.timer_id, schedule = %name, "timer set on EventBridge Scheduler");
                Ok(())
            }
            // Already created by an earlier attempt: the same schedule, so nothing to do.
            Err(e) if e.as_service_error().map(|s| s.is_conflict_exception()).unwrap_or(false) => Ok(()),
            Err(e) => Err(err(format!(
                "{}: {}",
                e.code().unwrap_or("error"),
                aws_sdk_scheduler::error::DisplayErrorContext(&e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HandoffId, WorkspaceId};

    #[test]
    fn schedules_never_fire_early() {
        use chrono::TimeZone;
        let t = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        assert_eq!(schedule_time(t), "2026-11-24T10:00:00");
        assert_eq!(schedule_time(t + chrono::Duration::milliseconds(1)), "2026-11-24T10:00:01");
        assert_eq!(schedule_time(t + chrono::Duration::milliseconds(999)), "2026-11-24T10:00:01");
    }

    #[test]
    fn schedule_names_are_valid_stable_and_unique() {
        let t = |id: &str| TimerMessage {
            timer_id: id.into(),
            kind: TimerKind::Stall,
            workspace_id: WorkspaceId::parse("ws").unwrap(),
            handoff_id: HandoffId::parse("h").unwrap(),
            set_at_version: 1,
            due_at: chrono::Utc::now(),
        };
        assert_eq!(schedule_name(&t("stall:hnd_1:v1")), "stall-hnd_1-v1");
        let long_a = format!("stall:{}:v1", "a".repeat(100));
        let long_b = format!("stall:{}:v2", "a".repeat(100));
        let (a, b) = (schedule_name(&t(&long_a)), schedule_name(&t(&long_b)));
        assert!(a.len() <= 64 && b.len() <= 64);
        assert_ne!(a, b);
        assert_eq!(a, schedule_name(&t(&long_a)));
    }
}
