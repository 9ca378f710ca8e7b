//! Handoffs and what is written with them: an escalation (its record, the handoff, the
//! conversation lock, its decision and transcript), each transition, the change keys, the
//! timeline (decisions) and the transcript.

use super::items::{
    handoff_of, sk_of, ChangeKeyItem, ConversationItem, DecisionItem, EscalationItem, HandoffItem, Item, LineItem,
};
use super::keys::{
    change_key_sk, conversation_pk, decision_sk, event_pk, handoff_pk, line_position, line_sk, settings_copy,
    settings_key, teams_key, HANDOFF_SK, LAST_DECISION_SK, SENT_SK, TTL_ATTRIBUTE,
};
use super::transact::{cancelled, from_attrs, is_condition_failed, n, s, sdk_error, to_attrs, unavailable, Cond, NEW};
use super::DynamoStore;
use crate::domain::{
    change_key_message_id, ConversationId, DecisionRecord, EventId, Handoff, HandoffId, LinePosition, TranscriptLine,
    WorkspaceId,
};
use crate::ports::{
    CommitError, EscalationWrite, EscalationWriteError, HandoffView, StoreError, TranscriptPage, Transition,
};
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use futures::future::join_all;
use std::collections::HashMap;

impl DynamoStore {
    /// A handoff and its sent item: one consistent `Query` of the two keys.
    pub(super) async fn read_handoff(&self, pk: String) -> Result<Option<Handoff>, StoreError> {
        let (items, _) = self.query_between(pk, HANDOFF_SK, SENT_SK, None).await?;
        let (mut handoff, mut sent) = (None, None);
        for item in items {
            match sk_of(&item) {
                Some(HANDOFF_SK) => handoff = Some(item),
                Some(SENT_SK) => sent = Some(item),
                _ => {}
            }
        }
        handoff.map(|h| handoff_of(h, sent)).transpose()
    }

    /// Handoffs by their partition keys, read side by side (consistent reads), by key.
    pub(super) async fn get_handoffs(&self, pks: &[String]) -> Result<HashMap<String, Handoff>, StoreError> {
        let reads = join_all(pks.iter().map(|pk| self.read_handoff(pk.clone()))).await;
        let mut found = HashMap::new();
        for (pk, h) in pks.iter().zip(reads) {
            if let Some(h) = h? {
                found.insert(pk.clone(), h);
            }
        }
        Ok(found)
    }

    /// Items of `pk` from `from_sk` (inclusive) to its last decision, in order: the handoff item
    /// (`#HANDOFF`) and the decisions after it, never its transcript lines or change keys.
    async fn query_decisions(&self, pk: String, from_sk: &str, limit: usize) -> Result<(Vec<Item>, bool), StoreError> {
        self.query_between(pk, from_sk, LAST_DECISION_SK, Some(limit)).await
    }

