use super::{App, AppError};
use crate::domain::{parse_settings_update, SettingsDoc, UserId, WorkspaceId};
use crate::ports::StoreError;
use serde_json::Value;

impl App {
    /// The workspace's settings, or the defaults (version 0) if it never saved.
    pub async fn get_settings(&self, ws: &WorkspaceId) -> Result<SettingsDoc, AppError> {
        let doc = self.store.get_settings(ws).await?.unwrap_or_else(|| SettingsDoc::defaults(ws.clone()));
        self.remember_settings(&doc);
        Ok(doc)
    }

    /// Replaces the settings. `if_match` is the version from the `If-Match` header, if sent; the
    /// body's `version` field is the alternative. A stale version is a conflict carrying the
    /// current document.
    pub async fn put_settings(
        &self,
        ws: &WorkspaceId,
        body: &Value,
        if_match: Option<u64>,
        by: &UserId,
    ) -> Result<SettingsDoc, AppError> {
        let update = parse_settings_update(body, ws).map_err(AppError::Invalid)?;
        let expected = update.based_on(if_match).map_err(|f| AppError::Invalid(vec![f]))?;
        // Written conditionally on `expected` straight away: the current document is read only
        // when that version turns out stale, to answer the conflict with it.
        let next = SettingsDoc { version: expected, ..SettingsDoc::defaults(ws.clone()) }.saved(
            update.settings,
            by.clone(),
            self.clock.now(),
        );
        match self.store.put_settings(&next, expected).await {
            Ok(()) => {
                self.remember_settings(&next);
                Ok(next)
            }
            Err(StoreError::VersionConflict) => {
                let current = self.get_settings(ws).await?;
                Err(AppError::SettingsVersionConflict { expected, current: Box::new(current) })
            }
            Err(e) => Err(e.into()),
        }
    }
}
