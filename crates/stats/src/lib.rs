//! Usage figures for funders, from the hub's session log (`visio-hub
//! sessions`, one JSON object per line, or the hub's store): interviews per
//! service, kiosk, site and month, waits and call lengths (mean, median,
//! 90th percentile), ratings, and the travel they saved. One computation
//! for `visio-admin stats` and the hub's admin console, so both give the
//! same figures for the same log; [`render`] writes them as a table, CSV or
//! JSON, [`chart`] as SVG charts.

#![forbid(unsafe_code)]

pub mod chart;
pub mod render;

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use visio_config::ConfigSet;

/// Road distance over straight-line distance. Studies of French road
/// networks put the ratio around 1.2–1.4; the Massif central's valleys and
/// passes push it to the high end, so we take 1.3 and do not claim more.
pub const ROAD_DETOUR_FACTOR: f64 = 1.3;

/// kg CO2e per km for an average thermal car with one occupant, including
/// its manufacture (ADEME, Impact CO2 / Base Carbone, "voiture thermique":
/// 0.218 kg CO2e/km).
pub const KG_CO2E_PER_KM: f64 = 0.218;

/// Interviews of this service are demonstrations, not trips anyone would
/// have made: they count as interviews but save no kilometres.
pub const DEMO_SERVICE: &str = "demo";

pub use visio_protocol::SessionRecord;

/// A log line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LogError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Reads a JSON-lines session log; blank lines are skipped, bad lines are
/// returned apart so the report can still be made from the good ones.
pub fn read_log(file: &str, text: &str) -> (Vec<SessionRecord>, Vec<LogError>) {
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(r) => records.push(r),
            Err(e) => errors.push(LogError { file: file.to_owned(), line: i + 1, message: e.to_string() }),
        }
    }
    (records, errors)
}

/// Great-circle distance in km between two points in decimal degrees.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let (dlat, dlon) = ((b.0 - a.0).to_radians(), (b.1 - a.1).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// The round trip a resident of `kiosk` would have driven to `service`'s
/// office, in km, if both are known.
pub fn round_trip_km(config: &ConfigSet, kiosk: &str, service: &str) -> Option<f64> {
    let k = config.kiosk(kiosk)?;
    let s = config.catalogue().get(&service.into())?;
    Some(2.0 * haversine_km((k.location.lat, k.location.lon), (s.office.lat, s.office.lon)) * ROAD_DETOUR_FACTOR)
}

/// Figures for one service, one kiosk, or everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    /// Residents who asked for a call.
    pub requests: u32,
    /// Calls an agent answered.
    pub interviews: u32,
    /// Mean of answered − queued over interviews, seconds.
    pub avg_wait_seconds: Option<f64>,
    /// Mean of ended − answered over finished interviews, seconds.
    pub avg_duration_seconds: Option<f64>,
    pub median_wait_seconds: Option<f64>,
    /// 90 % of interviews were answered within this wait (nearest rank).
    pub p90_wait_seconds: Option<f64>,
    pub median_duration_seconds: Option<f64>,
    pub happy: u32,
    pub neutral: u32,
    pub unhappy: u32,
    /// Residents whose wait ended before an agent answered (the
    /// supervisor's board; not in the report's outputs).
    #[serde(skip)]
    pub abandoned: u32,
    pub km_saved: f64,
    pub kg_co2e_saved: f64,
    #[serde(skip)]
    waits: Vec<f64>,
    #[serde(skip)]
    durations: Vec<f64>,
}

impl Row {
    fn add(&mut self, r: &SessionRecord, km: Option<f64>) {
        self.requests += 1;
        match r.rating.as_deref() {
            Some("happy") => self.happy += 1,
            Some("neutral") => self.neutral += 1,
            Some("unhappy") => self.unhappy += 1,
            _ => {}
        }
        let Some(answered) = r.answered_at else {
            if r.ended_at.is_some() {
                self.abandoned += 1;
            }
            return;
        };
        self.interviews += 1;
        self.waits.push((answered - r.queued_at).get_seconds() as f64);
        if let Some(ended) = r.ended_at {
            self.durations.push((ended - answered).get_seconds() as f64);
        }
        if let Some(km) = km {
            self.km_saved += km;
        }
    }

