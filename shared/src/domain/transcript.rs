//! The conversation during a handoff (spec §10): its transcript, and the parsers of what the AI
//! runtime and the agents send into it.

use super::ids::{Actor, ConversationId, EventId, WorkspaceId};
use super::validation::{as_str, reject_unknown, Errors, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many earlier messages come with an escalation.
pub const MAX_TRANSCRIPT_ENTRIES: usize = 50;
/// The longest text of one message or note, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// A message to or from the customer, or an internal note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LineKind {
    Message,
    /// Internal: never sent to the customer.
    Note,
}

/// One line of a handoff's transcript, oldest first by its position (the handoff version that
/// added it, then its place in that change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub message_id: String,
    pub author: Actor,
    pub kind: LineKind,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// Where a line sits in its handoff's transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LinePosition {
    pub version: u64,
    pub index: u32,
}

impl LinePosition {
    /// The cursor a page of the transcript ends with: `<version>.<index>`. Every string of that
    /// shape (up to 10 and 9 digits) is a position.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.version, self.index)
    }
    pub fn decode(s: &str) -> Option<Self> {
        let (v, i) = s.split_once('.')?;
        let plain = |t: &str, max: usize| !t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit());
        if !plain(v, 10) || !plain(i, 9) {
            return None;
        }
        Some(Self { version: v.parse().ok()?, index: i.parse().ok()? })
    }
}

/// What a change's idempotency key keeps: the message id of the first transcript line the change
/// added (empty when it added none). A repeat of the change is answered with it.
pub fn change_key_message_id(lines: &[TranscriptLine]) -> String {
    lines.first().map(|l| l.message_id.clone()).unwrap_or_default()
}

/// Checks the text of a message or note: 1–4000 characters, not only whitespace, no control
/// characters other than a newline.
pub fn check_text(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let n = s.chars().count();
    if n > MAX_MESSAGE_CHARS {
        return Err(format!("must be at most {MAX_MESSAGE_CHARS} characters (got {n})"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(format!("must not contain control characters other than a newline (found U+{:04X})", c as u32));
    }
    Ok(s.to_string())
}

fn text_field(errs: &mut Errors, obj: &Map<String, Value>, field: &str, label: &str) -> Option<String> {
    match obj.get(field) {
        None => {
            errs.push(label, "is required");
            None
        }
        Some(v) => errs.take(label, as_str(v).and_then(check_text)),
    }
}

fn time_field(errs: &mut Errors, obj: &Map<String, Value>, field: &str, label: &str) -> Option<DateTime<Utc>> {
    match obj.get(field) {
        None => {
            errs.push(label, "is required");
            None
        }
        Some(v) => errs.take(
            label,
            as_str(v).and_then(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| "must be an RFC 3339 date-time, for example 2026-11-24T10:00:00Z".to_string())
            }),
        ),
    }
}

fn object<'a>(doc: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Vec<FieldError>> {
    doc.as_object().ok_or_else(|| vec![FieldError::new("", format!("the {what} must be a JSON object"))])
}

/// One earlier message that came with an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    pub author: Actor,
    pub text: String,
    pub sent_at: DateTime<Utc>,
}

/// Reads an escalation's `transcript`: at most 50 entries of `author` (`customer` or `ai`),
/// `text` and `sent_at`; every failing field is reported as `transcript[i].field`.
pub fn parse_transcript(v: Option<&Value>, errs: &mut Errors) -> Vec<TranscriptEntry> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errs.push("transcript", format!("must be an array, got {}", super::validation::json_type(other)));
            return Vec::new();
        }
    };
    if items.len() > MAX_TRANSCRIPT_ENTRIES {
        errs.push("transcript", format!("must have at most {MAX_TRANSCRIPT_ENTRIES} entries (got {})", items.len()));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("transcript[{i}].{f}");
        let Some(obj) = item.as_object() else {
            errs.push(format!("transcript[{i}]"), "must be an object");
            continue;
        };
        reject_unknown(obj, &["author", "text", "sent_at"], &format!("transcript[{i}]."), errs);
        let author = match obj.get("author") {
            None => {
                errs.push(at("author"), "is required");
                None
            }
            Some(v) => match v.as_str() {
                Some("customer") => Some(Actor::Customer),
                Some("ai") => Some(Actor::Ai),
                _ => {
                    errs.push(at("author"), "must be one of \"customer\", \"ai\"");
                    None
                }
            },
        };
        let text = text_field(errs, obj, "text", &at("text"));
        let sent_at = time_field(errs, obj, "sent_at", &at("sent_at"));
        if let (Some(author), Some(text), Some(sent_at)) = (author, text, sent_at) {
            out.push(TranscriptEntry { author, text, sent_at });
        }
    }
    out
}

