//! `visio-hub serve` under systemd's `Type=notify` with a watchdog: the test
//! plays systemd's part, binding the notification socket and giving the
//! hub `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` as systemd would.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DEADLINE, serve_process};

/// The notifications received until `wanted` is among them (or the deadline).
fn until(socket: &UnixDatagram, wanted: &str, seen: &mut Vec<String>) -> bool {
    let end = Instant::now() + DEADLINE;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        socket.set_read_timeout(Some(end.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))).unwrap();
        let Ok(n) = socket.recv(&mut buf) else { return false };
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        let found = message.lines().any(|l| l == wanted);
        seen.push(message);
        if found {
            return true;
        }
    }
    false
}

#[test]
fn the_hub_says_ready_pings_the_watchdog_from_its_driver_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_visio-hub"));
    command
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path)
        // 0.4 s: a ping every 0.2 s.
        .env("WATCHDOG_USEC", "400000");
    let served = serve_process(&mut command);

    let mut seen = Vec::new();
    assert!(until(&socket, "READY=1", &mut seen), "no READY=1 in {seen:?}");
    assert!(seen.iter().all(|m| !m.contains("WATCHDOG=1")), "ready comes first: {seen:?}");
    for _ in 0..3 {
        let before = seen.len();
        assert!(until(&socket, "WATCHDOG=1", &mut seen), "the watchdog pings stopped: {:?}", &seen[before..]);
    }

    let status = Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(until(&socket, "STOPPING=1", &mut seen), "no STOPPING=1 after SIGTERM in {seen:?}");
}