    fn finish(&mut self) {
        self.waits.sort_by(f64::total_cmp);
        self.durations.sort_by(f64::total_cmp);
        self.avg_wait_seconds = mean(&self.waits);
        self.avg_duration_seconds = mean(&self.durations);
        self.median_wait_seconds = median(&self.waits);
        self.p90_wait_seconds = nearest_rank(&self.waits, 0.9);
        self.median_duration_seconds = median(&self.durations);
        self.km_saved = round1(self.km_saved);
        self.kg_co2e_saved = round1(self.km_saved * KG_CO2E_PER_KM);
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The middle value of sorted `xs`, or the mean of the two middle ones.
fn median(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
    }
}

/// The smallest value of sorted `xs` with at least `q` of them at or
/// below it (the nearest-rank percentile: always a value that occurred).
fn nearest_rank(xs: &[f64], q: f64) -> Option<f64> {
    let rank = (q * xs.len() as f64).ceil() as usize;
    xs.get(rank.max(1) - 1).copied()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A usage report over a date range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: Date,
    pub to: Date,
    pub timezone: String,
    pub road_detour_factor: f64,
    pub kg_co2e_per_km: f64,
    pub by_service: Vec<Row>,
    pub by_kiosk: Vec<Row>,
    /// By the kiosk's site in the configuration (the kiosk id if unknown).
    pub by_site: Vec<Row>,
    /// By calendar month (`2026-11`) of the request, in the region's time zone.
    pub by_month: Vec<Row>,
    pub total: Row,
    /// What the figures could not include, for the reader to know.
    pub warnings: Vec<String>,
}

/// Builds the report for sessions queued between `from` and `to`
/// inclusive, in the catalogue's time zone.
pub fn report(records: &[SessionRecord], from: Date, to: Date, config: &ConfigSet) -> Report {
    let tz: &TimeZone = config.catalogue().timezone();
    let (mut by_service, mut by_kiosk) = (BTreeMap::<&str, Row>::new(), BTreeMap::<&str, Row>::new());
    let (mut by_site, mut by_month) = (BTreeMap::<&str, Row>::new(), BTreeMap::<String, Row>::new());
    let mut total = Row { key: "total".into(), ..Row::default() };
    let mut unplaced = BTreeMap::<&str, u32>::new();
    for r in records {
        let day = r.queued_at.to_zoned(tz.clone()).date();
        if day < from || day > to {
            continue;
        }
        let site = config.kiosk(&r.kiosk_id).map_or(r.kiosk_id.as_str(), |k| k.site.as_str());
        let month = format!("{:04}-{:02}", day.year(), day.month());
        let km = if r.service == DEMO_SERVICE || r.answered_at.is_none() {
            None
        } else {
            let km = round_trip_km(config, &r.kiosk_id, &r.service);
            if km.is_none() {
                *unplaced.entry(&r.kiosk_id).or_default() += 1;
            }
            km
        };
        by_service.entry(&r.service).or_insert_with(|| Row { key: r.service.clone(), ..Row::default() }).add(r, km);
        by_kiosk.entry(&r.kiosk_id).or_insert_with(|| Row { key: r.kiosk_id.clone(), ..Row::default() }).add(r, km);
        by_site.entry(site).or_insert_with(|| Row { key: site.to_owned(), ..Row::default() }).add(r, km);
        by_month.entry(month.clone()).or_insert_with(|| Row { key: month, ..Row::default() }).add(r, km);
        total.add(r, km);
    }
    fn finish<K>(rows: BTreeMap<K, Row>) -> Vec<Row> {
        rows.into_values()
            .map(|mut row| {
                row.finish();
                row
            })
            .collect()
    }
    total.finish();
    let warnings = unplaced
        .into_iter()
        .map(|(kiosk, n)| {
            format!("{n} interview(s) from kiosk {kiosk:?} or of a service missing from the configuration count no kilometres")
        })
        .collect();
    Report {
        from,
        to,
        timezone: config.catalogue().timezone_name().to_owned(),
        road_detour_factor: ROAD_DETOUR_FACTOR,
        kg_co2e_per_km: KG_CO2E_PER_KM,
        by_service: finish(by_service),
        by_kiosk: finish(by_kiosk),
        by_site: finish(by_site),
        by_month: finish(by_month),
        total,
        warnings,
    }
}

/// One day's rows, per service and per agent (the agent's rows count the
/// calls they answered), in time zone `tz`: the rows of [`report`]
/// without travel, which needs no configuration. The supervisor's board
/// shows them for today.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: Date,
    pub by_service: Vec<Row>,
    pub by_agent: Vec<Row>,
}

