//! Human Handoff core library.
//!
//! - [`domain`]: pure rules (settings, escalation, lifecycle), decisions returned as data.
//! - [`ports`]: what the core needs from the world (store, publisher, timers, clock, ids).
//! - [`app`]: use cases: load, decide, commit state and effects in one write, dispatch effects.
//! - [`api`]: the HTTP edge shared by the Lambda functions and the local stack.
//! - [`adapters`]: implementations of the ports.
//! - `web` (feature `web`): the agent workspace's files, served by the local stack and settings-api.

pub mod adapters;
pub mod api;
pub mod app;
pub mod domain;
pub mod ports;
#[cfg(feature = "web")]
pub mod web;
