//! How many shards a workspace's Inbox indexes (`active`, `by_state`, `by_team`), its changes feed
//! and its figures are spread over: one count per workspace, which starts at 1 and grows with the
//! workspace's measured escalation rate, and never shrinks. A quiet workspace's Inbox page, poll
//! and report read one shard each; a busy one spreads its writes as far as its rate needs.
//!
//! The count is the `LAYOUT` item in the partition of the workspace's settings copy 0 (so the
//! `Query` an escalation makes for its settings and teams reads it too). Readers read every shard
//! up to the newest count; writers use a new count only `GROWTH_LEAD` after it was recorded, and
//! every process reads the layout again at least every `LAYOUT_FRESH_FOR` (less than the lead)
//! before it reads an index, so a reader always knows of any count a writer uses. A shard of a
//! smaller count is also a shard of a larger one (`hash % count`, counts 1, 2, 4, …), so reading
//! up to the newest count finds every entry whatever count it was written with.
//!
//! Workspaces whose settings were first saved before layouts existed have no `LAYOUT` item and
//! keep the fixed count they were written with (`LEGACY_SHARDS`); the first growth records one.
//!
//! The rate: each process counts the escalations it records per workspace in windows of
//! `REPORT_EVERY`; a process that recorded at least `REPORT_FROM` in its last window adds them to
//! the workspace's counter of the minute (`RATE#<ws>`, one `UpdateItem` per busy process every 10
//! seconds at most, returning the minute's total), and grows the layout when the minute's rate, over
//! at least `RATE_FLOOR` of it, passes `LIVES_PER_SHARD` per shard: a spike of a few seconds does
//! not spread a workspace for good.

use super::keys::settings_key;
use super::transact::{from_attrs, n, s, sdk_error};
use super::DynamoStore;
use crate::domain::WorkspaceId;
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// The count of a workspace whose settings were saved before layouts existed (every index and the
/// figures were spread over 64 shards then).
pub const LEGACY_SHARDS: u32 = 64;
/// The most shards a workspace grows to.
pub const MAX_SHARDS: u32 = 1024;
/// A workspace grows when its escalations a second pass this many per shard: about half of what
/// one shard of its busiest index takes with whole lives (docs/SCALE.md, "Whole lives").
pub const LIVES_PER_SHARD: f64 = 12.0;
/// Writers use a new count this long after it is recorded.
pub const GROWTH_LEAD: Duration = Duration::seconds(120);
/// A process reads a workspace's layout again before reading an index if its copy is older.
pub const LAYOUT_FRESH_FOR: Duration = Duration::seconds(60);
/// A process reads it again before a write if its copy is older (an older copy is safe, but a
/// quiet writer would go on writing to the old shards after a growth).
pub const LAYOUT_REFRESH_FOR_WRITES: Duration = Duration::seconds(300);
/// A process counts a workspace's escalations in windows this long…
pub const REPORT_EVERY: i64 = 10;
/// …and reports a window's count from this many on.
pub const REPORT_FROM: u64 = 10;
/// The minute's rate is its count over at least this many seconds.
const RATE_FLOOR: f64 = 30.0;

pub(super) const LAYOUT_SK: &str = "LAYOUT";
const RATE_TTL: Duration = Duration::hours(1);

/// A workspace's shard counts: the newest (readers), and the one before it, which writers use
/// until `effective_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub shards: u32,
    pub previous: u32,
    pub effective_at: DateTime<Utc>,
}

impl Layout {
    /// A workspace saving its settings for the first time.
    pub fn first() -> Layout {
        Layout { shards: 1, previous: 1, effective_at: DateTime::<Utc>::UNIX_EPOCH }
    }

    /// A workspace saved before layouts existed.
    pub fn legacy() -> Layout {
        Layout { shards: LEGACY_SHARDS, previous: LEGACY_SHARDS, effective_at: DateTime::<Utc>::UNIX_EPOCH }
    }

    /// The count a write at `now` spreads by.
    pub fn for_write(&self, now: DateTime<Utc>) -> u32 {
        if now >= self.effective_at {
            self.shards
        } else {
            self.previous
        }
    }

    /// The count a read covers: every shard any write may have used.
    pub fn for_read(&self) -> u32 {
        self.shards
    }

