//! `visio-admin fleet`: the hub's fleet view as a table a person reads at a
//! glance, with the long refusal messages below it.

use jiff::Timestamp;
use visio_protocol::{CallLink, DeviceState};
use visio_protocol::admin::{FleetKiosk, FleetView};

/// The table, then one line per refused configuration, then a summary.
pub fn to_table(view: &FleetView) -> String {
    let header = ["KIOSK", "SITE", "ONLINE", "HEARTBEAT", "APP", "CONFIG", "DEVICES", "RTT", "UPLINK", "REFUSED"];
    let rows: Vec<[String; 10]> = view.kiosks.iter().map(|k| row(k, view)).collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned));
    for row in &rows {
        line(row);
    }
    for k in &view.kiosks {
        if let Some(r) = &k.last_refusal {
            out.push_str(&format!(
                "\n{} refused version {} {} ago ({}): {}",
                k.kiosk_id,
                r.version,
                age(view.now, r.at),
                r.code.as_str(),
                r.message
            ));
        }
    }
    if view.kiosks.iter().any(|k| k.last_refusal.is_some()) {
        out.push('\n');
    }
    let online = view.kiosks.iter().filter(|k| k.online).count();
    let enrolled = view.kiosks.iter().filter(|k| k.enrolled).count();
    out.push_str(&format!("\n{online} of {enrolled} enrolled kiosks online; heartbeat every {} s", view.heartbeat_seconds));
    match &view.published {
        Some(p) => {
            let behind = view.kiosks.iter().filter(|k| k.enrolled && k.config_version != Some(p.version)).count();
            out.push_str(&format!(
                "; published configuration: version {} (key {}, by {}, {} ago), {behind} kiosk(s) not on it\n",
                p.version,
                p.key_id,
                p.published_by,
                age(view.now, p.published_at)
            ));
        }
        None => out.push_str("; no configuration published yet\n"),
    }
    out
}

fn row(k: &FleetKiosk, view: &FleetView) -> [String; 10] {
    let dash = || "-".to_owned();
    let online = match (k.enrolled, k.online) {
        (false, _) => "not enrolled",
        (true, true) => "yes",
        (true, false) => "no",
    };
    let config = match (k.config_version, &view.published) {
        (None, _) => dash(),
        (Some(v), Some(p)) if v != p.version => format!("{v} (not {})", p.version),
        (Some(v), _) => v.to_string(),
    };
    let devices = match &k.devices {
        None => dash(),
        Some(d) => {
            let faults: Vec<String> = d
                .by_name()
                .iter()
                .filter(|(_, s)| s.state.is_unhealthy())
                .map(|(name, s)| match &s.detail {
                    Some(detail) => format!("{name} {}: {detail}", s.state.as_str()),
                    None => format!("{name} {}", s.state.as_str()),
                })
                .collect();
            if faults.is_empty() {
                let missing: Vec<&str> = d
                    .by_name()
                    .iter()
                    .filter(|(_, s)| s.state == DeviceState::NotInstalled)
                    .map(|(name, _)| *name)
                    .collect();
                if missing.is_empty() { "ok".to_owned() } else { format!("ok (no {})", missing.join(", ")) }
            } else {
                faults.join("; ")
            }
        }
    };
    [
        k.kiosk_id.to_string(),
        k.site.clone(),
        online.to_owned(),
        k.last_heartbeat_at.map(|t| format!("{} ago", age(view.now, t))).unwrap_or_else(|| "never".into()),
        k.app_version.clone().unwrap_or_else(dash),
        config,
        devices,
        k.rtt_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(dash),
        k.last_call.map(last_call).unwrap_or_else(dash),
        k.last_refusal.as_ref().map(|r| format!("{} ({})", r.version, r.code.as_str())).unwrap_or_else(dash),
    ]
}

/// What the kiosk's last call measured: "1.9 Mbit/s (640 ms)", the uplink
/// estimate and, in brackets, the media's round trip to the agent.
fn last_call(link: CallLink) -> String {
    let uplink = match link.uplink_kbps {
        kbps @ 0..1000 => format!("{kbps} kbit/s"),
        kbps => format!("{:.1} Mbit/s", f64::from(kbps) / 1000.0),
    };
    match link.rtt_ms {
        Some(ms) => format!("{uplink} ({ms} ms)"),
        None => uplink,
    }
}

/// "12 s", "4 min", "3 h", "2 d": the largest unit that fits.
fn age(now: Timestamp, then: Timestamp) -> String {
    let s = (now.as_second() - then.as_second()).max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol's example fleet view, as an admin sees it.
    #[test]
    fn the_example_fleet_reads_as_a_table() {
        let table = to_table(&visio_protocol::examples::fleet());
        let expected = "\
KIOSK         SITE                                ONLINE  HEARTBEAT  APP    CONFIG                       DEVICES                                RTT     UPLINK               REFUSED
ardes         Mairie d'Ardes                      no      15 h ago   0.1.0  1795305600 (not 1795392000)  -                                      -       -                    1795392000 (untrusted_key)
besse-mairie  Mairie de Besse-et-Saint-Anastaise  yes     9 s ago    0.1.0  1795392000                   scanner error: Document feeder jammed  612 ms  1.9 Mbit/s (640 ms)  -

ardes refused version 1795392000 1 h ago (untrusted_key): signed by key 3f9a0c21d4e5b6a7, which is not a trusted admin key (trusted: 9d1e6f0a2b3c4d5e)

1 of 2 enrolled kiosks online; heartbeat every 30 s; published configuration: version 1795392000 (key 3f9a0c21d4e5b6a7, by claire, 1 h ago), 1 kiosk(s) not on it
";
        assert!(table == expected, "\n--- expected\n{expected}\n--- actual\n{table}");
    }

    #[test]
    fn ages_use_the_largest_unit_that_fits() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let now = t("2026-11-23T10:00:00Z");
        assert_eq!(age(now, t("2026-11-23T09:59:59Z")), "1 s");
        assert_eq!(age(now, t("2026-11-23T09:58:00Z")), "2 min");
        assert_eq!(age(now, t("2026-11-23T07:00:00Z")), "3 h");
        assert_eq!(age(now, t("2026-11-20T10:00:00Z")), "3 d");
        assert_eq!(age(now, t("2026-11-23T10:00:05Z")), "0 s", "a clock ahead never shows negative ages");
    }

    #[test]
    fn a_last_call_reads_in_the_unit_that_fits() {
        assert_eq!(last_call(CallLink { uplink_kbps: 420, rtt_ms: None }), "420 kbit/s");
        assert_eq!(last_call(CallLink { uplink_kbps: 12_340, rtt_ms: Some(35) }), "12.3 Mbit/s (35 ms)");
    }
}
