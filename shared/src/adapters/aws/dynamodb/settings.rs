//! The settings, kept as `SETTINGS_COPIES` identical copies written together (an escalation
//! checks the copy of its conversation), and how the copies of a versioned document (settings,
//! teams) are written and filled in.

use super::items::{Item, SettingsItem, TeamsItem};
use super::keys::{settings_key, SETTINGS_COPIES};
use super::layout::{layout_of, LAYOUT_SK};
use super::transact::{from_attrs, n, s, sdk_error, to_attrs, Cond, NEW};
use super::DynamoStore;
use crate::domain::{SettingsDoc, TeamsDoc, WorkspaceId};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::TransactWriteItem;

impl DynamoStore {
    pub(super) async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        // Every copy is the same (they are only ever written together).
        let (pk, sk) = settings_key(ws, 0);
        match self.get(pk, sk).await? {
            Some(item) => Ok(Some(from_attrs::<SettingsItem>(item)?.doc)),
            None => Ok(None),
        }
    }

    pub(super) async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        let mut items = self.copies(expected_version, |copy| {
            let (pk, sk) = settings_key(&doc.workspace_id, copy);
            to_attrs(&SettingsItem { pk, sk, doc: doc.clone() })
        })?;
        // A workspace's first save records its layout: one shard, grown with its rate (layout.rs).
        if expected_version == 0 {
            items.push(self.put(self.first_layout_item(&doc.workspace_id)?, Some(Cond::new(NEW)))?);
        }
        self.transact_versioned(items).await
    }

    pub(super) async fn get_decision_config(
        &self,
        ws: &WorkspaceId,
    ) -> Result<(Option<SettingsDoc>, Option<TeamsDoc>), StoreError> {
        // The layout, the settings and the teams (without member lists) share a partition: one
        // Query (`LAYOUT` < `SETTINGS` < `TEAMS`).
        let (pk, _) = settings_key(ws, 0);
        let (mut layout, mut settings, mut teams) = (None, None, None);
        for item in self.query_all(pk, LAYOUT_SK.into(), "TEAMS".into()).await? {
            match item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(LAYOUT_SK) => layout = Some(item),
                Some("SETTINGS") => settings = Some(from_attrs::<SettingsItem>(item)?.doc),
                Some("TEAMS") => teams = Some(from_attrs::<TeamsItem>(item)?.doc),
                _ => {}
            }
        }
        self.remember_layout(ws, layout_of(layout, settings.is_some())?);
        Ok((settings, teams))
    }

    /// Puts of every copy of a versioned document (settings, teams), each conditional on the
    /// stored version still being `expected_version` (0: none stored), for one transaction.
    /// Copy 0 must hold that version; another copy may also be missing: it is one that a raised
    /// `SETTINGS_COPIES` added since the last save, which this save creates.
    pub(super) fn copies(
        &self,
        expected_version: u64,
        item: impl Fn(u32) -> Result<Item, StoreError>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        (0..SETTINGS_COPIES)
            .map(|copy| {
                let cond = match (expected_version, copy) {
                    (0, _) => Cond::new(NEW),
                    (v, c) => Cond::new(if c == 0 {
                        "#version = :expected"
                    } else {
                        "#version = :expected OR attribute_not_exists(pk)"
                    })
                    .name("#version", "version")
                    .value(":expected", n(v)),
                };
                self.put(item(copy)?, Some(cond))
            })
            .collect()
    }

    /// Writes the copy at `key` from copy 0 (`first`) if it is missing and copy 0 exists: a copy
    /// that a raised `SETTINGS_COPIES` added since the workspace's last save. The escalation that
    /// found it missing decides again and is then checked against it; a save would create it too.
    pub(super) async fn fill_copy(&self, key: (String, String), first: (String, String)) -> Result<(), StoreError> {
        let Some(mut item) = self.get(first.0, first.1).await? else { return Ok(()) };
        let pk = key.0;
        item.insert("pk".into(), s(pk.clone()));
        match self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(NEW).send().await
        {
            Ok(_) => {
                tracing::info!(key = %pk, "a settings or teams copy added since the last save was written from copy 0");
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
