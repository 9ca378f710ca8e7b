//! Helpers for the end-to-end tests.
//!
//! - [`local`]: a local stack on a free port, tokens, a JSON HTTP client (re-exported at the root).
//! - [`aws`]: the AWS emulator (moto server), resources per test, fixtures.
//! - [`contract`]: the store contract suite, run against every store adapter.

pub mod aws;
pub mod calls;
pub mod contract;
pub mod local;
pub mod write_units;

pub use local::*;
