//! The figures: sums kept per grouping, day and value, spread over `METRICS_SHARDS` partitions,
//! added to in the transaction of each change, and read back for a report.

use super::keys::{metrics_pk, metrics_shard};
use super::DynamoStore;
use crate::domain::metrics::bucket_counter;
use crate::domain::{Dimension, MetricsDelta, MetricsRow, WorkspaceId};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::NaiveDate;
use futures::future::join_all;

impl DynamoStore {
    /// The updates that add a decision's figures to the sums of its day, one per grouping (and
    /// one per duration bucket), in the partition `shard_key` hashes to among `shards`.
    pub(super) fn metric_updates(
        &self,
        ws: &WorkspaceId,
        shard_key: &str,
        m: &MetricsDelta,
        shards: u32,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let shard = metrics_shard(shard_key, shards);
        let counts = m.counts.iter().map(|(k, v)| (k.as_str(), *v));
        // Duration buckets are items of their own (a day's histogram has many).
        let (buckets, plain): (Vec<_>, Vec<_>) = counts.partition(|(name, _)| bucket_counter(name).is_some());
        let mut out = Vec::new();
        for dim in Dimension::all() {
            let base = format!("{}#{}", m.day, m.key(dim));
            if !plain.is_empty() {
                out.push(self.add_to(metrics_pk(ws, dim, shard), base.clone(), &plain)?);
            }
            for (name, v) in &buckets {
                out.push(self.add_to(metrics_pk(ws, dim, shard), format!("{base}#{name}"), &[("n", *v)])?);
            }
        }
        Ok(out)
    }

    pub(super) async fn read_metrics(
        &self,
        ws: &WorkspaceId,
        dim: Dimension,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>, StoreError> {
        // Every shard of the workspace's layout side by side; `to` is excluded (every key of a day
        // is `<day>#…`).
        let count = self.layout(ws, true).await?.for_read();
        let shards =
            join_all((0..count).map(|k| self.query_all(metrics_pk(ws, dim, k), from.to_string(), to.to_string())))
                .await;
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
        let mut stored = Vec::new();
        for items in shards {
            for item in items? {
                let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) else { continue };
                let mut parts = sk.splitn(3, '#');
                let (Some(day), Some(key)) = (parts.next(), parts.next()) else { continue };
                let counts: Vec<(String, i64)> = match parts.next() {
                    // A duration bucket's item: its count.
                    Some(bucket) => {
                        item.get("n").and_then(number).map(|v| (bucket.to_string(), v)).into_iter().collect()
                    }
                    // The plain counters' item: every number but the keys.
                    None => item
                        .iter()
                        .filter(|(name, _)| *name != "pk" && *name != "sk")
                        .filter_map(|(name, v)| Some((name.clone(), number(v)?)))
                        .collect(),
                };
                stored.push((day.to_string(), key.to_string(), counts));
            }
        }
        MetricsRow::from_stored(stored).map_err(StoreError::Corrupt)
    }
}
