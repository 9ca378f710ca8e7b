//! Handoff metrics (spec §13): what each decision adds to a workspace's figures, and the report
//! computed from those sums.
//!
//! The figures are kept as sums while handoffs change, in the same write as the change: per
//! grouping (reason, channel, team), per value and per UTC day of the handoff's creation, a set of
//! counters, and for the two durations a histogram (a count per bucket). A report adds up the
//! rows of its days, so its cost grows with the days and groups asked for, never with the
//! number of handoffs.

use super::escalation::EscalationOutcome;
use super::handoff::{Channel, Reason, State};
use super::ids::TeamId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many days in one report.
pub const MAX_DAYS: i64 = 93;

/// The groupings of the report (`group_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Dimension {
    Reason,
    Channel,
    Team,
}

/// The key of a handoff without a team in the `team` grouping.
pub const NO_TEAM: &str = "-";

/// The two durations the report gives percentiles of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Escalation → first accept.
    ToAccept,
    /// Escalation → resolved.
    ToResolve,
}

impl Timing {
    fn prefix(self) -> &'static str {
        match self {
            Timing::ToAccept => "accept.",
            Timing::ToResolve => "resolve.",
        }
    }
}

/// The duration and bucket a counter counts, if it is a bucket (`accept.<n>`, `resolve.<n>`)
/// rather than a plain counter.
pub fn bucket_counter(name: &str) -> Option<(Timing, u32)> {
    [Timing::ToAccept, Timing::ToResolve].into_iter().find_map(|t| {
        let b = name.strip_prefix(t.prefix())?;
        if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((t, b.parse().ok()?))
    })
}

/// Durations are counted in buckets: exact to the second below [`EXACT_BELOW`] seconds, then each
/// bucket 1% wider than the one before. A percentile or maximum is the lower bound of its bucket:
/// exact below ten minutes, at most 1% low above.
pub const EXACT_BELOW: u64 = 600;
const GROWTH: f64 = 1.01;

pub fn bucket_of(seconds: u64) -> u32 {
    if seconds < EXACT_BELOW {
        seconds as u32
    } else {
        let steps = ((seconds as f64) / EXACT_BELOW as f64).ln() / GROWTH.ln();
        // Guard the float at exact bucket bounds: the bucket's lower bound must not exceed it.
        let mut b = steps.floor() as u32;
        while b > 0 && lower_bound(EXACT_BELOW as u32 + b) > seconds {
            b -= 1;
        }
        while lower_bound(EXACT_BELOW as u32 + b + 1) <= seconds {
            b += 1;
        }
        EXACT_BELOW as u32 + b
    }
}

pub fn lower_bound(bucket: u32) -> u64 {
    if (bucket as u64) < EXACT_BELOW {
        bucket as u64
    } else {
        (EXACT_BELOW as f64 * GROWTH.powi((bucket as u64 - EXACT_BELOW) as i32)).ceil() as u64
    }
}

/// What one decision adds to the figures of the day its handoff (or escalation) was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsDelta {
    pub day: NaiveDate,
    pub reason: Reason,
    pub channel: Channel,
    pub team_id: Option<TeamId>,
    /// Counter name → amount added (negative when a handoff leaves a final state: a ticket
    /// resolved later moves from `ticketed` to `resolved`).
    pub counts: BTreeMap<String, i64>,
}

impl MetricsDelta {
    pub fn new(created_at: DateTime<Utc>, reason: Reason, channel: Channel, team_id: Option<TeamId>) -> Self {
        Self { day: created_at.date_naive(), reason, channel, team_id, counts: BTreeMap::new() }
    }
    pub fn add(&mut self, name: impl Into<String>) {
        self.add_n(name, 1);
    }
    pub fn add_n(&mut self, name: impl Into<String>, n: i64) {
        let e = self.counts.entry(name.into()).or_default();
        *e += n;
    }
    pub fn observe(&mut self, d: Timing, seconds: u64) {
        self.add(format!("{}{}", d.prefix(), bucket_of(seconds)));
    }
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
    /// The key of this delta's row in a grouping.
    pub fn key(&self, dim: Dimension) -> String {
        match dim {
            Dimension::Reason => self.reason.as_str().to_string(),
            Dimension::Channel => self.channel.as_str().to_string(),
            Dimension::Team => self.team_id.as_ref().map(|t| t.as_str().to_string()).unwrap_or_else(|| NO_TEAM.into()),
        }
    }
}

