//! Business hours (spec §11): when a workspace's people are there, in its own time zone, with
//! holidays and daylight-saving changes; "is it open now" and "when does it open next".
//!
//! A moment is open when its wall-clock time in the time zone falls in one of that weekday's
//! ranges (`[start, end)`) and its local date is not a holiday. Everything follows from that one
//! rule, so the days when the clocks change need no special case: a range that starts inside the
//! skipped hour opens when the clocks jump, and an hour that is repeated is open (or closed) both
//! times.

use super::settings::Message;
use super::validation::{as_str, json_type, one_of, reject_unknown, Errors};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many ranges a day.
pub const MAX_RANGES_PER_DAY: usize = 4;
/// At most this many holidays.
pub const MAX_HOLIDAYS: usize = 366;
/// How far ahead "when does it open next" looks (a schedule closed longer than this is closed).
pub const MAX_DAYS_AHEAD: i64 = 400;

pub const DEFAULT_AFTER_HOURS: &str =
    "Our team is away right now. We'll pick up your conversation as soon as we're back.";

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// An IANA time zone name the bundled time-zone database knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err("must be an IANA time zone name such as \"Europe/Paris\"".into());
        }
        match jiff::tz::db().get(s) {
            Ok(_) => Ok(Self(s.to_string())),
            Err(_) => Err(format!("is not a known IANA time zone name (got {s:?}; for example \"Europe/Paris\")")),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    fn zone(&self) -> jiff::tz::TimeZone {
        // Checked when parsed; the bundled database does not change while the process runs.
        jiff::tz::db().get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}
impl TryFrom<String> for TimeZoneName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}
impl From<TimeZoneName> for String {
    fn from(t: TimeZoneName) -> String {
        t.0
    }
}

