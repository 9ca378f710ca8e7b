//! Writing and reading items: conditions, the transaction builders, the transactions with their
//! typed failures, retries through write conflicts, attribute mapping and the plain queries.

use super::items::Item;
use super::DynamoStore;
use crate::ports::StoreError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How a `TransactWriteItems` request fails.
pub(super) type TransactError = SdkError<TransactWriteItemsError, HttpResponse>;

pub(super) fn unavailable<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
pub(super) fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or("unknown").to_string();
    let msg = e.message().unwrap_or_default().to_string();
    StoreError::Unavailable(format!("DynamoDB {code}: {msg} ({})", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
}
pub(super) fn to_attrs<T: Serialize>(v: &T) -> Result<Item, StoreError> {
    to_item(v).map_err(|e| StoreError::Corrupt(format!("cannot map item: {e}")))
}
pub(super) fn from_attrs<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|e| StoreError::Corrupt(format!("cannot read item: {e}")))
}
pub(super) fn to_attrs_value<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot map value: {e}")))
}
pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn is_condition_failed(r: Option<&CancellationReason>) -> bool {
    r.and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

/// The cancellation reasons of a cancelled transaction, one per item, in order.
pub(super) fn cancelled(e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> Option<&[CancellationReason]> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => Some(t.cancellation_reasons()),
        _ => None,
    }
}

/// A condition on a write: the expression, and its names and values.
pub(super) struct Cond {
    expr: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
    /// Return the item as it was when this condition fails.
    return_old: bool,
}

impl Cond {
    pub(super) fn new(expr: &'static str) -> Self {
        Self { expr, names: vec![], values: vec![], return_old: false }
    }
    pub(super) fn name(mut self, k: &'static str, v: &'static str) -> Self {
        self.names.push((k, v));
        self
    }
    pub(super) fn value(mut self, k: &'static str, v: AttributeValue) -> Self {
        self.values.push((k, v));
        self
    }
    pub(super) fn returning_old(mut self) -> Self {
        self.return_old = true;
        self
    }
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }
}

pub(super) const NEW: &str = "attribute_not_exists(pk)";

/// What one try of an operation that may be tried again came to (see [`retry`]).
pub(super) enum Attempt<T, E> {
    /// Finished: the answer.
    Done(T),
    /// Lost a race that says nothing of the request itself (another write in between): worth
    /// another try. The error is the answer when no try is left.
    Again(E),
}

/// Runs `attempt` up to `tries` times in all while it comes back [`Attempt::Again`], waiting
/// `backoff` times the number of tries so far before the next one (no wait when `backoff` is
/// zero). An error ends it at once; so does the last `Again`, with its error.
pub(super) async fn retry<T, E, F, Fut>(tries: u32, backoff: Duration, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T, E>, E>>,
{
    let mut tried = 0;
    loop {
        let again = match attempt().await? {
            Attempt::Done(v) => return Ok(v),
            Attempt::Again(e) => e,
        };
        tried += 1;
        if tried >= tries {
            return Err(again);
        }
        if !backoff.is_zero() {
            tokio::time::sleep(backoff * tried).await;
        }
    }
}

impl DynamoStore {
    pub(super) async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    pub(super) fn put(&self, item: Item, cond: Option<Cond>) -> Result<TransactWriteItem, StoreError> {
        let mut p = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = cond {
            p = p
                .condition_expression(c.expr)
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values());
            if c.return_old {
                p = p.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            }
        }
        Ok(TransactWriteItem::builder().put(p.build().map_err(unavailable)?).build())
    }

    /// "The document at this key is still at `version`" (0: there is none). When it fails, the
    /// stored copy comes back (none: the copy is missing, see [`DynamoStore::fill_copy`]).
    pub(super) fn version_check(
        &self,
        (pk, sk): (String, String),
        version: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut c = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        c = if version == 0 {
            c.condition_expression(NEW)
        } else {
            c.condition_expression("#version = :v")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":v", n(version))
        };
        Ok(TransactWriteItem::builder().condition_check(c.build().map_err(unavailable)?).build())
    }

    /// An update adding `pairs` (attribute name, amount) to the item `pk`/`sk`.
    pub(super) fn add_to(
        &self,
        pk: String,
        sk: String,
        pairs: &[(&str, i64)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut u = Update::builder().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk));
        let mut adds = Vec::new();
        for (i, (name, v)) in pairs.iter().enumerate() {
            adds.push(format!("#c{i} :v{i}"));
            u = u
                .expression_attribute_names(format!("#c{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), n(v));
        }
        let u = u.update_expression(format!("ADD {}", adds.join(", "))).build().map_err(unavailable)?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// Every item of `pk` whose sort key is between `from` and `to`, following pages.
    pub(super) async fn query_all(&self, pk: String, from: String, to: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":from", s(from.clone()))
                .expression_attribute_values(":to", s(to.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The items of `pk` with sort keys from `from` to `to` (consistent), up to `limit`; and
    /// whether more may follow.
    pub(super) async fn query_between(
        &self,
        pk: String,
        from: &str,
        to: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .set_limit(limit.map(|l| l as i32))
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key.is_some()))
    }

    /// Deletes items (best effort: what is left is never read), up to 100 per transaction.
    pub(super) async fn delete_all(&self, keys: Vec<(String, String)>) {
        for chunk in keys.chunks(100) {
            let deletes: Result<Vec<TransactWriteItem>, _> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let d = Delete::builder().table_name(&self.table).key("pk", s(pk.clone())).key("sk", s(sk.clone()));
                    d.build().map(|d| TransactWriteItem::builder().delete(d).build())
                })
                .collect();
            let result = match deletes {
                Ok(items) => self.transact(items).await.map_err(sdk_error),
                Err(e) => Err(unavailable(e)),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not delete outdated items; they are never read");
            }
        }
    }

    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        self.client.transact_write_items().set_transact_items(Some(items)).send().await.map(|_| ())
    }

    /// [`DynamoStore::transact`], tried again (four times in all, waiting 20 ms more each time)
    /// while it is cancelled only by `TransactionConflict`: another write to one of its items was
    /// in flight, which says nothing of its conditions. Any other failure, or the fourth
    /// conflict, is returned.
    pub(super) async fn transact_through_conflicts(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        let items = &items;
        retry(4, Duration::from_millis(20), move || async move {
            let Err(e) = self.transact(items.clone()).await else { return Ok(Attempt::Done(())) };
            let conflict_only = cancelled(&e).is_some_and(|reasons| {
                reasons.iter().any(|r| r.code() == Some("TransactionConflict"))
                    && !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
            });
            if conflict_only {
                Ok(Attempt::Again(e))
            } else {
                Err(e)
            }
        })
        .await
    }

    /// A transaction whose conditions are "still the version read": a failed condition is a
    /// `VersionConflict`. A write racing one of these items (an escalation's check of the
    /// settings it was decided on) is not a stale version, so it is tried again.
    pub(super) async fn transact_versioned(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let Err(e) = self.transact_through_conflicts(items).await else { return Ok(()) };
        let Some(reasons) = cancelled(&e) else { return Err(sdk_error(e)) };
        if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
            return Err(StoreError::VersionConflict);
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return Err(StoreError::Unavailable("the save kept conflicting with other writes; retry".into()));
        }
        let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
        Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")))
    }
}
