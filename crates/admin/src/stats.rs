//! Usage figures for funders, from the hub's session log (`visio-hub
//! sessions`, one JSON object per line): interviews per service and per
//! kiosk, waits and durations, ratings, and the travel they saved.

use std::collections::BTreeMap;
use std::fmt::Write as _;

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
    pub happy: u32,
    pub neutral: u32,
    pub unhappy: u32,
    pub km_saved: f64,
    pub kg_co2e_saved: f64,
    #[serde(skip)]
    wait_sum: f64,
    #[serde(skip)]
    duration_sum: f64,
    #[serde(skip)]
    durations: u32,
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
        let Some(answered) = r.answered_at else { return };
        self.interviews += 1;
        self.wait_sum += (answered - r.queued_at).get_seconds() as f64;
        if let Some(ended) = r.ended_at {
            self.duration_sum += (ended - answered).get_seconds() as f64;
            self.durations += 1;
        }
        if let Some(km) = km {
            self.km_saved += km;
        }
    }

    fn finish(&mut self) {
        self.avg_wait_seconds = (self.interviews > 0).then(|| self.wait_sum / f64::from(self.interviews));
        self.avg_duration_seconds = (self.durations > 0).then(|| self.duration_sum / f64::from(self.durations));
        self.km_saved = round1(self.km_saved);
        self.kg_co2e_saved = round1(self.km_saved * KG_CO2E_PER_KM);
    }
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
    pub total: Row,
    /// What the figures could not include, for the reader to know.
    pub warnings: Vec<String>,
}

/// Builds the report for sessions queued between `from` and `to`
/// inclusive, in the catalogue's time zone.
pub fn report(records: &[SessionRecord], from: Date, to: Date, config: &ConfigSet) -> Report {
    let tz: &TimeZone = config.catalogue().timezone();
    let (mut by_service, mut by_kiosk) = (BTreeMap::<&str, Row>::new(), BTreeMap::<&str, Row>::new());
    let mut total = Row { key: "total".into(), ..Row::default() };
    let mut unplaced = BTreeMap::<&str, u32>::new();
    for r in records {
        let day = r.queued_at.to_zoned(tz.clone()).date();
        if day < from || day > to {
            continue;
        }
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
        total.add(r, km);
    }
    let finish = |rows: BTreeMap<&str, Row>| {
        rows.into_values()
            .map(|mut row| {
                row.finish();
                row
            })
            .collect::<Vec<_>>()
    };
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
        total,
        warnings,
    }
}

fn minutes(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) => {
            let s = s.round() as u64;
            format!("{}m{:02}s", s / 60, s % 60)
        }
    }
}

impl Report {
    /// A plain-text table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Visio-Public usage from {} to {} ({})", self.from, self.to, self.timezone);
        let header = |out: &mut String, title: &str| {
            let _ = writeln!(
                out,
                "\n{title:<22} {:>8} {:>10} {:>9} {:>9} {:>5} {:>7} {:>7} {:>9} {:>9}",
                "requests", "interviews", "avg wait", "avg call", "happy", "neutral", "unhappy", "km saved", "kg CO2e"
            );
        };
        let line = |out: &mut String, r: &Row| {
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>10} {:>9} {:>9} {:>5} {:>7} {:>7} {:>9.1} {:>9.1}",
                r.key,
                r.requests,
                r.interviews,
                minutes(r.avg_wait_seconds),
                minutes(r.avg_duration_seconds),
                r.happy,
                r.neutral,
                r.unhappy,
                r.km_saved,
                r.kg_co2e_saved
            );
        };
        header(&mut out, "service");
        self.by_service.iter().for_each(|r| line(&mut out, r));
        header(&mut out, "kiosk");
        self.by_kiosk.iter().for_each(|r| line(&mut out, r));
        out.push('\n');
        line(&mut out, &self.total);
        let _ = writeln!(
            out,
            "\nKilometres: one round trip from the kiosk to the service's office per interview, straight line x {} \
             (road detour); demo calls excluded.\nCO2: {} kg CO2e/km, average thermal car (ADEME Impact CO2 / Base Carbone).",
            self.road_detour_factor, self.kg_co2e_per_km
        );
        out
    }

    /// CSV with a `group` column: `service`, `kiosk` or `total`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "group,key,requests,interviews,avg_wait_seconds,avg_duration_seconds,happy,neutral,unhappy,km_saved,kg_co2e_saved\n",
        );
        let opt = |x: Option<f64>| x.map(|x| format!("{x:.0}")).unwrap_or_default();
        let rows = self
            .by_service
            .iter()
            .map(|r| ("service", r))
            .chain(self.by_kiosk.iter().map(|r| ("kiosk", r)))
            .chain([("total", &self.total)]);
        for (group, r) in rows {
            let _ = writeln!(
                out,
                "{group},{},{},{},{},{},{},{},{},{:.1},{:.1}",
                r.key,
                r.requests,
                r.interviews,
                opt(r.avg_wait_seconds),
                opt(r.avg_duration_seconds),
                r.happy,
                r.neutral,
                r.unhappy,
                r.km_saved,
                r.kg_co2e_saved
            );
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