pub fn day(records: &[SessionRecord], date: Date, tz: &TimeZone) -> Day {
    let (mut by_service, mut by_agent) = (BTreeMap::<&str, Row>::new(), BTreeMap::<&str, Row>::new());
    for r in records.iter().filter(|r| r.queued_at.to_zoned(tz.clone()).date() == date) {
        by_service.entry(&r.service).or_insert_with(|| Row { key: r.service.clone(), ..Row::default() }).add(r, None);
        if let (Some(agent), Some(_)) = (&r.agent, r.answered_at) {
            by_agent.entry(agent).or_insert_with(|| Row { key: agent.clone(), ..Row::default() }).add(r, None);
        }
    }
    let finish = |rows: BTreeMap<&str, Row>| -> Vec<Row> {
        rows.into_values()
            .map(|mut row| {
                row.finish();
                row
            })
            .collect()
    };
    Day { date, by_service: finish(by_service), by_agent: finish(by_agent) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_the_90th_percentile_are_values_that_occurred() {
        let xs = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        assert_eq!(median(&xs), Some(55.0));
        assert_eq!(nearest_rank(&xs, 0.9), Some(90.0));
        assert_eq!(median(&[30.0, 60.0, 180.0]), Some(60.0));
        assert_eq!(nearest_rank(&[30.0, 60.0, 180.0], 0.9), Some(180.0));
        assert_eq!(nearest_rank(&[42.0], 0.9), Some(42.0));
        assert_eq!((median(&[]), nearest_rank(&[], 0.9), mean(&[])), (None, None, None));
    }

    #[test]
    fn a_days_rows_count_answered_abandoned_rated_and_each_agents_calls() {
        let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
        let record = |session: &str, queued: &str, answered: Option<&str>, ended: Option<&str>, agent: Option<&str>, rating: Option<&str>| SessionRecord {
            session: session.into(),
            kiosk_id: "besse".into(),
            service: "caf".into(),
            agent: agent.map(Into::into),
            queued_at: at(queued),
            answered_at: answered.map(at),
            ended_at: ended.map(at),
            end_reason: ended.map(|_| "hung_up".into()),
            rating: rating.map(Into::into),
            previous_leg: None,
        };
        let records = [
            record("a", "2026-11-23T08:00:00Z", Some("2026-11-23T08:02:00Z"), Some("2026-11-23T08:10:00Z"), Some("m.durand"), Some("happy")),
            record("b", "2026-11-23T09:00:00Z", Some("2026-11-23T09:04:00Z"), None, Some("m.durand"), None),
            record("c", "2026-11-23T10:00:00Z", None, Some("2026-11-23T10:01:00Z"), None, None),
            record("d", "2026-11-23T10:30:00Z", None, None, None, None),
            // The day before in Paris (23:30 UTC on the 22nd is 00:30 on the 23rd).
            record("e", "2026-11-22T23:30:00Z", Some("2026-11-22T23:31:00Z"), None, Some("p.roux"), Some("unhappy")),
        ];
        let day = day(&records, jiff::civil::date(2026, 11, 22), &TimeZone::get("Europe/Paris").unwrap());
        assert!(day.by_service.is_empty(), "every visit is on the 23rd in Paris: {day:?}");
        let day = super::day(&records, jiff::civil::date(2026, 11, 23), &TimeZone::get("Europe/Paris").unwrap());
        let caf = &day.by_service[0];
        assert_eq!((caf.requests, caf.interviews, caf.abandoned, caf.happy, caf.unhappy), (5, 3, 1, 1, 1));
        assert_eq!(caf.median_wait_seconds, Some(120.0));
        let agents: Vec<(&str, u32)> = day.by_agent.iter().map(|r| (r.key.as_str(), r.interviews)).collect();
        assert_eq!(agents, [("m.durand", 2), ("p.roux", 1)]);
    }
}
