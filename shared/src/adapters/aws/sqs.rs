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
#[derive(Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
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
        if let [event] = events {
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(bodies[0].clone())
                .message_attributes("event_id", attr(&event.event_id))
                .message_attributes("event_type", attr(event.event_type.as_str()))
                .send()
                .await
                .map_err(|e| err(sqs_error(e)))?;
        } else {
            // The events of one decision in one request, in decision order.
            for (chunk_events, chunk_bodies) in events.chunks(10).zip(bodies.chunks(10)) {
                let entries = chunk_events
                    .iter()
                    .zip(chunk_bodies)
                    .enumerate()
                    .map(|(i, (event, body))| {
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("m{i}"))
                            .message_body(body.clone())
                            .message_attributes("event_id", attr(&event.event_id))
                            .message_attributes("event_type", attr(event.event_type.as_str()))
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
