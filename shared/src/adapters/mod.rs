//! Implementations of the ports.
//!
//! - [`embedded`]: SQLite on disk (or in memory), for the local stack and fast tests.
//! - `aws` (feature `aws`): DynamoDB, SQS and EventBridge Scheduler, and the Lambda event edge.

#[cfg(feature = "aws")]
pub mod aws;
pub mod embedded;

/// Timestamps as fixed-width RFC 3339 UTC text (microseconds), so text order is time order.
/// Both stores use it for sort keys.
pub(crate) fn sortable_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