/// A customer message the AI runtime forwards while a person holds the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMessage {
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    /// The idempotency key (same rule as an escalation's `event_id`).
    pub message_id: EventId,
    pub text: String,
    pub sent_at: DateTime<Utc>,
}

/// Where a conversation input came from: over HTTP the workspace and conversation are the path's.
#[derive(Debug, Clone, Copy)]
pub enum InputSource<'a> {
    Http {
        workspace_id: &'a WorkspaceId,
        conversation_id: &'a ConversationId,
    },
    /// An escalation-queue message: `type`, `workspace_id` and `conversation_id` in the body.
    Queue,
}

/// The workspace and conversation of an input: the path's over HTTP (the body may not name
/// them), the body's on the queue.
fn conversation_of(
    obj: &Map<String, Value>,
    source: InputSource<'_>,
    errs: &mut Errors,
) -> (Option<WorkspaceId>, Option<ConversationId>) {
    match source {
        InputSource::Http { workspace_id, conversation_id } => {
            (Some(workspace_id.clone()), Some(conversation_id.clone()))
        }
        InputSource::Queue => {
            let ws = match obj.get("workspace_id") {
                None => {
                    errs.push("workspace_id", "is required");
                    None
                }
                Some(v) => errs.take("workspace_id", as_str(v).and_then(WorkspaceId::parse)),
            };
            let conv = match obj.get("conversation_id") {
                None => {
                    errs.push("conversation_id", "is required");
                    None
                }
                Some(v) => errs.take("conversation_id", as_str(v).and_then(ConversationId::parse)),
            };
            (ws, conv)
        }
    }
}

fn allowed<'a>(source: InputSource<'_>, own: &[&'a str]) -> Vec<&'a str> {
    let mut fields = own.to_vec();
    if matches!(source, InputSource::Queue) {
        fields.extend(["type", "workspace_id", "conversation_id"]);
    }
    fields
}

/// Reads a customer message (`message_id`, `text`, `sent_at`), reporting every failing field.
pub fn parse_customer_message(doc: &Value, source: InputSource<'_>) -> Result<CustomerMessage, Vec<FieldError>> {
    let obj = object(doc, "message")?;
    let mut errs = Errors::default();
    reject_unknown(obj, &allowed(source, &["message_id", "text", "sent_at"]), "", &mut errs);
    let (ws, conv) = conversation_of(obj, source, &mut errs);
    let message_id = match obj.get("message_id") {
        None => {
            errs.push("message_id", "is required");
            None
        }
        Some(v) => errs.take("message_id", as_str(v).and_then(EventId::parse)),
    };
    let text = text_field(&mut errs, obj, "text", "text");
    let sent_at = time_field(&mut errs, obj, "sent_at", "sent_at");
    errs.finish(|| CustomerMessage {
        workspace_id: ws.unwrap(),
        conversation_id: conv.unwrap(),
        message_id: message_id.unwrap(),
        text: text.unwrap(),
        sent_at: sent_at.unwrap(),
    })
}

/// "The customer left": the conversation whose active handoff is abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationEnded {
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
}

/// Reads a "conversation ended" input: over HTTP an empty body or `{}`; on the queue the type
/// and the conversation.
pub fn parse_conversation_ended(
    doc: Option<&Value>,
    source: InputSource<'_>,
) -> Result<ConversationEnded, Vec<FieldError>> {
    let empty = Value::Object(Map::new());
    let obj = object(doc.unwrap_or(&empty), "body")?;
    let mut errs = Errors::default();
    reject_unknown(obj, &allowed(source, &[]), "", &mut errs);
    let (ws, conv) = conversation_of(obj, source, &mut errs);
    errs.finish(|| ConversationEnded { workspace_id: ws.unwrap(), conversation_id: conv.unwrap() })
}

