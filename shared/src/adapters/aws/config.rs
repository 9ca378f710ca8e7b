//! Configuration from environment variables, and the dependencies of a function built once per
//! container from it.

use super::dynamodb::DynamoStore;
use crate::app::App;
use crate::domain::{OutboundEvent, TimerMessage};
use crate::ports::{PublishError, Publisher, SystemClock, TimerError, Timers, UuidIds};
use async_trait::async_trait;
use std::sync::Arc;

pub const TABLE_NAME: &str = "HANDOFF_TABLE";
pub const OUTBOUND_QUEUE_URL: &str = "OUTBOUND_QUEUE_URL";
pub const STALL_TIMER_QUEUE_URL: &str = "STALL_TIMER_QUEUE_URL";
pub const STALL_TIMER_QUEUE_ARN: &str = "STALL_TIMER_QUEUE_ARN";
pub const RING_TIMER_QUEUE_URL: &str = "RING_TIMER_QUEUE_URL";
pub const RING_TIMER_QUEUE_ARN: &str = "RING_TIMER_QUEUE_ARN";
pub const SCHEDULE_GROUP: &str = "SCHEDULE_GROUP";
pub const SCHEDULER_ROLE_ARN: &str = "SCHEDULER_ROLE_ARN";

/// Where the timers of one kind go.
#[derive(Debug, Clone)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

/// What a function talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The table only (settings-api).
    Store,
    /// The table and the outbound queue (inbox-api, stall-notifier, voice-timeout).
    StoreAndOutbound,
    /// The table, the outbound queue and the timers (escalation-trigger).
    Everything,
}

impl Needs {
    /// The environment variables a function with these needs reads.
    pub fn variables(self) -> Vec<&'static str> {
        let mut v = vec![TABLE_NAME];
        if self != Needs::Store {
            v.push(OUTBOUND_QUEUE_URL);
        }
        if self == Needs::Everything {
            v.extend([
                STALL_TIMER_QUEUE_URL,
                STALL_TIMER_QUEUE_ARN,
                RING_TIMER_QUEUE_URL,
                RING_TIMER_QUEUE_ARN,
                SCHEDULE_GROUP,
                SCHEDULER_ROLE_ARN,
            ]);
        }
        v
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable(s): {}", .0.join(", "))]
    Missing(Vec<&'static str>),
}

/// The configuration of one function.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table: String,
    pub outbound_queue_url: Option<String>,
    pub timers: Option<TimerSettings>,
}

#[derive(Debug, Clone)]
pub struct TimerSettings {
    pub stall: QueueRef,
    pub ring: QueueRef,
    pub schedule_group: String,
    pub scheduler_role_arn: String,
}

impl AwsSettings {
    /// Reads the variables `needs` asks for; every missing (or empty) one is named.
    pub fn from_lookup(needs: Needs, get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let missing: Vec<&'static str> =
            needs.variables().into_iter().filter(|v| get(v).map(|s| s.trim().is_empty()).unwrap_or(true)).collect();
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let var = |k: &str| get(k).unwrap_or_default();
        Ok(Self {
            table: var(TABLE_NAME),
            outbound_queue_url: (needs != Needs::Store).then(|| var(OUTBOUND_QUEUE_URL)),
            timers: (needs == Needs::Everything).then(|| TimerSettings {
                stall: QueueRef { url: var(STALL_TIMER_QUEUE_URL), arn: var(STALL_TIMER_QUEUE_ARN) },
                ring: QueueRef { url: var(RING_TIMER_QUEUE_URL), arn: var(RING_TIMER_QUEUE_ARN) },
                schedule_group: var(SCHEDULE_GROUP),
                scheduler_role_arn: var(SCHEDULER_ROLE_ARN),
            }),
        })
    }

    pub fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        Self::from_lookup(needs, |k| std::env::var(k).ok())
    }
}

/// Stands in for a port a function does not use: calling it is a wiring mistake, reported as an
/// error (the effect stays pending for a function that can send it).
pub struct NotConfigured(pub &'static str);

#[async_trait]
impl Publisher for NotConfigured {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        Err(PublishError {
            event_id: events.first().map(|e| e.event_id.clone()).unwrap_or_default(),
            reason: format!("{} does not publish outbound events", self.0),
        })
    }
}

#[async_trait]
impl Timers for NotConfigured {
    async fn set(&self, timer: &TimerMessage) -> Result<(), TimerError> {
        Err(TimerError { timer_id: timer.timer_id.clone(), reason: format!("{} does not set timers", self.0) })
    }
}

