//! Teams and routing (spec §12): the versioned teams document of a workspace, its validation, and
//! the rule that picks an escalation's team.

use super::handoff::{Channel, Priority, Reason};
use super::ids::{TeamId, UserId, WorkspaceId};
use super::validation::{as_str, json_type, one_of, reject_unknown, Errors, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

pub const MAX_TEAMS: usize = 100;
pub const MAX_MEMBERS: usize = 500;
pub const MAX_RULES: usize = 100;
pub const MAX_TEAM_NAME_CHARS: usize = 100;
/// Team ids that would read as something else: `team=mine`, and the metrics' key of "no team".
pub const RESERVED_TEAM_IDS: [&str; 2] = ["mine", "-"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub team_id: TeamId,
    pub name: String,
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// What a rule matches: every listed field must match; an empty list matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleWhen {
    #[serde(default)]
    pub reason: Vec<Reason>,
    #[serde(default)]
    pub channel: Vec<Channel>,
    #[serde(default)]
    pub priority: Vec<Priority>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub when: RuleWhen,
    pub team_id: TeamId,
}

/// The admin-editable teams and rules; every team id a rule or the default names exists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Teams {
    pub teams: Vec<Team>,
    pub rules: Vec<RoutingRule>,
    pub default_team_id: Option<TeamId>,
}

impl Teams {
    /// The team of an escalation: the first rule whose every listed field matches, else the
    /// default team, else none.
    pub fn route(&self, reason: Reason, channel: Channel, priority: Priority) -> Option<TeamId> {
        let matches = |w: &RuleWhen| {
            (w.reason.is_empty() || w.reason.contains(&reason))
                && (w.channel.is_empty() || w.channel.contains(&channel))
                && (w.priority.is_empty() || w.priority.contains(&priority))
        };
        self.rules.iter().find(|r| matches(&r.when)).map(|r| r.team_id.clone()).or_else(|| self.default_team_id.clone())
    }

    /// The teams `user` is a member of.
    pub fn teams_of(&self, user: &UserId) -> Vec<TeamId> {
        self.teams.iter().filter(|t| t.members.contains(user)).map(|t| t.team_id.clone()).collect()
    }

    pub fn has(&self, id: &TeamId) -> bool {
        self.teams.iter().any(|t| &t.team_id == id)
    }

    /// A handoff can be transferred only to a team of the workspace.
    pub fn transfer_target(&self, id: &TeamId) -> Result<(), FieldError> {
        if self.has(id) {
            Ok(())
        } else {
            Err(FieldError::new("team_id", format!("names no team of this workspace (\"{id}\")")))
        }
    }

    /// The same teams and rules without the member lists (what routing needs).
    pub fn without_members(&self) -> Teams {
        Teams {
            teams: self.teams.iter().map(|t| Team { members: vec![], ..t.clone() }).collect(),
            rules: self.rules.clone(),
            default_team_id: self.default_team_id.clone(),
        }
    }
}

/// The stored teams document of one workspace, versioned like the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamsDoc {
    pub workspace_id: WorkspaceId,
    #[serde(flatten)]
    pub teams: Teams,
    /// 0 for a workspace that never saved; +1 on every save.
    pub version: u64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

impl TeamsDoc {
    pub fn empty(workspace_id: WorkspaceId) -> Self {
        Self { workspace_id, teams: Teams::default(), version: 0, updated_at: None, updated_by: None }
    }
    pub fn saved(&self, teams: Teams, by: UserId, at: DateTime<Utc>) -> Self {
        Self {
            workspace_id: self.workspace_id.clone(),
            teams,
            version: self.version + 1,
            updated_at: Some(at),
            updated_by: Some(by),
        }
    }
    /// The same document without the member lists (what routing needs; what the stores keep
    /// beside the settings).
    pub fn without_members(&self) -> TeamsDoc {
        TeamsDoc { teams: self.teams.without_members(), ..self.clone() }
    }
}

/// A parsed teams replacement and the version it names (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsUpdate {
    pub teams: Teams,
    pub version: Option<u64>,
}

