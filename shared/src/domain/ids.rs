//! Identifiers that can only hold valid values ("parse, don't validate").

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier accepted from outside (event, conversation, workspace, handoff ids).
pub const MAX_ID_LEN: usize = 128;

/// Checks the identifier rule of the spec: 1–128 characters of `[A-Za-z0-9._:-]`.
pub fn check_token(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > MAX_ID_LEN {
        return Err(format!("must be at most {MAX_ID_LEN} characters"));
    }
    if let Some(bad) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
        return Err(format!("may only contain letters, digits and . _ : - (found {:?})", bad));
    }
    Ok(())
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier, returning why it is invalid.
            pub fn parse(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                check_token(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_id!(
    /// A workspace (one company's Human Handoff configuration and Inbox).
    WorkspaceId
);
token_id!(
    /// A customer conversation held by the AI agent runtime.
    ConversationId
);
token_id!(
    /// The idempotency key of an escalation.
    EventId
);
token_id!(
    /// A handoff record, created by the server.
    HandoffId
);
token_id!(
    /// A team of a workspace (spec §12).
    TeamId
);

/// A teammate's user id (the JWT `sub`): 1–256 printable characters, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 256;
    pub fn parse(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must not contain whitespace or control characters".into());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for UserId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(s)
    }
}
impl From<UserId> for String {
    fn from(v: UserId) -> String {
        v.0
    }
}
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who did or wrote something, as the timeline and the transcript show it: `customer`, `ai`,
/// `agent:<id>` or `system`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    Customer,
    Ai,
    Agent(UserId),
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Customer => f.write_str("customer"),
            Actor::Ai => f.write_str("ai"),
            Actor::Agent(id) => write!(f, "agent:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "customer" => Ok(Actor::Customer),
            "ai" => Ok(Actor::Ai),
            "system" => Ok(Actor::System),
            other => match other.strip_prefix("agent:") {
                Some(id) => UserId::parse(id).map(Actor::Agent).map_err(serde::de::Error::custom),
                None => Err(serde::de::Error::custom(format!("unknown actor {other:?}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn token_rule_accepts_and_rejects() {
        assert!(EventId::parse("evt_01J:a.b-c").is_ok());
        assert!(EventId::parse("").is_err());
        assert!(EventId::parse("a b").is_err());
        assert!(EventId::parse("é").is_err());
        assert!(EventId::parse("a".repeat(128)).is_ok());
        assert!(EventId::parse("a".repeat(129)).is_err());
    }

    #[test]
    fn actor_round_trips() {
        for a in [Actor::Customer, Actor::Ai, Actor::System, Actor::Agent(UserId::parse("u|1").unwrap())] {
            let j = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Actor>(&j).unwrap(), a);
        }
        assert_eq!(serde_json::to_string(&Actor::Agent(UserId::parse("u1").unwrap())).unwrap(), "\"agent:u1\"");
    }

    proptest! {
        #[test]
        fn token_rule_matches_its_definition(s in "\\PC{0,140}") {
            let valid = !s.is_empty() && s.chars().count() <= 128
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
            prop_assert_eq!(ConversationId::parse(s.clone()).is_ok(), valid);
        }

        #[test]
        fn valid_tokens_round_trip_through_json(s in "[A-Za-z0-9._:-]{1,128}") {
            let id = WorkspaceId::parse(s.clone()).unwrap();
            let back: WorkspaceId = serde_json::from_value(serde_json::to_value(&id).unwrap()).unwrap();
            prop_assert_eq!(back.as_str(), s.as_str());
        }
    }
}