    /// Puts of a change's transcript lines, at positions (`h.version`, 0..).
    fn line_puts(&self, h: &Handoff, lines: &[TranscriptLine]) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = handoff_pk(&h.workspace_id, &h.handoff_id);
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let sk = line_sk(LinePosition { version: h.version, index: i as u32 });
                let item = LineItem { pk: pk.clone(), sk, line: line.clone() };
                self.put(to_attrs(&item)?, Some(Cond::new(NEW)))
            })
            .collect()
    }

    pub(super) async fn create_escalation(&self, w: EscalationWrite<'_>) -> Result<(), EscalationWriteError> {
        let record = w.record;
        let ws = &record.workspace_id;
        let rec_item = EscalationItem {
            pk: event_pk(ws, &record.event_id),
            sk: "EVENT".into(),
            expires_at_epoch: record.expires_at.timestamp(),
            record: record.clone(),
        };
        // New, or an expired record DynamoDB's TTL has not removed yet. On failure the stored
        // record comes back with the error, so a replay needs no read of its own.
        let rec_cond = Cond::new("attribute_not_exists(pk) OR #ttl < :now")
            .name("#ttl", TTL_ATTRIBUTE)
            .value(":now", n(record.created_at.timestamp()))
            .returning_old();
        let mut items = vec![self.put(to_attrs(&rec_item)?, Some(rec_cond))?];
        // Known to this process in the usual case (read with the settings the escalation was
        // decided on); a stale count only spreads less (layout.rs).
        let shards = self.layout(ws, false).await?.for_write(self.clock.now());
        let mut lock_at = None;
        if let Some(h) = w.handoff {
            items.push(self.put(to_attrs(&HandoffItem::new(h, shards))?, Some(Cond::new(NEW)))?);
            if h.state.is_active() {
                lock_at = Some(items.len());
                let lock = ConversationItem {
                    pk: conversation_pk(ws, &h.conversation_id),
                    sk: "LOCK".into(),
                    handoff_id: h.handoff_id.clone(),
                };
                let cond = match w.stale_lock {
                    Some(stale) => {
                        Cond::new("attribute_not_exists(pk) OR handoff_id = :stale").value(":stale", s(stale.as_str()))
                    }
                    None => Cond::new(NEW),
                };
                items.push(self.put(to_attrs(&lock)?, Some(cond.returning_old()))?);
            }
        }
        let mut settings_at = None;
        if let Some(v) = w.settings_version {
            settings_at = Some(items.len());
            items.push(self.version_check(settings_key(ws, settings_copy(&record.conversation_id)), v)?);
        }
        let mut teams_at = None;
        if let Some(v) = w.teams_version {
            teams_at = Some(items.len());
            items.push(self.version_check(teams_key(ws, settings_copy(&record.conversation_id)), v)?);
        }
        if let Some(m) = w.metrics {
            items.extend(self.metric_updates(ws, record.event_id.as_str(), m, shards)?);
        }
        if let Some(d) = w.decision {
            items.push(self.put(to_attrs(&DecisionItem::new(d))?, Some(Cond::new(NEW)))?);
        }
        if let Some(h) = w.handoff {
            items.extend(self.line_puts(h, w.transcript)?);
        }
        let result = if items.len() == 1 {
            // Only the record (an `already_active` outcome): a plain conditional put.
            let mut req = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attrs(&rec_item)?))
                .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(record.created_at.timestamp()));
            req = req.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            return match req.send().await {
                Ok(_) => Ok(()),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                        match c.item.clone() {
                            Some(old) => Err(EscalationWriteError::Duplicate(Box::new(
                                from_attrs::<EscalationItem>(old)?.record,
                            ))),
                            None => {
                                Err(StoreError::Unavailable("conditional put failed without the item".into()).into())
                            }
                        }
                    }
                    _ => Err(sdk_error(e).into()),
                },
            };
        } else {
            self.transact(items).await
        };
        let Err(e) = result else {
            if w.handoff.is_some() {
                self.count_escalation(ws).await;
            }
            return Ok(());
        };
        let Some(reasons) = cancelled(&e) else { return Err(sdk_error(e).into()) };
        if is_condition_failed(reasons.first()) {
            return match reasons[0].item.clone() {
                Some(old) => Err(EscalationWriteError::Duplicate(Box::new(from_attrs::<EscalationItem>(old)?.record))),
                None => {
                    Err(StoreError::Unavailable("the escalation record's condition failed without the item".into())
                        .into())
                }
            };
        }
        if let Some(i) = lock_at.filter(|i| is_condition_failed(reasons.get(*i))) {
            return match reasons[i].item.clone() {
                Some(old) => {
                    Err(EscalationWriteError::ConversationBusy(from_attrs::<ConversationItem>(old)?.handoff_id))
                }
                // The lock vanished between the failed check and now: just try again.
                None => {
                    Err(StoreError::Unavailable("the conversation lock's condition failed without the item".into())
                        .into())
                }
            };
        }
        let copy = settings_copy(&record.conversation_id);
        let checks = [
            (settings_at, w.settings_version, settings_key(ws, copy), settings_key(ws, 0)),
            (teams_at, w.teams_version, teams_key(ws, copy), teams_key(ws, 0)),
        ];
        let mut changed = false;
        for (at, version, key, first) in checks {
            let Some(i) = at.filter(|i| is_condition_failed(reasons.get(*i))) else { continue };
            changed = true;
            // Decided on a saved document, and this copy is missing: fill it in.
            if reasons[i].item.is_none() && version.is_some_and(|v| v > 0) {
                self.fill_copy(key, first).await?;
            }
        }
        if changed {
            return Err(EscalationWriteError::SettingsChanged);
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            // Another write to one of these items was in flight: deciding again sorts it out.
            return Err(EscalationWriteError::SettingsChanged);
        }
        let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
        Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")).into())
    }

    /// The handoff; the workspace's layout is read beside it when this process does not know it
    /// yet (a command's commit follows, and needs it).
    pub(super) async fn get_handoff(&self, ws: &WorkspaceId, id: &HandoffId) -> Result<Option<Handoff>, StoreError> {
        let (handoff, layout) = tokio::join!(self.read_handoff(handoff_pk(ws, id)), self.layout(ws, false));
        layout?;
        handoff
    }

    pub(super) async fn get_handoff_view(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after_version: u64,
        limit: usize,
    ) -> Result<Option<HandoffView>, StoreError> {
        let pk = handoff_pk(ws, id);
        // The first page is one Query: the handoff item sorts before its decisions. A later page
        // reads the handoff and that page side by side.
        let (handoff, items, more) = if after_version == 0 {
            // The handoff, its sent item (if any) and one decision more than the page.
            let (items, cut) = self.query_decisions(pk, HANDOFF_SK, limit + 2).await?;
            let mut items = items.into_iter().peekable();
            let Some(handoff) = items.next_if(|i| sk_of(i) == Some(HANDOFF_SK)) else { return Ok(None) };
            let sent = items.next_if(|i| sk_of(i) == Some(SENT_SK));
            let h = handoff_of(handoff, sent)?;
            let mut items: Vec<Item> = items.collect();
            let more = items.len() > limit || cut;
            items.truncate(limit);
            (h, items, more)
        } else {
            let from = decision_sk(after_version + 1);
            let (h, page) = tokio::join!(self.get_handoff(ws, id), self.query_decisions(pk, &from, limit));
            let Some(h) = h? else { return Ok(None) };
            let (items, more) = page?;
            (h, items, more)
        };
        let decisions = items
            .into_iter()
            .map(|i| from_attrs::<DecisionItem>(i).map(|d| d.decision))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more { decisions.last().map(|d| d.version) } else { None };
        Ok(Some(HandoffView { handoff, decisions, next }))
    }

    pub(super) async fn get_event_decision(
        &self,
        ws: &WorkspaceId,
        event_id: &EventId,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        match self.get(event_pk(ws, event_id), decision_sk(1)).await? {
            Some(item) => Ok(Some(from_attrs::<DecisionItem>(item)?.decision)),
            None => Ok(None),
        }
    }

    pub(super) async fn commit_transition(&self, t: Transition<'_>) -> Result<(), CommitError> {
        let (handoff, expected_version, decision) = (t.handoff, t.expected_version, t.decision);
        // Still the version decided on, with exactly as many events handed over as that copy
        // says: the dispatch that follows relies on `sent_seq` to keep the handoff's events in
        // order. The sent item holds the handoff's `sent_seq` (none: 0); the handoff item's copy
        // is what its last commit proved, never more. A copy behind (an Inbox page's) or ahead (a
        // timer's snapshot, taken as if its decision's events were out) fails. On failure the
        // stored items come back, so the caller decides again, mostly without a read.
        let cond = Cond::new("#version = :expected")
            .name("#version", "version")
            .value(":expected", n(expected_version))
            .returning_old();
        let pk = handoff_pk(&handoff.workspace_id, &handoff.handoff_id);
        let sent_check =
            ConditionCheck::builder().table_name(&self.table).key("pk", s(pk.clone())).key("sk", s(SENT_SK));
        let sent_check = if handoff.sent_seq == 0 {
            sent_check.condition_expression("attribute_not_exists(sent_seq)")
        } else {
            sent_check
                .condition_expression("sent_seq = :sent")
                .expression_attribute_values(":sent", n(handoff.sent_seq))
        };
        let sent_check = sent_check
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let shards = self.layout(&handoff.workspace_id, false).await?.for_write(self.clock.now());
        let mut items = vec![
            self.put(to_attrs(&HandoffItem::new(handoff, shards))?, Some(cond))?,
            TransactWriteItem::builder().condition_check(sent_check).build(),
        ];
        // A change key first after the handoff, so its failure is told apart from the others'.
        let key_at = match t.key {
            Some(key) => {
                let item = ChangeKeyItem {
                    pk: handoff_pk(&handoff.workspace_id, &handoff.handoff_id),
                    sk: change_key_sk(key),
                    message_id: change_key_message_id(t.transcript),
                };
                items.push(self.put(to_attrs(&item)?, Some(Cond::new(NEW).returning_old()))?);
                Some(items.len() - 1)
            }
            None => None,
        };
        if !decision.is_empty() {
            items.push(self.put(to_attrs(&DecisionItem::new(decision))?, Some(Cond::new(NEW)))?);
        }
        items.extend(self.line_puts(handoff, t.transcript)?);
        if !handoff.state.is_active() {
            // The conversation is free again once its handoff is over.
            let del = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(conversation_pk(&handoff.workspace_id, &handoff.conversation_id)))
                .key("sk", s("LOCK"))
                .condition_expression("attribute_not_exists(pk) OR handoff_id = :id")
                .expression_attribute_values(":id", s(handoff.handoff_id.as_str()))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        if let Some(m) = t.metrics {
            items.extend(self.metric_updates(&handoff.workspace_id, handoff.handoff_id.as_str(), m, shards)?);
        }
        let Err(e) = self.transact(items).await else { return Ok(()) };
        if let Some(i) = key_at {
            if let Some(reasons) = cancelled(&e).filter(|r| is_condition_failed(r.get(i))) {
                let message_id = match reasons[i].item.clone() {
                    Some(old) => from_attrs::<ChangeKeyItem>(old)?.message_id,
                    None => String::new(),
                };
                return Err(CommitError::Duplicate { message_id });
            }
        }
        match cancelled(&e) {
            Some(reasons) if is_condition_failed(reasons.first()) => {
                // The sent item as the failed check found it; if it held, it holds the copy's value.
                let sent_check = reasons.get(1);
                let sent_held = sent_check.is_some_and(|r| !is_condition_failed(Some(r)));
                let current = match reasons[0].item.clone() {
                    Some(old) if old.contains_key("pk") => {
                        let mut h = handoff_of(old, sent_check.and_then(|r| r.item.clone()))?;
                        if sent_held {
                            h.sent_seq = handoff.sent_seq;
                        }
                        Some(Box::new(h))
                    }
                    _ => None,
                };
                Err(CommitError::Stale { current })
            }
            // The version held but the copy's `sent_seq` was not the handoff's (another process's
            // acknowledgement since it was read, or a timer's snapshot ahead of what went out):
            // the handoff is read again, as it now is.
            Some(reasons) if is_condition_failed(reasons.get(1)) => {
                let current = self.read_handoff(pk).await?.map(Box::new);
                Err(CommitError::Stale { current })
            }
            Some(reasons)
                if reasons
                    .iter()
                    .any(|r| matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))) =>
            {
                Err(CommitError::Stale { current: None })
            }
            Some(reasons) => {
                let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
                Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")).into())
            }
            None => Err(sdk_error(e).into()),
        }
    }

    pub(super) async fn change_key(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        match self.get(handoff_pk(ws, id), change_key_sk(key)).await? {
            Some(item) => Ok(Some(from_attrs::<ChangeKeyItem>(item)?.message_id)),
            None => Ok(None),
        }
    }

    pub(super) async fn active_handoff_of(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
    ) -> Result<Option<HandoffId>, StoreError> {
        match self.get(conversation_pk(ws, conversation), "LOCK".into()).await? {
            Some(item) => Ok(Some(from_attrs::<ConversationItem>(item)?.handoff_id)),
            None => Ok(None),
        }
    }

    pub(super) async fn get_transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<Option<TranscriptPage>, StoreError> {
        // Backwards from `#SENT` (or from the cursor's line): the sent item if any, the handoff,
        // then its lines oldest first (see `line_sk`). One Query whatever the transcript's length.
        let (cond, from, fetch) = match after {
            None => ("pk = :pk AND sk <= :from", SENT_SK.to_string(), limit + 3),
            Some(p) => ("pk = :pk AND sk < :from", line_sk(p), limit + 1),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .limit(fetch as i32)
            .key_condition_expression(cond)
            .expression_attribute_values(":pk", s(handoff_pk(ws, id)))
            .expression_attribute_values(":from", s(from))
            .send()
            .await
            .map_err(sdk_error)?;
        // A page cut short by DynamoDB's 1 MB limit has more after it too.
        let cut = out.last_evaluated_key.is_some();
        let mut items = out.items.unwrap_or_default().into_iter().peekable();
        let handoff = match after {
            None => {
                let sent = items.next_if(|i| sk_of(i) == Some(SENT_SK));
                match items.next_if(|i| sk_of(i) == Some(HANDOFF_SK)) {
                    Some(item) => Some(handoff_of(item, sent)?),
                    None => return Ok(None),
                }
            }
            Some(_) => None,
        };
        let mut lines = Vec::new();
        for item in items {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let Some(pos) = line_position(&sk) else { continue };
            lines.push((pos, from_attrs::<LineItem>(item)?.line));
        }
        let more = lines.len() > limit || (cut && !lines.is_empty());
        lines.truncate(limit);
        Ok(Some(TranscriptPage { handoff, lines, more }))
    }
}
