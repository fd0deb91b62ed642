//! Whole calls with documents both ways, and every log line the kiosk and
//! the hub wrote at the levels used in production (info and above): no
//! document names, no hashes of the documents, no session ids in the
//! kiosk's log, no agent login next to the kiosk's id. A binary of its
//! own, so its global subscriber sees every line of the hub (in this
//! process); the kiosk's log is its stderr.

use visio_tests::{World, Xvfb};
use visio_protocol::*;
use visio_testkit::hub::{Agent, waiting};
use visio_testkit::pdf::text_pdf;
use visio_testkit::wait::{wait_for, within};
use visio_transfer::driver::Notice;
use visio_transfer::spool::hash_file;
use visio_transfer::{ColorMode, Event, OutcomeKind, Purpose, ScanFormat, ScanSettings};

use visio_tests::agent::ScriptedAgent;

/// Collects every log line of this process.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const LOGIN: &str = "lucie.fabre";

/// One call: the agent asks for a scan, has a form printed and a notice
/// shown, then hangs up. Returns the documents' hashes and the session.
async fn a_call_with_documents(world: &World, docs: &std::path::Path) -> (Vec<String>, String) {
    let mut agent = Agent::connect(&world.hub, LOGIN, "correct horse").await;
    agent.wait_for("the kiosk in the agent's queue", |m| waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])).await;
    let session = agent.take_next().await;
    let (mut agent, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;

    let req = agent.documents.request_scan(ScanSettings { color: ColorMode::Gray, dpi: 75, format: ScanFormat::Pdf }).await.unwrap();
    let scan_sha = agent
        .notice("the scan at the agent", |n| match n {
            Notice::Core { event: Event::FileReceived { req: Some(r), sha256, .. }, .. } if *r == req => Some(sha256.clone()),
            _ => None,
        })
        .await;
    let mut hashes = vec![scan_sha];
    for (name, purpose, outcome) in [
        ("Dupont-Martine-formulaire-RSA.pdf", Purpose::Print, OutcomeKind::Printed),
        ("Dupont-Martine-avis-imposition.pdf", Purpose::Display, OutcomeKind::Shown),
    ] {
        let path = docs.join(name);
        std::fs::write(&path, text_pdf("Martine Dupont, 12 rue des Lilas")).unwrap();
        hashes.push(hash_file(&path).unwrap().1);
        let (id, _) = agent.documents.push_file(&path, name, purpose, None).await.unwrap();
        assert_eq!(agent.outcome(id).await, (outcome, None), "{name}");
    }
    to_hub.send(AgentToHub::HangUp { session: session.clone() }).unwrap();
    agent.call.hang_up().await;
    (hashes, session.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_calls_leave_no_names_hashes_sessions_or_logins_in_the_logs() {
    let buf = LogBuf::default();
    let sink = buf.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_ansi(false).with_writer(move || sink.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let world = World::start().await;
    world.hub.add_agent(LOGIN, "correct horse", &["demo"]);
    let docs = tempfile::tempdir().unwrap();
    let log_path = world.dir.path().join("kiosk.log");
    let (mut hashes, mut sessions) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let mut kiosk = world.kiosk_logging_to("demo", log);
        kiosk.event("queued").await;
        let (h, session) = a_call_with_documents(&world, docs.path()).await;
        hashes.extend(h);
        sessions.push(session);
        kiosk.event("scan_sent").await;
        kiosk.event("ended").await;
        assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    }
    wait_for("a printed page", || world.printed_pdf()).await;

    // The window, which logs every event.
    let xvfb = Xvfb::start();
    let log = std::fs::OpenOptions::new().append(true).open(&log_path).unwrap();
    let mut window = world
        .kiosk_command("demo")
        .arg("--windowed")
        .env("DISPLAY", &xvfb.display)
        .env("ICED_BACKEND", "tiny-skia")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let (h, session) = a_call_with_documents(&world, docs.path()).await;
    hashes.extend(h);
    sessions.push(session);
    let window_log = wait_for("the window's end of call in its log", || {
        std::fs::read_to_string(&log_path).ok().filter(|l| l.contains(r#""event":"ended""#))
    })
    .await;
    assert!(window_log.contains(r#""event":"scan_sent""#), "the window logs its events:\n{window_log}");
    let _ = window.kill().await;

    let kiosk_log = std::fs::read_to_string(&log_path).unwrap();
    let hub_log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(kiosk_log.contains("call connecting"), "the kiosk's log was captured:\n{kiosk_log}");
    assert!(!hub_log.is_empty(), "the hub's log was captured");
    for (who, log) in [("kiosk", &kiosk_log), ("hub", &hub_log)] {
        for line in log.lines() {
            assert!(!line.contains("Dupont"), "a document name in the {who}'s log: {line}");
            for hash in &hashes {
                assert!(!line.contains(hash.as_str()), "a document's hash in the {who}'s log: {line}");
            }
            assert!(!(line.contains(LOGIN) && line.contains("demo-kiosk")), "an agent login next to the kiosk's id in the {who}'s log: {line}");
        }
    }
    assert!(!kiosk_log.contains(LOGIN), "the agent's login in the kiosk's log");
    // The hub's lines may name sessions (its session log is keyed by them);
    // the kiosk's need not.
    for session in &sessions {
        assert!(!kiosk_log.contains(session.as_str()), "the session id {session} in the kiosk's log");
    }
    world.hub.stop().await;
}