    /// The layout for a workspace escalating `rate` times a second, if it needs more shards: the
    /// next power of two that keeps each shard under `LIVES_PER_SHARD`, at most `MAX_SHARDS`.
    pub fn grown(&self, rate: f64, now: DateTime<Utc>) -> Option<Layout> {
        if rate <= self.shards as f64 * LIVES_PER_SHARD || self.shards >= MAX_SHARDS {
            return None;
        }
        let needed = (rate / LIVES_PER_SHARD).ceil().max(1.0) as u32;
        let shards = needed.next_power_of_two().clamp(self.shards * 2, MAX_SHARDS);
        Some(Layout { shards, previous: self.for_write(now), effective_at: now + GROWTH_LEAD })
    }
}

#[derive(Serialize, Deserialize)]
struct LayoutItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    layout: Layout,
}

/// What a process knows of the workspaces it serves: their layouts (and when read), and how many
/// escalations it recorded in the current second.
#[derive(Default)]
pub(super) struct Layouts {
    known: Mutex<HashMap<WorkspaceId, (Layout, DateTime<Utc>)>>,
    counted: Mutex<HashMap<WorkspaceId, (i64, u64)>>,
}

impl Layouts {
    fn get(&self, ws: &WorkspaceId) -> Option<(Layout, DateTime<Utc>)> {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).get(ws).copied()
    }

    fn put(&self, ws: &WorkspaceId, layout: Layout, at: DateTime<Utc>) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= 10_000 && !known.contains_key(ws) {
            known.clear();
        }
        // Never back to a smaller count than one already known.
        match known.get(ws) {
            Some((k, _)) if k.shards > layout.shards => {}
            _ => {
                known.insert(ws.clone(), (layout, at));
            }
        }
    }

    /// Counts one escalation at `now`; returns the count of the window before, when this one
    /// starts a new window.
    fn count(&self, ws: &WorkspaceId, now: DateTime<Utc>) -> Option<u64> {
        let window = now.timestamp().div_euclid(REPORT_EVERY);
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        if counted.len() >= 10_000 && !counted.contains_key(ws) {
            counted.clear();
        }
        let entry = counted.entry(ws.clone()).or_insert((window, 0));
        if entry.0 == window {
            entry.1 += 1;
            return None;
        }
        let last = if entry.0 == window - 1 { entry.1 } else { 0 };
        *entry = (window, 1);
        Some(last)
    }
}

/// The layout a settings-copy-0 partition's items say: its `LAYOUT` item; none but settings: a
/// workspace saved before layouts (`legacy`); nothing: a workspace that never saved (`first`).
pub(super) fn layout_of(layout: Option<super::items::Item>, has_settings: bool) -> Result<Layout, StoreError> {
    match layout {
        Some(item) => Ok(from_attrs::<LayoutItem>(item)?.layout),
        None if has_settings => Ok(Layout::legacy()),
        None => Ok(Layout::first()),
    }
}

impl DynamoStore {
    /// The `LAYOUT` item of a workspace's first settings save.
    pub(super) fn first_layout_item(&self, ws: &WorkspaceId) -> Result<super::items::Item, StoreError> {
        let (pk, _) = settings_key(ws, 0);
        super::transact::to_attrs(&LayoutItem { pk, sk: LAYOUT_SK.into(), layout: Layout::first() })
    }

    /// Notes the layout read with the settings (an escalation's config read).
    pub(super) fn remember_layout(&self, ws: &WorkspaceId, layout: Layout) {
        self.layouts.put(ws, layout, self.clock.now());
    }