/// An agent's reply to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReply {
    pub text: String,
    /// Repeating it sends nothing again.
    pub client_message_id: Option<EventId>,
}

/// Reads an agent reply (`text`, optional `client_message_id`).
pub fn parse_agent_reply(doc: &Value) -> Result<AgentReply, Vec<FieldError>> {
    let obj = object(doc, "reply")?;
    let mut errs = Errors::default();
    reject_unknown(obj, &["text", "client_message_id"], "", &mut errs);
    let text = text_field(&mut errs, obj, "text", "text");
    let client_message_id = match obj.get("client_message_id") {
        None | Some(Value::Null) => None,
        Some(v) => errs.take("client_message_id", as_str(v).and_then(EventId::parse)),
    };
    errs.finish(|| AgentReply { text: text.unwrap(), client_message_id })
}

/// Reads an internal note (`text`).
pub fn parse_note(doc: &Value) -> Result<String, Vec<FieldError>> {
    let obj = object(doc, "note")?;
    let mut errs = Errors::default();
    reject_unknown(obj, &["text"], "", &mut errs);
    let text = text_field(&mut errs, obj, "text", "text");
    errs.finish(|| text.unwrap())
}

/// What an escalation-queue message is: its `type` (absent means an escalation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMessageType {
    Escalation,
    CustomerMessage,
    ConversationEnded,
}

