//! `visio-kiosk --config` at boot, as a technician would start it: a
//! broken local file never stops a kiosk that holds a good signed
//! configuration (issue 21, item 12).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use visio_config::bundle::{Bundle, SigningKey, public_key_text};
use visio_kiosk::config_store::ConfigStore;

/// Generous: a loaded machine starts the kiosk in well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

fn demo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../kiosk-config"))
}

/// How a boot ended, as far as the test looked.
#[derive(Debug, PartialEq)]
enum Boot {
    /// The wanted line showed; the kiosk was then stopped.
    Saw,
    /// The kiosk exited on its own, with this code.
    Exited(Option<i32>),
    /// Neither within the deadline; the kiosk was stopped.
    Neither,
}

/// Starts the kiosk and watches its stderr until `wanted` shows, it exits,
/// or the deadline passes; the kiosk never outlives the call.
fn boot(args: &[&std::ffi::OsStr], wanted: &str) -> (String, Boot) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_visio-kiosk"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("VISIO_AUDIO_SINK", "fakesink")
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
    let deadline = Instant::now() + DEADLINE;
    let mut seen = String::new();
    let outcome = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(wanted) {
                    break Boot::Saw;
                }
            }
            // The pipe closed: the kiosk exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => break Boot::Exited(child.wait().unwrap().code()),
            Err(mpsc::RecvTimeoutError::Timeout) => break Boot::Neither,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    (seen, outcome)
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
    let (stderr, outcome) = boot(&common, "running on the signed configuration");
    assert_eq!(outcome, Boot::Exited(Some(1)), "{stderr}");
    assert!(
        stderr.contains("visio-kiosk: besse.json:22:24 devices.printer: duplicate key \"printer\", first at besse.json:22:5"),
        "{stderr}"
    );

    // With one: it boots on it and says why the file was not used.
    let mut with_state = common.clone();
    with_state.extend(["--state-dir".as_ref(), state.as_os_str(), "--admin-key".as_ref(), admin.as_ref()]);
    let (stderr, outcome) = boot(&with_state, "running on the signed configuration");
    assert_eq!(outcome, Boot::Saw, "{stderr}");
    assert!(stderr.contains("the local configuration files are refused; running on the signed configuration"), "{stderr}");
    assert!(stderr.contains("devices.printer: duplicate key \"printer\""), "the problem is named: {stderr}");
}
