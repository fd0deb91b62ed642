//! A usage report written out: a table for people, CSV for spreadsheets,
//! JSON for programs. `visio-admin stats --format` and the admin console's
//! CSV download call these same functions.

use std::fmt::Write as _;

use super::{Report, Row};

fn minutes(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) => {
            let s = s.round() as u64;
            format!("{}m{:02}s", s / 60, s % 60)
        }
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break
/// (site names may).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

impl Report {
    /// Every group of rows, with its name: `service`, `kiosk`, `site`,
    /// `month`, then `total`.
    pub fn groups(&self) -> impl Iterator<Item = (&'static str, &Row)> {
        self.by_service
            .iter()
            .map(|r| ("service", r))
            .chain(self.by_kiosk.iter().map(|r| ("kiosk", r)))
            .chain(self.by_site.iter().map(|r| ("site", r)))
            .chain(self.by_month.iter().map(|r| ("month", r)))
            .chain([("total", &self.total)])
    }

    /// A plain-text table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Visio-Public usage from {} to {} ({})", self.from, self.to, self.timezone);
        let header = |out: &mut String, title: &str| {
            let _ = writeln!(
                out,
                "\n{title:<22} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>5} {:>7} {:>7} {:>9} {:>9}",
                "requests",
                "interviews",
                "avg wait",
                "med wait",
                "p90 wait",
                "med call",
                "happy",
                "neutral",
                "unhappy",
                "km saved",
                "kg CO2e"
            );
        };
        let line = |out: &mut String, r: &Row| {
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>5} {:>7} {:>7} {:>9.1} {:>9.1}",
                r.key,
                r.requests,
                r.interviews,
                minutes(r.avg_wait_seconds),
                minutes(r.median_wait_seconds),
                minutes(r.p90_wait_seconds),
                minutes(r.median_duration_seconds),
                r.happy,
                r.neutral,
                r.unhappy,
                r.km_saved,
                r.kg_co2e_saved
            );
        };
        for (title, rows) in
            [("service", &self.by_service), ("kiosk", &self.by_kiosk), ("site", &self.by_site), ("month", &self.by_month)]
        {
            header(&mut out, title);
            rows.iter().for_each(|r| line(&mut out, r));
        }
        out.push('\n');
        line(&mut out, &self.total);
        let _ = writeln!(
            out,
            "\nKilometres: one round trip from the kiosk to the service's office per interview, straight line x {} \
             (road detour); demo calls excluded.\nCO2: {} kg CO2e/km, average thermal car (ADEME Impact CO2 / Base Carbone).\n\
             p90 wait: 90 % of interviews were answered within it.",
            self.road_detour_factor, self.kg_co2e_per_km
        );
        out
    }

    /// CSV with a `group` column: `service`, `kiosk`, `site`, `month` or
    /// `total`. Seconds are whole; the median and 90th-percentile columns
    /// come last, so older readers of the first eleven still work.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "group,key,requests,interviews,avg_wait_seconds,avg_duration_seconds,happy,neutral,unhappy,km_saved,kg_co2e_saved,\
             median_wait_seconds,p90_wait_seconds,median_duration_seconds\n",
        );
        let opt = |x: Option<f64>| x.map(|x| format!("{x:.0}")).unwrap_or_default();
        for (group, r) in self.groups() {
            let _ = writeln!(
                out,
                "{group},{},{},{},{},{},{},{},{},{:.1},{:.1},{},{},{}",
                field(&r.key),
                r.requests,
                r.interviews,
                opt(r.avg_wait_seconds),
                opt(r.avg_duration_seconds),
                r.happy,
                r.neutral,
                r.unhappy,
                r.km_saved,
                r.kg_co2e_saved,
                opt(r.median_wait_seconds),
                opt(r.p90_wait_seconds),
                opt(r.median_duration_seconds),
            );
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
