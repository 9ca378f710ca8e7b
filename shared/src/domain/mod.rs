//! The pure domain: no I/O, no AWS types. Every product rule lives here.

pub mod escalation;
pub mod handoff;
pub mod hours;
pub mod ids;
pub mod metrics;
#[macro_use]
mod names;
pub mod outbox;
pub mod roles;
pub mod settings;
pub mod teams;
pub mod transcript;
pub mod validation;

#[cfg(test)]
mod tests;

pub use escalation::*;
pub use handoff::*;
pub use hours::{AfterHoursChat, BusinessHours};
pub use ids::*;
pub use metrics::{Dimension, GroupFigures, MetricsDelta, MetricsQuery, MetricsRow};
pub use outbox::*;
pub use roles::{may, Operation, Role};
pub use settings::*;
pub use teams::{RoutingRule, RuleWhen, Team, Teams, TeamsDoc, TeamsUpdate};
pub use transcript::*;
pub use validation::FieldError;
