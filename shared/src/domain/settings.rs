//! Workspace settings (spec §3): validated types, defaults and the parser of a settings document.

use super::hours::{parse_business_hours, BusinessHours};
use super::ids::{UserId, WorkspaceId};
use super::validation::{as_bool, as_str, as_u64, one_of, reject_unknown, Errors, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DEFAULT_CONFIRMATION: &str =
    "Your message has been forwarded to a human assistant. They will respond shortly.";
pub const DEFAULT_STALL: &str = "No human agent is available right now. We'll reply here as soon as someone is free.";

/// A message shown or spoken to the customer: 1–1000 characters after trimming, no control
/// characters except newline. Stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Message(String);

impl Message {
    pub const MAX_CHARS: usize = 1000;
    /// The spec's rule: 1–1000 characters after trimming, no control characters but newline in
    /// what is kept; surrounding whitespace is dropped.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 {
            return Err("must not be empty".into());
        }
        if n > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters (got {n})", Self::MAX_CHARS));
        }
        if t.chars().any(|c| c.is_control() && c != '\n') {
            return Err("must not contain control characters other than newline".into());
        }
        Ok(Self(t.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Message {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}
impl From<Message> for String {
    fn from(m: Message) -> String {
        m.0
    }
}

macro_rules! bounded_secs {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(u32);
        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;
            pub fn parse(v: u64) -> Result<Self, String> {
                if v < Self::MIN as u64 || v > Self::MAX as u64 {
                    Err(format!("must be between {} and {} seconds (got {v})", Self::MIN, Self::MAX))
                } else {
                    Ok(Self(v as u32))
                }
            }
            pub fn seconds(self) -> u32 {
                self.0
            }
        }
        impl TryFrom<u64> for $name {
            type Error = String;
            fn try_from(v: u64) -> Result<Self, String> {
                Self::parse(v)
            }
        }
        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0 as u64
            }
        }
    };
}

bounded_secs!(
    /// How long to wait for an agent before telling the customer none is available (10–86400 s).
    StallingTime, 10, 86_400
);
bounded_secs!(
    /// How long a voice call rings for an agent (5–600 s).
    RingTimeout, 5, 600
);
bounded_secs!(
    /// How long after a stall notice the next one goes out while still waiting (30–86400 s).
    RepeatInterval, 30, 86_400
);

/// At most this many repeated stall notices.
pub const MAX_STALL_REPEATS: u32 = 20;

/// The fallback message unless a workspace sets its own (spec §11).
pub const DEFAULT_FALLBACK: &str = "We couldn't reach a teammate in time. We'll follow up by email.";

/// What happens one interval after the last stall notice if no one accepted (spec §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StallFallback {
    /// Nothing: the handoff keeps waiting.
    #[default]
    KeepWaiting,
    /// Back to the AI, with the fallback message.
    ReturnToAi,
    /// Kept for the team to answer later (`ticketed`), with the fallback message.
    OfferTicket,
}

/// The waiting policy of §11: repeated stall notices, then a fallback. The defaults keep §3's
/// behaviour (one notice, keep waiting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingPolicy {
    #[serde(default)]
    pub stall_repeat_seconds: Option<RepeatInterval>,
    #[serde(default)]
    pub stall_repeat_max: u32,
    #[serde(default)]
    pub stall_fallback: StallFallback,
    #[serde(default = "default_fallback_message")]
    pub stall_fallback_message: Message,
}

fn default_fallback_message() -> Message {
    Message::parse(DEFAULT_FALLBACK).expect("valid default")
}

