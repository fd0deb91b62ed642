//! A long call, to check that the kiosk does not grow (docs/benchmarks.md,
//! "Kiosk"). Starts the real hub, cupsd and SANE like the end-to-end tests,
//! runs `visio-kiosk` (the window under $DISPLAY, or headless) in a call with
//! a scripted agent sending 640x360 video, and prints the kiosk's resident
//! memory every `--every` seconds for `--minutes` minutes.
//!
//! ```sh
//! Xvfb :99 -screen 0 1280x800x24 &
//! DISPLAY=:99 ICED_BACKEND=tiny-skia cargo run --release -p visio-tests --example call_soak -- --minutes 60
//! ```
//!
//! With `--calls N` (needs $DISPLAY): a day instead, N calls one after the
//! other through one window kiosk, each with video, a scan and a shown
//! document; the kiosk's RSS after every call, and this process's (the hub
//! and the scripted agent). With `--hub-process` as well, the hub runs as
//! its own `visio-hub serve` (built for this example's profile first), and
//! its RSS is reported apart from the agent's.

use std::process::Stdio;
use std::time::{Duration, Instant};

use visio_tests::agent::ScriptedAgent;
use visio_tests::{AGENT, World};
use visio_protocol::AgentToHub;
use visio_testkit::hub::Agent;

