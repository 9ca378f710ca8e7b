//! Use cases: load, decide (pure domain), commit the new state and its effects in one
//! conditional write, then carry out the effects.

mod dispatch;
mod escalation;
mod handoffs;
mod settings;
mod timers;

#[cfg(test)]
mod tests;

pub use escalation::EscalationResult;
pub use timers::{parse_timer_message, TimerMessageError, TimerResult};

use crate::domain::{Action, FieldError, SettingsDoc, State};
use crate::ports::{Clock, IdGenerator, Publisher, Store, StoreError, Timers};
use std::sync::Arc;

/// The dependencies of every use case, built once per process (or Lambda container).
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub publisher: Arc<dyn Publisher>,
    pub timers: Arc<dyn Timers>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// Why a use case did not do what was asked. Mapped once, at the edge, to an HTTP status or an
/// SQS batch item failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("handoff not found")]
    HandoffNotFound,
    #[error("the settings changed since version {expected}")]
    SettingsVersionConflict { expected: u64, current: Box<SettingsDoc> },
    #[error("cannot {action} a handoff that is {state}")]
    IllegalTransition { state: State, action: Action },
    #[error("the handoff is assigned to someone else")]
    AssignedToSomeoneElse,
    #[error("the handoff changed while this request ran; reload and retry")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        timers: Arc<dyn Timers>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { store, publisher, timers, clock, ids }
    }
}