impl Default for WaitingPolicy {
    fn default() -> Self {
        Self {
            stall_repeat_seconds: None,
            stall_repeat_max: 0,
            stall_fallback: StallFallback::KeepWaiting,
            stall_fallback_message: default_fallback_message(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Routing {
    Human,
    Ai,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum VoiceTimeoutAction {
    ReturnToAi,
    EndCall,
}

/// The admin-editable settings; every value in it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub enabled: bool,
    pub routing: Routing,
    pub confirmation_message: Message,
    pub stalling_time_seconds: StallingTime,
    pub stall_message: Message,
    pub voice_ring_timeout_seconds: RingTimeout,
    pub voice_timeout_action: VoiceTimeoutAction,
    /// §11: repeats and a fallback (absent from documents saved before it: the defaults).
    #[serde(flatten)]
    pub waiting: WaitingPolicy,
    /// §11: when people are there (`None`: always).
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: false,
            routing: Routing::Human,
            confirmation_message: Message::parse(DEFAULT_CONFIRMATION).expect("valid default"),
            stalling_time_seconds: StallingTime(120),
            stall_message: Message::parse(DEFAULT_STALL).expect("valid default"),
            voice_ring_timeout_seconds: RingTimeout(30),
            voice_timeout_action: VoiceTimeoutAction::ReturnToAi,
            waiting: WaitingPolicy::default(),
            business_hours: None,
        }
    }
}

/// The stored settings document of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsDoc {
    pub workspace_id: WorkspaceId,
    #[serde(flatten)]
    pub settings: Settings,
    /// 0 for a workspace that never saved; +1 on every save.
    pub version: u64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

impl SettingsDoc {
    /// What a workspace that never saved sees.
    pub fn defaults(workspace_id: WorkspaceId) -> Self {
        Self { workspace_id, settings: Settings::default(), version: 0, updated_at: None, updated_by: None }
    }

    /// The document after a save based on this one.
    pub fn saved(&self, settings: Settings, by: UserId, at: DateTime<Utc>) -> Self {
        Self {
            workspace_id: self.workspace_id.clone(),
            settings,
            version: self.version + 1,
            updated_at: Some(at),
            updated_by: Some(by),
        }
    }
}

/// A parsed settings replacement: the new settings and the version it was based on (if the
/// body named one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsUpdate {
    pub settings: Settings,
    pub version: Option<u64>,
}

impl SettingsUpdate {
    /// The version this update is based on: from the `If-Match` header or the body's `version`
    /// (they must agree). An update that names no version is rejected: it could silently
    /// overwrite someone else's change.
    pub fn based_on(&self, if_match: Option<u64>) -> Result<u64, FieldError> {
        version_based_on(self.version, if_match)
    }
}

/// The version a replacement document is based on: from the `If-Match` header or the body's
/// `version` (they must agree). One that names no version is rejected: it could silently
/// overwrite someone else's change.
pub fn version_based_on(body: Option<u64>, if_match: Option<u64>) -> Result<u64, FieldError> {
    match (if_match, body) {
        (Some(h), Some(b)) if h != b => {
            Err(FieldError::new("version", format!("is {b} but the If-Match header says {h}")))
        }
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(FieldError::new(
            "version",
            "is required: send the version the change is based on (field `version` or header If-Match)",
        )),
    }
}

const SETTINGS_FIELDS: [&str; 7] = [
    "enabled",
    "routing",
    "confirmation_message",
    "stalling_time_seconds",
    "stall_message",
    "voice_ring_timeout_seconds",
    "voice_timeout_action",
];
/// Optional fields (§11): left out, they take their defaults.
const OPTIONAL_FIELDS: [&str; 5] =
    ["stall_repeat_seconds", "stall_repeat_max", "stall_fallback", "stall_fallback_message", "business_hours"];
/// Fields the server sets; accepted (and ignored) so a document read with GET can be sent back.
const SERVER_FIELDS: [&str; 3] = ["updated_at", "updated_by", "workspace_id"];

/// Reads a settings replacement document. Every settings field is required (PUT replaces the
/// whole document); unknown fields are rejected; every failing field is reported.
pub fn parse_settings_update(doc: &Value, workspace: &WorkspaceId) -> Result<SettingsUpdate, Vec<FieldError>> {
    let Some(obj) = doc.as_object() else {
        return Err(vec![FieldError::new("", "the settings document must be a JSON object")]);
    };
    let mut errs = Errors::default();
    let mut allowed: Vec<&str> = SETTINGS_FIELDS.to_vec();
    allowed.extend(SERVER_FIELDS);
    allowed.extend(OPTIONAL_FIELDS);
    allowed.push("version");
    reject_unknown(obj, &allowed, "", &mut errs);

    let mut req = |name: &str| -> Option<&Value> {
        match obj.get(name) {
            Some(v) => Some(v),
            None => {
                errs.push(name, "is required");
                None
            }
        }
    };
    let enabled = req("enabled");
    let routing = req("routing");
    let confirmation = req("confirmation_message");
    let stalling = req("stalling_time_seconds");
    let stall_msg = req("stall_message");
    let ring = req("voice_ring_timeout_seconds");
    let action = req("voice_timeout_action");

    let enabled = enabled.and_then(|v| errs.take("enabled", as_bool(v)));
    let routing = routing.and_then(|v| errs.take("routing", one_of(v, Routing::parse, &Routing::names())));
    let confirmation = confirmation.and_then(|v| errs.take("confirmation_message", as_str(v).and_then(Message::parse)));
    let stalling = stalling.and_then(|v| errs.take("stalling_time_seconds", as_u64(v).and_then(StallingTime::parse)));
    let stall_msg = stall_msg.and_then(|v| errs.take("stall_message", as_str(v).and_then(Message::parse)));
    let ring = ring.and_then(|v| errs.take("voice_ring_timeout_seconds", as_u64(v).and_then(RingTimeout::parse)));
    let action = action.and_then(|v| {
        errs.take("voice_timeout_action", one_of(v, VoiceTimeoutAction::parse, &VoiceTimeoutAction::names()))
    });
    let version = match obj.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => errs.take("version", as_u64(v)),
    };
    let waiting = parse_waiting(obj, &mut errs);
    let business_hours = match obj.get("business_hours") {
        None => Some(None),
        Some(v) => parse_business_hours(v, &mut errs),
    };
    if let Some(ws) = obj.get("workspace_id") {
        if ws.as_str() != Some(workspace.as_str()) {
            errs.push("workspace_id", "must be the workspace of the path (or be left out)");
        }
    }
    errs.finish(|| SettingsUpdate {
        settings: Settings {
            enabled: enabled.unwrap(),
            routing: routing.unwrap(),
            confirmation_message: confirmation.unwrap(),
            stalling_time_seconds: stalling.unwrap(),
            stall_message: stall_msg.unwrap(),
            voice_ring_timeout_seconds: ring.unwrap(),
            voice_timeout_action: action.unwrap(),
            waiting: waiting.unwrap(),
            business_hours: business_hours.unwrap(),
        },
        version,
    })
}

