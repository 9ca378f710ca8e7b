//! The names of the product's enumerations. Each enum derives its names once, in snake_case as
//! serde writes them (a test checks the two agree), and gets `as_str`, `parse` and `all` from here.

/// Derives the string forms of a unit-only enum: one list of names, shared by serde, the query
/// parsers, the validators and the error messages.
macro_rules! named {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            pub fn as_str(self) -> &'static str {
                self.into()
            }
            /// The variant with this name.
            pub fn parse(s: &str) -> Option<Self> {
                <Self as strum::IntoEnumIterator>::iter().find(|v| v.as_str() == s)
            }
            /// Every variant, in declaration order.
            pub fn all() -> impl Iterator<Item = Self> {
                <Self as strum::IntoEnumIterator>::iter()
            }
            /// Every name, in declaration order.
            pub fn names() -> Vec<&'static str> {
                Self::all().map(Self::as_str).collect()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

use super::handoff::{Action, Channel, MessagePurpose, OutboundType, Priority, Reason, State, TimerKind};
use super::hours::AfterHoursChat;
use super::metrics::Dimension;
use super::roles::Role;
use super::settings::{Routing, StallFallback, VoiceTimeoutAction};
use super::transcript::LineKind;

named!(
    State,
    Channel,
    Reason,
    Priority,
    Action,
    MessagePurpose,
    OutboundType,
    TimerKind,
    Routing,
    VoiceTimeoutAction,
    Role,
    LineKind,
    StallFallback,
    AfterHoursChat,
    Dimension
);

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees_with_serde<
        T: serde::Serialize + for<'de> serde::Deserialize<'de> + PartialEq + std::fmt::Debug + Copy,
    >(
        all: Vec<T>,
        name: impl Fn(T) -> &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) {
        assert!(!all.is_empty());
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(name(v)), "{v:?}");
            assert_eq!(parse(name(v)), Some(v));
            assert_eq!(serde_json::from_value::<T>(serde_json::json!(name(v))).unwrap(), v);
        }
        assert_eq!(parse("no_such_name"), None);
    }

    #[test]
    fn every_name_is_the_serde_name() {
        agrees_with_serde(State::all().collect(), State::as_str, State::parse);
        agrees_with_serde(Channel::all().collect(), Channel::as_str, Channel::parse);
        agrees_with_serde(Reason::all().collect(), Reason::as_str, Reason::parse);
        agrees_with_serde(Priority::all().collect(), Priority::as_str, Priority::parse);
        agrees_with_serde(Action::all().collect(), Action::as_str, Action::parse);
        agrees_with_serde(MessagePurpose::all().collect(), MessagePurpose::as_str, MessagePurpose::parse);
        agrees_with_serde(OutboundType::all().collect(), OutboundType::as_str, OutboundType::parse);
        agrees_with_serde(TimerKind::all().collect(), TimerKind::as_str, TimerKind::parse);
        agrees_with_serde(Routing::all().collect(), Routing::as_str, Routing::parse);
        agrees_with_serde(VoiceTimeoutAction::all().collect(), VoiceTimeoutAction::as_str, VoiceTimeoutAction::parse);
        agrees_with_serde(Role::all().collect(), Role::as_str, Role::parse);
        agrees_with_serde(LineKind::all().collect(), LineKind::as_str, LineKind::parse);
        agrees_with_serde(StallFallback::all().collect(), StallFallback::as_str, StallFallback::parse);
        agrees_with_serde(AfterHoursChat::all().collect(), AfterHoursChat::as_str, AfterHoursChat::parse);
        agrees_with_serde(Dimension::all().collect(), Dimension::as_str, Dimension::parse);
        assert_eq!(State::names().len(), 9);
        assert_eq!(Reason::names().len(), 8);
    }
}
