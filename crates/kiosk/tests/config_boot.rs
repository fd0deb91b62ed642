//! `visio-kiosk --config` at boot, as a technician would start it: a
//! broken local file never stops a kiosk that holds a good signed
//! configuration (issue 21, item 12).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use visio_config::bundle::{Bundle, SigningKey, public_key_text};
use visio_kiosk::config_store::ConfigStore;

/// Generous: a loaded machine starts the kiosk in well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

fn demo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../kiosk-config"))
}

/// Starts the kiosk and returns once `wanted` shows on stderr (then stops
/// it), or once it exits; the stderr seen and the exit code if it exited.
fn boot(args: &[&std::ffi::OsStr], wanted: &str) -> (String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_visio-kiosk"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("VISIO_AUDIO_SINK", "fakesink")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(DEADLINE) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(wanted) {
            let _ = child.kill();
            let _ = child.wait();
            return (seen, None);
        }
    }
    let status = child.wait().unwrap();
    (seen, status.code())
}

#[test]
fn a_broken_local_file_is_reported_and_the_signed_configuration_runs() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let state = dir.path().join("state");
    let set = visio_config::ConfigSet::load(demo()).unwrap();
    let mut store = ConfigStore::open(&state, vec![key.verifying_key()], "besse".into()).unwrap();
    store.apply(&Bundle::sign(&set, &key, 100, jiff::Timestamp::now()).to_json()).unwrap();
    drop(store);
    std::fs::create_dir_all(dir.path().join("kiosks")).unwrap();
    let file = dir.path().join("kiosks/besse.json");
    let local = std::fs::read_to_string(demo().join("kiosks/besse.json")).unwrap();
    std::fs::write(&file, local.replace("\"printer\": \"Brother_HL_L2350DW\"", "\"printer\": \"none\", \"printer\": \"Brother_HL_L2350DW\"")).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "not-enrolled").unwrap();
    let admin = public_key_text(&key.verifying_key());
    let spool = dir.path().join("spool");
    let common: Vec<&std::ffi::OsStr> = vec![
        "--config".as_ref(),
        file.as_os_str(),
        "--catalogue".as_ref(),
        demo().join("services.json").into_os_string().leak(),
        "--secret-file".as_ref(),
        secret.as_os_str(),
        "--hub".as_ref(),
        // Nothing listens there: the kiosk keeps trying while we look.
        "wss://127.0.0.1:9/ws/kiosk".as_ref(),
        "--spool-dir".as_ref(),
        spool.as_os_str(),
        "--headless".as_ref(),
        "--call".as_ref(),
        "caf".as_ref(),
    ];

    // No signed configuration: the file's problem stops the kiosk, located.
    let (stderr, code) = boot(&common, "running on the signed configuration");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("visio-kiosk: besse.json:22:24 devices.printer: duplicate key \"printer\", first at besse.json:22:5"),
        "{stderr}"
    );

    // With one: it boots on it and says why the file was not used.
    let mut with_state = common.clone();
    with_state.extend(["--state-dir".as_ref(), state.as_os_str(), "--admin-key".as_ref(), admin.as_ref()]);
    let (stderr, code) = boot(&with_state, "running on the signed configuration");
    assert_eq!(code, None, "the kiosk kept running: {stderr}");
    assert!(stderr.contains("the local configuration files are refused; running on the signed configuration"), "{stderr}");
    assert!(stderr.contains("devices.printer: duplicate key \"printer\""), "the problem is named: {stderr}");
}