/// The §11 fields of a settings document, each optional (a default when left out).
fn parse_waiting(obj: &serde_json::Map<String, Value>, errs: &mut Errors) -> Option<WaitingPolicy> {
    let d = WaitingPolicy::default();
    let repeat = match obj.get("stall_repeat_seconds") {
        None | Some(Value::Null) => Some(None),
        Some(v) => errs.take("stall_repeat_seconds", as_u64(v).and_then(RepeatInterval::parse)).map(Some),
    };
    let max = match obj.get("stall_repeat_max") {
        None => Some(d.stall_repeat_max),
        Some(v) => errs.take(
            "stall_repeat_max",
            as_u64(v).and_then(|n| {
                if n > MAX_STALL_REPEATS as u64 {
                    Err(format!("must be between 0 and {MAX_STALL_REPEATS} (got {n})"))
                } else {
                    Ok(n as u32)
                }
            }),
        ),
    };
    let fallback = match obj.get("stall_fallback") {
        None => Some(d.stall_fallback),
        Some(v) => errs.take("stall_fallback", one_of(v, StallFallback::parse, &StallFallback::names())),
    };
    let message = match obj.get("stall_fallback_message") {
        None => Some(d.stall_fallback_message),
        Some(v) => errs.take("stall_fallback_message", as_str(v).and_then(Message::parse)),
    };
    Some(WaitingPolicy {
        stall_repeat_seconds: repeat?,
        stall_repeat_max: max?,
        stall_fallback: fallback?,
        stall_fallback_message: message?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("ws_1").unwrap()
    }

    fn valid() -> Value {
        json!({
            "enabled": true, "routing": "human", "confirmation_message": "  Hi there  ",
            "stalling_time_seconds": 10, "stall_message": "Nobody\nyet",
            "voice_ring_timeout_seconds": 600, "voice_timeout_action": "end_call", "version": 3
        })
    }

    #[test]
    fn defaults_match_the_spec() {
        let d = SettingsDoc::defaults(ws());
        assert!(!d.settings.enabled);
        assert_eq!(d.settings.routing, Routing::Human);
        assert_eq!(d.settings.confirmation_message.as_str(), DEFAULT_CONFIRMATION);
        assert_eq!(d.settings.stalling_time_seconds.seconds(), 120);
        assert_eq!(d.settings.stall_message.as_str(), DEFAULT_STALL);
        assert_eq!(d.settings.voice_ring_timeout_seconds.seconds(), 30);
        assert_eq!(d.settings.voice_timeout_action, VoiceTimeoutAction::ReturnToAi);
        assert_eq!(d.version, 0);
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["voice_timeout_action"], "return_to_ai");
        assert_eq!(j["stalling_time_seconds"], 120);
    }

    #[test]
    fn the_waiting_policy_is_optional_and_checked() {
        // Left out: the defaults, which keep the behaviour of one notice and waiting on.
        let u = parse_settings_update(&valid(), &ws()).unwrap();
        assert_eq!(u.settings.waiting, WaitingPolicy::default());
        assert_eq!(u.settings.waiting.stall_fallback_message.as_str(), DEFAULT_FALLBACK);
        let mut doc = valid();
        doc["stall_repeat_seconds"] = json!(30);
        doc["stall_repeat_max"] = json!(20);
        doc["stall_fallback"] = json!("offer_ticket");
        doc["stall_fallback_message"] = json!("We'll write to you.");
        let w = parse_settings_update(&doc, &ws()).unwrap().settings.waiting;
        assert_eq!(w.stall_repeat_seconds.map(RepeatInterval::seconds), Some(30));
        assert_eq!((w.stall_repeat_max, w.stall_fallback), (20, StallFallback::OfferTicket));
        doc["stall_repeat_seconds"] = json!(29);
        doc["stall_repeat_max"] = json!(21);
        doc["stall_fallback"] = json!("give_up");
        doc["stall_fallback_message"] = json!(" ");
        let fields: Vec<String> =
            parse_settings_update(&doc, &ws()).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec!["stall_repeat_seconds", "stall_repeat_max", "stall_fallback", "stall_fallback_message"]
        );
        doc["stall_repeat_seconds"] = json!(86_401);
        doc["stall_repeat_max"] = json!(-1);
        assert_eq!(parse_settings_update(&doc, &ws()).unwrap_err().len(), 4);
        // A document saved before these fields existed reads with their defaults.
        let old = json!({"workspace_id": "ws_1", "enabled": true, "routing": "human",
            "confirmation_message": "hi", "stalling_time_seconds": 60, "stall_message": "wait",
            "voice_ring_timeout_seconds": 30, "voice_timeout_action": "end_call", "version": 4,
            "updated_at": null, "updated_by": null});
        let d: SettingsDoc = serde_json::from_value(old).unwrap();
        assert_eq!(d.settings.waiting, WaitingPolicy::default());
        let j = serde_json::to_value(SettingsDoc::defaults(ws())).unwrap();
        assert_eq!(
            (j["stall_repeat_seconds"].clone(), j["stall_fallback"].clone()),
            (json!(null), json!("keep_waiting"))
        );
    }

    #[test]
    fn a_valid_document_parses_and_is_trimmed() {
        let u = parse_settings_update(&valid(), &ws()).unwrap();
        assert_eq!(u.version, Some(3));
        assert_eq!(u.settings.confirmation_message.as_str(), "Hi there");
        assert_eq!(u.settings.stall_message.as_str(), "Nobody\nyet");
        assert_eq!(u.settings.voice_timeout_action, VoiceTimeoutAction::EndCall);
    }

    #[test]
    fn every_failing_field_is_listed() {
        let doc = json!({
            "enabled": "yes", "routing": "robots", "confirmation_message": "   ",
            "stalling_time_seconds": 9, "stall_message": "tab\there",
            "voice_ring_timeout_seconds": 601, "voice_timeout_action": 3, "colour": "red",
            "version": -1
        });
        let errs = parse_settings_update(&doc, &ws()).unwrap_err();
        let mut fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                "colour",
                "confirmation_message",
                "enabled",
                "routing",
                "stall_message",
                "stalling_time_seconds",
                "version",
                "voice_ring_timeout_seconds",
                "voice_timeout_action"
            ]
        );
    }

    #[test]
    fn missing_fields_are_required() {
        let errs = parse_settings_update(&json!({"enabled": true}), &ws()).unwrap_err();
        assert_eq!(errs.len(), 6);
        assert!(errs.iter().all(|e| e.problem == "is required"));
    }

    #[test]
    fn a_document_read_with_get_can_be_sent_back() {
        let d = SettingsDoc::defaults(ws());
        let u = parse_settings_update(&serde_json::to_value(&d).unwrap(), &ws()).unwrap();
        assert_eq!(u.settings, d.settings);
        assert_eq!(u.version, Some(0));
        let errs = parse_settings_update(&serde_json::to_value(&d).unwrap(), &WorkspaceId::parse("other").unwrap())
            .unwrap_err();
        assert_eq!(errs[0].field, "workspace_id");
    }

    #[test]
    fn non_objects_are_rejected() {
        assert!(parse_settings_update(&json!([1]), &ws()).is_err());
        assert!(parse_settings_update(&json!(null), &ws()).is_err());
    }

    proptest! {
        #[test]
        fn stalling_time_range(v in 0u64..200_000) {
            let doc = { let mut d = valid(); d["stalling_time_seconds"] = json!(v); d };
            let ok = (10..=86_400).contains(&v);
            prop_assert_eq!(parse_settings_update(&doc, &ws()).is_ok(), ok);
        }

        #[test]
        fn ring_timeout_range(v in 0u64..2_000) {
            let doc = { let mut d = valid(); d["voice_ring_timeout_seconds"] = json!(v); d };
            prop_assert_eq!(parse_settings_update(&doc, &ws()).is_ok(), (5..=600).contains(&v));
        }

        #[test]
        fn message_rule(s in "\\PC{0,1100}|[ \\t\\n\\r\\u{0}-\\u{1f}a-z]{0,20}") {
            let t = s.trim();
            let n = t.chars().count();
            let ok = (1..=1000).contains(&n) && !t.chars().any(|c| c.is_control() && c != '\n');
            let r = Message::parse(&s);
            prop_assert_eq!(r.is_ok(), ok);
            if let Ok(m) = r { prop_assert_eq!(m.as_str(), t); }
        }

        /// Any JSON at all (settings-like keys with any values, nested, or not an object):
        /// an answer, never a panic; a refusal names at least one field.
        #[test]
        fn arbitrary_json_never_panics(doc in any_settings_json()) {
            match parse_settings_update(&doc, &ws()) {
                Ok(u) => prop_assert!(doc.is_object() && u.settings.stalling_time_seconds.seconds() >= 10),
                Err(errs) => prop_assert!(!errs.is_empty()),
            }
        }

        #[test]
        fn valid_ones_round_trip(
            enabled in any::<bool>(), ai in any::<bool>(), end in any::<bool>(),
            st in 10u32..=86_400, rt in 5u32..=600, msg in "[a-zA-Z0-9 .,!?]{1,50}",
            repeat in prop::option::of(30u32..=86_400), max in 0u32..=20, fallback in 0usize..3,
        ) {
            let s = Settings {
                enabled,
                routing: if ai { Routing::Ai } else { Routing::Human },
                confirmation_message: Message::parse(&format!("x{msg}")).unwrap(),
                stalling_time_seconds: StallingTime::parse(st as u64).unwrap(),
                stall_message: Message::parse(&format!("y{msg}")).unwrap(),
                voice_ring_timeout_seconds: RingTimeout::parse(rt as u64).unwrap(),
                voice_timeout_action: if end { VoiceTimeoutAction::EndCall } else { VoiceTimeoutAction::ReturnToAi },
                waiting: WaitingPolicy {
                    stall_repeat_seconds: repeat.map(|r| RepeatInterval::parse(r as u64).unwrap()),
                    stall_repeat_max: max,
                    stall_fallback: StallFallback::all().nth(fallback).unwrap(),
                    stall_fallback_message: Message::parse(&format!("z{msg}")).unwrap(),
                },
                business_hours: None,
            };
            let doc = serde_json::to_value(&s).unwrap();
            let u = parse_settings_update(&doc, &ws()).unwrap();
            prop_assert_eq!(u.settings, s);
        }
    }

    fn any_settings_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{json, Value};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (0u64..100_000).prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "\\PC{0,20}".prop_map(Value::String),
            prop_oneof![Just("human"), Just("ai"), Just("end_call"), Just("return_to_ai")].prop_map(|s| json!(s)),
        ];
        let key = prop_oneof![
            Just("enabled".to_string()),
            Just("routing".to_string()),
            Just("confirmation_message".to_string()),
            Just("stalling_time_seconds".to_string()),
            Just("stall_message".to_string()),
            Just("voice_ring_timeout_seconds".to_string()),
            Just("voice_timeout_action".to_string()),
            Just("version".to_string()),
            Just("workspace_id".to_string()),
            "[a-z_]{1,8}",
        ];
        leaf.prop_recursive(2, 24, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..9)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
