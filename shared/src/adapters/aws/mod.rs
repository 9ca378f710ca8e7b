//! AWS adapters (feature `aws`): DynamoDB store, SQS publisher, SQS/EventBridge Scheduler timers,
//! the Lambda event edge, configuration and resource provisioning for emulators.

pub mod config;
pub mod dynamodb;
pub mod emf;
pub mod http;
pub mod lambda;
#[cfg(feature = "scheduler")]
pub mod provision;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "scheduler")]
pub mod timers;

/// FNV-1a: a hash that is the same in every process and release (unlike the std hasher), for
/// names and partitions derived from ids.
pub(crate) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