impl TeamsUpdate {
    /// The version this update is based on (`If-Match` or the body's `version`; they must agree).
    pub fn based_on(&self, if_match: Option<u64>) -> Result<u64, FieldError> {
        super::settings::version_based_on(self.version, if_match)
    }
}

fn list<'a>(v: Option<&'a Value>, field: &str, max: usize, errs: &mut Errors) -> &'a [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) if a.len() > max => {
            errs.push(field, format!("must have at most {max} entries (got {})", a.len()));
            &[]
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            errs.push(field, format!("must be a list, got {}", json_type(other)));
            &[]
        }
    }
}

fn team_id_at(v: &Value, field: &str, errs: &mut Errors) -> Option<TeamId> {
    errs.take(field, as_str(v).and_then(TeamId::parse))
}

/// Reads a teams replacement document, reporting every failing field: shapes and limits,
/// duplicate team ids and members, and rules or a default naming a team that is not there.
pub fn parse_teams_update(doc: &Value, workspace: &WorkspaceId) -> Result<TeamsUpdate, Vec<FieldError>> {
    let Some(obj) = doc.as_object() else {
        return Err(vec![FieldError::new("", "the teams document must be a JSON object")]);
    };
    let mut errs = Errors::default();
    reject_unknown(
        obj,
        &["teams", "rules", "default_team_id", "version", "workspace_id", "updated_at", "updated_by"],
        "",
        &mut errs,
    );
    if obj.get("teams").is_none() {
        errs.push("teams", "is required (a list, possibly empty)");
    }
    let mut teams = Vec::new();
    let mut seen = HashSet::new();
    for (i, t) in list(obj.get("teams"), "teams", MAX_TEAMS, &mut errs).iter().enumerate() {
        let at = format!("teams[{i}]");
        let Some(t) = t.as_object() else {
            errs.push(&at, format!("must be an object, got {}", json_type(t)));
            continue;
        };
        reject_unknown(t, &["team_id", "name", "members"], &format!("{at}."), &mut errs);
        let id = match t.get("team_id") {
            None => {
                errs.push(format!("{at}.team_id"), "is required");
                None
            }
            Some(v) => team_id_at(v, &format!("{at}.team_id"), &mut errs),
        };
        if let Some(id) = id.as_ref().filter(|id| RESERVED_TEAM_IDS.contains(&id.as_str())) {
            errs.push(
                format!("{at}.team_id"),
                format!("{:?} is reserved (the Inbox filter `team=mine`, the metrics' \"no team\")", id.as_str()),
            );
        } else if let Some(id) = &id {
            if !seen.insert(id.clone()) {
                errs.push(format!("{at}.team_id"), format!("\"{id}\" is used by an earlier team"));
            }
        }
        let name = match t.get("name") {
            None => {
                errs.push(format!("{at}.name"), "is required");
                None
            }
            Some(v) => errs.take(
                &format!("{at}.name"),
                as_str(v).and_then(|s| {
                    let n = s.trim().chars().count();
                    if n == 0 || n > MAX_TEAM_NAME_CHARS || s.chars().any(char::is_control) {
                        Err(format!(
                            "must be 1–{MAX_TEAM_NAME_CHARS} characters after trimming, without control characters"
                        ))
                    } else {
                        Ok(s.trim().to_string())
                    }
                }),
            ),
        };
        let mut members = Vec::new();
        let field = format!("{at}.members");
        for (j, m) in list(t.get("members"), &field, MAX_MEMBERS, &mut errs).iter().enumerate() {
            let f = format!("{field}[{j}]");
            if let Some(u) = errs.take(&f, as_str(m).and_then(UserId::parse)) {
                if members.contains(&u) {
                    errs.push(f, "is listed twice");
                } else {
                    members.push(u);
                }
            }
        }
        if let (Some(team_id), Some(name)) = (id, name) {
            teams.push(Team { team_id, name, members });
        }
    }
    let known = |id: &TeamId| seen.contains(id);
    let mut rules = Vec::new();
    for (i, r) in list(obj.get("rules"), "rules", MAX_RULES, &mut errs).iter().enumerate() {
        let at = format!("rules[{i}]");
        let Some(r) = r.as_object() else {
            errs.push(&at, format!("must be an object, got {}", json_type(r)));
            continue;
        };
        reject_unknown(r, &["when", "team_id"], &format!("{at}."), &mut errs);
        let team_id = match r.get("team_id") {
            None => {
                errs.push(format!("{at}.team_id"), "is required");
                None
            }
            Some(v) => team_id_at(v, &format!("{at}.team_id"), &mut errs),
        };
        if let Some(id) = team_id.as_ref().filter(|id| !known(id)) {
            errs.push(format!("{at}.team_id"), format!("names no team of this document (\"{id}\")"));
        }
        let when = match r.get("when") {
            None | Some(Value::Null) => Some(RuleWhen::default()),
            Some(Value::Object(w)) => {
                reject_unknown(w, &["reason", "channel", "priority"], &format!("{at}.when."), &mut errs);
                let mut when = RuleWhen::default();
                let f = format!("{at}.when.reason");
                for (j, v) in list(w.get("reason"), &f, Reason::names().len(), &mut errs).iter().enumerate() {
                    when.reason.extend(errs.take(&format!("{f}[{j}]"), one_of(v, Reason::parse, &Reason::names())));
                }
                let f = format!("{at}.when.channel");
                for (j, v) in list(w.get("channel"), &f, Channel::names().len(), &mut errs).iter().enumerate() {
                    when.channel.extend(errs.take(&format!("{f}[{j}]"), one_of(v, Channel::parse, &Channel::names())));
                }
                let f = format!("{at}.when.priority");
                for (j, v) in list(w.get("priority"), &f, Priority::names().len(), &mut errs).iter().enumerate() {
                    when.priority
                        .extend(errs.take(&format!("{f}[{j}]"), one_of(v, Priority::parse, &Priority::names())));
                }
                Some(when)
            }
            Some(other) => {
                errs.push(format!("{at}.when"), format!("must be an object, got {}", json_type(other)));
                None
            }
        };
        if let (Some(when), Some(team_id)) = (when, team_id) {
            rules.push(RoutingRule { when, team_id });
        }
    }
    let default_team_id = match obj.get("default_team_id") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let id = team_id_at(v, "default_team_id", &mut errs);
            if let Some(id) = id.as_ref().filter(|id| !known(id)) {
                errs.push("default_team_id", format!("names no team of this document (\"{id}\")"));
            }
            id
        }
    };
    let version = match obj.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => errs.take("version", super::validation::as_u64(v)),
    };
    if let Some(ws) = obj.get("workspace_id") {
        if ws.as_str() != Some(workspace.as_str()) {
            errs.push("workspace_id", "must be the workspace of the path (or be left out)");
        }
    }
    errs.finish(|| TeamsUpdate { teams: Teams { teams, rules, default_team_id }, version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("ws_1").unwrap()
    }

    fn doc() -> Value {
        json!({
            "teams": [
                {"team_id": "billing", "name": "Billing", "members": ["alice", "bob"]},
                {"team_id": "vip", "name": " VIP desk ", "members": ["carol"]},
                {"team_id": "general", "name": "General", "members": ["alice"]}
            ],
            "rules": [
                {"when": {"priority": ["urgent"], "channel": ["voice"]}, "team_id": "vip"},
                {"when": {"reason": ["refund_request", "billing_issue"]}, "team_id": "billing"}
            ],
            "default_team_id": "general",
            "version": 2
        })
    }

    #[test]
    fn the_first_matching_rule_then_the_default() {
        let u = parse_teams_update(&doc(), &ws()).unwrap();
        assert_eq!(u.version, Some(2));
        let t = &u.teams;
        assert_eq!(t.teams[1].name, "VIP desk");
        let route = |r, c, p| t.route(r, c, p).map(|id| id.as_str().to_string());
        assert_eq!(route(Reason::RefundRequest, Channel::Voice, Priority::Urgent).as_deref(), Some("vip"));
        assert_eq!(route(Reason::RefundRequest, Channel::Chat, Priority::Urgent).as_deref(), Some("billing"));
        assert_eq!(route(Reason::Other, Channel::Chat, Priority::Urgent).as_deref(), Some("general"));
        let mut no_default = t.clone();
        no_default.default_team_id = None;
        assert_eq!(no_default.route(Reason::Other, Channel::Chat, Priority::Low), None);
        let mine: Vec<String> = t.teams_of(&UserId::parse("alice").unwrap()).iter().map(|t| t.to_string()).collect();
        assert_eq!(mine, ["billing", "general"]);
        assert!(t.without_members().teams.iter().all(|t| t.members.is_empty()));
        // A rule with nothing listed matches everything.
        let all =
            parse_teams_update(&json!({"teams": [{"team_id": "a", "name": "A"}], "rules": [{"team_id": "a"}]}), &ws())
                .unwrap();
        assert_eq!(all.teams.route(Reason::Other, Channel::Voice, Priority::Low).unwrap().as_str(), "a");
    }

    #[test]
    fn bad_documents_list_every_failing_field() {
        let bad = json!({
            "teams": [
                {"team_id": "billing", "name": "Billing", "members": ["alice", "alice", ""]},
                {"team_id": "billing", "name": ""},
                {"team_id": "bad id", "name": "X", "extra": true},
                "nope",
                {"team_id": "mine", "name": "Mine"}
            ],
            "rules": [
                {"when": {"reason": ["refund", "other"], "channel": "chat"}, "team_id": "ghost"},
                {"when": {"colour": ["red"]}}
            ],
            "default_team_id": "nobody",
            "workspace_id": "ws_2"
        });
        let fields: Vec<String> = parse_teams_update(&bad, &ws()).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "teams[0].members[1]",
                "teams[0].members[2]",
                "teams[1].team_id",
                "teams[1].name",
                "teams[2].extra",
                "teams[2].team_id",
                "teams[3]",
                "teams[4].team_id",
                "rules[0].team_id",
                "rules[0].when.reason[0]",
                "rules[0].when.channel",
                "rules[1].team_id",
                "rules[1].when.colour",
                "default_team_id",
                "workspace_id",
            ]
        );
        let too_many =
            json!({"teams": (0..101).map(|i| json!({"team_id": format!("t{i}"), "name": "T"})).collect::<Vec<_>>()});
        let errs = parse_teams_update(&too_many, &ws()).unwrap_err();
        assert_eq!(errs[0].field, "teams");
        assert!(parse_teams_update(&json!({}), &ws()).unwrap_err()[0].field == "teams");
        assert!(parse_teams_update(&json!([]), &ws()).is_err());
    }

    #[test]
    fn round_trip_through_storage() {
        let u = parse_teams_update(&doc(), &ws()).unwrap();
        let d = TeamsDoc::empty(ws()).saved(u.teams.clone(), UserId::parse("admin").unwrap(), Utc::now());
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["version"], 1);
        assert_eq!(serde_json::from_value::<TeamsDoc>(j.clone()).unwrap(), d);
        // What GET returns can be sent back as it is.
        assert_eq!(parse_teams_update(&j, &ws()).unwrap().teams, u.teams);
    }

    proptest! {
        /// The parser never panics, and what it accepts routes only to teams it has.
        #[test]
        fn any_document_is_answered(
            ids in prop::collection::vec("[a-c ]{0,2}", 0..5),
            rule_ids in prop::collection::vec("[a-d]{1}", 0..5),
            reasons in prop::collection::vec(prop::sample::select(vec!["refund_request", "other", "x", ""]), 0..3),
            default in prop::option::of("[a-d]{1}"),
        ) {
            let doc = json!({
                "teams": ids.iter().map(|i| json!({"team_id": i, "name": "T"})).collect::<Vec<_>>(),
                "rules": rule_ids.iter().map(|i| json!({"when": {"reason": reasons}, "team_id": i})).collect::<Vec<_>>(),
                "default_team_id": default,
            });
            if let Ok(u) = parse_teams_update(&doc, &ws()) {
                for r in Reason::all() {
                    if let Some(t) = u.teams.route(r, Channel::Chat, Priority::Normal) {
                        prop_assert!(u.teams.has(&t));
                    }
                }
            }
        }
    }
}
