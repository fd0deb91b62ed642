//! `visio-admin stats` on a session log the real hub wrote from real calls:
//! a resident at Besse calls the CAF (answered, rated), the MSA (answered,
//! the resident hangs up) and the CAF again (gives up in the queue).

use std::process::Command;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use visio_config::Catalogue;
use visio_protocol::*;
use visio_testkit::hub::{Agent, Kiosk, TestHub};

/// Both offices always open, on the 3° E meridian: the CAF one degree of
/// latitude north of Besse (111.19 km), the MSA half a degree (55.60 km).
const SERVICES: &str = r##"{
  "timezone": "Europe/Paris",
  "services": [
    {
      "id": "caf", "name": { "fr": "Allocations familiales", "en": "Family allowances" }, "short_name": "CAF",
      "pictogram": "caf.svg", "colour": "#1d4e89",
      "office": { "name": "CAF", "commune": "Nord", "lat": 46.0, "lon": 3.0 },
      "hours": { "mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],
                 "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"] }
    },
    {
      "id": "msa", "name": { "fr": "MSA", "en": "MSA" }, "short_name": "MSA",
      "pictogram": "msa.svg", "colour": "#2e7d32",
      "office": { "name": "MSA", "commune": "Milieu", "lat": 45.5, "lon": 3.0 },
      "hours": { "mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],
                 "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"] }
    }
  ]
}
"##;

const HUB: &str = r#"{ "listen": "127.0.0.1:8443", "public_url": "https://localhost:8443", "ice_servers": [], "max_connections": 100 }"#;

const BESSE: &str = r#"{
  "id": "besse", "site": "Mairie de Besse", "commune": "Besse-et-Saint-Anastaise",
  "location": { "lat": 45.0, "lon": 3.0 },
  "services": ["caf", "msa"],
  "devices": { "camera": "test", "microphone": "test", "scanner": "none", "printer": "none" },
  "hub": { "urls": ["wss://localhost:8443/ws/kiosk"], "trust": "system" },
  "idle_timeout_seconds": 60, "languages": ["fr", "en"],
  "media": { "max_video_kbps": 800, "max_resolution": "640x360", "max_framerate": 25 }
}"#;

async fn answered(kiosk: &mut Kiosk) {
    kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
}

async fn ended(kiosk: &mut Kiosk) {
    kiosk.wait_for("call_ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_on_a_log_of_real_calls_counts_interviews_and_kilometres() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("kiosks")).unwrap();
    std::fs::write(dir.path().join("services.json"), SERVICES).unwrap();
    std::fs::write(dir.path().join("hub.json"), HUB).unwrap();
    std::fs::write(dir.path().join("kiosks/besse.json"), BESSE).unwrap();

    let hub = TestHub::start_with(Catalogue::from_json("services.json", SERVICES).unwrap()).await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "correct horse", &["caf", "msa"]);
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;
    let mut claire = Agent::connect(&hub, "claire", "correct horse").await;

    // CAF: answered, the agent hangs up, the resident rates it.
    let (caf, _) = besse.queue("caf").await;
    assert_eq!(claire.take_next().await, caf);
    answered(&mut besse).await;
    claire.send(AgentToHub::HangUp { session: caf.clone() }).await;
    ended(&mut besse).await;
    besse.send(KioskToHub::Rate { session: caf.clone(), rating: Rating::Happy }).await;

    // MSA: answered, the resident hangs up.
    let (msa, _) = besse.queue("msa").await;
    assert_eq!(claire.take_next().await, msa);
    answered(&mut besse).await;
    besse.send(KioskToHub::HangUp { session: msa.clone() }).await;
    ended(&mut besse).await;
    claire.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;

    // CAF again: the resident gives up while waiting.
    let (gave_up, _) = besse.queue("caf").await;
    besse.send(KioskToHub::CancelCall).await;

    let log = hub
        .wait_for_log("three ended sessions, the first rated", |log| {
            let done = log.len() == 3 && log.iter().all(|r| r.ended_at.is_some());
            let rated = log.iter().any(|r| r.session == caf.as_str() && r.rating.is_some());
            (done && rated).then(|| log.to_vec())
        })
        .await;
    assert!(log.iter().any(|r| r.session == gave_up.as_str() && r.answered_at.is_none()));
    let lines: Vec<String> = log.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    std::fs::write(dir.path().join("sessions.jsonl"), lines.join("\n")).unwrap();

    // The calls happened today in the catalogue's time zone (a day either
    // side, in case the test runs across midnight).
    let today = Timestamp::now().to_zoned(TimeZone::get("Europe/Paris").unwrap()).date();
    let (from, to) = (today.yesterday().unwrap().to_string(), today.tomorrow().unwrap().to_string());
    let out = Command::new(visio_testkit::bin::path("visio-admin"))
        .args(["stats", "--from", &from, "--to", &to, "--format", "csv", "--log", "sessions.jsonl", "--config", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));

    // Hand-computed: a round trip per interview, x 1.3 road detour, at
    // 0.218 kg CO2e/km: CAF 2 x 111.19 x 1.3 = 289.1 km, 63.0 kg; MSA 144.6
    // km, 31.5 kg. Waits and durations are real time: only their presence
    // is checked.
    let rows: Vec<Vec<&str>> = stdout.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let row = |group: &str, key: &str| -> Vec<&str> {
        rows.iter().find(|r| r[0] == group && r[1] == key).unwrap_or_else(|| panic!("no {group} {key} row in:\n{stdout}")).clone()
    };
    // group,key,requests,interviews,avg_wait,avg_duration,happy,neutral,unhappy,km,kg
    let caf_row = row("service", "caf");
    assert_eq!((caf_row[2], caf_row[3], caf_row[6], caf_row[9], caf_row[10]), ("2", "1", "1", "289.1", "63.0"), "{stdout}");
    assert!(!caf_row[4].is_empty() && !caf_row[5].is_empty(), "a wait and a duration: {stdout}");
    let msa_row = row("service", "msa");
    assert_eq!((msa_row[2], msa_row[3], msa_row[6], msa_row[9], msa_row[10]), ("1", "1", "0", "144.6", "31.5"), "{stdout}");
    let total = row("total", "total");
    assert_eq!((total[2], total[3], total[9], total[10]), ("3", "2", "433.7", "94.5"), "{stdout}");
    assert_eq!(row("kiosk", "besse")[3], "2");
    hub.stop().await;
}
