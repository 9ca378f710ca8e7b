//! The DynamoDB [`Store`]: one table, items mapped with `serde_dynamo`, every conditional write a
//! condition expression, every state change and its effects one `TransactWriteItems`.
//! The key design is documented in docs/ARCHITECTURE.md ("DynamoDB key design").

use crate::adapters::sortable_time as ts;
use crate::domain::{
    ConversationId, Effect, EscalationRecord, EventId, Handoff, HandoffId, SettingsDoc, State, WorkspaceId,
};
use crate::ports::{InboxPage, InboxQuery, PendingEffect, StatusFilter, Store, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use std::collections::HashMap;

/// Names of the table's secondary indexes (the template declares the same).
pub const INDEX_BY_STATE: &str = "by_state";
pub const INDEX_ACTIVE: &str = "active";
pub const INDEX_BY_ASSIGNEE: &str = "by_assignee";
pub const INDEX_PENDING_EFFECTS: &str = "pending_effects";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";
/// Pending effects are spread over this many index partitions.
pub const PENDING_SHARDS: u32 = 8;
/// How long a dispatched effect is kept (for audit) before its TTL removes it.
pub const DISPATCHED_EFFECT_RETENTION_DAYS: i64 = 7;

type Item = HashMap<String, AttributeValue>;

fn ws_pk(ws: &WorkspaceId) -> String {
    format!("WS#{ws}")
}
fn handoff_sk(id: &HandoffId) -> String {
    format!("HANDOFF#{id}")
}
fn conversation_sk(c: &ConversationId) -> String {
    format!("CONV#{c}")
}
fn event_sk(e: &EventId) -> String {
    format!("EVENT#{e}")
}
fn effect_pk(id: &str) -> String {
    format!("EFFECT#{id}")
}
fn order_key(created_at: &DateTime<Utc>, id: &HandoffId) -> String {
    format!("{}#{id}", ts(created_at))
}
fn by_state_pk(ws: &WorkspaceId, s: State) -> String {
    format!("WS#{ws}#STATE#{s}")
}
fn active_pk(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#ACTIVE")
}
fn assignee_pk(ws: &WorkspaceId, u: &str) -> String {
    format!("WS#{ws}#ASSIGNEE#{u}")
}
fn shard_of(effect_id: &str) -> u32 {
    (super::stable_hash(effect_id) % PENDING_SHARDS as u64) as u32
}

#[derive(Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    doc: SettingsDoc,
}

#[derive(Serialize, Deserialize)]
struct HandoffItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    #[serde(flatten)]
    handoff: Handoff,
}

impl HandoffItem {
    fn new(h: &Handoff) -> Self {
        let order = order_key(&h.created_at, &h.handoff_id);
        let active = h.state.is_active();
        Self {
            pk: ws_pk(&h.workspace_id),
            sk: handoff_sk(&h.handoff_id),
            gsi1pk: by_state_pk(&h.workspace_id, h.state),
            gsi1sk: order.clone(),
            gsi2pk: active.then(|| active_pk(&h.workspace_id)),
            gsi2sk: active.then(|| order.clone()),
            gsi3pk: h.assignee.as_ref().map(|a| assignee_pk(&h.workspace_id, a.as_str())),
            gsi3sk: h.assignee.as_ref().map(|_| order),
            handoff: h.clone(),
        }
    }
}

/// "This conversation has an active handoff": exists exactly while the handoff is active.
#[derive(Serialize, Deserialize)]
struct ConversationItem {
    pk: String,
    sk: String,
    handoff_id: HandoffId,
}

#[derive(Serialize, Deserialize)]
struct EscalationItem {
    pk: String,
    sk: String,
    expires_at_epoch: i64,
    #[serde(flatten)]
    record: EscalationRecord,
}

