//! Call after call through one window kiosk under a virtual display, each
//! with video, a scan and a shown document, driven by a scripted agent;
//! the kiosk's resident memory after every call. Shared by the soak
//! benchmark (`examples/call_soak.rs --calls N`) and its short CI version.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use visio_protocol::AgentToHub;
use visio_testkit::hub::{Agent, waiting};
use visio_testkit::pdf::text_pdf;
use visio_transfer::driver::Notice;
use visio_transfer::{ColorMode, Event, OutcomeKind, Purpose, ScanFormat, ScanSettings};

use super::agent::ScriptedAgent;
use super::{AGENT, World};

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kib as f64 / 1024.0)
}

/// After one call: the window kiosk's RSS and this process's (the hub and
/// the scripted agent), in MiB.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub kiosk: f64,
    pub here: f64,
}

/// Runs `calls` calls through one window kiosk on `display`, calling
/// `each` with the call number (1-based) and the sample after it.
pub async fn window_calls(world: &World, display: &str, calls: u32, mut each: impl FnMut(u32, Sample)) -> Vec<Sample> {
    let mut kiosk = world
        .kiosk_command("demo")
        .arg("--windowed")
        .arg("--calls")
        .arg(calls.to_string())
        .env("DISPLAY", display)
        .env("ICED_BACKEND", "tiny-skia")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the window kiosk starts");
    let pid = kiosk.id().expect("the kiosk's pid");
    let docs = tempfile::tempdir().unwrap();
    let notice = docs.path().join("notice.pdf");
    std::fs::write(&notice, text_pdf("Notice explicative")).unwrap();

    let mut samples = Vec::new();
    let mut sample = |n: u32| {
        let sample = Sample { kiosk: rss_mib(pid).expect("the kiosk still runs"), here: rss_mib(std::process::id()).unwrap_or_default() };
        each(n, sample);
        samples.push(sample);
    };
    for n in 1..=calls {
        let mut agent = Agent::connect(&world.hub, AGENT.0, AGENT.1).await;
        agent.wait_for("the kiosk in the queue", |m| waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])).await;
        // The last call's end screen (5 s once rated) gave way to home,
        // where the kiosk trimmed its heap and asked again: measure here.
        if n > 1 {
            sample(n - 1);
        }
        one_call(agent, &notice).await;
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    sample(calls);
    let _ = kiosk.kill().await;
    samples
}

/// The agent, who sees the kiosk in the queue, takes it, sees its video, gets a scan, shows a
/// document, and hangs up.
async fn one_call(mut agent: Agent, notice: &Path) {
    let session = agent.take_next().await;
    let (mut scripted, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;
    let frames = scripted.call.remote_frames();
    for _ in 0..30 {
        match tokio::time::timeout(visio_testkit::wait::DEADLINE, frames.next()).await {
            Ok(frame) => drop(frame.expect("the call is up")),
            // What the agent got tells where the video stopped: no RTP at
            // all (the kiosk's camera or sender), or RTP not decoded.
            Err(_) => panic!("timed out waiting for the kiosk's video; the agent's figures: {:#?}", *scripted.stats.borrow()),
        }
    }
    let settings = ScanSettings { color: ColorMode::Gray, dpi: 75, format: ScanFormat::Pdf };
    let req = scripted.documents.request_scan(settings).await.unwrap();
    scripted
        .notice("the scan", |n| matches!(n, Notice::Core { event: Event::FileReceived { req: Some(r), .. }, .. } if *r == req).then_some(()))
        .await;
    let (id, _) = scripted.documents.push_file(notice, "notice.pdf", Purpose::Display, None).await.unwrap();
    assert_eq!(scripted.outcome(id).await, (OutcomeKind::Shown, None));
    to_hub.send(AgentToHub::HangUp { session }).unwrap();
    let _ = scripted.documents.end().await;
    scripted.call.hang_up().await;
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
