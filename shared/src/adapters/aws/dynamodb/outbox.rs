//! The outbox: decisions with effects not yet handed over (the pending-effects index), and the
//! acknowledgements that mark them sent and move their handoff's `sent_seq` on.

use super::items::{DecisionItem, Item};
use super::keys::{decision_sk, handoff_pk, owner_pk, INDEX_PENDING_EFFECTS, SENT_SK};
use super::transact::{cancelled, from_attrs, n, s, sdk_error, to_attrs_value, unavailable};
use super::DynamoStore;
use crate::adapters::sortable_time as ts;
use crate::domain::{DecisionRecord, Settlement};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use std::collections::HashMap;

/// The sweep reads the pending-effects index in this many parallel segments.
pub const PENDING_SCAN_SEGMENTS: i32 = 4;

impl DynamoStore {
    pub(super) async fn pending_decisions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        // The index holds only decisions with an effect not yet sent (moments after each decision,
        // or what an outage left), under keys of their workspaces: a parallel scan of it finds
        // them all without a key every workspace writes to. Each segment reads at most
        // `MAX_SCAN_PAGES` pages; a bigger backlog is read on by the next sweeps from where this
        // one stopped (then from the start again), so nothing at the back waits for the front to
        // drain (a handoff's later decision never leaves before an earlier one: see `dispatch`).
        const MAX_SCAN_PAGES: usize = 16;
        let before = ts(&before);
        let segments = join_all((0..PENDING_SCAN_SEGMENTS).map(|segment| {
            let before = before.clone();
            async move {
                let mut found: Vec<Item> = Vec::new();
                let mut start: Option<Item> = self.scan_resume(segment, None);
                for page in 0..MAX_SCAN_PAGES {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .index_name(INDEX_PENDING_EFFECTS)
                        .segment(segment)
                        .total_segments(PENDING_SCAN_SEGMENTS)
                        .filter_expression("gsi4sk < :before")
                        .expression_attribute_values(":before", s(before.clone()))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    found.extend(out.items.unwrap_or_default());
                    match out.last_evaluated_key {
                        Some(k) if !k.is_empty() => {
                            if page + 1 == MAX_SCAN_PAGES {
                                self.scan_resume(segment, Some(Some(k)));
                                break;
                            }
                            start = Some(k);
                        }
                        _ => {
                            self.scan_resume(segment, Some(None));
                            break;
                        }
                    }
                }
                Ok::<_, StoreError>(found)
            }
        }))
        .await;
        let mut out: Vec<(String, DecisionRecord)> = Vec::new();
        for items in segments {
            for it in items? {
                let d: DecisionItem = from_attrs(it)?;
                out.push((d.gsi4sk.clone().unwrap_or_default(), d.decision));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().take(limit).map(|(_, d)| d).collect())
    }

    /// Where the sweep's scan of `segment` goes on from (none: the start); with `set`, records it.
    fn scan_resume(&self, segment: i32, set: Option<Option<Item>>) -> Option<Item> {
        let mut at = self.scan_at.lock().unwrap_or_else(|p| p.into_inner());
        match set {
            Some(next) => {
                match next {
                    Some(k) => at.insert(segment, k),
                    None => at.remove(&segment),
                };
                None
            }
            None => at.get(&segment).cloned(),
        }
    }

    pub(super) async fn mark_sent(
        &self,
        decision: &DecisionRecord,
        sent: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Every outbound event of a handoff's decision now out: the handoff's `sent_seq` moves on
        // in the same write (never backwards).
        let Settlement { to_mark, settled, sent_seq } = decision.settle(sent);
        if to_mark.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> =
            (0..to_mark.len()).map(|i| format!("sent.#e{i} = if_not_exists(sent.#e{i}, :at)")).collect();
        let mut expr = format!("SET {}", sets.join(", "));
        if settled {
            expr.push_str(" REMOVE gsi4pk, gsi4sk");
        }
        let mut names = HashMap::new();
        for (i, id) in to_mark.iter().enumerate() {
            names.insert(format!("#e{i}"), id.to_string());
        }
        let key = |pk: String, sk: String| HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))]);
        let mark = DecisionMark {
            key: key(owner_pk(&decision.workspace_id, &decision.owner), decision_sk(decision.version)),
            expr,
            names,
            values: HashMap::from([(":at".to_string(), to_attrs_value(&at)?)]),
        };
        let Some((handoff_id, last)) = sent_seq else { return mark.send(self).await };
        let mark_item = mark.transact_item(&self.table)?;
        let seq = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(handoff_pk(&decision.workspace_id, &handoff_id), SENT_SK.into())))
            .update_expression("SET sent_seq = :seq")
            .condition_expression("attribute_not_exists(sent_seq) OR sent_seq < :seq")
            .expression_attribute_values(":seq", n(last))
            .build()
            .map_err(unavailable)?;
        let items = vec![mark_item, TransactWriteItem::builder().update(seq).build()];
        // A commit of the same handoff in flight (its check of the sent item) cancels this with
        // `TransactionConflict`; it is tried again, since a lost acknowledgement would hold the
        // handoff's next events back until the sweep.
        let Err(e) = self.transact_through_conflicts(items).await else { return Ok(()) };
        match cancelled(&e) {
            // The decision is gone, or the handoff is already past this seq: mark what is left
            // to mark.
            Some(reasons) if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) => {
                mark.send(self).await
            }
            Some(reasons) if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) => {
                Err(StoreError::Unavailable("the acknowledgement kept conflicting with other writes".into()))
            }
            _ => Err(sdk_error(e)),
        }
    }
}

/// The update of a decision that marks some of its effects sent (and, once all are, takes it out
/// of the pending index): the same update as a request of its own or as a transaction's item.
struct DecisionMark {
    key: Item,
    expr: String,
    names: HashMap<String, String>,
    values: Item,
}

impl DecisionMark {
    /// Only if the decision is stored.
    const CONDITION: &'static str = "attribute_exists(pk)";

    /// The update as a request of its own.
    async fn send(&self, store: &DynamoStore) -> Result<(), StoreError> {
        let request = store
            .client
            .update_item()
            .table_name(&store.table)
            .set_key(Some(self.key.clone()))
            .update_expression(&self.expr)
            .condition_expression(Self::CONDITION)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()));
        match request.send().await {
            Ok(_) => Ok(()),
            // Nothing recorded under this decision: nothing to mark.
            Err(e) if e.as_service_error().map(|s| s.is_conditional_check_failed_exception()).unwrap_or(false) => {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The update as an item of a transaction.
    fn transact_item(&self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(self.key.clone()))
            .update_expression(&self.expr)
            .condition_expression(Self::CONDITION)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()))
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
