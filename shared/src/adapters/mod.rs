//! Implementations of the ports.
//!
//! - `embedded` (feature `embedded`): SQLite on disk (or in memory), for the local stack and fast tests.
//! - `aws` (feature `aws`): DynamoDB, SQS and EventBridge Scheduler, and the Lambda event edge.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;

/// Timestamps as fixed-width RFC 3339 UTC text (microseconds), so text order is time order.
/// Both stores use it for sort keys.
#[cfg(any(feature = "embedded", feature = "aws"))]
pub(crate) fn sortable_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
