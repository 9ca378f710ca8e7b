//! Counts the AWS calls an operation makes, with an SDK interceptor on every client: how many,
//! of which operation, and how many in sequence (the longest chain of calls each of which
//! started after the one before it had finished, which is the latency an operation pays).

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
struct Started(Instant);
impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Storable for WriteRequest {
    type Storer = StoreReplace<Self>;
}

/// One AWS call: its operation and when it ran; for a DynamoDB write, what it asked to write.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub start: Instant,
    pub end: Instant,
    pub write: Option<WriteRequest>,
}

/// A DynamoDB item.
pub type Item = std::collections::HashMap<String, AttributeValue>;

/// The items a DynamoDB write request touches (what the write-unit model of
/// [`crate::write_units`] charges), and whether it succeeded.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub actions: Vec<WriteAction>,
    /// One `TransactWriteItems` (every item charged twice).
    pub transactional: bool,
    pub succeeded: bool,
}

#[derive(Debug, Clone)]
pub struct WriteAction {
    /// The item's `pk` and `sk`.
    pub key: (String, String),
    pub kind: WriteKind,
}

#[derive(Debug, Clone)]
pub enum WriteKind {
    /// The whole new item.
    Put(Item),
    Update,
    Delete,
    /// A transaction's condition check of an item it does not write.
    Check,
}

fn key_of(item: &Item) -> (String, String) {
    let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (get("pk"), get("sk"))
}

/// The write a DynamoDB request input asks for, if it is one.
fn write_request(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Option<WriteRequest> {
    use aws_sdk_dynamodb::operation::{
        batch_write_item::BatchWriteItemInput, delete_item::DeleteItemInput, put_item::PutItemInput,
        transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
    };
    let one = |key: (String, String), kind: WriteKind| WriteRequest {
        actions: vec![WriteAction { key, kind }],
        transactional: false,
        succeeded: false,
    };
    if let Some(p) = input.downcast_ref::<PutItemInput>() {
        let item = p.item.clone().unwrap_or_default();
        return Some(one(key_of(&item), WriteKind::Put(item)));
    }
    if let Some(u) = input.downcast_ref::<UpdateItemInput>() {
        return Some(one(key_of(u.key.as_ref()?), WriteKind::Update));
    }
    if let Some(d) = input.downcast_ref::<DeleteItemInput>() {
        return Some(one(key_of(d.key.as_ref()?), WriteKind::Delete));
    }
    if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>() {
        let actions = t
            .transact_items
            .iter()
            .flatten()
            .filter_map(|i| {
                if let Some(p) = &i.put {
                    Some(WriteAction { key: key_of(&p.item), kind: WriteKind::Put(p.item.clone()) })
                } else if let Some(u) = &i.update {
                    Some(WriteAction { key: key_of(&u.key), kind: WriteKind::Update })
                } else if let Some(d) = &i.delete {
                    Some(WriteAction { key: key_of(&d.key), kind: WriteKind::Delete })
                } else {
                    i.condition_check.as_ref().map(|c| WriteAction { key: key_of(&c.key), kind: WriteKind::Check })
                }
            })
            .collect();
        return Some(WriteRequest { actions, transactional: true, succeeded: false });
    }
    if let Some(b) = input.downcast_ref::<BatchWriteItemInput>() {
        let actions = b
            .request_items
            .iter()
            .flat_map(|m| m.values())
            .flatten()
            .filter_map(|r| {
                if let Some(p) = &r.put_request {
                    Some(WriteAction { key: key_of(&p.item), kind: WriteKind::Put(p.item.clone()) })
                } else {
                    r.delete_request.as_ref().map(|d| WriteAction { key: key_of(&d.key), kind: WriteKind::Delete })
                }
            })
            .collect();
        return Some(WriteRequest { actions, transactional: false, succeeded: false });
    }
    None
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
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        if let Some(w) = write_request(context.input()) {
            cfg.interceptor_state().store_put(w);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let end = Instant::now();
        let start = cfg.load::<Started>().map(|s| s.0).unwrap_or(end);
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_else(|| "unknown".into());
        let write = cfg.load::<WriteRequest>().cloned().map(|mut w| {
            w.succeeded = matches!(context.output_or_error(), Some(Ok(_)));
            w
        });
        self.0.calls.lock().unwrap().push(Call { operation, start, end, write });
        Ok(())
    }
}
