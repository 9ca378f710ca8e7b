//! EventBridge Scheduler: one-time `at()` schedules for timers due more than 15 minutes ahead,
//! delivering the timer message to its timer queue and deleted after they run.

use crate::domain::TimerMessage;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};

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

/// Creates the schedule of `timer` (idempotent: the name comes from the timer id). The message
/// carries no handoff snapshot: a target's input is small, and the callback reads the handoff.
pub async fn schedule(
    client: &aws_sdk_scheduler::Client,
    timer: &TimerMessage,
    queue_arn: &str,
    role_arn: &str,
    group: &str,
) -> Result<(), String> {
    let body = serde_json::to_string(&TimerMessage { snapshot: None, ..timer.clone() }).map_err(|e| e.to_string())?;
    // `at()` has second precision: round up so the schedule never fires before the due time.
    let at = schedule_time(timer.due_at);
    let target = Target::builder().arn(queue_arn).role_arn(role_arn).input(body).build().map_err(|e| e.to_string())?;
    let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(|e| e.to_string())?;
    let name = schedule_name(timer);
    let r = client
        .create_schedule()
        .name(&name)
        .group_name(group)
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
        Err(e) => {
            Err(format!("{}: {}", e.code().unwrap_or("error"), aws_sdk_scheduler::error::DisplayErrorContext(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HandoffId, TimerKind, WorkspaceId};

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
            snapshot: None,
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
