//! `scripts/cluster.sh` as README and the load figures use it: `up` starts
//! PostgreSQL 15, NATS, coturn and three `visio-hub serve` processes (this
//! build's binary) on loopback and writes `cluster.env`; every process
//! answers over TLS with the one CA certificate and signs the demo agent
//! in; a demo kiosk on the first process is taken by the demo agent on the
//! last, with TURN credentials from the shared secret; `up` again changes
//! nothing; `down` leaves no process running.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use visio_hub::store::postgres::PgStore;
use visio_protocol::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster.sh")
}

/// `bash scripts/cluster.sh <args>` with this build's hub; waits for it.
fn cluster(args: &[&str]) -> Output {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("VISIO_HUB_BIN", env!("CARGO_BIN_EXE_visio-hub"))
        .env("RUST_LOG", "info")
        .output()
        .expect("run bash");
    eprintln!("cluster.sh {}:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

/// The state directory; `down` runs when dropped, so a failing test leaves
/// nothing running either.
struct Cluster {
    state: tempfile::TempDir,
}

impl Cluster {
    fn state(&self) -> &str {
        self.state.path().to_str().unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = cluster(&["down", "--state-dir", self.state()]);
    }
}

/// A first port P with P .. P+99 free on 127.0.0.1, TCP and UDP (the
/// script's layout), below the kernel's ephemeral range.
fn free_port_block() -> u16 {
    let blocks: Vec<u16> = (200..320).map(|b| b * 100).collect();
    let first = std::process::id() as usize % blocks.len();
    for i in 0..blocks.len() {
        let base = blocks[(first + i) % blocks.len()];
        let free = (base..base + 100)
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok() && UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no block of 100 free ports between 20000 and 32000");
}

/// `KEY=value` lines.
fn read_env(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("not KEY=value: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn list(env: &HashMap<String, String>, key: &str) -> Vec<String> {
    env.get(key).unwrap_or_else(|| panic!("{key} missing from cluster.env")).split(',').map(str::to_owned).collect()
}

/// Whether `pid` is a live process (not a zombie) whose command line
/// names `program`.
fn running(pid: &str, program: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    state != Some('Z') && String::from_utf8_lossy(&cmdline).contains(program)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_script_runs_three_hub_processes_and_stops_them_all() {
    let base = free_port_block();
    let state = tempfile::Builder::new().prefix("visio-cluster-").tempdir().unwrap();
    // As root the script runs PostgreSQL as the postgres user, which must
    // reach the state directory (a temporary directory is 0700).
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster_dir = Cluster { state };
    let state = cluster_dir.state().to_owned();
    let base_arg = base.to_string();
    let up_args = ["up", "--processes", "3", "--state-dir", &state, "--base-port", &base_arg];

    let up = cluster(&up_args);
    assert!(up.status.success(), "cluster.sh up failed:\n{}", String::from_utf8_lossy(&up.stderr));
    let env = read_env(&Path::new(&state).join("cluster.env"));
    let urls = list(&env, "HUB_URLS");
    let expected: Vec<String> = (0..3).map(|i| format!("https://127.0.0.1:{}", base + i)).collect();
    assert_eq!(urls, expected);
    let hub_pids = list(&env, "HUB_PIDS");
    assert_eq!(hub_pids.len(), 3);
    for key in ["DATABASE_URL", "NATS_URL", "TURN_URL", "CA_CERT", "POSTGRES_PID", "NATS_PID", "TURN_PID"] {
        assert!(env.get(key).is_some_and(|v| !v.is_empty()), "{key} missing from cluster.env");
    }
    let others = [("POSTGRES_PID", "postgres"), ("NATS_PID", "nats-server"), ("TURN_PID", "turnserver")];
    for (key, program) in others {
        assert!(running(&env[key], program), "{key}={} is not a running {program}", env[key]);
    }

    // Each process over TLS, trusting only the cluster's certificate: the
    // hub's clients (TestHub::external reads <dir>/tls/cert.pem).
    let scratch = tempfile::tempdir().unwrap();
    let cert = std::fs::read(&env["CA_CERT"]).unwrap();
    let hubs: Vec<TestHub> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let dir = scratch.path().join(format!("hub-{i}"));
            std::fs::create_dir_all(dir.join("tls")).unwrap();
            std::fs::write(dir.join("tls/cert.pem"), &cert).unwrap();
            let addr: SocketAddr = url.trim_start_matches("https://").parse().unwrap();
            TestHub::external(addr, &dir)
        })
        .collect();
    for hub in &hubs {
        let health: serde_json::Value = eventually(&format!("{} /healthz", hub.url("")), || async {
            hub.http().get(hub.url("/healthz")).send().await.ok()?.json().await.ok()
        })
        .await;
        assert_eq!(health["status"], "ok");
        let cookie = Agent::sign_in(hub, &env["DEMO_AGENT_LOGIN"], &env["DEMO_AGENT_PASSWORD"]).await;
        assert!(cookie.is_ok(), "the demo agent cannot sign in on {}: {cookie:?}", hub.url(""));
    }

    // The processes share the database and the bus: the demo kiosk on the
    // first is taken by the demo agent on the last, and the kiosk's TURN
    // credentials are for the cluster's coturn.
    let secret = Secret(std::fs::read_to_string(&env["DEMO_KIOSK_SECRET_FILE"]).unwrap().trim().to_owned());
    let mut kiosk = Kiosk::connect(&hubs[0], &env["DEMO_KIOSK_ID"], &secret).await;
    let mut agent = Agent::connect(&hubs[2], &env["DEMO_AGENT_LOGIN"], &env["DEMO_AGENT_PASSWORD"]).await;
    let (session, _) = kiosk.queue("demo").await;
    let store = PgStore::connect(&env["DATABASE_URL"], 1).await.unwrap();
    let demo = ServiceId::from("demo");
    eventually("the resident in the shared queue", || async {
        store.queue(&demo).await.ok()?.iter().any(|e| e.session == session).then_some(())
    })
    .await;
    assert_eq!(agent.take_next().await, session);
    match kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await {
        HubToKiosk::CallAnswered { session: s, ice_servers, .. } => {
            assert_eq!(s, session);
            let turn = ice_servers.iter().find(|s| s.urls.contains(&env["TURN_URL"]));
            let user = turn.and_then(|t| t.username.clone()).unwrap_or_default();
            assert!(user.ends_with(":demo-kiosk"), "TURN credentials for the kiosk in {ice_servers:?}");
        }
        _ => unreachable!(),
    }
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    drop((kiosk, agent, store));

    // Up again: already running, nothing restarted.
    let again = cluster(&up_args);
    assert!(again.status.success(), "a second up failed:\n{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(list(&read_env(&Path::new(&state).join("cluster.env")), "HUB_PIDS"), hub_pids);
    let status = cluster(&["status", "--state-dir", &state]);
    assert!(status.status.success(), "status says something is down:\n{}", String::from_utf8_lossy(&status.stdout));

    // Down: every process it started has gone, every hub port is closed.
    let down = cluster(&["down", "--state-dir", &state]);
    assert!(down.status.success(), "cluster.sh down failed:\n{}", String::from_utf8_lossy(&down.stderr));
    let mut left: Vec<String> = hub_pids.iter().filter(|p| running(p, "visio-hub")).map(|p| format!("visio-hub {p}")).collect();
    for (key, program) in others {
        if running(&env[key], program) {
            left.push(format!("{program} {}", env[key]));
        }
    }
    assert!(left.is_empty(), "still running after down: {left:?}");
    for i in 0..3 {
        assert!(std::net::TcpStream::connect(("127.0.0.1", base + i)).is_err(), "port {} still open", base + i);
    }
    let status = cluster(&["status", "--state-dir", &state]);
    assert!(!status.status.success(), "status after down:\n{}", String::from_utf8_lossy(&status.stdout));
    drop(hubs);
    drop(cluster_dir);
}
