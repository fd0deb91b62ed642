//! Runs the real `visio-admin` in a scratch folder and compares its output
//! exactly, as an admin would see it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const SERVICES: &str = r##"{
  "timezone": "Europe/Paris",
  "services": [
    {
      "id": "caf",
      "name": { "fr": "Allocations familiales", "en": "Family allowances" },
      "short_name": "CAF",
      "pictogram": "caf.svg",
      "colour": "#1d4e89",
      "office": { "name": "CAF", "commune": "Nord", "lat": 46.0, "lon": 3.0 },
      "hours": { "mon": ["08:30-12:00", "13:30-16:30"] }
    },
    {
      "id": "msa",
      "name": { "fr": "MSA", "en": "MSA" },
      "short_name": "MSA",
      "pictogram": "msa.svg",
      "colour": "#2e7d32",
      "office": { "name": "MSA", "commune": "Milieu", "lat": 45.5, "lon": 3.0 },
      "hours": { "tue": ["09:00-12:00"] }
    }
  ]
}
"##;

const HUB: &str = r#"{
  "listen": "0.0.0.0:8443",
  "public_url": "https://hub.example.fr",
  "ice_servers": [{ "urls": ["stun:stun.example.fr:3478"] }],
  "max_connections": 100
}
"#;

/// On the 3° E meridian, one degree of latitude south of the CAF office
/// and half a degree south of the MSA office: distances easy to check by
/// hand.
const BESSE: &str = r#"{
  "id": "besse",
  "site": "Mairie de Besse",
  "commune": "Besse-et-Saint-Anastaise",
  "location": { "lat": 45.0, "lon": 3.0 },
  "services": ["caf", "msa"],
  "devices": {
    "camera": "test",
    "microphone": "test",
    "scanner": "none",
    "printer": "none"
  },
  "hub": {
    "urls": ["wss://hub.example.fr:8443/ws/kiosk"],
    "trust": "system"
  },
  "idle_timeout_seconds": 90,
  "languages": ["fr", "en"]
}
"#;

/// A scratch `kiosk-config/` with a valid catalogue, hub and one kiosk.
struct Fixture {
    tmp: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let f = Fixture { tmp: TempDir::new().unwrap() };
        std::fs::create_dir_all(f.config().join("kiosks")).unwrap();
        f.write("services.json", SERVICES);
        f.write("hub.json", HUB);
        f.write("kiosks/besse.json", BESSE);
        f
    }

    fn config(&self) -> PathBuf {
        self.tmp.path().join("kiosk-config")
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.config().join(file), text).unwrap();
    }

    /// Runs visio-admin in the scratch folder.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_visio-admin")).args(args).current_dir(self.tmp.path()).output().unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_lines(actual: &[u8], expected: &str) {
    let actual = text(actual);
    assert!(actual == expected, "\n--- expected\n{expected}\n--- actual\n{actual}");
}

#[test]
fn a_valid_folder_exits_0() {
    let f = Fixture::new();
    let out = f.run(&["validate"]);
    assert_lines(&out.stdout, "kiosk-config: valid: 2 services, 1 kiosks, hub settings\n");
    assert_lines(&out.stderr, "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_committed_demo_region_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config");
    let out = Command::new(env!("CARGO_BIN_EXE_visio-admin")).arg("validate").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("valid: 8 services, 7 kiosks, hub settings\n"), "{}", text(&out.stdout));
}