pub fn escalation_counter(o: EscalationOutcome) -> String {
    let name = match o {
        EscalationOutcome::Disabled => "disabled",
        EscalationOutcome::RoutedToAi => "routed_to_ai",
        EscalationOutcome::Queued => "queued",
        EscalationOutcome::Ringing => "ringing",
        EscalationOutcome::AlreadyActive => "already_active",
        EscalationOutcome::AfterHours => "after_hours",
    };
    format!("escalations.{name}")
}
pub fn final_state_counter(s: State) -> String {
    format!("final.{}", s.as_str())
}
pub const QUEUED_OR_RINGING: &str = "queued_or_ringing";
pub const ABANDONED_BEFORE_ACCEPT: &str = "abandoned_before_accept";
pub const STALL_NOTICES: &str = "stall_notices";
pub const RING_TIMEOUTS: &str = "ring_timeouts";
pub const RETURNED_BY_AGENT: &str = "returned_by_agent";

/// One stored row: the sums of one grouping value on one day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsRow {
    pub day: Option<NaiveDate>,
    pub key: String,
    pub counts: BTreeMap<String, i64>,
}

impl MetricsRow {
    /// The rows of figures as a store reads them back: each entry is what one stored item or row
    /// holds, the day as stored (`YYYY-MM-DD`), the grouping value and some counters (name,
    /// amount). Out come one row per day and value, in that order, each counter the sum of its
    /// amounts (a store may keep a counter in several places, such as shards). A day that does not
    /// read as a date is an error (the store's `Corrupt`): stored figures are never skipped.
    pub fn from_stored<D, C>(stored: impl IntoIterator<Item = (D, String, C)>) -> Result<Vec<MetricsRow>, String>
    where
        D: AsRef<str>,
        C: IntoIterator<Item = (String, i64)>,
    {
        let mut rows: BTreeMap<(NaiveDate, String), MetricsRow> = BTreeMap::new();
        for (day, key, counts) in stored {
            let day = day.as_ref();
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|e| format!("figures stored under the day {day:?}: {e}"))?;
            let row = rows.entry((date, key)).or_insert_with_key(|(date, key)| MetricsRow {
                day: Some(*date),
                key: key.clone(),
                counts: BTreeMap::new(),
            });
            for (name, amount) in counts {
                *row.counts.entry(name).or_default() += amount;
            }
        }
        Ok(rows.into_values().collect())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DurationFigures {
    pub count: u64,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFigures {
    /// The grouping value (`null`: every handoff, or no team).
    pub key: Option<String>,
    pub escalations: BTreeMap<String, u64>,
    pub final_states: BTreeMap<String, u64>,
    pub time_to_accept_seconds: DurationFigures,
    /// Abandoned before any accept ÷ queued or ringing (`null` when none was).
    pub abandonment_rate: Option<f64>,
    pub stall_notices: u64,
    pub ring_timeouts: u64,
    pub returned_by_agent: u64,
    pub time_to_resolve_seconds: DurationFigures,
}

fn percentile(hist: &BTreeMap<u32, u64>, total: u64, p: f64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    // Nearest rank: the smallest value with at least p of the observations at or below it.
    let rank = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (b, n) in hist {
        seen += n;
        if seen >= rank {
            return Some(lower_bound(*b));
        }
    }
    hist.keys().last().map(|b| lower_bound(*b))
}

fn figures(counts: &BTreeMap<String, u64>, d: Timing) -> DurationFigures {
    let hist: BTreeMap<u32, u64> = counts
        .iter()
        .filter(|(_, v)| **v > 0)
        .filter_map(|(k, v)| bucket_counter(k).filter(|(t, _)| *t == d).map(|(_, b)| (b, *v)))
        .collect();
    let count = hist.values().sum();
    DurationFigures {
        count,
        p50: percentile(&hist, count, 0.5),
        p90: percentile(&hist, count, 0.9),
        max: hist.keys().last().map(|b| lower_bound(*b)),
    }
}

/// The figures of each grouping value (or of everything, `key: null`, when `grouped` is false),
/// from the rows of the days asked for.
pub fn report(rows: &[MetricsRow], grouped: bool) -> Vec<GroupFigures> {
    let mut signed: BTreeMap<Option<String>, BTreeMap<String, i64>> = BTreeMap::new();
    for r in rows {
        let key = grouped.then(|| r.key.clone()).filter(|k| k != NO_TEAM);
        let s = signed.entry(key).or_default();
        for (k, v) in &r.counts {
            *s.entry(k.clone()).or_default() += v;
        }
    }
    let mut sums: BTreeMap<Option<String>, BTreeMap<String, u64>> =
        signed.into_iter().map(|(k, c)| (k, c.into_iter().map(|(n, v)| (n, v.max(0) as u64)).collect())).collect();
    if sums.is_empty() && !grouped {
        sums.insert(None, BTreeMap::new());
    }
    sums.into_iter()
        .map(|(key, c)| {
            let get = |k: &str| c.get(k).copied().unwrap_or(0);
            let with = |prefix: &str, names: Vec<&str>| -> BTreeMap<String, u64> {
                names.into_iter().map(|n| (n.to_string(), get(&format!("{prefix}{n}")))).collect()
            };
            let outcomes = vec!["queued", "ringing", "routed_to_ai", "after_hours", "disabled", "already_active"];
            let finals: Vec<&str> = State::all().filter(|s| !s.is_active()).map(State::as_str).collect();
            let queued = get(QUEUED_OR_RINGING);
            GroupFigures {
                key,
                escalations: with("escalations.", outcomes),
                final_states: with("final.", finals),
                time_to_accept_seconds: figures(&c, Timing::ToAccept),
                abandonment_rate: (queued > 0).then(|| get(ABANDONED_BEFORE_ACCEPT) as f64 / queued as f64),
                stall_notices: get(STALL_NOTICES),
                ring_timeouts: get(RING_TIMEOUTS),
                returned_by_agent: get(RETURNED_BY_AGENT),
                time_to_resolve_seconds: figures(&c, Timing::ToResolve),
            }
        })
        .collect()
}

/// A validated report request: `[from, to)` in UTC days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Option<Dimension>,
}

/// Reads `from`, `to` (dates, `to` excluded, at most 93 days after `from`) and `group_by`.
pub fn parse_metrics_query(params: &[(String, String)]) -> Result<MetricsQuery, Vec<super::FieldError>> {
    use super::validation::Errors;
    let mut errs = Errors::default();
    for (i, (k, _)) in params.iter().enumerate() {
        if !["from", "to", "group_by"].contains(&k.as_str()) {
            errs.push(k.clone(), "unknown query parameter");
        } else if params[..i].iter().any(|(p, _)| p == k) {
            errs.push(k.clone(), "may be given only once");
        }
    }
    let get = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut date = |name: &str| match get(name) {
        None => {
            errs.push(name, "is required (a date, YYYY-MM-DD)");
            None
        }
        Some(v) => errs.take(name, super::hours::parse_date(v)),
    };
    let (from, to) = (date("from"), date("to"));
    let group_by = match get("group_by") {
        None => None,
        Some(v) => errs.take(
            "group_by",
            Dimension::parse(v).map(Some).ok_or_else(|| format!("must be one of {}", Dimension::names().join(", "))),
        ),
    };
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errs.push("to", format!("must be after from ({f}); the range is [from, to)"));
        } else if (t - f).num_days() > MAX_DAYS {
            errs.push("to", format!("must be at most {MAX_DAYS} days after from (got {})", (t - f).num_days()));
        }
    }
    errs.finish(|| MetricsQuery { from: from.unwrap(), to: to.unwrap(), group_by: group_by.flatten() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_exact_then_within_one_percent() {
        for s in [0, 1, 59, 599] {
            assert_eq!(lower_bound(bucket_of(s)), s);
        }
        assert_eq!(bucket_of(600), 600);
        assert_eq!(bucket_of(606), 601);
    }

    proptest! {
        #[test]
        fn a_bucket_holds_its_value_within_one_percent(s in 0u64..100_000_000) {
            let b = bucket_of(s);
            let lo = lower_bound(b);
            prop_assert!(lo <= s && s < lower_bound(b + 1), "{s} in bucket {b} [{lo}, {})", lower_bound(b + 1));
            prop_assert!((s - lo) as f64 <= 0.01 * s as f64 + 1.0);
        }

        /// Percentiles from the buckets agree with the exact nearest-rank percentiles (exactly
        /// below ten minutes, within 1% above).
        #[test]
        fn percentiles_match_the_observations(values in prop::collection::vec(0u64..50_000, 1..200)) {
            let mut d = MetricsDelta::new(Utc::now(), Reason::Other, Channel::Chat, None);
            for v in &values {
                d.observe(Timing::ToAccept, *v);
            }
            let row = MetricsRow { day: None, key: "other".into(), counts: d.counts };
            let f = &report(&[row], false)[0].time_to_accept_seconds;
            let mut sorted = values.clone();
            sorted.sort();
            let exact = |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).max(1) - 1];
            for (got, want) in [(f.p50.unwrap(), exact(0.5)), (f.p90.unwrap(), exact(0.9)), (f.max.unwrap(), *sorted.last().unwrap())] {
                prop_assert!(got <= want && (want - got) as f64 <= 0.01 * want as f64 + 0.5, "{got} vs {want}");
            }
            prop_assert_eq!(f.count, values.len() as u64);
        }
    }

    #[test]
    fn rows_add_up_per_key() {
        let row = |key: &str, pairs: &[(&str, u64)]| MetricsRow {
            day: None,
            key: key.into(),
            counts: pairs.iter().map(|(k, v)| (k.to_string(), *v as i64)).collect(),
        };
        let rows = [
            row("chat", &[("escalations.queued", 3), (QUEUED_OR_RINGING, 3), (ABANDONED_BEFORE_ACCEPT, 1)]),
            row("chat", &[("escalations.queued", 1), (QUEUED_OR_RINGING, 1), ("final.resolved", 2)]),
            row("voice", &[("escalations.ringing", 2), (RING_TIMEOUTS, 2)]),
        ];
        let by = report(&rows, true);
        assert_eq!(by.len(), 2);
        assert_eq!(by[0].key.as_deref(), Some("chat"));
        assert_eq!(by[0].escalations["queued"], 4);
        assert_eq!(by[0].final_states["resolved"], 2);
        assert_eq!(by[0].abandonment_rate, Some(0.25));
        assert_eq!(by[1].ring_timeouts, 2);
        assert_eq!(by[1].abandonment_rate, None);
        let all = report(&rows, false);
        assert_eq!((all.len(), all[0].key.clone(), all[0].escalations["ringing"]), (1, None, 2));
        // Nothing stored: one group of zeros.
        assert_eq!(report(&[], false)[0].escalations["queued"], 0);
    }

    #[test]
    fn stored_figures_fold_into_rows_by_day_and_value() {
        let day = |d: &str| Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        let counts = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect::<Vec<_>>();
        let rows = MetricsRow::from_stored([
            ("2026-11-02", "chat".to_string(), counts(&[("escalations.queued", 1)])),
            ("2026-11-01", "voice".to_string(), counts(&[(RING_TIMEOUTS, 1)])),
            ("2026-11-02", "chat".to_string(), counts(&[("escalations.queued", 2), ("accept.5", 1)])),
            ("2026-11-01", "chat".to_string(), counts(&[])),
        ])
        .unwrap();
        let got: Vec<_> = rows.iter().map(|r| (r.day, r.key.as_str(), r.counts.clone())).collect();
        assert_eq!(
            got,
            [
                (day("2026-11-01"), "chat", BTreeMap::new()),
                (day("2026-11-01"), "voice", [(RING_TIMEOUTS.to_string(), 1)].into()),
                (
                    day("2026-11-02"),
                    "chat",
                    [("accept.5".to_string(), 1), ("escalations.queued".to_string(), 3)].into()
                ),
            ]
        );
        let bad = MetricsRow::from_stored([("2026-13-01", "chat".to_string(), counts(&[("x", 1)]))]);
        assert!(bad.unwrap_err().contains("2026-13-01"), "a bad stored day is an error, never skipped");
    }

    #[test]
    fn the_query_is_checked() {
        let q = |pairs: &[(&str, &str)]| {
            parse_metrics_query(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
        };
        let ok = q(&[("from", "2026-11-01"), ("to", "2026-12-01"), ("group_by", "team")]).unwrap();
        assert_eq!(ok.group_by, Some(Dimension::Team));
        let fields = |r: Result<MetricsQuery, Vec<super::super::FieldError>>| {
            r.unwrap_err().into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert_eq!(fields(q(&[])), ["from", "to"]);
        assert_eq!(fields(q(&[("from", "2026-11-01"), ("to", "2026-11-01")])), ["to"]);
        // 93 days at most: 2026-01-01 to 2026-04-04 is 93.
        assert_eq!(fields(q(&[("from", "2026-01-01"), ("to", "2026-04-05")])), ["to"]);
        assert!(q(&[("from", "2026-01-01"), ("to", "2026-04-04"), ("group_by", "x")]).is_err());
        assert_eq!(
            fields(q(&[("from", "2026-13-01"), ("to", "x"), ("group_by", "day"), ("y", "1")])),
            ["y", "from", "to", "group_by"]
        );
        assert!(q(&[("from", "2026-01-01"), ("to", "2026-04-04")]).is_ok());
        assert_eq!(fields(q(&[("from", "2026-01-01"), ("to", "2026-01-04"), ("from", "2026-01-02")])), ["from"]);
    }
}
