//! The `visio-linkem` command as a person uses it: up, set, cut, status,
//! down, run, and the message without root.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_visio-linkem");

fn linkem(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("running visio-linkem")
}

fn ok(args: &[&str]) -> String {
    let out = linkem(args);
    assert!(
        out.status.success(),
        "visio-linkem {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status(name: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&["status", "--name", name, "--json"])).expect("status --json is JSON")
}

/// Stops the daemon even if an assertion fails half-way.
struct Down<'a>(&'a str);
impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = linkem(&["down", "--name", self.0]);
        let _ = std::fs::remove_file(format!("/run/visio-linkem/{}.log", self.0));
    }
}

#[test]
fn up_set_cut_status_and_down_drive_a_background_link() {
    let name = format!("vlkcli{}", std::process::id());
    let out = ok(&["up", "--name", &name, "--profile", "adsl"]);
    let _down = Down(&name);
    assert!(
        out.contains(&format!("ip netns exec {name}-kiosk")),
        "{out}"
    );
    let s = status(&name);
    assert_eq!(s["profile"], "adsl");
    assert_eq!(s["params"]["up"]["rate"], 1_000_000);
    assert_eq!(s["kiosk_addr"], "10.77.0.1");

    ok(&[
        "set",
        "--name",
        &name,
        "--rate-up",
        "300k",
        "--loss-down",
        "2%",
    ]);
    let s = status(&name);
    assert_eq!(s["params"]["up"]["rate"], 300_000);
    assert_eq!(
        s["params"]["down"]["rate"], 8_000_000,
        "down keeps its rate"
    );
    assert_eq!(s["params"]["down"]["loss"]["probability"], 0.02);
    assert_eq!(
        s["profile"],
        serde_json::Value::Null,
        "no longer the plain profile"
    );

    ok(&["cut", "--name", &name, "30s"]);
    assert_eq!(status(&name)["cut"], true);
    // Traffic sent into a cut link is dropped and counted.
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{name}-kiosk"),
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "10.77.0.2",
        ])
        .output()
        .expect("ping");
    assert!(!ping.status.success(), "a ping crossed a cut link");
    assert!(
        status(&name)["counters"]["up"]["dropped_cut"]
            .as_u64()
            .unwrap()
            >= 1
    );
    ok(&["restore", "--name", &name]);
    assert_eq!(status(&name)["cut"], false);

    let out = ok(&["down", "--name", &name]);
    assert!(out.contains("is down"), "{out}");
    for side in ["kiosk", "hub"] {
        assert!(!std::path::Path::new(&format!("/run/netns/{name}-{side}")).exists());
    }
    let again = linkem(&["status", "--name", &name]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("no link named") && err.contains("visio-linkem up"),
        "{err}"
    );
}

#[test]
fn run_executes_the_command_in_the_kiosk_namespace_and_returns_its_status() {
    let out = linkem(&[
        "run",
        "--profile",
        "adsl",
        "--in",
        "kiosk",
        "--",
        "sh",
        "-c",
        "ip -4 -o addr show dev vlk0; exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("inet 10.77.0.1 peer 10.77.0.2"));
    // From the host, the variables say where things are.
    let out = linkem(&[
        "run",
        "--",
        "sh",
        "-c",
        "ip netns exec $VISIO_LINKEM_HUB_NS ping -c 1 -W 5 $VISIO_LINKEM_KIOSK_ADDR",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_killed_daemon_is_cleaned_up_by_down() {
    let name = format!("vlkkill{}", std::process::id());
    ok(&["up", "--name", &name]);
    let _down = Down(&name);
    let pid = status(&name)["pid"].as_u64().unwrap();
    let kill = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let end = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}/status")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .contains("zombie")
    {
        assert!(Instant::now() < end, "the daemon did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = ok(&["down", "--name", &name]);
    assert!(out.contains("namespaces deleted"), "{out}");
    assert!(!std::path::Path::new(&format!("/run/netns/{name}-kiosk")).exists());
}

#[test]
fn without_root_it_refuses_and_says_why() {
    // Run a copy of the binary as `nobody` (the build directory may not be
    // readable by it).
    let dir = std::env::temp_dir().join(format!("visio-linkem-noroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("visio-linkem");
    std::fs::copy(BIN, &copy).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["run", "--", "true"])
        .output()
        .expect("setpriv (util-linux) runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must run as root"), "{err}");
}

#[test]
fn bad_options_are_refused_with_what_was_expected() {
    let out = linkem(&["run", "--rate-up", "fast", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"fast\"") && err.contains("8mbit"), "{err}");
    let out = linkem(&["up", "--profile", "dialup", "--name", "never"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown profile") && err.contains("satellite"),
        "{err}"
    );
}