fn rss_kib(pid: u32) -> Option<u64> {
    visio_tests::soak::rss_mib(pid).map(|m| (m * 1024.0) as u64)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// N calls through one window kiosk: RSS after each, growth after a
/// 10-call warm-up.
async fn day(calls: u32, display: &str, hub_process: bool) {
    let (world, hub) = if hub_process {
        let (world, hub) = served_hub();
        (world, Some(hub))
    } else {
        (World::start().await, None)
    };
    let hub_pid = hub.as_ref().map(|h| h.child.id());
    let mut hub_samples = Vec::new();
    println!("call,kiosk_rss_mib,{}", if hub_process { "agent_rss_mib,hub_rss_mib" } else { "hub_and_agent_rss_mib" });
    let samples = visio_tests::soak::window_calls(&world, display, calls, |n, s| match hub_pid.and_then(visio_tests::soak::rss_mib) {
        Some(hub) => {
            hub_samples.push(hub);
            println!("{n},{:.1},{:.1},{hub:.1}", s.kiosk, s.here);
        }
        None => println!("{n},{:.1},{:.1}", s.kiosk, s.here),
    })
    .await;
    if hub_samples.len() >= 30 {
        let n = hub_samples.len();
        let median = visio_tests::soak::median;
        let (early, late) = (median(&hub_samples[10..20]), median(&hub_samples[n - 10..]));
        println!("summary: hub process median {early:.1} MiB over calls 11-20, {late:.1} MiB over the last 10 ({:+.1} %)", (late / early - 1.0) * 100.0);
    }
    // One sample swings by tens of MiB (what the renderer holds at that
    // moment): compare medians of ten calls, after a 10-call warm-up.
    let n = samples.len();
    if n < 30 {
        println!("summary: {n} calls; the summary needs 30 (a warm-up of 10, then two windows of 10)");
    } else {
        let (kiosk, here): (Vec<f64>, Vec<f64>) = samples.iter().map(|s| (s.kiosk, s.here)).unzip();
        let median = visio_tests::soak::median;
        let (ke, kl) = (median(&kiosk[10..20]), median(&kiosk[n - 10..]));
        let (he, hl) = (median(&here[10..20]), median(&here[n - 10..]));
        let peak = kiosk.iter().copied().fold(0.0, f64::max);
        println!(
            "summary: {n} calls; kiosk median {ke:.1} MiB over calls 11-20, {kl:.1} MiB over the last 10 ({:+.1} %), peak {peak:.1} MiB; hub and agent {he:.1} -> {hl:.1} MiB ({:+.1} %)",
            (kl / ke - 1.0) * 100.0,
            (hl / he - 1.0) * 100.0
        );
    }
    match hub {
        Some(mut hub) => {
            let _ = hub.child.kill();
            let _ = hub.child.wait();
        }
        None => world.hub.stop().await,
    }
}

/// A `visio-hub serve` child on a data directory of its own.
struct HubChild {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

/// The hub as its own process, with the kiosk enrolled and the agent added
/// through its SQLite store, and the parts around it.
fn served_hub() -> (World, HubChild) {
    use std::io::{BufRead, BufReader};
    let hub_bin = visio_testkit::bin::path("visio-hub");
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(&hub_bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", hub_bin.display()));
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok);
    let addr: std::net::SocketAddr = lines
        .find_map(|line| line.split("addr=").nth(1).and_then(|rest| rest.split_whitespace().next()?.parse().ok()))
        .expect("the hub's 'listening' line");
    // Keep reading its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let hub = visio_testkit::hub::TestHub::external(addr, dir.path());
    let secret = hub.enroll("demo-kiosk");
    hub.add_agent(AGENT.0, AGENT.1, &["demo"]);
    let url = format!("wss://localhost:{}/ws/kiosk", addr.port());
    let world = World::around(hub, vec![url], Some(visio_testkit::cups::Cups::start()), secret);
    (world, HubChild { child, _dir: dir })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = arg("--calls", 0);
    if calls > 0 {
        let display = std::env::var("DISPLAY").expect("--calls runs the window: set DISPLAY (Xvfb)");
        let hub_process = std::env::args().any(|a| a == "--hub-process");
        return day(u32::try_from(calls).unwrap_or(u32::MAX), &display, hub_process).await;
    }
    let minutes = arg("--minutes", 60);
    let every = Duration::from_secs(arg("--every", 60));
    let headless = std::env::var_os("DISPLAY").is_none();
    let world = World::start().await;
    let mut agent = Agent::connect(&world.hub, AGENT.0, AGENT.1).await;

    let mut command = world.kiosk_command("demo");
    if headless {
        command.arg("--headless").arg("--hang-up-after").arg((minutes * 60 + 600).to_string());
    } else {
        command.arg("--windowed");
    }
    let mut kiosk = command.stdout(Stdio::null()).spawn().expect("visio-kiosk starts");
    let pid = kiosk.id().expect("kiosk pid");

    agent
        .wait_for("the kiosk in the queue", |m| visio_testkit::hub::waiting(m, "demo").is_some_and(|w| !w.is_empty()))
        .await;
    let session = agent.take_next().await;
    let (scripted, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;
    let frame = scripted.call.remote_frames().next().await.expect("the kiosk's video");
    println!(
        "kiosk pid {pid} ({}), call up, kiosk video {}x{}",
        if headless { "headless" } else { "window" },
        frame.width,
        frame.height
    );
    println!("minute,rss_mib");
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(minutes * 60) {
        let rss = rss_kib(pid).expect("kiosk still running") as f64 / 1024.0;
        let minute = start.elapsed().as_secs_f64() / 60.0;
        println!("{minute:.1},{rss:.1}");
        samples.push((minute, rss));
        tokio::time::sleep(every).await;
    }
    let rss = rss_kib(pid).expect("kiosk still running") as f64 / 1024.0;
    samples.push((start.elapsed().as_secs_f64() / 60.0, rss));
    let after_warm_up = samples.iter().find(|(m, _)| *m >= 5.0).unwrap_or(&samples[0]).1;
    let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    println!(
        "summary: {minutes} min, RSS {:.1} MiB at 5 min, {rss:.1} MiB at the end ({:+.1} MiB), peak {max:.1} MiB, agent decoded {} frames of the kiosk",
        after_warm_up,
        rss - after_warm_up,
        scripted.call.remote_frames().decoded()
    );
    let _ = to_hub.send(AgentToHub::HangUp { session });
    if headless {
        let _ = kiosk.wait().await;
    } else {
        let _ = kiosk.kill().await;
    }
    scripted.call.hang_up().await;
}
