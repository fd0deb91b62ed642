//! A day at the kiosk: a document outcome racing the agent's hang-up is told
//! once, and SIGTERM (systemd's stop) ends the call cleanly for both shells:
//! the agent is told, the spool is wiped, the process exits by itself.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use visio_tests::agent::ScriptedAgent;
use visio_tests::{AGENT, World, Xvfb};
use visio_protocol::*;
use visio_testkit::hub::{Agent, waiting};
use visio_testkit::pdf::text_pdf;
use visio_testkit::wait::{init_tracing, within};
use visio_transfer::driver::Notice;
use visio_transfer::spool::list_files;
use visio_transfer::{ColorMode, Event, OutcomeKind, Purpose, ScanFormat, ScanSettings};

/// Longest a stopping kiosk may take to hang up, wipe and exit.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The agent takes the kiosk waiting for `demo` and answers its call.
async fn answer(world: &World) -> (ScriptedAgent, SessionId, tokio::sync::mpsc::UnboundedSender<AgentToHub>) {
    let mut agent = Agent::connect(&world.hub, AGENT.0, AGENT.1).await;
    agent.wait_for("the kiosk in the agent's queue", |m| waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])).await;
    let session = agent.take_next().await;
    let (scripted, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;
    (scripted, session, to_hub)
}

/// The agent shows a document on the kiosk's screen: files in the spool.
async fn show_a_document(agent: &mut ScriptedAgent, spool: &Path) {
    let docs = tempfile::tempdir().unwrap();
    let notice = docs.path().join("notice.pdf");
    std::fs::write(&notice, text_pdf("Notice explicative")).unwrap();
    let (id, _) = agent.documents.push_file(&notice, "notice.pdf", Purpose::Display, None).await.unwrap();
    assert_eq!(agent.outcome(id).await, (OutcomeKind::Shown, None));
    assert!(!list_files(spool).is_empty(), "the shown document is in the spool during the visit");
}

async fn kiosk_hung_up(agent: &mut ScriptedAgent, session: &SessionId) -> EndReason {
    agent
        .hub_says("call_ended", |m| match m {
            HubToAgent::CallEnded { session: s, reason } if s == session => Some(*reason),
            _ => None,
        })
        .await
}

fn terminate(child: &tokio::process::Child) {
    let pid = child.id().expect("the kiosk runs");
    let status = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

/// The agent hangs up the moment it holds the scan: the kiosk's delivery
/// and the call's end arrive together, in either order. The kiosk still
/// prints `scan_sent` once, with the bytes the agent got, then `ended`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_delivered_as_the_agent_hangs_up_is_told_once() {
    init_tracing();
    let world = World::start().await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    let (mut agent, session, to_hub) = answer(&world).await;
    kiosk.event("connected").await;

    let settings = ScanSettings { color: ColorMode::Gray, dpi: 75, format: ScanFormat::Pdf };
    let req = agent.documents.request_scan(settings).await.unwrap();
    let sha = agent
        .notice("the scan at the agent", |n| match n {
            Notice::Core { event: Event::FileReceived { req: Some(r), sha256, .. }, .. } if *r == req => Some(sha256.clone()),
            _ => None,
        })
        .await;
    to_hub.send(AgentToHub::HangUp { session: session.clone() }).unwrap();

    let (lines, status) = kiosk.rest().await;
    let named = |name: &str| lines.iter().filter(|l| l["event"] == name).cloned().collect::<Vec<_>>();
    let sent = named("scan_sent");
    assert_eq!(sent.len(), 1, "scan_sent once: {lines:?}");
    assert_eq!(sent[0]["sha256"], sha.as_str());
    let ended = named("ended");
    assert_eq!(ended.len(), 1, "{lines:?}");
    assert_eq!(ended[0]["reason"], "agent_hung_up");
    assert!(status.success(), "{status}");
    assert!(list_files(&world.spool).is_empty(), "{:?}", list_files(&world.spool));
    agent.call.hang_up().await;
    world.hub.stop().await;
}