/// Every kind of kiosk mistake, each at its file, line, column and path,
/// all in one run (issue 7).
#[test]
fn every_kiosk_mistake_is_reported_where_it_is() {
    let f = Fixture::new();
    f.write(
        "kiosks/ambert.json",
        r#"{
  "id": "ambert",
  "site": "Mairie d'Ambert",
  "commune": "Ambert",
  "location": { "lat": 40.1, "lon": 3.7 },
  "services": [
    "caf",
    "caf",
    "cpam2"
  ],
  "devices": {
    "camera": "",
    "microphone": "test",
    "scanner": "none",
    "printer": "HP LaserJet"
  },
  "hub": {
    "urls": ["http://hub.example.fr/ws/kiosk"],
    "trust": { "pem": "hello" }
  },
  "idle_timeout_seconds": 5,
  "languages": ["en", "fr", "de"],
  "media": { "max_video_kbps": 20000, "max_resolution": "4k" }
}
"#,
    );
    // A second file claiming besse's id, and a kiosk with no service.
    f.write("kiosks/besse2.json", &BESSE.replace("Mairie de Besse", "Mairie annexe"));
    f.write("kiosks/riom.json", &BESSE.replace("\"besse\"", "\"riom\"").replace(r#"["caf", "msa"]"#, "[]"));
    let out = f.run(&["validate", "kiosk-config"]);
    assert_lines(
        &out.stderr,
        r#"kiosks/ambert.json:5:15 location: coordinates 40.1, 3.7 are outside France
kiosks/ambert.json:8:5 services[1]: service "caf" is listed twice
kiosks/ambert.json:9:5 services[2]: unknown service "cpam2"; the catalogue has: caf, msa
kiosks/ambert.json:12:15 devices.camera: "" is not a GStreamer source (e.g. "v4l2src device=/dev/video0") or "test"
kiosks/ambert.json:15:16 devices.printer: "HP LaserJet" is not a CUPS queue name (see `lpstat -p`; no spaces, '/' or '#') or "none"
kiosks/ambert.json:18:14 hub.urls[0]: "http://hub.example.fr/ws/kiosk" is not a wss:// URL; kiosks reach the hub only over TLS
kiosks/ambert.json:19:23 hub.trust.pem: not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")
kiosks/ambert.json:21:27 idle_timeout_seconds: 5 is out of range; use 15 to 600 seconds
kiosks/ambert.json:22:29 languages[2]: unknown language "de"; the kiosk speaks "fr" and "en"
kiosks/ambert.json:22:16 languages: French must come first: residents are greeted in French
kiosks/ambert.json:23:32 media.max_video_kbps: 20000 is out of range; use 100 to 8000 kbit/s
kiosks/ambert.json:23:57 media.max_resolution: "4k" is not a resolution from 160x120 to 1920x1080; write it like "1280x720"
kiosks/besse2.json:2:9 id: duplicate kiosk id "besse": kiosks/besse.json already has it
kiosks/riom.json:6:15 services: the kiosk offers no service; list at least one service id
kiosk-config: invalid: 14 problem(s) in 3 file(s)
"#,
    );
    assert_lines(&out.stdout, "");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn catalogue_hub_and_syntax_mistakes_are_reported_together() {
    let f = Fixture::new();
    f.write(
        "services.json",
        &SERVICES
            .replace("Europe/Paris", "Europe/Pariss")
            .replace(r#""13:30-16:30""#, r#""11:30-16:30""#)
            .replace("09:00-12:00", "12:00-09:00"),
    );
    f.write("hub.json", &HUB.replace("0.0.0.0:8443", "8443").replace("stun:", "http:"));
    f.write("kiosks/tauves.json", "{\n  \"id\": \"tauves\",\n  site: 1\n}\n");
    f.write("kiosks/ardes.json", &BESSE.replace("\"besse\"", "\"ardes\"").replace("\"languages\"", "\"langs\""));
    let out = f.run(&["validate"]);
    assert_lines(
        &out.stderr,
        r#"services.json:2:15 timezone: unknown time zone "Europe/Pariss"; use an IANA name such as "Europe/Paris"
services.json:20:26 services[1].hours.tue[0]: "12:00-09:00" ends before it starts
services.json:11:41 services[0].hours.mon[1]: 11:30-16:30 overlaps 08:30-12:00
hub.json:2:13 listen: "8443" is not an address and port such as "0.0.0.0:8443"
hub.json:4:30 ice_servers[0].urls[0]: "http:stun.example.fr:3478" is not a stun:, stuns:, turn: or turns: URL with a host
kiosks/ardes.json:18:12 langs: unknown field `langs`, expected one of `id`, `site`, `commune`, `address`, `location`, `services`, `devices`, `hub`, `idle_timeout_seconds`, `languages`, `media`, `documents`, `panel`
kiosks/tauves.json:3:3: key must be a string
kiosk-config: invalid: 7 problem(s) in 4 file(s)
"#,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_files_are_problems_and_a_missing_folder_cannot_run() {
    let f = Fixture::new();
    std::fs::remove_file(f.config().join("hub.json")).unwrap();
    let out = f.run(&["validate"]);
    assert_lines(&out.stderr, "hub.json: missing; it holds the hub's settings\nkiosk-config: invalid: 1 problem(s) in 1 file(s)\n");
    assert_eq!(out.status.code(), Some(1));

    let out = f.run(&["validate", "nowhere"]);
    assert_lines(&out.stderr, "visio-admin: cannot read nowhere: no such folder\n");
    assert_eq!(out.status.code(), Some(2));
}

fn public_key(f: &Fixture, key: &str) -> String {
    std::fs::read_to_string(f.path(&format!("{key}.pub"))).unwrap().trim().to_owned()
}

#[test]
fn keygen_sign_and_verify() {
    let f = Fixture::new();
    let out = f.run(&["keygen", "--out", "admin.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let public = public_key(&f, "admin.key");
    assert_eq!(text(&out.stdout).trim(), public);
    assert!(public.starts_with("ed25519:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path("admin.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A key is never overwritten.
    let again = f.run(&["keygen", "--out", "admin.key"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("admin.key: already exists"), "{}", text(&again.stderr));

    let out = f.run(&["sign", "kiosk-config", "--key", "admin.key", "--version", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("kiosk-config.signed.json: version 7, 1 kiosks, signed by key "));

    let out = f.run(&["verify", "kiosk-config.signed.json", "--public-key", &public]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("kiosk-config.signed.json: valid: version 7, 1 kiosks"));
}

#[test]
fn tampered_and_foreign_bundles_are_refused() {
    let f = Fixture::new();
    assert!(f.run(&["keygen", "--out", "admin.key"]).status.success());
    assert!(f.run(&["keygen", "--out", "other.key"]).status.success());
    assert!(f.run(&["sign", "--key", "admin.key"]).status.success());
    let public = public_key(&f, "admin.key");
    let bundle = std::fs::read_to_string(f.path("kiosk-config.signed.json")).unwrap();

    // A resident-facing change slipped in after signing.
    std::fs::write(f.path("tampered.json"), bundle.replace("Mairie de Besse", "Mairie de Bresse")).unwrap();
    let out = f.run(&["verify", "tampered.json", "--public-key", &public]);
    let key_id = bundle.split("\"key_id\": \"").nth(1).unwrap().split('"').next().unwrap();
    assert_lines(
        &out.stderr,
        &format!(
            "tampered.json: refused: bad signature: the bundle was changed after it was signed, or signed with another key than {key_id}\n"
        ),
    );
    assert_eq!(out.status.code(), Some(1));

    // Signed by a key the kiosk does not trust.
    assert!(f.run(&["sign", "--key", "other.key", "--out", "other.json"]).status.success());
    let out = f.run(&["verify", "other.json", "--public-key", &public]);
    assert!(text(&out.stderr).contains("is not a trusted admin key (trusted: "), "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(1));
}

/// Hand-computed: the kiosk is 1° of latitude (111.19 km) from the CAF
/// office and 0.5° (55.60 km) from the MSA office, on one meridian.
/// Round trip x 1.3 detour: CAF 289.1 km, MSA 144.6 km; at 0.218 kg/km:
/// 63.0 and 31.5 kg CO2e.
#[test]
fn stats_counts_waits_and_kilometres() {
    let f = Fixture::new();
    let log = [
        // CAF, answered after 60 s, 600 s call, happy.
        r#"{"session":"s1","kiosk_id":"besse","service":"caf","agent":"a","queued_at":"2026-11-02T09:00:00Z","answered_at":"2026-11-02T09:01:00Z","ended_at":"2026-11-02T09:11:00Z","end_reason":"hung_up","rating":"happy"}"#,
        // CAF, answered after 180 s, 1200 s call, unhappy.
        r#"{"session":"s2","kiosk_id":"besse","service":"caf","agent":"a","queued_at":"2026-11-03T09:00:00Z","answered_at":"2026-11-03T09:03:00Z","ended_at":"2026-11-03T09:23:00Z","end_reason":"hung_up","rating":"unhappy"}"#,
        // MSA, answered after 30 s, still going (no end).
        r#"{"session":"s3","kiosk_id":"besse","service":"msa","agent":"b","queued_at":"2026-11-04T09:00:00Z","answered_at":"2026-11-04T09:00:30Z","ended_at":null,"end_reason":null,"rating":null}"#,
        // CAF, the resident gave up in the queue: a request, no interview.
        r#"{"session":"s4","kiosk_id":"besse","service":"caf","agent":null,"queued_at":"2026-11-05T09:00:00Z","answered_at":null,"ended_at":"2026-11-05T09:05:00Z","end_reason":"cancelled","rating":null}"#,
        // Outside the range (1 December, local time).
        r#"{"session":"s5","kiosk_id":"besse","service":"caf","agent":"a","queued_at":"2026-11-30T23:30:00Z","answered_at":"2026-11-30T23:31:00Z","ended_at":"2026-11-30T23:40:00Z","end_reason":"hung_up","rating":"happy"}"#,
    ]
    .join("\n");
    std::fs::write(f.path("sessions.jsonl"), log).unwrap();
    let out = f.run(&["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv", "--log", "sessions.jsonl"]);
    assert_lines(&out.stderr, "");
    assert_lines(
        &out.stdout,
        "group,key,requests,interviews,avg_wait_seconds,avg_duration_seconds,happy,neutral,unhappy,km_saved,kg_co2e_saved,\
median_wait_seconds,p90_wait_seconds,median_duration_seconds
service,caf,3,2,120,900,1,0,1,578.2,126.0,120,180,900
service,msa,1,1,30,,0,0,0,144.6,31.5,30,30,
kiosk,besse,4,3,90,900,1,0,1,722.8,157.6,60,180,900
site,Mairie de Besse,4,3,90,900,1,0,1,722.8,157.6,60,180,900
month,2026-11,4,3,90,900,1,0,1,722.8,157.6,60,180,900
total,total,4,3,90,900,1,0,1,722.8,157.6,60,180,900
",
    );
    assert_eq!(out.status.code(), Some(0));

    let out = f.run(&["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", "--log", "sessions.jsonl"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["total"]["interviews"], 3);
    assert_eq!(json["by_service"][1]["km_saved"], 144.6);
    assert_eq!(json["kg_co2e_per_km"], 0.218);
}

#[test]
fn stats_skips_bad_log_lines_and_says_so() {
    let f = Fixture::new();
    std::fs::write(f.path("sessions.jsonl"), "{\"session\": 1}\n").unwrap();
    let out = f.run(&["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--log", "sessions.jsonl"]);
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("sessions.jsonl:1: invalid type: integer `1`, expected a string"), "{stderr}");
    assert!(stderr.ends_with("1 line(s) of the log skipped\n"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
}

/// Issue 21, item 9: serde_json keeps the last of two equal keys; the
/// stale `"printer": "none"` used to pass validation and signing.
#[test]
fn duplicate_keys_are_refused_with_both_positions_by_validate_and_sign() {
    let f = Fixture::new();
    f.write("kiosks/besse.json", &BESSE.replace("\"printer\": \"none\"", "\"printer\": \"Brother_HL\",\n    \"printer\": \"none\""));
    f.write("services.json", &SERVICES.replacen("\"timezone\": \"Europe/Paris\",", "\"timezone\": \"Europe/Paris\",\n  \"timezone\": \"America/Cayenne\",", 1));
    let expected = r#"services.json:3:3 timezone: duplicate key "timezone", first at services.json:2:3; write each key once (only the last one would count)
kiosks/besse.json:12:5 devices.printer: duplicate key "printer", first at kiosks/besse.json:11:5; write each key once (only the last one would count)
kiosk-config: invalid: 2 problem(s) in 2 file(s)
"#;
    let out = f.run(&["validate"]);
    assert_lines(&out.stderr, expected);
    assert_eq!(out.status.code(), Some(1));
    assert!(f.run(&["keygen", "--out", "admin.key"]).status.success());
    let out = f.run(&["sign", "--key", "admin.key"]);
    assert_lines(&out.stderr, expected);
    assert_eq!(out.status.code(), Some(1));
    assert!(!f.path("kiosk-config.signed.json").exists(), "nothing signed");
}

/// Item 10: bytes that are not UTF-8, a symbolic link loop, a BOM and an
/// empty catalogue are each reported once, where they are, and every
/// other file is still checked.
#[test]
fn unreadable_files_are_located_and_do_not_hide_the_others() {
    let f = Fixture::new();
    let latin1 = BESSE.replace("\"besse\"", "\"ardes\"").replace("Mairie de Besse", "Mairie d'Ard\u{e8}s");
    let bytes: Vec<u8> = latin1.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
    std::fs::write(f.config().join("kiosks/ardes.json"), bytes).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("loop-b.json", f.config().join("kiosks/loop-a.json")).unwrap();
        std::os::unix::fs::symlink("loop-a.json", f.config().join("kiosks/loop-b.json")).unwrap();
    }
    f.write("hub.json", &format!("\u{feff}{}", HUB.replace("100", "0")));
    f.write("kiosks/tauves.json", &BESSE.replace("\"besse\"", "\"tauves\"").replace("90", "5"));
    let out = f.run(&["validate"]);
    assert_lines(
        &out.stderr,
        r#"kiosks/ardes.json:3:24: not UTF-8: byte 0xE8 at offset 42 (an accent saved as Latin-1 or Windows-1252?); save the file as UTF-8
kiosks/loop-a.json: cannot read: a loop of symbolic links (Too many levels of symbolic links (os error 40)); point the link at a real file
kiosks/loop-b.json: cannot read: a loop of symbolic links (Too many levels of symbolic links (os error 40)); point the link at a real file
hub.json:1:1: the file starts with a byte order mark (BOM); save it as UTF-8 without BOM
hub.json:5:22 max_connections: 0 is out of range; use 1 to 100000
kiosks/tauves.json:17:27 idle_timeout_seconds: 5 is out of range; use 15 to 600 seconds
kiosk-config: invalid: 6 problem(s) in 5 file(s)
"#,
    );
    assert_eq!(out.status.code(), Some(1));

    // An empty (or BOM-only) catalogue is one problem, not one "unknown
    // service" per kiosk service.
    for empty in ["", "\u{feff}", "\n  \n"] {
        let f = Fixture::new();
        f.write("services.json", empty);
        f.write("kiosks/tauves.json", &BESSE.replace("\"besse\"", "\"tauves\""));
        let out = f.run(&["validate"]);
        let bom = if empty.starts_with('\u{feff}') {
            "services.json:1:1: the file starts with a byte order mark (BOM); save it as UTF-8 without BOM\n"
        } else {
            ""
        };
        let count = if bom.is_empty() { 1 } else { 2 };
        assert_lines(
            &out.stderr,
            &format!("{bom}services.json: the file is empty; it must hold a JSON object\nkiosk-config: invalid: {count} problem(s) in 1 file(s)\n"),
        );
    }
}

/// Item 11: two bad values in one file are both reported in one run.
#[test]
fn every_shape_error_of_a_kiosk_and_a_service_is_reported_at_once() {
    let f = Fixture::new();
    f.write(
        "kiosks/besse.json",
        &BESSE.replace("\"idle_timeout_seconds\": 90", "\"idle_timeout_seconds\": \"90\"").replace("\"lat\": 45.0", "\"lat\": \"45.0\""),
    );
    f.write("services.json", &SERVICES.replace("\"colour\": \"#2e7d32\"", "\"colour\": 2").replace("\"short_name\": \"MSA\",", ""));
    let out = f.run(&["validate"]);
    assert_lines(
        &out.stderr,
        r#"services.json:18:17 services[1].colour: invalid type: integer `2`, expected a string
services.json:13:5 services[1]: missing field `short_name`
kiosks/besse.json:5:24 location.lat: invalid type: string "45.0", expected f64
kiosks/besse.json:17:27 idle_timeout_seconds: invalid type: string "90", expected u32
kiosk-config: invalid: 4 problem(s) in 2 file(s)
"#,
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Item 13: a closed date written twice, a file kiosks/ would ignore, a
/// configuration the hub could not publish: all refused before signing.
#[test]
fn duplicate_dates_stray_kiosk_files_and_oversized_configurations_are_refused() {
    let f = Fixture::new();
    f.write("services.json", &SERVICES.replace(r#""hours": { "tue": ["09:00-12:00"] }"#, r#""hours": { "tue": ["09:00-12:00"], "closed_dates": ["2026-12-25", "2026-12-25"] }"#));
    f.write("kiosks/riom.JSON", &BESSE.replace("\"besse\"", "\"riom\""));
    f.write("kiosks/tauves.json.bak", "");
    f.write("kiosks/.gitkeep", "");
    let out = f.run(&["validate"]);
    assert_lines(
        &out.stderr,
        r#"kiosks/riom.JSON: not read: kiosks/ holds one <id>.json file per kiosk (lowercase ".json"); rename this file or move it out
kiosks/tauves.json.bak: not read: kiosks/ holds one <id>.json file per kiosk (lowercase ".json"); rename this file or move it out
services.json:20:58 services[1].hours.closed_dates: the closed date 2026-12-25 is listed twice
kiosk-config: invalid: 3 problem(s) in 3 file(s)
"#,
    );
    assert_eq!(out.status.code(), Some(1));

    // 9 MiB of address: valid field by field, too large to publish.
    let f = Fixture::new();
    f.write("kiosks/besse.json", &BESSE.replace("\"location\"", &format!("\"address\": \"{}\",\n  \"location\"", "x".repeat(9 << 20))));
    let expected = "(all files): the signed configuration would be 9.0 MiB; the hub publishes at most 8 MiB: shorten the largest texts (inline certificates, addresses) or split the region\nkiosk-config: invalid: 1 problem(s) in 1 file(s)\n";
    let out = f.run(&["validate"]);
    assert_lines(&out.stderr, expected);
    assert_eq!(out.status.code(), Some(1));
    assert!(f.run(&["keygen", "--out", "admin.key"]).status.success());
    let out = f.run(&["sign", "--key", "admin.key"]);
    assert_lines(&out.stderr, expected);
    assert!(!f.path("kiosk-config.signed.json").exists(), "nothing signed");
}