/// The `type` of an escalation-queue message.
pub fn queue_message_type(doc: &Value) -> Result<QueueMessageType, FieldError> {
    match doc.get("type") {
        None | Some(Value::Null) => Ok(QueueMessageType::Escalation),
        Some(v) => match v.as_str() {
            Some("escalation") => Ok(QueueMessageType::Escalation),
            Some("customer_message") => Ok(QueueMessageType::CustomerMessage),
            Some("conversation_ended") => Ok(QueueMessageType::ConversationEnded),
            _ => Err(FieldError::new(
                "type",
                "must be one of \"escalation\", \"customer_message\", \"conversation_ended\"",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn texts_are_checked() {
        assert!(check_text("Hello\nthere").is_ok());
        assert!(check_text("").is_err());
        assert!(check_text(" \n ").is_err());
        assert!(check_text("tab\there").is_err());
        assert!(check_text("cr\rhere").is_err());
        assert!(check_text(&"é".repeat(4000)).is_ok());
        assert!(check_text(&"é".repeat(4001)).is_err());
    }

    #[test]
    fn a_bad_transcript_lists_every_failing_field() {
        let mut errs = Errors::default();
        let doc = json!([
            {"author": "customer", "text": "hi", "sent_at": "2026-11-24T10:00:00Z"},
            {"author": "agent", "text": "", "sent_at": "yesterday", "mood": "x"},
            "nope"
        ]);
        let got = parse_transcript(Some(&doc), &mut errs);
        assert_eq!(got.len(), 1);
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "transcript[1].mood",
                "transcript[1].author",
                "transcript[1].text",
                "transcript[1].sent_at",
                "transcript[2]"
            ]
        );
        let mut errs = Errors::default();
        let many = Value::Array(vec![json!({"author": "ai", "text": "x", "sent_at": "2026-11-24T10:00:00Z"}); 51]);
        parse_transcript(Some(&many), &mut errs);
        assert_eq!(errs.0[0].field, "transcript");
    }

    #[test]
    fn customer_messages_over_http_and_on_the_queue() {
        let ws = WorkspaceId::parse("ws").unwrap();
        let conv = ConversationId::parse("c").unwrap();
        let http = InputSource::Http { workspace_id: &ws, conversation_id: &conv };
        let body = json!({"message_id": "m1", "text": "Still there?", "sent_at": "2026-11-24T10:00:00Z"});
        let m = parse_customer_message(&body, http).unwrap();
        assert_eq!((m.workspace_id.as_str(), m.message_id.as_str()), ("ws", "m1"));
        // Over HTTP the body may not name the conversation; on the queue it must.
        let mut named = body.clone();
        named["conversation_id"] = json!("c");
        assert_eq!(parse_customer_message(&named, http).unwrap_err()[0].field, "conversation_id");
        let errs = parse_customer_message(&body, InputSource::Queue).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["workspace_id", "conversation_id"]);
        let bad = json!({"message_id": "m 1", "text": "\u{7}", "extra": 1});
        let fields: Vec<String> =
            parse_customer_message(&bad, http).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["extra", "message_id", "text", "sent_at"]);
    }

    #[test]
    fn replies_notes_and_ended() {
        assert_eq!(
            parse_agent_reply(&json!({"text": "On it", "client_message_id": "c-1"})).unwrap().client_message_id,
            Some(EventId::parse("c-1").unwrap())
        );
        assert_eq!(parse_agent_reply(&json!({"text": ""})).unwrap_err()[0].field, "text");
        assert_eq!(parse_note(&json!({"text": "vip", "to": "x"})).unwrap_err()[0].field, "to");
        let ws = WorkspaceId::parse("ws").unwrap();
        let conv = ConversationId::parse("c").unwrap();
        let http = InputSource::Http { workspace_id: &ws, conversation_id: &conv };
        assert!(parse_conversation_ended(None, http).is_ok());
        assert_eq!(parse_conversation_ended(Some(&json!({"why": 1})), http).unwrap_err()[0].field, "why");
        let q = json!({"type": "conversation_ended", "workspace_id": "ws", "conversation_id": "c"});
        assert_eq!(parse_conversation_ended(Some(&q), InputSource::Queue).unwrap().conversation_id, conv);
        assert_eq!(queue_message_type(&q), Ok(QueueMessageType::ConversationEnded));
        assert_eq!(queue_message_type(&json!({})), Ok(QueueMessageType::Escalation));
        assert!(queue_message_type(&json!({"type": "hello"})).is_err());
    }

    proptest! {
        /// The text rule, as its definition says.
        #[test]
        fn the_text_rule(s in "\\PC{0,20}|[\\x00-\\x1f a-z]{0,20}") {
            let valid = !s.trim().is_empty() && s.chars().count() <= MAX_MESSAGE_CHARS
                && s.chars().all(|c| !c.is_control() || c == '\n');
            prop_assert_eq!(check_text(&s).is_ok(), valid);
        }

        /// Any JSON at all: an answer, never a panic; a rejection names at least one field.
        #[test]
        fn any_document_is_answered(doc in any_json()) {
            let ws = WorkspaceId::parse("ws").unwrap();
            let conv = ConversationId::parse("c").unwrap();
            let http = InputSource::Http { workspace_id: &ws, conversation_id: &conv };
            for r in [
                parse_customer_message(&doc, http).map(|_| ()),
                parse_customer_message(&doc, InputSource::Queue).map(|_| ()),
                parse_agent_reply(&doc).map(|_| ()),
                parse_note(&doc).map(|_| ()),
                parse_conversation_ended(Some(&doc), InputSource::Queue).map(|_| ()),
            ] {
                if let Err(errs) = r {
                    prop_assert!(!errs.is_empty());
                }
            }
            let mut errs = Errors::default();
            let _ = parse_transcript(Some(&doc), &mut errs);
        }

        #[test]
        fn every_cursor_of_the_documented_shape_is_a_position(s in "[0-9]{1,10}\\.[0-9]{1,9}") {
            prop_assert!(LinePosition::decode(&s).is_some(), "{}", s);
        }

        #[test]
        fn cursors_round_trip(version in 0u64..9_999_999_999, index in 0u32..1_000_000_000, junk in "\\PC{0,24}") {
            let p = LinePosition { version, index };
            prop_assert_eq!(LinePosition::decode(&p.encode()), Some(p));
            let _ = LinePosition::decode(&junk);
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
            Just(json!("2026-11-24T10:00:00Z")),
            Just(json!("m-1")),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("text".to_string()),
                        Just("message_id".to_string()),
                        Just("sent_at".to_string()),
                        Just("author".to_string()),
                        Just("workspace_id".to_string()),
                        Just("conversation_id".to_string()),
                        Just("client_message_id".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