    /// The workspace's layout, as this process knows it (read from the table when it does not, or
    /// when its copy is older than `LAYOUT_FRESH_FOR` for a read (`fresh`), or than
    /// `LAYOUT_REFRESH_FOR_WRITES` for a write).
    pub(super) async fn layout(&self, ws: &WorkspaceId, fresh: bool) -> Result<Layout, StoreError> {
        let now = self.clock.now();
        if let Some((layout, at)) = self.layouts.get(ws) {
            let max_age = if fresh { LAYOUT_FRESH_FOR } else { LAYOUT_REFRESH_FOR_WRITES };
            if now - at < max_age {
                return Ok(layout);
            }
        }
        let (pk, _) = settings_key(ws, 0);
        let (items, _) = self.query_between(pk, LAYOUT_SK, "SETTINGS", None).await?;
        let mut layout = None;
        let mut has_settings = false;
        for item in items {
            match item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(LAYOUT_SK) => layout = Some(item),
                Some("SETTINGS") => has_settings = true,
                _ => {}
            }
        }
        let layout = layout_of(layout, has_settings)?;
        self.layouts.put(ws, layout, now);
        Ok(layout)
    }

    /// Counts an escalation recorded for `ws`, and once a window, when this process recorded at
    /// least `REPORT_FROM` in the window before, reports them (and grows the layout if the
    /// workspace's rate this minute needs it). A failure is logged, never the escalation's.
    pub(super) async fn count_escalation(&self, ws: &WorkspaceId) {
        let now = self.clock.now();
        let Some(last) = self.layouts.count(ws, now) else { return };
        if last < REPORT_FROM {
            return;
        }
        if let Err(e) = self.observe_rate(ws, last).await {
            tracing::warn!(workspace_id = %ws, error = %e, "could not record the escalation rate");
        }
    }

    /// Adds `escalations` (recorded by this process since its last report) to the workspace's count
    /// of this minute and grows its layout when the minute's rate so far needs more shards.
    /// Returns the layout, grown or not.
    pub async fn observe_rate(&self, ws: &WorkspaceId, escalations: u64) -> Result<Layout, StoreError> {
        let now = self.clock.now();
        let minute = now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("RATE#{ws}")))
            .key("sk", s(minute.format("%Y-%m-%dT%H:%M").to_string()))
            .update_expression("ADD escalations :n SET expires_at_epoch = :ttl")
            .expression_attribute_values(":n", n(escalations))
            .expression_attribute_values(":ttl", n((minute + RATE_TTL).timestamp()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let total = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("escalations"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(escalations as f64);
        // At least `RATE_FLOOR`: the start of a minute says little of its rate, and a short spike
        // should not spread the workspace for good.
        let elapsed = ((now - minute).num_milliseconds() as f64 / 1000.0).max(RATE_FLOOR);
        let layout = self.layout(ws, true).await?;
        let Some(grown) = layout.grown(total / elapsed, now) else { return Ok(layout) };
        self.grow(ws, layout, grown).await
    }

    /// Records `to` if the stored layout is still `from` (or absent, for a legacy or new one).
    async fn grow(&self, ws: &WorkspaceId, from: Layout, to: Layout) -> Result<Layout, StoreError> {
        let (pk, _) = settings_key(ws, 0);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(LAYOUT_SK))
            .update_expression("SET shards = :to, previous = :previous, effective_at = :at")
            .condition_expression("attribute_not_exists(pk) OR shards = :from")
            .expression_attribute_values(":to", n(to.shards))
            .expression_attribute_values(":previous", n(to.previous))
            .expression_attribute_values(":at", s(to.effective_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .expression_attribute_values(":from", n(from.shards))
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::info!(workspace_id = %ws, from = from.shards, to = to.shards, effective_at = %to.effective_at,
                               "the workspace's indexes spread over more shards");
                self.layouts.put(ws, to, self.clock.now());
                Ok(to)
            }
            // Another process grew it first: read what it recorded.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                self.layouts.known.lock().unwrap_or_else(|p| p.into_inner()).remove(ws);
                self.layout(ws, true).await
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_workspace_grows_with_its_rate_and_writers_follow_after_the_lead() {
        let now = at("2026-11-24T10:00:00Z");
        let l = Layout::first();
        assert_eq!(l.grown(12.0, now), None, "12 a second fit one shard");
        let g = l.grown(100.0, now).unwrap();
        assert_eq!((g.shards, g.previous), (16, 1), "100/s: 9 shards needed, the next power of two");
        assert_eq!(g.for_read(), 16, "readers cover the new count at once");
        assert_eq!(g.for_write(now + Duration::seconds(119)), 1, "writers keep the old one until the lead has passed");
        assert_eq!(g.for_write(now + GROWTH_LEAD), 16);
        assert_eq!(Layout::legacy().grown(10_000.0, now).unwrap().shards, 1024, "10,000/s: the most there is");
        assert_eq!(Layout::legacy().grown(500.0, now), None, "64 shards take 768 a second");
        assert_eq!(
            g.grown(250.0, now).unwrap().previous,
            1,
            "a growth before the last took effect keeps the count in use"
        );
        assert!(LAYOUT_FRESH_FOR < GROWTH_LEAD, "a reader learns of a count before writers use it");
    }

    #[test]
    fn a_process_reports_the_window_before_once_a_new_one_starts() {
        let l = Layouts::default();
        let ws = WorkspaceId::parse("ws").unwrap();
        let t = at("2026-11-24T10:00:00.100Z");
        for i in 0..27 {
            assert_eq!(l.count(&ws, t + Duration::milliseconds(300 * i)), None, "within the window");
        }
        assert_eq!(l.count(&ws, t + Duration::seconds(10)), Some(27));
        assert_eq!(l.count(&ws, t + Duration::seconds(45)), Some(0), "a quiet gap reports nothing worth sending");
    }
}
