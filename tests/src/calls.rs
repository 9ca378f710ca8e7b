//! Counts the AWS calls an operation makes, with an SDK interceptor on every client: how many,
//! of which operation, and how many in sequence (the longest chain of calls each of which
//! started after the one before it had finished, which is the latency an operation pays).

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
struct Started(Instant);
impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// One AWS call: its operation and when it ran.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub start: Instant,
    pub end: Instant,
}

/// The calls made since the last [`CallLog::take`].
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(Recorder(self.clone()))
    }

    pub fn take(&self) -> Calls {
        Calls(std::mem::take(&mut *self.calls.lock().unwrap()))
    }
}

/// A finished set of calls.
#[derive(Debug, Clone)]
pub struct Calls(pub Vec<Call>);

impl Calls {
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The operations, in the order they finished.
    pub fn operations(&self) -> Vec<&str> {
        let mut v: Vec<&Call> = self.0.iter().collect();
        v.sort_by_key(|c| c.end);
        v.into_iter().map(|c| c.operation.as_str()).collect()
    }

    /// The longest chain of calls each started after the previous one finished.
    pub fn in_sequence(&self) -> usize {
        let mut calls: Vec<&Call> = self.0.iter().collect();
        calls.sort_by_key(|c| c.end);
        let mut depth = vec![0usize; calls.len()];
        for i in 0..calls.len() {
            depth[i] = 1 + (0..i).filter(|&j| calls[j].end <= calls[i].start).map(|j| depth[j]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }
}

impl std::fmt::Display for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} calls, {} in sequence: {}", self.count(), self.in_sequence(), self.operations().join(", "))
    }
}

#[derive(Debug)]
struct Recorder(CallLog);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let end = Instant::now();
        let start = cfg.load::<Started>().map(|s| s.0).unwrap_or(end);
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_else(|| "unknown".into());
        self.0.calls.lock().unwrap().push(Call { operation, start, end });
        Ok(())
    }
}
