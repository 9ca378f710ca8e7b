use super::{App, AppError};
use crate::domain::teams::parse_teams_update;
use crate::domain::{Command, Handoff, HandoffId, TeamId, TeamsDoc, UserId, WorkspaceId};
use crate::ports::StoreError;
use serde_json::Value;

/// The Inbox's `team` filter (spec §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamFilter {
    /// Every team the caller is a member of.
    Mine,
    One(TeamId),
}

impl App {
    /// The workspace's teams, or an empty document (version 0) if it never saved.
    pub async fn get_teams(&self, ws: &WorkspaceId) -> Result<TeamsDoc, AppError> {
        let doc = self.store.get_teams(ws).await?.unwrap_or_else(|| TeamsDoc::empty(ws.clone()));
        self.remember_teams(&doc);
        Ok(doc)
    }

    /// Replaces the teams document, conditionally on the version it names (like the settings).
    pub async fn put_teams(
        &self,
        ws: &WorkspaceId,
        body: &Value,
        if_match: Option<u64>,
        by: &UserId,
    ) -> Result<TeamsDoc, AppError> {
        let update = parse_teams_update(body, ws).map_err(AppError::Invalid)?;
        let expected = update.based_on(if_match).map_err(|f| AppError::Invalid(vec![f]))?;
        let next = TeamsDoc { version: expected, ..TeamsDoc::empty(ws.clone()) }.saved(
            update.teams,
            by.clone(),
            self.clock.now(),
        );
        match self.store.put_teams(&next, expected).await {
            Ok(()) => {
                self.remember_teams(&next);
                Ok(next)
            }
            Err(StoreError::VersionConflict) => {
                let current = self.get_teams(ws).await?;
                Err(AppError::TeamsVersionConflict { expected, current: Box::new(current) })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The team ids an Inbox `team` filter stands for.
    pub async fn teams_for_filter(
        &self,
        ws: &WorkspaceId,
        filter: &TeamFilter,
        caller: &UserId,
    ) -> Result<Vec<TeamId>, AppError> {
        match filter {
            TeamFilter::One(id) => Ok(vec![id.clone()]),
            TeamFilter::Mine => Ok(self.get_teams(ws).await?.teams.teams_of(caller)),
        }
    }

    /// Moves a handoff to another team's queue; the team must exist.
    pub async fn transfer(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        team_id: TeamId,
        by: &UserId,
    ) -> Result<Handoff, AppError> {
        // The saved teams, without their member lists: one read.
        let (_, teams) = self.config_for_decision(ws, true).await?;
        teams.teams.transfer_target(&team_id).map_err(|f| AppError::Invalid(vec![f]))?;
        self.apply(ws, id, Command::Transfer { by: by.clone(), team_id }).await
    }
}
