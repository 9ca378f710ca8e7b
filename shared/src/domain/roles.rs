//! Who may do what (spec §6): the one table of the product's roles and operations. The HTTP edge
//! asks it for every request.

use serde::{Deserialize, Serialize};

/// The roles of the JWT `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
    Ai,
}

/// What a request does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ReadSettings,
    WriteSettings,
    Escalate,
    ReadInbox,
    ReadHandoff,
    ActOnHandoff,
    /// The local stack's list of published outbound events (a development aid).
    ReadLocalOutbound,
    /// Customer messages and "the customer left", forwarded by the AI runtime (spec §10).
    ForwardConversation,
    /// The teams document (spec §12).
    ReadTeams,
    WriteTeams,
    /// The handoff figures (spec §13).
    ReadMetrics,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::ReadSettings,
        Operation::WriteSettings,
        Operation::Escalate,
        Operation::ReadInbox,
        Operation::ReadHandoff,
        Operation::ActOnHandoff,
        Operation::ReadLocalOutbound,
        Operation::ForwardConversation,
        Operation::ReadTeams,
        Operation::WriteTeams,
        Operation::ReadMetrics,
    ];
}

/// The role matrix.
pub fn may(role: Role, op: Operation) -> bool {
    use Operation::*;
    match role {
        Role::Admin => true,
        Role::Agent => {
            matches!(op, ReadSettings | ReadInbox | ReadHandoff | ActOnHandoff | ReadLocalOutbound | ReadTeams)
        }
        Role::Ai => matches!(op, Escalate | ReadLocalOutbound | ForwardConversation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_of_spec_section_6() {
        let allowed = |op| Role::all().filter(|r| may(*r, op)).collect::<Vec<_>>();
        assert_eq!(allowed(Operation::ReadSettings), vec![Role::Admin, Role::Agent]);
        assert_eq!(allowed(Operation::WriteSettings), vec![Role::Admin]);
        assert_eq!(allowed(Operation::Escalate), vec![Role::Admin, Role::Ai]);
        assert_eq!(allowed(Operation::ForwardConversation), vec![Role::Admin, Role::Ai]);
        for op in [Operation::ReadInbox, Operation::ReadHandoff, Operation::ActOnHandoff] {
            assert_eq!(allowed(op), vec![Role::Admin, Role::Agent], "{op:?}");
        }
        assert_eq!(allowed(Operation::ReadLocalOutbound).len(), 3);
        assert_eq!(allowed(Operation::ReadTeams), vec![Role::Admin, Role::Agent]);
        assert_eq!(allowed(Operation::WriteTeams), vec![Role::Admin]);
        assert_eq!(allowed(Operation::ReadMetrics), vec![Role::Admin]);
        assert_eq!(Operation::ALL.len(), 11);
    }
}
