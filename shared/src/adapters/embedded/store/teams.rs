//! The teams document: one row per workspace, versioned like the settings.

use super::settings::{put_doc, read_doc};
use super::EmbeddedStore;
use crate::adapters::embedded::corrupt;
use crate::domain::{TeamsDoc, WorkspaceId};
use crate::ports::StoreError;

impl EmbeddedStore {
    pub(super) async fn get_teams(&self, ws: &WorkspaceId) -> Result<Option<TeamsDoc>, StoreError> {
        let ws = ws.as_str().to_owned();
        self.db.with(move |c| read_doc(c, "teams", &ws)).await
    }

    pub(super) async fn put_teams(&self, doc: &TeamsDoc, expected_version: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(doc).map_err(corrupt)?;
        let (ws, version) = (doc.workspace_id.as_str().to_owned(), doc.version);
        self.db.with(move |c| put_doc(c, "teams", &ws, version, &json, expected_version)).await
    }
}
