//! CloudWatch metrics from the functions, in the embedded metric format (EMF): one JSON log line
//! per change, which CloudWatch Logs turns into metrics. No API call, nothing on the hot path
//! but a `println!`.
//!
//! Metrics have no workspace dimension (one metric per workspace would multiply their cost); the
//! workspace is a property of the line, for Logs Insights. The template's dashboard draws them.

use crate::domain::metrics::{bucket_counter, lower_bound, MetricsDelta, Timing};
use crate::domain::WorkspaceId;
use crate::ports::MetricsSink;
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "HumanHandoff";

/// One EMF record: `metrics` (name, unit, value) under `dimensions` (each a list of property
/// names), with `properties` (which must hold every dimension named).
pub fn record(
    metrics: &[(String, &str, f64)],
    dimensions: &[&[&str]],
    properties: Map<String, Value>,
    at_ms: i64,
) -> Value {
    let mut line = properties;
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": metrics.iter().map(|(n, unit, _)| json!({"Name": n, "Unit": unit})).collect::<Vec<_>>(),
            }]
        }),
    );
    for (name, _, value) in metrics {
        line.insert(name.clone(), json!(value));
    }
    Value::Object(line)
}

/// Writes each change's figures to standard output as an EMF line.
#[derive(Debug, Clone, Copy)]
pub struct EmfMetrics {
    pub function: &'static str,
}

impl MetricsSink for EmfMetrics {
    fn record(&self, ws: &WorkspaceId, delta: &MetricsDelta) {
        if let Some(line) = emf_line(self.function, ws, delta, chrono::Utc::now().timestamp_millis()) {
            println!("{line}");
        }
    }
}

/// `escalations.queued` → `EscalationsQueued`.
fn metric_name(counter: &str) -> String {
    counter
        .split(['.', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The EMF line of one change (none when it adds nothing).
pub fn emf_line(function: &str, ws: &WorkspaceId, delta: &MetricsDelta, now_ms: i64) -> Option<Value> {
    let mut metrics = Vec::new();
    for (name, n) in &delta.counts {
        if *n <= 0 {
            continue; // a ticket resolved later is counted by its new final state alone
        }
        metrics.push(match bucket_counter(name) {
            Some((Timing::ToAccept, b)) => ("TimeToAccept".to_string(), "Seconds", lower_bound(b) as f64),
            Some((Timing::ToResolve, b)) => ("TimeToResolve".to_string(), "Seconds", lower_bound(b) as f64),
            None => (metric_name(name), "Count", *n as f64),
        });
    }
    if metrics.is_empty() {
        return None;
    }
    let mut properties = Map::new();
    properties.insert("Channel".into(), json!(delta.channel.as_str()));
    properties.insert("Reason".into(), json!(delta.reason.as_str()));
    properties.insert("Function".into(), json!(function));
    properties.insert("workspace_id".into(), json!(ws.as_str()));
    if let Some(t) = &delta.team_id {
        properties.insert("team_id".into(), json!(t.as_str()));
    }
    Some(record(&metrics, &[&[], &["Channel"], &["Reason"]], properties, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::QUEUED_OR_RINGING;
    use crate::domain::{Channel, Reason};

    #[test]
    fn a_change_is_one_emf_line() {
        let ws = WorkspaceId::parse("ws_1").unwrap();
        let mut d = MetricsDelta::new(chrono::Utc::now(), Reason::BillingIssue, Channel::Chat, None);
        d.add("escalations.queued");
        d.add(QUEUED_OR_RINGING);
        d.observe(Timing::ToAccept, 42);
        d.add_n("final.ticketed", -1);
        let line = emf_line("escalation-trigger", &ws, &d, 1_700_000_000_000).unwrap();
        let aws = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(aws["Namespace"], NAMESPACE);
        let names: Vec<&str> = aws["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["TimeToAccept", "EscalationsQueued", "QueuedOrRinging"]);
        assert_eq!(line["TimeToAccept"], 42.0);
        assert_eq!(line["EscalationsQueued"], 1.0);
        assert_eq!((line["Channel"].as_str(), line["Reason"].as_str()), (Some("chat"), Some("billing_issue")));
        // Every dimension named is a property of the line, as EMF requires.
        for dims in aws["Dimensions"].as_array().unwrap() {
            for d in dims.as_array().unwrap() {
                assert!(line.get(d.as_str().unwrap()).is_some());
            }
        }
        assert!(line.get("FinalTicketed").is_none());
        let empty = MetricsDelta::new(chrono::Utc::now(), Reason::Other, Channel::Voice, None);
        assert!(emf_line("f", &ws, &empty, 0).is_none());
    }
}
