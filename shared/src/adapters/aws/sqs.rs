//! The outbound event publisher on SQS.

use crate::domain::OutboundEvent;
use crate::ports::{PublishError, Publisher};
use async_trait::async_trait;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

pub(crate) fn attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(v).build().expect("data type and value are set")
}

/// Publishes outbound events to the outbound queue. An event is only reported published once
/// SQS accepted it; its `event_id` travels in the body and as a message attribute.
///
/// On a FIFO queue (its name ends in `.fifo`, as the template's does) each event's message group
/// is its conversation, so SQS hands a conversation's events to the consumer in the order they
/// were sent, and its deduplication id is the `event_id`, so a re-send within SQS's five-minute
/// window is dropped by SQS itself.
#[derive(Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
}

impl SqsPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        Self { fifo: queue_url.ends_with(".fifo"), client, queue_url }
    }
}

/// SQS takes at most this many characters as a message group or deduplication id.
const FIFO_ID_MAX: usize = 128;

/// A FIFO message group or deduplication id for `key`: the key itself when it fits (every id
/// character is allowed), else a prefix and a 128-bit digest of the whole key.
pub(crate) fn fifo_id(key: &str) -> String {
    if key.len() <= FIFO_ID_MAX {
        return key.to_string();
    }
    let digest = |seed: u64| key.bytes().fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    let tail = format!("~{:016x}{:016x}", digest(0xcbf2_9ce4_8422_2325), digest(0x84222325cbf29ce4));
    let head: String = key.chars().take(FIFO_ID_MAX - tail.len()).collect();
    format!("{head}{tail}")
}

/// The message group of an event: its conversation (workspace and conversation id).
pub(crate) fn message_group(event: &OutboundEvent) -> String {
    fifo_id(&format!("{}/{}", event.workspace_id, event.conversation_id))
}

pub(crate) fn sqs_error<
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> String {
    format!("{}: {}", e.code().unwrap_or("error"), aws_sdk_sqs::error::DisplayErrorContext(&e))
}

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let Some(first) = events.first() else { return Ok(()) };
        let err = |reason: String| PublishError { event_id: first.event_id.clone(), reason };
        let bodies =
            events.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>().map_err(|e| err(e.to_string()))?;
        let fifo = |e: &OutboundEvent| self.fifo.then(|| (message_group(e), fifo_id(&e.event_id)));
        if let [event] = events {
            let (group, dedup) = fifo(event).unzip();
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(bodies[0].clone())
                .message_attributes("event_id", attr(&event.event_id))
                .message_attributes("event_type", attr(event.event_type.as_str()))
                .set_message_group_id(group)
                .set_message_deduplication_id(dedup)
                .send()
                .await
                .map_err(|e| err(sqs_error(e)))?;
        } else {
            // The events of one decision in one request, in `seq` order (a FIFO queue keeps the
            // order of a batch's messages of one group).
            for (chunk_events, chunk_bodies) in events.chunks(10).zip(bodies.chunks(10)) {
                let entries = chunk_events
                    .iter()
                    .zip(chunk_bodies)
                    .enumerate()
                    .map(|(i, (event, body))| {
                        let (group, dedup) = fifo(event).unzip();
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("m{i}"))
                            .message_body(body.clone())
                            .message_attributes("event_id", attr(&event.event_id))
                            .message_attributes("event_type", attr(event.event_type.as_str()))
                            .set_message_group_id(group)
                            .set_message_deduplication_id(dedup)
                            .build()
                            .map_err(|e| err(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| err(sqs_error(e)))?;
                if let Some(f) = out.failed.first() {
                    return Err(err(format!(
                        "{} of {} not accepted: {}",
                        out.failed.len(),
                        chunk_events.len(),
                        f.code
                    )));
                }
            }
        }
        for event in events {
            tracing::info!(event_type = event.event_type.as_str(), event_id = %event.event_id,
                           workspace_id = %event.workspace_id, conversation_id = %event.conversation_id,
                           "outbound event published");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fifo_id;

    #[test]
    fn fifo_ids_fit_and_stay_distinct() {
        assert_eq!(fifo_id("ws_1/conv-1"), "ws_1/conv-1");
        let a = format!("{}/{}", "w".repeat(128), "c".repeat(127));
        let b = format!("{}/{}", "w".repeat(128), "c".repeat(128));
        let (ia, ib) = (fifo_id(&a), fifo_id(&b));
        assert!(ia.len() <= 128 && ib.len() <= 128);
        assert_ne!(ia, ib, "keys that differ only past the prefix keep distinct ids");
        assert_eq!(ia, fifo_id(&a), "stable across calls");
    }
}