/// The AWS SDK configuration of a function: region and credentials from the environment variables
/// Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// `AWS_ENDPOINT_URL` points every client at an emulator when set. Only the environment is read:
/// no profile files, no instance metadata, no STS or SSO clients, so a start does no I/O and the
/// binary carries none of that code. (Tools that may run with a profile use [`loader`].)
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
    use aws_config::meta::region::ProvideRegion;
    let region = EnvironmentVariableRegionProvider::new().region().await;
    let mut b = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(super::http::https_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .region(region);
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.trim().is_empty()) {
        b = b.endpoint_url(url);
    }
    b.build()
}

/// The SDK configuration loader with the project's HTTPS client (see [`super::http`]).
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(super::http::https_client())
}

/// Builds the use cases' dependencies once per container.
pub fn build_app(sdk: &aws_config::SdkConfig, settings: &AwsSettings, function: &'static str) -> App {
    build_app_with(sdk, settings, function, None)
}

/// [`build_app`], with an interceptor on every client (tests and benchmarks count AWS calls with it).
/// A function built without the `sqs` (or `scheduler`) feature cannot publish (or set timers);
/// its configuration never asks it to.
pub fn build_app_with(
    sdk: &aws_config::SdkConfig,
    settings: &AwsSettings,
    function: &'static str,
    interceptor: Option<aws_sdk_dynamodb::config::SharedInterceptor>,
) -> App {
    let dynamo = {
        let mut b = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(i) = &interceptor {
            b.push_interceptor(i.clone());
        }
        aws_sdk_dynamodb::Client::from_conf(b.build())
    };
    let store = DynamoStore::new(dynamo, settings.table.clone());
    let clock = Arc::new(SystemClock);
    // Replaced below by the adapters this build has.
    #[allow(unused_mut)]
    let mut publisher: Arc<dyn Publisher> = Arc::new(NotConfigured(function));
    #[allow(unused_mut)]
    let mut timers: Arc<dyn Timers> = Arc::new(NotConfigured(function));
    #[cfg(feature = "sqs")]
    {
        let sqs = {
            let mut b = aws_sdk_sqs::config::Builder::from(sdk);
            if let Some(i) = &interceptor {
                b.push_interceptor(i.clone());
            }
            aws_sdk_sqs::Client::from_conf(b.build())
        };
        if let Some(url) = &settings.outbound_queue_url {
            publisher = Arc::new(super::sqs::SqsPublisher::new(sqs.clone(), url.clone()));
        }
        #[cfg(feature = "scheduler")]
        if let Some(t) = &settings.timers {
            let scheduler = {
                let mut b = aws_sdk_scheduler::config::Builder::from(sdk);
                if let Some(i) = &interceptor {
                    b.push_interceptor(i.clone());
                }
                aws_sdk_scheduler::Client::from_conf(b.build())
            };
            timers = Arc::new(super::timers::SqsSchedulerTimers {
                sqs,
                scheduler,
                stall: t.stall.clone(),
                ring: t.ring.clone(),
                schedule_group: t.schedule_group.clone(),
                scheduler_role_arn: t.scheduler_role_arn.clone(),
                clock: clock.clone(),
            });
        }
    }
    App::new(Arc::new(store), publisher, timers, clock, Arc::new(UuidIds))
        .with_metrics(Arc::new(super::emf::EmfMetrics { function }))
}

/// Reads the configuration and builds the dependencies, or stops the function at start with a
/// message naming what is missing.
pub async fn app_from_env(needs: Needs, function: &'static str) -> App {
    let settings = match AwsSettings::from_env(needs) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(function, error = %e, "cannot start");
            eprintln!("{function}: cannot start: {e}");
            std::process::exit(1);
        }
    };
    build_app(&sdk_config().await, &settings, function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_variable_is_named() {
        let e =
            AwsSettings::from_lookup(Needs::Everything, |k| (k == TABLE_NAME).then(|| "t".to_string())).unwrap_err();
        let msg = e.to_string();
        for v in Needs::Everything.variables().into_iter().skip(1) {
            assert!(msg.contains(v), "{msg}");
        }
        assert!(!msg.contains(TABLE_NAME));
        assert!(AwsSettings::from_lookup(Needs::Store, |_| Some(" ".into())).is_err());
        let s = AwsSettings::from_lookup(Needs::Store, |_| Some("x".into())).unwrap();
        assert!(s.outbound_queue_url.is_none() && s.timers.is_none());
    }
}
