//! The teams document: its copies (without member lists) beside the settings copies, and its
//! member lists in items of their own, named by the write that saved them.

use super::items::{MembersItem, TeamMembers, TeamsItem};
use super::keys::{members_pk, teams_key};
use super::transact::{from_attrs, retry, sdk_error, to_attrs, Attempt};
use super::DynamoStore;
use crate::domain::{TeamId, TeamsDoc, UserId, WorkspaceId};
use crate::ports::StoreError;
use std::collections::HashMap;
use std::time::Duration;

/// A teams document's member lists are kept in items of at most about this many bytes.
const MEMBERS_CHUNK_BYTES: usize = 300_000;

impl DynamoStore {
    pub(super) async fn get_teams(&self, ws: &WorkspaceId) -> Result<Option<TeamsDoc>, StoreError> {
        // A save between the two reads deletes the member lists the first read points to (every
        // save with a team writes at least one): read again.
        retry(3, Duration::ZERO, move || self.read_teams(ws)).await
    }

    /// One read of the teams document: copy 0, then the member lists it names. `Again` when
    /// those lists are gone (a save in between deleted them).
    async fn read_teams(&self, ws: &WorkspaceId) -> Result<Attempt<Option<TeamsDoc>, StoreError>, StoreError> {
        let (pk, sk) = teams_key(ws, 0);
        let Some(item) = self.get(pk, sk).await? else { return Ok(Attempt::Done(None)) };
        let TeamsItem { write_id, mut doc, .. } = from_attrs::<TeamsItem>(item)?;
        let chunks = self.query_all(members_pk(ws), format!("{write_id}#"), format!("{write_id}#~")).await?;
        if chunks.is_empty() && !doc.teams.teams.is_empty() {
            let changing = "the teams kept changing while they were read; retry";
            return Ok(Attempt::Again(StoreError::Unavailable(changing.into())));
        }
        let mut members: HashMap<TeamId, Vec<UserId>> = HashMap::new();
        for c in chunks {
            for t in from_attrs::<MembersItem>(c)?.teams {
                members.insert(t.team_id, t.members);
            }
        }
        for t in &mut doc.teams.teams {
            t.members = members.remove(&t.team_id).unwrap_or_default();
        }
        Ok(Attempt::Done(Some(doc)))
    }

    /// The member lists first, under a new write id; then every copy of the document naming
    /// that id, conditionally on the version, in one transaction. A reader sees the old document
    /// or the new one, never a mix. The lists of earlier saves are deleted afterwards; a lost
    /// race deletes its own.
    pub(super) async fn put_teams(&self, doc: &TeamsDoc, expected_version: u64) -> Result<(), StoreError> {
        let ws = &doc.workspace_id;
        let write_id = uuid::Uuid::now_v7().simple().to_string();
        let mut chunks: Vec<Vec<TeamMembers>> = vec![];
        let mut size = 0;
        for t in &doc.teams.teams {
            let bytes: usize = t.members.iter().map(|m| m.as_str().len() + 8).sum::<usize>() + 200;
            if chunks.is_empty() || size + bytes > MEMBERS_CHUNK_BYTES {
                chunks.push(vec![]);
                size = 0;
            }
            size += bytes;
            chunks
                .last_mut()
                .expect("a chunk")
                .push(TeamMembers { team_id: t.team_id.clone(), members: t.members.clone() });
        }
        let mut written = Vec::new();
        for (i, teams) in chunks.into_iter().enumerate() {
            let item = MembersItem { pk: members_pk(ws), sk: format!("{write_id}#{i:04}"), teams };
            written.push((item.pk.clone(), item.sk.clone()));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_attrs(&item)?))
                .send()
                .await
                .map_err(sdk_error)?;
        }
        let routing = doc.without_members();
        let items = self.copies(expected_version, |copy| {
            let (pk, sk) = teams_key(ws, copy);
            to_attrs(&TeamsItem { pk, sk, write_id: write_id.clone(), doc: routing.clone() })
        })?;
        match self.transact_versioned(items).await {
            Ok(()) => {
                // Earlier saves' lists (write ids are time-ordered; a later save's are kept).
                let old = self.query_all(members_pk(ws), "0".into(), format!("{write_id}#")).await?;
                let keys = old
                    .into_iter()
                    .filter_map(|i| Some((i.get("pk")?.as_s().ok()?.clone(), i.get("sk")?.as_s().ok()?.clone())))
                    .collect();
                self.delete_all(keys).await;
                Ok(())
            }
            Err(e) => {
                self.delete_all(written).await;
                Err(e)
            }
        }
    }
}
