//! The conversation during a handoff (spec §10): customer messages and the customer leaving
//! (from the AI runtime), agents' replies and notes, and reading the transcript.

use super::handoffs::Applied;
use super::{App, AppError};
use crate::domain::{
    AgentReply, Command, ConversationEnded, ConversationId, CustomerMessage, Handoff, HandoffId, LinePosition,
    TranscriptLine, UserId, WorkspaceId,
};
use tracing::{info, warn};

/// What the AI runtime sends about a conversation a person holds.
#[derive(Debug, Clone)]
pub enum ConversationInput {
    Message(CustomerMessage),
    Ended(ConversationEnded),
}

/// The answer to a message or note: the handoff as it is now and the transcript line's id.
#[derive(Debug, Clone)]
pub struct MessageResult {
    pub handoff: Handoff,
    pub message_id: String,
    /// True when this message was recorded before and nothing was done again.
    pub replayed: bool,
}

/// A page of a transcript.
#[derive(Debug, Clone)]
pub struct TranscriptView {
    pub lines: Vec<TranscriptLine>,
    /// Where the next page starts, when more lines follow.
    pub next: Option<LinePosition>,
}

impl App {
    /// Applies `cmd` to the conversation's active handoff. The handoff this process last saw for
    /// the conversation is tried first; if it is over, the conversation is looked up again.
    async fn on_active_handoff(
        &self,
        ws: &WorkspaceId,
        conversation: &ConversationId,
        cmd: &Command,
    ) -> Result<Applied, AppError> {
        let key = (ws.clone(), conversation.clone());
        let hint = self.conversations_seen.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let Some(id) = hint {
            match self.transition(ws, &id, cmd).await {
                Err(AppError::NoActiveHandoff | AppError::HandoffNotFound) => {
                    self.conversations_seen.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                }
                other => return other,
            }
        }
        let id = self.store.active_handoff_of(ws, conversation).await?.ok_or(AppError::NoActiveHandoff)?;
        self.transition(ws, &id, cmd).await
    }

    /// A customer message joins the active handoff's transcript and marks it unread; the same
    /// `message_id` again does nothing.
    pub async fn customer_message(&self, m: &CustomerMessage) -> Result<MessageResult, AppError> {
        let cmd =
            Command::CustomerMessage { message_id: m.message_id.clone(), text: m.text.clone(), sent_at: m.sent_at };
        let applied = self.on_active_handoff(&m.workspace_id, &m.conversation_id, &cmd).await;
        let r = message_result(applied?, m.message_id.to_string());
        info!(workspace_id = %m.workspace_id, conversation_id = %m.conversation_id, handoff_id = %r.handoff.handoff_id,
              message_id = %m.message_id, replayed = r.replayed, "customer message recorded");
        Ok(r)
    }

    /// The customer left: the active handoff is abandoned; nothing is sent.
    pub async fn conversation_ended(&self, e: &ConversationEnded) -> Result<Handoff, AppError> {
        let applied = self.on_active_handoff(&e.workspace_id, &e.conversation_id, &Command::ConversationEnded).await?;
        let (Applied::Changed(h, _) | Applied::Unchanged(h) | Applied::Repeated(h, _)) = applied;
        Ok(h)
    }

    /// An agent's reply to the customer (only while assigned; the assignee, or an admin).
    pub async fn reply(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        by: &UserId,
        admin: bool,
        reply: AgentReply,
    ) -> Result<MessageResult, AppError> {
        let cmd =
            Command::Reply { by: by.clone(), admin, text: reply.text, client_message_id: reply.client_message_id };
        Ok(message_result(self.transition(ws, id, &cmd).await?, String::new()))
    }

    /// An internal note: kept in the transcript, never sent.
    pub async fn add_note(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        by: &UserId,
        text: String,
    ) -> Result<MessageResult, AppError> {
        let cmd = Command::AddNote { by: by.clone(), text };
        Ok(message_result(self.transition(ws, id, &cmd).await?, String::new()))
    }

    /// A page of the transcript, oldest first. Read by the assignee, the first page clears the
    /// unread mark.
    pub async fn transcript(
        &self,
        ws: &WorkspaceId,
        id: &HandoffId,
        reader: &UserId,
        after: Option<LinePosition>,
        limit: usize,
    ) -> Result<TranscriptView, AppError> {
        let page = self.store.get_transcript(ws, id, after, limit).await?.ok_or(AppError::HandoffNotFound)?;
        if let Some(h) = &page.handoff {
            self.remember_handoff(h);
            if h.unread && h.assignee.as_ref() == Some(reader) {
                // The page is read either way; a failure to clear the mark only leaves it set.
                if let Err(e) = self.transition(ws, id, &Command::MarkRead { by: reader.clone() }).await {
                    warn!(workspace_id = %ws, handoff_id = %id, error = %e, "unread mark not cleared");
                }
            }
        }
        let next = if page.more { page.lines.last().map(|(p, _)| *p) } else { None };
        Ok(TranscriptView { lines: page.lines.into_iter().map(|(_, l)| l).collect(), next })
    }
}

fn message_result(applied: Applied, fallback_id: String) -> MessageResult {
    match applied {
        Applied::Changed(handoff, line) => {
            MessageResult { handoff, message_id: line.unwrap_or(fallback_id), replayed: false }
        }
        Applied::Unchanged(handoff) => MessageResult { handoff, message_id: fallback_id, replayed: true },
        Applied::Repeated(handoff, message_id) => MessageResult { handoff, message_id, replayed: true },
    }
}
