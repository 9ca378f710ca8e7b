//! The pure domain: no I/O, no AWS types. Every product rule lives here.

pub mod escalation;
pub mod handoff;
pub mod ids;
#[macro_use]
mod names;
pub mod outbox;
pub mod roles;
pub mod settings;
pub mod transcript;
pub mod validation;

#[cfg(test)]
mod tests;

pub use escalation::*;
pub use handoff::*;
pub use ids::*;
pub use outbox::*;
pub use roles::{may, Operation, Role};
pub use settings::*;
pub use transcript::*;
pub use validation::FieldError;
