//! Implementations of the ports.
//!
//! - [`embedded`]: SQLite on disk (or in memory), for the local stack and fast tests.

pub mod embedded;
