//! The settings: one row per workspace, saved if its version is still the one read; and the
//! versioned documents (settings, teams) in general.

use super::EmbeddedStore;
use crate::adapters::embedded::{corrupt, unavailable};
use crate::domain::{SettingsDoc, TeamsDoc, WorkspaceId};
use crate::ports::StoreError;
use rusqlite::{params, OptionalExtension};

impl EmbeddedStore {
    pub(super) async fn get_settings(&self, ws: &WorkspaceId) -> Result<Option<SettingsDoc>, StoreError> {
        let ws = ws.as_str().to_owned();
        self.db.with(move |c| read_doc(c, "settings", &ws)).await
    }

    pub(super) async fn put_settings(&self, doc: &SettingsDoc, expected_version: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(doc).map_err(corrupt)?;
        let (ws, version) = (doc.workspace_id.as_str().to_owned(), doc.version);
        self.db.with(move |c| put_doc(c, "settings", &ws, version, &json, expected_version)).await
    }

    pub(super) async fn get_decision_config(
        &self,
        ws: &WorkspaceId,
    ) -> Result<(Option<SettingsDoc>, Option<TeamsDoc>), StoreError> {
        let ws = ws.as_str().to_owned();
        self.db
            .with(move |c| {
                let teams: Option<TeamsDoc> = read_doc(c, "teams", &ws)?;
                let teams = teams.map(|t| t.without_members());
                Ok((read_doc(c, "settings", &ws)?, teams))
            })
            .await
    }
}

/// Reads a versioned document (settings, teams) of a workspace.
pub(super) fn read_doc<T: serde::de::DeserializeOwned>(
    c: &rusqlite::Connection,
    table: &str,
    ws: &str,
) -> Result<Option<T>, StoreError> {
    let doc: Option<String> = c
        .query_row(&format!("SELECT doc FROM {table} WHERE workspace_id = ?1"), [ws], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    doc.map(|d| serde_json::from_str(&d).map_err(corrupt)).transpose()
}

/// Saves a versioned document if the stored version is still `expected_version` (0: none).
pub(super) fn put_doc(
    c: &mut rusqlite::Connection,
    table: &str,
    ws: &str,
    version: u64,
    json: &str,
    expected_version: u64,
) -> Result<(), StoreError> {
    let tx = c.savepoint().map_err(unavailable)?;
    let current: Option<i64> = tx
        .query_row(&format!("SELECT version FROM {table} WHERE workspace_id = ?1"), [ws], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    if current.unwrap_or(0) as u64 != expected_version {
        return Err(StoreError::VersionConflict);
    }
    tx.execute(
        &format!(
            "INSERT INTO {table} (workspace_id, version, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version, doc = excluded.doc"
        ),
        params![ws, version as i64, json],
    )
    .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}
