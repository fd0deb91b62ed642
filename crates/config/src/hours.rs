//! Opening hours: weekly periods in the region's local time, minus closed
//! dates. Pure functions of a timestamp, so the hub and the kiosk agree and
//! tests need no clock.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How far ahead `next_opening` looks. A service closed for longer than this
/// is shown as "closed" without a date.
const LOOKAHEAD_DAYS: i32 = 62;

/// One opening period within a day, `start` inclusive, `end` exclusive.
/// Written `"08:30-12:00"`; `"24:00"` is allowed as an end (midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    /// Minutes after midnight.
    pub start: u16,
    /// Minutes after midnight, up to 1440.
    pub end: u16,
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not a period; write it like \"08:30-12:00\""))?;
        let start = parse_hhmm(a.trim())?;
        let end = parse_hhmm(b.trim())?;
        if start >= end {
            return Err(format!("{s:?} ends before it starts"));
        }
        Ok(Period { start, end })
    }
}

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time; write it like \"08:30\" (00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}-{:02}:{:02}", self.start / 60, self.start % 60, self.end / 60, self.end % 60)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Period {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Period".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An opening period in local time, start inclusive, end exclusive; \"24:00\" ends at midnight.",
            "type": "string",
            "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$",
            "examples": ["08:30-12:00"]
        })
    }
}

fn closed_dates_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Public holidays and other days the service is closed.",
        "type": "array",
        "items": { "type": "string", "format": "date" },
        "uniqueItems": true
    })
}

/// The weekly schedule of a service: periods per weekday (none: closed that
/// day), minus closed dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    #[serde(default)]
    pub mon: Vec<Period>,
    #[serde(default)]
    pub tue: Vec<Period>,
    #[serde(default)]
    pub wed: Vec<Period>,
    #[serde(default)]
    pub thu: Vec<Period>,
    #[serde(default)]
    pub fri: Vec<Period>,
    #[serde(default)]
    pub sat: Vec<Period>,
    #[serde(default)]
    pub sun: Vec<Period>,
    /// Public holidays and other days the service is closed.
    #[serde(default, deserialize_with = "unique_dates")]
    #[schemars(schema_with = "closed_dates_schema")]
    pub closed_dates: BTreeSet<Date>,
}

/// Closed dates, refusing one written twice: a set would merge them
/// silently, hiding a typo such as a second "2026-12-25" meant as the 26th.
fn unique_dates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<Date>, D::Error> {
    let dates = Vec::<Date>::deserialize(d)?;
    let mut set = BTreeSet::new();
    for date in dates {
        if !set.insert(date) {
            return Err(serde::de::Error::custom(format!("the closed date {date} is listed twice")));
        }
    }
    Ok(set)
}

/// Open now (until when), or closed (until when).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Open { closes_at: Timestamp },
    Closed { next_opening: Option<Timestamp> },
}

impl ServiceState {
    pub fn is_open(&self) -> bool {
        matches!(self, ServiceState::Open { .. })
    }
}

impl OpeningHours {
    pub fn day(&self, weekday: Weekday) -> &[Period] {
        match weekday {
            Weekday::Monday => &self.mon,
            Weekday::Tuesday => &self.tue,
            Weekday::Wednesday => &self.wed,
            Weekday::Thursday => &self.thu,
            Weekday::Friday => &self.fri,
            Weekday::Saturday => &self.sat,
            Weekday::Sunday => &self.sun,
        }
    }