/// A wall-clock time, `HH:MM`, as minutes after midnight (0–1440; 1440 is `24:00`, an end only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    pub const END_OF_DAY: ClockTime = ClockTime(24 * 60);
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("must be a time \"HH:MM\" from \"00:00\" to \"24:00\" (got {s:?})");
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return Err(bad());
        }
        let (h, m) =
            ((b[0] - b'0') as u16 * 10 + (b[1] - b'0') as u16, (b[3] - b'0') as u16 * 10 + (b[4] - b'0') as u16);
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }
    pub fn minutes(self) -> u16 {
        self.0
    }
}
impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One opening range of a day, `[start, end)`, written `["09:00", "17:30"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "(String, String)", into = "(String, String)")]
pub struct OpenRange {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl OpenRange {
    pub fn new(start: ClockTime, end: ClockTime) -> Result<Self, String> {
        if start >= end {
            return Err(format!("must start before it ends (got {start} to {end})"));
        }
        Ok(Self { start, end })
    }
}
impl TryFrom<(String, String)> for OpenRange {
    type Error = String;
    fn try_from((a, b): (String, String)) -> Result<Self, String> {
        Self::new(ClockTime::parse(&a)?, ClockTime::parse(&b)?)
    }
}
impl From<OpenRange> for (String, String) {
    fn from(r: OpenRange) -> Self {
        (r.start.to_string(), r.end.to_string())
    }
}

/// The ranges of each weekday, Monday first; each day's are in order and do not overlap.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Weekly {
    #[serde(default)]
    pub mon: Vec<OpenRange>,
    #[serde(default)]
    pub tue: Vec<OpenRange>,
    #[serde(default)]
    pub wed: Vec<OpenRange>,
    #[serde(default)]
    pub thu: Vec<OpenRange>,
    #[serde(default)]
    pub fri: Vec<OpenRange>,
    #[serde(default)]
    pub sat: Vec<OpenRange>,
    #[serde(default)]
    pub sun: Vec<OpenRange>,
}

impl Weekly {
    /// The ranges of a weekday, 0 = Monday.
    pub fn day(&self, monday0: u32) -> &[OpenRange] {
        match monday0 % 7 {
            0 => &self.mon,
            1 => &self.tue,
            2 => &self.wed,
            3 => &self.thu,
            4 => &self.fri,
            5 => &self.sat,
            _ => &self.sun,
        }
    }
    fn day_mut(&mut self, monday0: usize) -> &mut Vec<OpenRange> {
        match monday0 {
            0 => &mut self.mon,
            1 => &mut self.tue,
            2 => &mut self.wed,
            3 => &mut self.thu,
            4 => &mut self.fri,
            5 => &mut self.sat,
            _ => &mut self.sun,
        }
    }
}

/// Outside business hours, a chat escalation is queued (with the after-hours message) or sent
/// back to the AI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::EnumIter, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AfterHoursChat {
    #[default]
    Queue,
    ReturnToAi,
}

/// A workspace's business hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    pub time_zone: TimeZoneName,
    pub weekly: Weekly,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    pub after_hours_message: Message,
    #[serde(default)]
    pub after_hours_chat: AfterHoursChat,
}

fn timestamp(at: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::new(at.timestamp(), at.timestamp_subsec_nanos() as i32).unwrap_or(jiff::Timestamp::MIN)
}
fn utc(t: jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond() as u32)
}
fn naive(d: jiff::civil::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year() as i32, d.month() as u32, d.day() as u32)
}

impl BusinessHours {
    fn is_holiday(&self, d: NaiveDate) -> bool {
        self.holidays.contains(&d)
    }

    /// Is the team there at `at`?
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.open_in(&self.time_zone.zone(), timestamp(at))
    }

    fn open_in(&self, tz: &jiff::tz::TimeZone, t: jiff::Timestamp) -> bool {
        let local = tz.to_datetime(t);
        let Some(date) = naive(local.date()) else { return false };
        if self.is_holiday(date) {
            return false;
        }
        let tod = local.time();
        // Seconds into the local day, against whole-minute bounds.
        let secs = tod.hour() as u32 * 3600 + tod.minute() as u32 * 60 + tod.second() as u32;
        let weekday = date.weekday().num_days_from_monday();
        self.weekly
            .day(weekday)
            .iter()
            .any(|r| (r.start.minutes() as u32) * 60 <= secs && secs < (r.end.minutes() as u32) * 60)
    }

    /// The first moment at or after `at` when the team is there; `None` when that is more than
    /// [`MAX_DAYS_AHEAD`] days away (or never).
    ///
    /// Opening happens only where the wall clock reaches a range's start, or where it jumps (a
    /// time-zone transition); those moments are the candidates, checked in order.
    pub fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.time_zone.zone();
        let from = timestamp(at);
        if self.open_in(&tz, from) {
            return Some(at);
        }
        // Days are counted with chrono; jiff only converts between instants and wall clocks
        // (which keeps the functions small: no calendar arithmetic of its own is linked).
        let first_day = naive(tz.to_datetime(from).date())?;
        let limit = from.checked_add(jiff::SignedDuration::from_hours(MAX_DAYS_AHEAD * 24)).ok()?;
        let mut transitions = tz.following(from).map(|tr| tr.timestamp()).take_while(|t| *t <= limit).peekable();
        let wall = |d: NaiveDate, minutes: u16| {
            let date = jiff::civil::date(d.year() as i16, d.month() as i8, d.day() as i8);
            tz.to_timestamp(date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)).ok()
        };
        for date in first_day.iter_days().take(MAX_DAYS_AHEAD as usize + 1) {
            let mut candidates: Vec<jiff::Timestamp> = Vec::new();
            if !self.is_holiday(date) {
                for r in self.weekly.day(date.weekday().num_days_from_monday()) {
                    // A start inside a skipped hour maps past the jump; the jump itself is a
                    // candidate too (below), and it is the earlier one.
                    candidates.extend(wall(date, r.start.minutes()));
                }
            }
            // The transitions up to the end of this local day.
            let day_end = date.succ_opt().and_then(|d| wall(d, 0)).unwrap_or(limit);
            while let Some(t) = transitions.next_if(|t| *t <= day_end) {
                candidates.push(t);
            }
            candidates.sort();
            if let Some(t) = candidates.into_iter().find(|t| *t > from && self.open_in(&tz, *t)) {
                return utc(t);
            }
        }
        None
    }
}

/// Reads the `business_hours` field of a settings document (`null`: always open).
pub fn parse_business_hours(v: &Value, errs: &mut Errors) -> Option<Option<BusinessHours>> {
    const F: &str = "business_hours";
    let obj = match v {
        Value::Null => return Some(None),
        Value::Object(o) => o,
        other => {
            errs.push(F, format!("must be an object or null, got {}", json_type(other)));
            return None;
        }
    };
    let before = errs.0.len();
    reject_unknown(
        obj,
        &["time_zone", "weekly", "holidays", "after_hours_message", "after_hours_chat"],
        "business_hours.",
        errs,
    );
    let time_zone = match obj.get("time_zone") {
        None => {
            errs.push("business_hours.time_zone", "is required");
            None
        }
        Some(v) => errs.take("business_hours.time_zone", as_str(v).and_then(TimeZoneName::parse)),
    };
    let mut weekly = Weekly::default();
    match obj.get("weekly") {
        None => errs.push("business_hours.weekly", "is required"),
        Some(Value::Object(days)) => {
            reject_unknown(days, &DAYS, "business_hours.weekly.", errs);
            for (i, day) in DAYS.iter().enumerate() {
                let field = format!("business_hours.weekly.{day}");
                match days.get(*day) {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(ranges)) => {
                        if ranges.len() > MAX_RANGES_PER_DAY {
                            errs.push(
                                &field,
                                format!("must have at most {MAX_RANGES_PER_DAY} ranges (got {})", ranges.len()),
                            );
                            continue;
                        }
                        let parsed: Vec<Option<OpenRange>> = ranges
                            .iter()
                            .enumerate()
                            .map(|(j, r)| errs.take(&format!("{field}[{j}]"), parse_range(r)))
                            .collect();
                        let ok: Vec<OpenRange> = parsed.iter().flatten().copied().collect();
                        if ok.len() == parsed.len() {
                            match ok.windows(2).position(|w| w[1].start < w[0].end) {
                                Some(j) => errs.push(
                                    format!("{field}[{}]", j + 1),
                                    format!(
                                        "must start at or after the end of the range before it ({}) and ranges must be in order, without overlapping",
                                        ok[j].end
                                    ),
                                ),
                                None => *weekly.day_mut(i) = ok,
                            }
                        }
                    }
                    Some(other) => errs.push(
                        field,
                        format!("must be a list of [\"HH:MM\", \"HH:MM\"] ranges, got {}", json_type(other)),
                    ),
                }
            }
        }
        Some(other) => errs.push(
            "business_hours.weekly",
            format!("must be an object with the days mon … sun, got {}", json_type(other)),
        ),
    }
    let mut holidays = Vec::new();
    match obj.get("holidays") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.len() > MAX_HOLIDAYS => {
            errs.push("business_hours.holidays", format!("must have at most {MAX_HOLIDAYS} dates (got {})", list.len()))
        }
        Some(Value::Array(list)) => {
            for (j, d) in list.iter().enumerate() {
                let field = format!("business_hours.holidays[{j}]");
                if let Some(date) = errs.take(&field, as_str(d).and_then(parse_date)) {
                    if holidays.contains(&date) {
                        errs.push(field, format!("{date} is listed twice"));
                    } else {
                        holidays.push(date);
                    }
                }
            }
            holidays.sort();
        }
        Some(other) => {
            errs.push("business_hours.holidays", format!("must be a list of dates, got {}", json_type(other)))
        }
    }
    let after_hours_message = match obj.get("after_hours_message") {
        None => Message::parse(DEFAULT_AFTER_HOURS).ok(),
        Some(v) => errs.take("business_hours.after_hours_message", as_str(v).and_then(Message::parse)),
    };
    let after_hours_chat = match obj.get("after_hours_chat") {
        None => Some(AfterHoursChat::default()),
        Some(v) => {
            errs.take("business_hours.after_hours_chat", one_of(v, AfterHoursChat::parse, &AfterHoursChat::names()))
        }
    };
    if errs.0.len() > before {
        return None;
    }
    Some(Some(BusinessHours {
        time_zone: time_zone?,
        weekly,
        holidays,
        after_hours_message: after_hours_message?,
        after_hours_chat: after_hours_chat?,
    }))
}

fn parse_range(v: &Value) -> Result<OpenRange, String> {
    let shape = || format!("must be a range [\"HH:MM\", \"HH:MM\"], got {}", json_type(v));
    let Value::Array(pair) = v else { return Err(shape()) };
    let [a, b] = pair.as_slice() else { return Err(shape()) };
    let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else { return Err(shape()) };
    let start = ClockTime::parse(a)?;
    if start == ClockTime::END_OF_DAY {
        return Err("cannot start at 24:00".into());
    }
    OpenRange::new(start, ClockTime::parse(b)?)
}

/// A calendar date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(format!("must be a date \"YYYY-MM-DD\" (got {s:?})"));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("is not a calendar date (got {s:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use proptest::prelude::*;
    use serde_json::json;

    fn hours(tz: &str, weekly: Value, holidays: Value) -> BusinessHours {
        let mut errs = Errors::default();
        let v = json!({"time_zone": tz, "weekly": weekly, "holidays": holidays});
        let h = parse_business_hours(&v, &mut errs);
        assert!(errs.is_empty(), "{:?}", errs.0);
        h.unwrap().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn nine_to_five(tz: &str) -> BusinessHours {
        let day = json!([["09:00", "17:30"]]);
        hours(
            tz,
            json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [], "sun": []}),
            json!(["2026-12-25"]),
        )
    }

    #[test]
    fn open_and_closed_in_the_workspace_time_zone() {
        let h = nine_to_five("Europe/Paris");
        // Wednesday 2026-11-25: Paris is UTC+1.
        assert!(!h.is_open(at("2026-11-25T07:59:59Z")));
        assert!(h.is_open(at("2026-11-25T08:00:00Z")));
        assert!(h.is_open(at("2026-11-25T16:29:59Z")));
        assert!(!h.is_open(at("2026-11-25T16:30:00Z")));
        // Saturday closed; Christmas (a Friday) closed all day.
        assert!(!h.is_open(at("2026-11-28T12:00:00Z")));
        assert!(!h.is_open(at("2026-12-25T12:00:00Z")));
        assert_eq!(h.next_opening(at("2026-11-25T17:00:00Z")), Some(at("2026-11-26T08:00:00Z")));
        assert_eq!(h.next_opening(at("2026-11-27T17:00:00Z")), Some(at("2026-11-30T08:00:00Z")));
        assert_eq!(h.next_opening(at("2026-12-24T17:00:00Z")), Some(at("2026-12-28T08:00:00Z")));
        assert_eq!(h.next_opening(at("2026-11-25T10:00:00Z")), Some(at("2026-11-25T10:00:00Z")));
    }

    #[test]
    fn summer_time_moves_the_opening_in_utc() {
        let h = nine_to_five("America/New_York");
        // EST (UTC-5) in January, EDT (UTC-4) in July.
        assert_eq!(h.next_opening(at("2027-01-05T02:00:00Z")), Some(at("2027-01-05T14:00:00Z")));
        assert_eq!(h.next_opening(at("2027-07-06T02:00:00Z")), Some(at("2027-07-06T13:00:00Z")));
        // Friday 2027-03-12 after hours → Monday 2027-03-15, after the clocks went forward on Sunday.
        assert_eq!(h.next_opening(at("2027-03-12T23:00:00Z")), Some(at("2027-03-15T13:00:00Z")));
    }

    #[test]
    fn a_range_starting_in_the_skipped_hour_opens_when_the_clocks_jump() {
        // New York skips 02:00–03:00 on Sunday 2027-03-14 (07:00 UTC is 03:00 EDT).
        let h = hours("America/New_York", json!({"sun": [["02:30", "05:00"]]}), json!([]));
        assert_eq!(h.next_opening(at("2027-03-14T05:00:00Z")), Some(at("2027-03-14T07:00:00Z")));
        assert!(h.is_open(at("2027-03-14T07:00:00Z")));
        assert!(!h.is_open(at("2027-03-14T06:59:59Z")));
        // A range entirely inside the skipped hour does not open that day: next week instead.
        let h = hours("America/New_York", json!({"sun": [["02:10", "02:50"]]}), json!([]));
        assert_eq!(h.next_opening(at("2027-03-14T05:00:00Z")), Some(at("2027-03-21T06:10:00Z")));
    }

    #[test]
    fn the_repeated_hour_is_open_both_times() {
        // New York repeats 01:00–02:00 on Sunday 2027-11-07 (05:00–06:00 UTC, then 06:00–07:00 UTC).
        let h = hours("America/New_York", json!({"sun": [["01:00", "01:30"]]}), json!([]));
        assert!(h.is_open(at("2027-11-07T05:10:00Z")));
        assert!(!h.is_open(at("2027-11-07T05:40:00Z")));
        assert!(h.is_open(at("2027-11-07T06:10:00Z")));
        // Closed after the first pass: it opens again when the clocks go back.
        assert_eq!(h.next_opening(at("2027-11-07T05:40:00Z")), Some(at("2027-11-07T06:00:00Z")));
    }

    #[test]
    fn a_schedule_that_never_opens_has_no_next_opening() {
        let h = hours("UTC", json!({}), json!([]));
        assert!(!h.is_open(at("2026-11-25T12:00:00Z")));
        assert_eq!(h.next_opening(at("2026-11-25T12:00:00Z")), None);
        // Open around the clock on Mondays: 00:00–24:00.
        let h = hours("UTC", json!({"mon": [["00:00", "24:00"]]}), json!([]));
        assert!(h.is_open(at("2026-11-30T23:59:59Z")));
        assert!(!h.is_open(at("2026-12-01T00:00:00Z")));
    }

    fn field_errors(v: Value) -> Vec<(String, String)> {
        let mut errs = Errors::default();
        assert!(parse_business_hours(&v, &mut errs).is_none(), "{v} was accepted");
        errs.0.into_iter().map(|e| (e.field, e.problem)).collect()
    }

    #[test]
    fn bad_hours_list_every_failing_field() {
        let errs = field_errors(json!({
            "time_zone": "Mars/Olympus",
            "weekly": {"mon": [["09:00", "17:00"], ["12:00", "18:00"]], "tue": [["18:00", "09:00"]],
                       "wed": [["9:00", "17:00"]], "thu": [["00:00", "01:00"], ["02:00", "03:00"], ["04:00", "05:00"], ["06:00", "07:00"], ["08:00", "09:00"]],
                       "fri": [["13:00", "14:00"], ["10:00", "11:00"]], "sat": [["24:00", "24:00"]], "funday": []},
            "holidays": ["2026-02-30", "2026-12-25", "2026-12-25", "25/12/2026"],
            "after_hours_message": "",
            "after_hours_chat": "voicemail",
            "extra": 1
        }));
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "business_hours.extra",
                "business_hours.time_zone",
                "business_hours.weekly.funday",
                "business_hours.weekly.mon[1]",
                "business_hours.weekly.tue[0]",
                "business_hours.weekly.wed[0]",
                "business_hours.weekly.thu",
                "business_hours.weekly.fri[1]",
                "business_hours.weekly.sat[0]",
                "business_hours.holidays[0]",
                "business_hours.holidays[2]",
                "business_hours.holidays[3]",
                "business_hours.after_hours_message",
                "business_hours.after_hours_chat",
            ]
        );
        assert!(errs[1].1.contains("Mars/Olympus"));
        assert!(errs[4].1.contains("must start before it ends"), "{}", errs[4].1);
        assert!(field_errors(json!({"weekly": {}}))[0].0 == "business_hours.time_zone");
        assert!(field_errors(json!("always")).len() == 1);
    }

    #[test]
    fn defaults_and_round_trip() {
        let mut errs = Errors::default();
        let h = parse_business_hours(
            &json!({"time_zone": "Asia/Kolkata", "weekly": {"mon": [["09:00", "12:00"], ["12:00", "24:00"]]}}),
            &mut errs,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.after_hours_chat, AfterHoursChat::Queue);
        assert_eq!(h.after_hours_message.as_str(), DEFAULT_AFTER_HOURS);
        let j = serde_json::to_value(&h).unwrap();
        assert_eq!(j["weekly"]["mon"], json!([["09:00", "12:00"], ["12:00", "24:00"]]));
        assert_eq!(j["weekly"]["sun"], json!([]));
        assert_eq!(serde_json::from_value::<BusinessHours>(j).unwrap(), h);
        assert_eq!(parse_business_hours(&Value::Null, &mut errs), Some(None));
    }

    const ZONES: [&str; 8] = [
        "America/New_York",
        "Europe/London",
        "Europe/Paris",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/Santiago",
        "Asia/Kolkata",
        "UTC",
    ];

    fn arb_day() -> impl Strategy<Value = Vec<(u16, u16)>> {
        // Up to 4 ordered, non-overlapping ranges on a 15-minute grid (some at DST-prone hours).
        prop::collection::btree_set(0u16..=96, 0..=8).prop_map(|cuts| {
            let cuts: Vec<u16> = cuts.into_iter().map(|c| c * 15).collect();
            cuts.chunks_exact(2).map(|p| (p[0], p[1])).filter(|(a, b)| a < b && *a < 1440).take(4).collect()
        })
    }

    fn arb_hours() -> impl Strategy<Value = BusinessHours> {
        (
            prop::sample::select(ZONES.to_vec()),
            prop::collection::vec(arb_day(), 7),
            prop::collection::vec(0i64..800, 0..6),
        )
            .prop_map(|(tz, days, hol)| {
                let mut weekly = Weekly::default();
                for (i, d) in days.into_iter().enumerate() {
                    *weekly.day_mut(i) =
                        d.into_iter().map(|(a, b)| OpenRange { start: ClockTime(a), end: ClockTime(b) }).collect();
                }
                let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
                BusinessHours {
                    time_zone: TimeZoneName::parse(tz).unwrap(),
                    weekly,
                    holidays: hol.into_iter().map(|d| base + chrono::Duration::days(d)).collect(),
                    after_hours_message: Message::parse(DEFAULT_AFTER_HOURS).unwrap(),
                    after_hours_chat: AfterHoursChat::Queue,
                }
            })
    }

    /// Moments around the daylight-saving changes of 2026–2027, and anywhere in those years.
    fn arb_moment() -> impl Strategy<Value = DateTime<Utc>> {
        let changes = [
            "2026-03-08T07:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-04-05T15:00:00Z",
            "2026-09-06T04:00:00Z",
            "2026-09-27T14:00:00Z",
            "2026-10-04T15:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-11-01T06:00:00Z",
            "2027-03-14T07:00:00Z",
            "2027-04-04T15:00:00Z",
        ];
        prop_oneof![
            (prop::sample::select(changes.to_vec()), -4 * 3600i64..4 * 3600)
                .prop_map(|(c, d)| at(c) + chrono::Duration::seconds(d)),
            (1_767_225_600i64..1_830_297_600).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The next opening is open, and nothing between the moment and it is.
        #[test]
        fn the_next_opening_is_the_first_open_moment(h in arb_hours(), t in arb_moment()) {
            match h.next_opening(t) {
                Some(o) => {
                    prop_assert!(o >= t);
                    prop_assert!(h.is_open(o), "{o} is not open");
                    prop_assert_eq!(o == t, h.is_open(t));
                    // Every minute boundary before it (and the second just before it) is closed.
                    let mut m = t;
                    let step = chrono::Duration::minutes(1);
                    let mut checked = 0;
                    while m < o && checked < 20_000 {
                        prop_assert!(!h.is_open(m), "{m} is open, before the next opening {o}");
                        let next = m + step;
                        m = next - chrono::Duration::seconds(next.timestamp().rem_euclid(60));
                        checked += 1;
                    }
                    if o > t {
                        prop_assert!(!h.is_open(o - chrono::Duration::seconds(1)));
                    }
                }
                None => {
                    // Never open in the window: sampled every quarter hour.
                    let mut m = t;
                    for _ in 0..(4 * 24 * 30) {
                        prop_assert!(!h.is_open(m), "{m} is open but no opening was found");
                        m += chrono::Duration::minutes(15);
                    }
                }
            }
        }

        /// Being open depends only on the local wall clock and date.
        #[test]
        fn open_matches_the_wall_clock(h in arb_hours(), t in arb_moment()) {
            let tz = h.time_zone.zone();
            let local = tz.to_datetime(timestamp(t));
            let date = naive(local.date()).unwrap();
            let mins = local.time().hour() as u16 * 60 + local.time().minute() as u16;
            let wd = date.weekday().num_days_from_monday();
            let expect = !h.holidays.contains(&date)
                && h.weekly.day(wd).iter().any(|r| r.start.minutes() <= mins && mins < r.end.minutes());
            prop_assert_eq!(h.is_open(t), expect);
        }
    }
}