#[derive(Serialize, Deserialize)]
struct EffectItem {
    pk: String,
    sk: String,
    recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4sk: Option<String>,
    effect: Effect,
}

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or("unknown").to_string();
    let msg = e.message().unwrap_or_default().to_string();
    StoreError::Unavailable(format!("DynamoDB {code}: {msg} ({})", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
}
fn to_attrs<T: Serialize>(v: &T) -> Result<Item, StoreError> {
    to_item(v).map_err(|e| StoreError::Corrupt(format!("cannot map item: {e}")))
}
fn from_attrs<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|e| StoreError::Corrupt(format!("cannot read item: {e}")))
}
fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Which condition of a cancelled transaction failed.
fn cancelled_at(e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> Option<Vec<String>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
            Some(t.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect())
        }
        _ => None,
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
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

    fn put(
        &self,
        item: Item,
        condition: Option<(&str, HashMap<String, String>, Item)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut p = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expr, names, values)) = condition {
            p = p.condition_expression(expr);
            if !names.is_empty() {
                p = p.set_expression_attribute_names(Some(names));
            }
            if !values.is_empty() {
                p = p.set_expression_attribute_values(Some(values));
            }
        }
        Ok(TransactWriteItem::builder().put(p.build().map_err(unavailable)?).build())
    }

    fn effect_puts(&self, effects: &[Effect], at: &DateTime<Utc>) -> Result<Vec<TransactWriteItem>, StoreError> {
        effects
            .iter()
            .map(|e| {
                let item = EffectItem {
                    pk: effect_pk(e.id()),
                    sk: "EFFECT".into(),
                    recorded_at: *at,
                    gsi4pk: Some(format!("PENDING#{}", shard_of(e.id()))),
                    gsi4sk: Some(format!("{}#{}", ts(at), e.id())),
                    effect: e.clone(),
                };
                self.put(to_attrs(&item)?, None)
            })
            .collect()
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>> {
        self.client.transact_write_items().set_transact_items(Some(items)).send().await.map(|_| ())
    }

    async fn query_handoffs(&self, ws: &WorkspaceId, q: &InboxQuery) -> Result<InboxPage, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: Item = HashMap::new();
        let mut filters: Vec<String> = Vec::new();
        let (index, pk_attr, sk_attr, pk_value) = match (&q.assignee, q.status) {
            (Some(a), status) => {
                names.insert("#state".into(), "state".into());
                match status {
                    StatusFilter::Active => {
                        filters.push("#state IN (:w, :r, :a)".into());
                        values.insert(":w".into(), s("waiting"));
                        values.insert(":r".into(), s("ringing"));
                        values.insert(":a".into(), s("assigned"));
                    }
                    StatusFilter::One(st) => {
                        filters.push("#state = :st".into());
                        values.insert(":st".into(), s(st.as_str()));
                    }
                }
                (INDEX_BY_ASSIGNEE, "gsi3pk", "gsi3sk", assignee_pk(ws, a.as_str()))
            }
            (None, StatusFilter::Active) => (INDEX_ACTIVE, "gsi2pk", "gsi2sk", active_pk(ws)),
            (None, StatusFilter::One(st)) => (INDEX_BY_STATE, "gsi1pk", "gsi1sk", by_state_pk(ws, st)),
        };
        if let Some(c) = q.channel {
            names.insert("#channel".into(), "channel".into());
            values.insert(":channel".into(), s(c.as_str()));
            filters.push("#channel = :channel".into());
        }
        if let Some(r) = q.reason {
            names.insert("#reason".into(), "reason".into());
            values.insert(":reason".into(), s(r.as_str()));
            filters.push("#reason = :reason".into());
        }
        values.insert(":pk".into(), s(pk_value.clone()));
        let key_condition = format!("{pk_attr} = :pk");
        let mut start: Option<Item> = q.after.as_ref().map(|c| {
            HashMap::from([
                ("pk".to_string(), s(ws_pk(ws))),
                ("sk".to_string(), s(handoff_sk(&c.handoff_id))),
                (pk_attr.to_string(), s(pk_value.clone())),
                (sk_attr.to_string(), s(order_key(&c.created_at, &c.handoff_id))),
            ])
        });
        let want = q.limit + 1;
        let mut items: Vec<Handoff> = Vec::new();
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(true)
                .limit(((want - items.len()).max(10)) as i32)
                .set_exclusive_start_key(start.take());
            if !names.is_empty() {
                req = req.set_expression_attribute_names(Some(names.clone()));
            }
            if !filters.is_empty() {
                req = req.filter_expression(filters.join(" AND "));
            }
            let out = req.send().await.map_err(sdk_error)?;
            for it in out.items.unwrap_or_default() {
                let h: HandoffItem = from_attrs(it)?;
                items.push(h.handoff);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < want => start = Some(k),
                _ => break,
            }
        }
        Ok(InboxPage::from_overfetch(items, q.limit))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        match self.get(ws_pk(ws), "SETTINGS".into()).await? {
            Some(item) => Ok(Some(from_attrs::<SettingsItem>(item)?.doc)),
            None => Ok(None),
        }
    }

    async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        let item = to_attrs(&SettingsItem { pk: ws_pk(&doc.workspace_id), sk: "SETTINGS".into(), doc: doc.clone() })?;
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(item));
        req = if expected_version == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected_version))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().map(|s| s.is_conditional_check_failed_exception()).unwrap_or(false) => {
                Err(StoreError::VersionConflict)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn get_escalation(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<EscalationRecord>, StoreError> {
        match self.get(ws_pk(ws), event_sk(event_id)).await? {
            Some(item) => Ok(Some(from_attrs::<EscalationItem>(item)?.record)),
            None => Ok(None),
        }
    }

    async fn create_escalation(
        &self,
        record: &EscalationRecord,
        handoff: Option<&Handoff>,
        effects: &[Effect],
    ) -> Result<(), StoreError> {
        let pk = ws_pk(&record.workspace_id);
        let rec_item = EscalationItem {
            pk: pk.clone(),
            sk: event_sk(&record.event_id),
            expires_at_epoch: record.expires_at.timestamp(),
            record: record.clone(),
        };
        // New, or an expired record DynamoDB's TTL has not removed yet.
        let mut items = vec![self.put(
            to_attrs(&rec_item)?,
            Some((
                "attribute_not_exists(pk) OR #ttl < :now",
                HashMap::from([("#ttl".to_string(), TTL_ATTRIBUTE.to_string())]),
                HashMap::from([(":now".to_string(), n(record.created_at.timestamp()))]),
            )),
        )?];
        let mut busy_at = None;
        if let Some(h) = handoff {
            items.push(self.put(
                to_attrs(&HandoffItem::new(h))?,
                Some(("attribute_not_exists(pk)", HashMap::new(), HashMap::new())),
            )?);
            if h.state.is_active() {
                busy_at = Some(items.len());
                let lock = ConversationItem {
                    pk: pk.clone(),
                    sk: conversation_sk(&h.conversation_id),
                    handoff_id: h.handoff_id.clone(),
                };
                items.push(
                    self.put(to_attrs(&lock)?, Some(("attribute_not_exists(pk)", HashMap::new(), HashMap::new())))?,
                );
            }
        }
        items.extend(self.effect_puts(effects, &record.created_at)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) => match cancelled_at(&e) {
                Some(reasons) => {
                    if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") {
                        Err(StoreError::DuplicateEvent)
                    } else if busy_at.and_then(|i| reasons.get(i)).map(String::as_str) == Some("ConditionalCheckFailed")
                        || reasons.iter().any(|r| r == "TransactionConflict")
                    {
                        // Another escalation of this conversation won (or is winning): re-read.
                        Err(StoreError::ConversationBusy)
                    } else {
                        Err(StoreError::Unavailable(format!("transaction cancelled: {reasons:?}")))
                    }
                }
                None => Err(sdk_error(e)),
            },
        }
    }

    async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        match self.get(ws_pk(ws), handoff_sk(id)).await? {
            Some(item) => Ok(Some(from_attrs::<HandoffItem>(item)?.handoff)),
            None => Ok(None),
        }
    }

    async fn find_active_handoff(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<Handoff>, StoreError> {
        let Some(lock) = self.get(ws_pk(ws), conversation_sk(conversation)).await? else {
            return Ok(None);
        };
        let lock: ConversationItem = from_attrs(lock)?;
        Ok(self.get_handoff(ws, &lock.handoff_id).await?.filter(|h| h.state.is_active()))
    }

    async fn commit_transition(
        &self,
        handoff: &Handoff,
        expected_version: u64,
        effects: &[Effect],
    ) -> Result<(), StoreError> {
        let mut items = vec![self.put(
            to_attrs(&HandoffItem::new(handoff))?,
            Some((
                "#version = :expected",
                HashMap::from([("#version".to_string(), "version".to_string())]),
                HashMap::from([(":expected".to_string(), n(expected_version))]),
            )),
        )?];
        if !handoff.state.is_active() {
            // The conversation is free again once its handoff is over.
            let del = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(ws_pk(&handoff.workspace_id)))
                .key("sk", s(conversation_sk(&handoff.conversation_id)))
                .condition_expression("attribute_not_exists(pk) OR handoff_id = :id")
                .expression_attribute_values(":id", s(handoff.handoff_id.as_str()))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        items.extend(self.effect_puts(effects, &handoff.updated_at)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) => match cancelled_at(&e) {
                Some(reasons)
                    if reasons.iter().any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict") =>
                {
                    Err(StoreError::VersionConflict)
                }
                Some(reasons) => Err(StoreError::Unavailable(format!("transaction cancelled: {reasons:?}"))),
                None => Err(sdk_error(e)),
            },
        }
    }

    async fn list_inbox(&self, ws: &WorkspaceId, query: &InboxQuery) -> Result<InboxPage, StoreError> {
        self.query_handoffs(ws, query).await
    }

    async fn pending_effects(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<PendingEffect>, StoreError> {
        let mut out: Vec<(String, PendingEffect)> = Vec::new();
        for shard in 0..PENDING_SHARDS {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_PENDING_EFFECTS)
                .key_condition_expression("gsi4pk = :p AND gsi4sk < :before")
                .expression_attribute_values(":p", s(format!("PENDING#{shard}")))
                .expression_attribute_values(":before", s(ts(&before)))
                .limit(limit as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            for it in resp.items.unwrap_or_default() {
                let e: EffectItem = from_attrs(it)?;
                out.push((
                    e.gsi4sk.clone().unwrap_or_default(),
                    PendingEffect { effect: e.effect, recorded_at: e.recorded_at },
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().take(limit).map(|(_, p)| p).collect())
    }

    async fn mark_dispatched(&self, effect_id: &str) -> Result<(), StoreError> {
        let expires = (Utc::now() + Duration::days(DISPATCHED_EFFECT_RETENTION_DAYS)).timestamp();
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(effect_pk(effect_id)))
            .key("sk", s("EFFECT"))
            .update_expression("REMOVE gsi4pk, gsi4sk SET dispatched = :t, #ttl = :ttl")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":ttl", n(expires))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // Nothing recorded under this id (already expired): nothing to mark.
            Err(e) if e.as_service_error().map(|s| s.is_conditional_check_failed_exception()).unwrap_or(false) => {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("hnd_1:v1:0"), shard_of("hnd_1:v1:0"));
        let used: std::collections::HashSet<u32> = (0..200).map(|i| shard_of(&format!("hnd_{i}:v1:0"))).collect();
        assert_eq!(used.len(), PENDING_SHARDS as usize);
    }
}