    /// Named days with their periods, for validation messages.
    pub fn days(&self) -> [(&'static str, &[Period]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }

    /// The periods of `date`, none on a closed date.
    fn periods_on(&self, date: Date) -> &[Period] {
        if self.closed_dates.contains(&date) { &[] } else { self.day(date.weekday()) }
    }

    /// Whether the service is open at `now`, read in `tz`.
    pub fn state_at(&self, now: Timestamp, tz: &TimeZone) -> ServiceState {
        let local = now.to_zoned(tz.clone());
        let (date, minute) = (local.date(), minute_of_day(local.time()));
        if let Some(p) = self.periods_on(date).iter().find(|p| p.start <= minute && minute < p.end) {
            return ServiceState::Open { closes_at: at(date, p.end, tz) };
        }
        ServiceState::Closed { next_opening: self.next_opening_after(date, minute, tz) }
    }

    fn next_opening_after(&self, today: Date, minute: u16, tz: &TimeZone) -> Option<Timestamp> {
        (0..LOOKAHEAD_DAYS).find_map(|offset| {
            let date = today.checked_add(offset.days()).ok()?;
            let mut periods: Vec<Period> = self.periods_on(date).to_vec();
            periods.sort();
            periods.into_iter().find(|p| offset > 0 || p.start > minute).map(|p| at(date, p.start, tz))
        })
    }
}

fn minute_of_day(t: Time) -> u16 {
    // Invariant: hour < 24 and minute < 60, so this fits in u16.
    (t.hour() as u16) * 60 + t.minute() as u16
}

/// The instant of `minute` after local midnight of `date`. A time that falls
/// in a DST gap moves forward, as clocks do.
fn at(date: Date, minute: u16, tz: &TimeZone) -> Timestamp {
    let (date, minute) = if minute >= 24 * 60 {
        // "24:00" is the next day's midnight.
        (date.tomorrow().unwrap_or(date), minute - 24 * 60)
    } else {
        (date, minute)
    };
    let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).unwrap_or(Time::midnight());
    tz.to_ambiguous_zoned(date.to_datetime(time)).compatible().map(|z| z.timestamp()).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn weekdays_9_to_12() -> OpeningHours {
        let p: Vec<Period> = vec!["09:00-12:00".parse().unwrap(), "13:30-16:30".parse().unwrap()];
        OpeningHours {
            mon: p.clone(),
            tue: p.clone(),
            wed: p.clone(),
            thu: p.clone(),
            fri: p,
            ..Default::default()
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_and_refuse_nonsense() {
        assert_eq!("08:30-12:00".parse::<Period>().unwrap(), Period { start: 510, end: 720 });
        assert_eq!("00:00-24:00".parse::<Period>().unwrap(), Period { start: 0, end: 1440 });
        for bad in ["8:30-12:00", "12:00-08:00", "10:00-10:00", "09:60-10:00", "24:30-25:00", "0900-1000"] {
            assert!(bad.parse::<Period>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn open_inside_a_period_with_its_closing_time() {
        // Monday 2026-11-23 10:00 in Paris is 09:00 UTC (winter time).
        let s = weekdays_9_to_12().state_at(ts("2026-11-23T09:00:00Z"), &paris());
        assert_eq!(s, ServiceState::Open { closes_at: ts("2026-11-23T11:00:00Z") });
    }

    #[test]
    fn closed_at_lunch_opens_the_same_afternoon() {
        let s = weekdays_9_to_12().state_at(ts("2026-11-23T11:30:00Z"), &paris());
        assert_eq!(s, ServiceState::Closed { next_opening: Some(ts("2026-11-23T12:30:00Z")) });
    }

    #[test]
    fn closed_on_saturday_opens_monday() {
        let s = weekdays_9_to_12().state_at(ts("2026-11-28T10:00:00Z"), &paris());
        assert_eq!(s, ServiceState::Closed { next_opening: Some(ts("2026-11-30T08:00:00Z")) });
    }

    #[test]
    fn closed_date_skips_to_the_next_working_day() {
        let mut h = weekdays_9_to_12();
        h.closed_dates.insert("2026-12-25".parse().unwrap()); // a Friday
        let s = h.state_at(ts("2026-12-24T16:00:00Z"), &paris());
        assert_eq!(s, ServiceState::Closed { next_opening: Some(ts("2026-12-28T08:00:00Z")) });
    }

    #[test]
    fn daylight_saving_change_keeps_local_opening_time() {
        // Summer time starts on Sunday 2027-03-28: Monday opens at 09:00
        // local, which is now 07:00 UTC.
        let s = weekdays_9_to_12().state_at(ts("2027-03-27T12:00:00Z"), &paris());
        assert_eq!(s, ServiceState::Closed { next_opening: Some(ts("2027-03-29T07:00:00Z")) });
    }

    #[test]
    fn a_closed_date_listed_twice_is_refused() {
        let err = serde_json::from_str::<OpeningHours>(r#"{"closed_dates": ["2026-12-25", "2027-01-01", "2026-12-25"]}"#)
            .unwrap_err();
        assert!(err.to_string().starts_with("the closed date 2026-12-25 is listed twice"), "{err}");
        let ok = serde_json::from_str::<OpeningHours>(r#"{"closed_dates": ["2026-12-25", "2026-12-26"]}"#).unwrap();
        assert_eq!(ok.closed_dates.len(), 2);
    }

    #[test]
    fn midnight_end_and_no_opening_at_all() {
        let always = OpeningHours {
            sun: vec!["00:00-24:00".parse().unwrap()],
            ..Default::default()
        };
        // Sunday 2026-11-22 at 23:30 Paris: open until Monday 00:00 Paris.
        let s = always.state_at(ts("2026-11-22T22:30:00Z"), &paris());
        assert_eq!(s, ServiceState::Open { closes_at: ts("2026-11-22T23:00:00Z") });
        let never = OpeningHours::default();
        assert_eq!(
            never.state_at(ts("2026-11-22T22:30:00Z"), &paris()),
            ServiceState::Closed { next_opening: None }
        );
    }
}