/// SIGTERM to a headless kiosk in a call: it hangs up (the agent is told
/// the kiosk hung up, not that it vanished), wipes the spool, and exits
/// by itself with the "interrupted" status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_headless_kiosks_call_and_wipes_its_spool() {
    init_tracing();
    let world = World::start().await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    let (mut agent, session, _to_hub) = answer(&world).await;
    kiosk.event("connected").await;
    show_a_document(&mut agent, &world.spool).await;
    kiosk.event("displayed").await;

    terminate(&kiosk.child);
    let (lines, status) = tokio::time::timeout(STOP_WITHIN, kiosk.rest()).await.expect("the kiosk stops by itself");
    assert_eq!(status.code(), Some(3), "interrupted, not killed: {status}");
    assert!(lines.iter().any(|l| l["event"] == "ended" && l["reason"] == "kiosk_hung_up"), "{lines:?}");
    assert_eq!(kiosk_hung_up(&mut agent, &session).await, EndReason::KioskHungUp);
    assert!(list_files(&world.spool).is_empty(), "nothing kept: {:?}", list_files(&world.spool));
    agent.call.hang_up().await;
    world.hub.stop().await;
}

/// SIGTERM to the window kiosk in a call: the same clean stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_window_kiosks_call_and_wipes_its_spool() {
    init_tracing();
    let xvfb = Xvfb::start();
    let world = World::start().await;
    let mut kiosk = world
        .kiosk_command("demo")
        .arg("--windowed")
        .env("DISPLAY", &xvfb.display)
        .env("ICED_BACKEND", "tiny-skia")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the window kiosk starts");
    let (mut agent, session, _to_hub) = answer(&world).await;
    within("the kiosk's video at the agent", agent.call.remote_frames().next()).await.expect("a frame");
    show_a_document(&mut agent, &world.spool).await;

    terminate(&kiosk);
    let status = tokio::time::timeout(STOP_WITHIN, kiosk.wait()).await.expect("the kiosk stops by itself").unwrap();
    assert!(status.success(), "a clean stop exits 0, not killed: {status}");
    assert_eq!(kiosk_hung_up(&mut agent, &session).await, EndReason::KioskHungUp);
    assert!(list_files(&world.spool).is_empty(), "nothing kept: {:?}", list_files(&world.spool));
    agent.call.hang_up().await;
    world.hub.stop().await;
}

/// The short version of the soak benchmark (docs/benchmarks.md, "A day of
/// calls"): twelve calls through one window kiosk, each with video, a scan
/// and a shown document. Without a bound on glibc's arenas its memory
/// doubled within ten calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_kiosks_memory_stays_flat_over_calls() {
    init_tracing();
    let xvfb = Xvfb::start();
    let world = World::start().await;
    let samples = visio_tests::soak::window_calls(&world, &xvfb.display, 12, |n, s| eprintln!("call {n}: kiosk {:.1} MiB", s.kiosk)).await;
    let kiosk: Vec<f64> = samples.iter().map(|s| s.kiosk).collect();
    // A single sample swings by up to 80 MiB either way, whatever the last
    // call's pipelines left in the two arenas (65-165 MiB over 142 calls,
    // no trend): medians of five flagged healthy runs when one late sample
    // was high, and the early floor did when one early sample was low
    // (70 MiB among 110-150). What is kept from call to call lifts every
    // late sample: the late floor against the early median still catches
    // the arena growth this guards against (150 -> 300 MiB without the
    // bound). A leak of a megabyte a call needs the 200-call benchmark.
    let floor = |calls: &[f64]| calls.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |calls: &[f64]| {
        let mut sorted = calls.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let (early, late) = (median(&kiosk[1..6]), floor(&kiosk[7..]));
    assert!(late <= early * 1.5, "the kiosk's memory grew: median {early:.1} MiB over calls 2-6, floor {late:.1} MiB over calls 8-12: {kiosk:?}");
    world.hub.stop().await;
}
