//! Creates the table, queues and schedule group the functions expect, against AWS or an
//! emulator. Used by the integration tests and by `infra/lambda-local.sh`; the SAM template
//! declares the same resources for deployment.

use super::config::QueueRef;
use super::config::{self, AwsSettings, TimerSettings};
use super::dynamodb::{INDEXES, INDEX_CHANGES, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

/// Names of the resources to create (each test uses its own prefix).
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub table: String,
    pub escalation_queue: QueueRef,
    pub outbound_queue: QueueRef,
    pub stall_queue: QueueRef,
    pub ring_queue: QueueRef,
    pub schedule_group: String,
    pub scheduler_role_arn: String,
}

impl Provisioned {
    /// The environment variables the functions read, for these resources.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (config::TABLE_NAME, self.table.clone()),
            (config::OUTBOUND_QUEUE_URL, self.outbound_queue.url.clone()),
            (config::STALL_TIMER_QUEUE_URL, self.stall_queue.url.clone()),
            (config::STALL_TIMER_QUEUE_ARN, self.stall_queue.arn.clone()),
            (config::RING_TIMER_QUEUE_URL, self.ring_queue.url.clone()),
            (config::RING_TIMER_QUEUE_ARN, self.ring_queue.arn.clone()),
            (config::SCHEDULE_GROUP, self.schedule_group.clone()),
            (config::SCHEDULER_ROLE_ARN, self.scheduler_role_arn.clone()),
        ]
    }

    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            table: self.table.clone(),
            outbound_queue_url: Some(self.outbound_queue.url.clone()),
            timers: Some(TimerSettings {
                stall: self.stall_queue.clone(),
                ring: self.ring_queue.clone(),
                schedule_group: self.schedule_group.clone(),
                scheduler_role_arn: self.scheduler_role_arn.clone(),
            }),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn key(name: &str, t: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder().attribute_name(name).key_type(t).build()?)
}

fn attr(name: &str) -> Result<AttributeDefinition, BoxError> {
    Ok(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()?)
}

/// Creates the single table with its six indexes and TTL.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), BoxError> {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?);
    req = req.attribute_definitions(attr("pk")?).attribute_definitions(attr("sk")?);
    for (_, n) in INDEXES {
        req = req.attribute_definitions(attr(&format!("gsi{n}pk"))?).attribute_definitions(attr(&format!("gsi{n}sk"))?);
    }
    for (name, n) in INDEXES {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(&format!("gsi{n}pk"), KeyType::Hash)?)
                .key_schema(key(&format!("gsi{n}sk"), KeyType::Range)?)
                // The changes feed reads keys, then the handoffs: its index is written only when a
                // handoff's last change moves.
                .projection(
                    Projection::builder()
                        .projection_type(if name == INDEX_CHANGES {
                            ProjectionType::KeysOnly
                        } else {
                            ProjectionType::All
                        })
                        .build(),
                )
                .build()?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        // Already there (a second run against the same emulator): keep it.
        Err(e) if e.as_service_error().map(|s| s.is_resource_in_use_exception()).unwrap_or(false) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Creates a queue with a dead-letter queue (messages move there after `max_receive` receives).
/// A `name` ending in `.fifo` makes both FIFO queues, deduplicating by the id the sender gives,
/// per message group, as the template's outbound queue.
pub async fn create_queue_with_dlq(
    client: &aws_sdk_sqs::Client,
    name: &str,
    max_receive: u32,
) -> Result<QueueRef, BoxError> {
    let (base, fifo) = match name.strip_suffix(".fifo") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let fifo_attrs = |mut m: HashMap<QueueAttributeName, String>| {
        if fifo {
            m.insert(QueueAttributeName::FifoQueue, "true".into());
            m.insert(QueueAttributeName::ContentBasedDeduplication, "false".into());
        }
        Some(m)
    };
    let dlq = client
        .create_queue()
        .queue_name(if fifo { format!("{base}-dlq.fifo") } else { format!("{base}-dlq") })
        .set_attributes(fifo_attrs(HashMap::from([(QueueAttributeName::MessageRetentionPeriod, "1209600".into())])))
        .send()
        .await?;
    let dlq_url = dlq.queue_url.unwrap_or_default();
    let dlq_arn = queue_arn(client, &dlq_url).await?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}).to_string();
    let q = client
        .create_queue()
        .queue_name(name)
        .set_attributes(fifo_attrs(HashMap::from([(QueueAttributeName::RedrivePolicy, redrive)])))
        .send()
        .await?;
    let url = q.queue_url.unwrap_or_default();
    let arn = queue_arn(client, &url).await?;
    Ok(QueueRef { url, arn })
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, BoxError> {
    let a = client.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await?;
    Ok(a.attributes.and_then(|m| m.get(&QueueAttributeName::QueueArn).cloned()).ok_or("queue has no ARN")?)
}

/// Creates everything the five functions use.
pub async fn create_all(sdk: &aws_config::SdkConfig, names: &Names) -> Result<Provisioned, BoxError> {
    let p = &names.prefix;
    let table = format!("{p}-handoff");
    create_table(&aws_sdk_dynamodb::Client::new(sdk), &table).await?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let escalation_queue = create_queue_with_dlq(&sqs, &format!("{p}-escalations"), 5).await?;
    let outbound_queue = create_queue_with_dlq(&sqs, &format!("{p}-outbound.fifo"), 5).await?;
    let stall_queue = create_queue_with_dlq(&sqs, &format!("{p}-stall-timers"), 5).await?;
    let ring_queue = create_queue_with_dlq(&sqs, &format!("{p}-ring-timers"), 5).await?;
    let schedule_group = format!("{p}-timers");
    aws_sdk_scheduler::Client::new(sdk).create_schedule_group().name(&schedule_group).send().await?;
    Ok(Provisioned {
        table,
        escalation_queue,
        outbound_queue,
        stall_queue,
        ring_queue,
        schedule_group,
        scheduler_role_arn: "arn:aws:iam::123456789012:role/handoff-scheduler".into(),
    })
}
