//! The packaged unit's own command line (deploy/visio-kiosk.service, what
//! systemd starts under cage), run headless in a scratch root against the
//! real hub: it notifies systemd (ready, watchdog pings from its loop,
//! stopping) and applies a configuration the hub announces, signed with the
//! key from its admin keys file.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use visio_tests::World;
use visio_tests::notify::Notifications;
use tokio::io::AsyncBufReadExt;
use visio_config::bundle::public_key_text;
use visio_testkit::hub::{admin_key, signed_demo};
use visio_testkit::wait::within;

const UNIT: &str = include_str!("../../deploy/visio-kiosk.service");

/// `Key=value` lines of the unit's [Service] section, continuation lines joined.
fn directives(unit: &str, key: &str) -> Vec<String> {
    let joined = unit.replace("\\\n", " ");
    joined.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(str::to_owned).collect()
}

/// The kiosk's part of ExecStart (after cage's `--`).
fn kiosk_command_line() -> Vec<String> {
    let exec = directives(UNIT, "ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart: {exec:?}");
    let words: Vec<String> = exec[0].split_whitespace().map(str::to_owned).collect();
    assert_eq!(words[0], "/usr/bin/cage", "the kiosk runs under cage");
    let after = words.iter().position(|w| w == "--").expect("cage -- visio-kiosk …");
    words[after + 1..].to_vec()
}

/// An absolute path of the unit, inside the scratch root.
fn rooted(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_command_notifies_systemd_and_applies_a_signed_configuration() {
    let world = World::start().await;
    let admin = admin_key(1);
    let token = world.hub.admin(&admin);

    // The files the unit names, laid out as the package and enrolment leave them.
    let root = tempfile::tempdir().unwrap();
    // The environment file enrolment writes, and the unit's ${…} expanded from it.
    let env_files = directives(UNIT, "EnvironmentFile");
    assert_eq!(env_files, ["/etc/visio-kiosk/kiosk.env"]);
    let env_file = rooted(root.path(), &env_files[0]);
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::write(&env_file, "KIOSK_ID=demo-kiosk\n").unwrap();
    let line = kiosk_command_line();
    assert_eq!(line[0], "/usr/bin/visio-kiosk");
    let env = std::fs::read_to_string(&env_file).unwrap();
    let expand = |word: &str| {
        env.lines().filter_map(|l| l.split_once('=')).fold(word.to_owned(), |w, (k, v)| w.replace(&format!("${{{k}}}"), v))
    };
    let args: Vec<String> = line[1..].iter().map(|a| expand(a)).collect();
    let value = |flag: &str| -> PathBuf {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("the unit passes {flag}: {args:?}"));
        rooted(root.path(), &args[at + 1])
    };
    let (config, catalogue, secret, keys, state) =
        (value("--config"), value("--catalogue"), value("--secret-file"), value("--admin-keys-file"), value("--state-dir"));
    assert!(state.starts_with(root.path().join("var/lib/visio-kiosk")), "the state survives reboots (StateDirectory)");
    assert!(value("--spool-dir").starts_with(root.path().join("run/visio-kiosk")), "the spool is in memory (RuntimeDirectory)");
    for file in [&config, &catalogue, &secret, &keys] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    }
    std::fs::copy(&world.config, &config).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../kiosk-config/services.json"), &catalogue).unwrap();
    std::fs::copy(&world.secret_file, &secret).unwrap();
    // As `visio-admin keygen` writes <key>.pub, with a comment above.
    std::fs::write(&keys, format!("# Région Auvergne, 2026\n{}\n", public_key_text(&admin.verifying_key()))).unwrap();

    let mut notify = Notifications::bind(root.path());
    let mut command = tokio::process::Command::new(visio_testkit::bin::path("visio-kiosk"));
    command.args(args.iter().map(|a| if a.starts_with('/') { rooted(root.path(), a).into_os_string() } else { a.into() }));
    for environment in directives(UNIT, "Environment") {
        let (key, value) = environment.split_once('=').unwrap();
        command.env(key, value);
    }
    command
        .args(["--headless", "--call", "demo"])
        .env("RUST_LOG", "warn")
        .env("NOTIFY_SOCKET", &notify.path)
        // 0.4 s: a ping every 0.2 s.
        .env("WATCHDOG_USEC", "400000")
        .env("SANE_CONFIG_DIR", world.sane.path())
        .env("VISIO_AUDIO_SINK", "fakesink")
        .env("CUPS_SERVER", format!("127.0.0.1:{}", world.cups.as_ref().unwrap().port))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut kiosk = command.spawn().expect("visio-kiosk starts");
    let mut lines = tokio::io::BufReader::new(kiosk.stdout.take().unwrap()).lines();
    let mut next_event = async |name: &str| loop {
        let line = within(&format!("the kiosk's {name:?} event"), lines.next_line()).await.unwrap();
        let line = line.unwrap_or_else(|| panic!("the kiosk exited before {name:?}"));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        if value["event"] == name {
            return value;
        }
    };

    assert!(tokio::task::block_in_place(|| notify.until("READY=1")), "no READY=1 in {:?}", notify.seen);
    for _ in 0..2 {
        assert!(tokio::task::block_in_place(|| notify.until("WATCHDOG=1")), "no watchdog pings in {:?}", notify.seen);
    }

    next_event("queued").await;
    assert_eq!(world.hub.publish(Some(&token), &signed_demo(&admin, 100).to_json()).await.0, 201);
    let applied = next_event("config_applied").await;
    assert_eq!(applied["version"], 100);
    assert!(state.join(visio_kiosk::config_store::FILE).is_file(), "the configuration is kept in the unit's state folder");

    let pid = kiosk.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(tokio::task::block_in_place(|| notify.until("STOPPING=1")), "no STOPPING=1 after SIGTERM in {:?}", notify.seen);
    within("the kiosk exits", kiosk.wait()).await.unwrap();
}
