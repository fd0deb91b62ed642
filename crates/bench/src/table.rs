//! The Markdown table of docs/benchmarks.md, from the figures.

use serde::{Deserialize, Serialize};

use crate::figures::{Column, VideoFigures};

/// One link profile, both senders.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct ProfileRun {
    pub profile: String,
    /// The kiosk → hub direction as configured, e.g. "1 Mbit/s, 20 ms, 0 %".
    pub uplink: String,
    pub window_s: u64,
    /// How the kiosk side reached the hub's page, e.g. "TURN/TLS" (`--relay`);
    /// none: directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    pub ours: Option<Column>,
    pub reference: Option<Column>,
}

const HEADER: &str = "| link | sender | first frame | fps | resolution | freezes > 0.5 s | audio loss | queue drops | agent → kiosk fps, freezes | 1 → 0.3 Mbit/s: ≤ 330 kbit/s after | 0.3 → 1 Mbit/s: 80 % after | 5 MB scan | × line-rate time | video during the scan |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

fn secs(s: Option<f64>) -> String {
    match s {
        Some(s) if s < 10.0 => format!("{s:.2} s"),
        Some(s) => format!("{s:.0} s"),
        None => "—".into(),
    }
}

fn freezes(v: &VideoFigures) -> String {
    if v.freezes == 0 { "0".into() } else { format!("{} ({:.1} s)", v.freezes, v.frozen_s) }
}

fn resolution(v: &VideoFigures) -> String {
    v.resolution.map(|(w, h)| format!("{w}x{h}")).unwrap_or_else(|| "—".into())
}

fn percent(v: Option<f64>) -> String {
    v.map(|l| format!("{:.1} %", l * 100.0)).unwrap_or_else(|| "—".into())
}

fn row(link: &str, sender: &str, c: &Column) -> String {
    let down = c.down.as_ref().map(|d| format!("{:.0}, {}", d.fps, freezes(d))).unwrap_or_else(|| "—".into());
    let (settle, recover) = match &c.follow {
        Some(f) => (
            f.settle_s.map(|s| secs(Some(s))).unwrap_or_else(|| format!("never ({:.0} kbit/s)", f.low_kbps)),
            f.recover_s
                .map(|s| secs(Some(s)))
                .unwrap_or_else(|| format!("not in time ({:.0} of {:.0} kbit/s)", f.after_kbps, f.before_kbps)),
        ),
        None => ("—".into(), "—".into()),
    };
    let (scan, ratio, during) = match &c.transfer {
        Some(t) => (
            format!("{} ({:.0} kbit/s)", secs(Some(t.seconds)), t.kbps()),
            t.line_ratio().map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into()),
            format!("{:.0} fps, {}", t.video.fps, freezes(&t.video)),
        ),
        None => match &c.scan_error {
            Some(e) => (format!("failed: {e}"), "—".into(), "—".into()),
            None => ("—".into(), "—".into(), "—".into()),
        },
    };
    format!(
        "| {link} | {sender} | {} | {:.0} | {} | {} | {} | {} | {down} | {settle} | {recover} | {scan} | {ratio} | {during} |\n",
        secs(c.first_frame_s),
        c.up.fps,
        resolution(&c.up),
        freezes(&c.up),
        percent(c.audio_loss),
        percent(c.queue_drops),
    )
}

/// The table: per profile, our kiosk's row then Chromium's.
pub fn markdown(runs: &[ProfileRun]) -> String {
    let mut out = String::from(HEADER);
    for run in runs {
        let mut link = format!("**{}** ({})", run.profile, run.uplink);
        if let Some(relay) = &run.relay {
            link += &format!(" via {relay}");
        }
        if let Some(c) = &run.ours {
            out += &row(&link, "ours", c);
        }
        if let Some(c) = &run.reference {
            out += &row(if run.ours.is_some() { "" } else { &link }, "Chromium", c);
        }
    }
    out
}

/// Whatever went wrong in a phase, per row, for the notes under the table.
pub fn notes(runs: &[ProfileRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for (who, c) in [("ours", &run.ours), ("Chromium", &run.reference)] {
            for note in c.iter().flat_map(|c| &c.notes) {
                out += &format!("- {} / {who}: {note}\n", run.profile);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_prints_two_rows_under_the_header() {
        let run = ProfileRun { profile: "adsl".into(), uplink: "1 Mbit/s".into(), ours: Some(Column::default()), reference: Some(Column::default()), ..Default::default() };
        let table = markdown(&[run]);
        assert_eq!(table.lines().count(), 4);
        assert!(table.contains("| **adsl** (1 Mbit/s) | ours |"), "{table}");
        assert!(table.contains("|  | Chromium |"), "{table}");
    }

    #[test]
    fn a_relayed_run_says_so_in_its_link_cell() {
        let run = ProfileRun { profile: "adsl".into(), uplink: "1 Mbit/s".into(), relay: Some("TURN/TLS".into()), ours: Some(Column::default()), ..Default::default() };
        assert!(markdown(&[run]).contains("| **adsl** (1 Mbit/s) via TURN/TLS | ours |"));
        // Files written before `--relay` existed still read.
        let old: ProfileRun = serde_json::from_str(r#"{"profile":"adsl","uplink":"1 Mbit/s","window_s":10,"ours":null,"reference":null}"#).unwrap();
        assert_eq!(old.relay, None);
    }
}
