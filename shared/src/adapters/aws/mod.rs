//! AWS adapters (feature `aws`): DynamoDB store, SQS publisher, SQS/EventBridge Scheduler timers,
//! the Lambda event edge, configuration and resource provisioning for emulators.

pub mod config;
pub mod dynamodb;
pub mod lambda;
pub mod provision;
pub mod sqs;
