use super::handoffs::{Applied, Round};
use super::{App, AppError};
use crate::domain::{Command, Handoff, TimerKind, TimerMessage};
use tracing::info;

/// What a timer callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerResult {
    /// The handoff changed (stall message sent, or the ring timeout applied).
    Acted,
    /// The handoff had moved on (or is gone): nothing to do.
    Ignored,
}

impl App {
    /// A stall or ring timer fired. Checks the current state before acting; acts at most once
    /// however often the timer is delivered.
    pub async fn on_timer(&self, timer: &TimerMessage) -> Result<TimerResult, AppError> {
        let cmd = match timer.kind {
            TimerKind::Stall => Command::StallTimerFired { set_at_version: timer.set_at_version },
            TimerKind::Ring => Command::RingTimerFired { set_at_version: timer.set_at_version },
        };
        let applied = match timer.snapshot.as_deref() {
            // The timer carries the handoff as it was when the timer was set. Timers act only on
            // that very version, and the commit is conditional on it: if the handoff moved on, the
            // write fails and there is nothing to do, with no read at all.
            Some(h)
                if h.version == timer.set_at_version
                    && h.handoff_id == timer.handoff_id
                    && h.workspace_id == timer.workspace_id =>
            {
                self.on_timer_snapshot(timer, h.clone(), &cmd).await
            }
            _ => self.transition(&timer.workspace_id, &timer.handoff_id, &cmd).await,
        };
        match applied {
            Ok(Applied::Changed(h, _)) => {
                let late_ms = (h.updated_at - timer.due_at).num_milliseconds();
                info!(timer_id = %timer.timer_id, handoff_id = %timer.handoff_id, late_ms, "timer acted");
                Ok(TimerResult::Acted)
            }
            // Timers are never trusted to be cancelled: one that finds the handoff moved on (or
            // gone) does nothing.
            Ok(Applied::Unchanged(_) | Applied::Repeated(..)) | Err(AppError::HandoffNotFound) => {
                info!(timer_id = %timer.timer_id, handoff_id = %timer.handoff_id, "timer found the handoff moved on; nothing to do");
                Ok(TimerResult::Ignored)
            }
            Err(e) => Err(e),
        }
    }
}

impl App {
    /// Decides a timer on the handoff it carries; when the write finds the handoff changed, on
    /// the stored handoff the failed write returned (read only if it returned none).
    async fn on_timer_snapshot(
        &self,
        timer: &TimerMessage,
        snapshot: Handoff,
        cmd: &Command,
    ) -> Result<Applied, AppError> {
        let mut h = snapshot;
        for _ in 0..3 {
            match self.decide_and_commit(h, cmd).await? {
                Round::Done(a) => return Ok(a),
                Round::Conflict(Some(current)) => h = *current,
                Round::Conflict(None) => break,
            }
        }
        self.transition(&timer.workspace_id, &timer.handoff_id, cmd).await
    }
}

/// Why a timer message was not processed.
#[derive(Debug, thiserror::Error)]
pub enum TimerMessageError {
    /// The message can never succeed (bad JSON, or a timer of another kind); retrying will not help.
    #[error("malformed timer message: {0}")]
    Malformed(String),
    #[error(transparent)]
    App(#[from] AppError),
}

/// Reads the body of a timer message, which must be a timer of kind `expected`.
pub fn parse_timer_message(body: &str, expected: TimerKind) -> Result<TimerMessage, TimerMessageError> {
    let t: TimerMessage = serde_json::from_str(body).map_err(|e| TimerMessageError::Malformed(e.to_string()))?;
    check_kind(&t, expected)?;
    Ok(t)
}

fn check_kind(t: &TimerMessage, expected: TimerKind) -> Result<(), TimerMessageError> {
    if t.kind != expected {
        return Err(TimerMessageError::Malformed(format!(
            "a {} timer was sent to the {} timer handler",
            t.kind.as_str(),
            expected.as_str()
        )));
    }
    Ok(())
}

impl App {
    /// Handles a fired timer that must be of kind `expected` (each callback function owns one kind).
    pub async fn on_timer_of_kind(
        &self,
        expected: TimerKind,
        timer: &TimerMessage,
    ) -> Result<TimerResult, TimerMessageError> {
        check_kind(timer, expected)?;
        Ok(self.on_timer(timer).await?)
    }
}
