//! The headless kiosk against the real hub on TLS loopback, with a scripted
//! agent: a Rust peer (visio-media) that answers the call and drives the
//! documents (visio-transfer) as the agent's page would. The kiosk scans with
//! SANE's test backend and prints to a private cupsd's PDF queue.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use visio_kiosk::visit::documents_link::DocumentsLink;
use visio_media::{Call, CallConfig, CallEvent, SessionDescription};
use visio_protocol::*;
use visio_testkit::cups::Cups;
use visio_testkit::hub::{Agent, TestHub};
use visio_testkit::pdf::{pdf_text, text_pdf};
use visio_testkit::sane::sane_config;
use visio_testkit::wait::{init_tracing, wait_for, within};
use visio_transfer::driver::{Notice, SessionHandle, spawn_session};
use visio_transfer::spool::{Spool, hash_file, list_files};
use visio_transfer::{ColorMode, Event, Limits, OutcomeKind, Purpose, ScanFormat, ScanSettings, Side};

/// The demo kiosk's file, pointed at this test's hub, scanner and printer.
fn kiosk_config(dir: &Path, hub: &TestHub, printer: &str) -> PathBuf {
    let cert = dir.join("hub-cert.pem");
    std::fs::write(&cert, &hub.cert_pem).unwrap();
    let mut kiosk: Value = serde_json::from_str(include_str!("../../../kiosk-config/kiosks/demo-kiosk.json")).unwrap();
    kiosk["hub"]["urls"] = serde_json::json!([format!("wss://localhost:{}/ws/kiosk", hub.addr.port())]);
    kiosk["hub"]["trust"] = serde_json::json!({ "kiosk_file": cert });
    kiosk["devices"]["scanner"] = "test".into();
    kiosk["devices"]["printer"] = printer.into();
    let dir = dir.join("kiosks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("demo-kiosk.json");
    std::fs::write(&path, serde_json::to_string_pretty(&kiosk).unwrap()).unwrap();
    path
}

/// A `visio-kiosk --headless` process and the JSON lines it prints.
struct HeadlessKiosk {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
}

impl HeadlessKiosk {
    fn start(config: &Path, secret: &Path, spool: &Path, cups: &Cups, sane: &Path, service: &str) -> HeadlessKiosk {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_visio-kiosk"))
            .arg("--headless")
            .arg("--config")
            .arg(config)
            .arg("--secret-file")
            .arg(secret)
            .arg("--spool-dir")
            .arg(spool)
            .arg("--call")
            .arg(service)
            .env("CUPS_SERVER", format!("127.0.0.1:{}", cups.port))
            .env("SANE_CONFIG_DIR", sane)
            .env("VISIO_AUDIO_SINK", "fakesink")
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("visio-kiosk starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("kiosk: {line}");
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
                let _ = tx.send(value);
            }
        });
        HeadlessKiosk { child, lines, seen: Vec::new() }
    }

    /// The next event named `name`, skipping others (kept in `seen`).
    async fn event(&mut self, name: &str) -> Value {
        loop {
            let line = within(&format!("the kiosk's {name:?} event"), self.lines.recv())
                .await
                .unwrap_or_else(|| panic!("the kiosk exited before {name:?}; it printed {:?}", self.seen));
            self.seen.push(line.clone());
            if line["event"] == name {
                return line;
            }
        }
    }
}

/// The agent's side of the call, as the console page does it.
struct ScriptedAgent {
    call: Call,
    documents: SessionHandle,
    notices: mpsc::UnboundedReceiver<Notice>,
    _spool: tempfile::TempDir,
}

impl ScriptedAgent {
    /// Answers the kiosk's offer and relays candidates both ways until the
    /// documents channel is open.
    async fn answer(agent: Agent, session: SessionId) -> (ScriptedAgent, mpsc::UnboundedSender<AgentToHub>) {
        let (call, mut events) = Call::new(CallConfig::test_sources("ball", None, 880.0)).await.unwrap();
        let (to_hub, mut outgoing) = mpsc::unbounded_channel::<AgentToHub>();
        let (channel_tx, mut channel_rx) = mpsc::unbounded_channel();

        // One task owns the agent's socket: hub messages in, ours out.
        let mut agent = agent;
        let relay_call = call.clone();
        let relay_session = session.clone();
        let relay_out = to_hub.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = agent.next_or_closed() => match msg {
                        Some(HubToAgent::Signal { signal: Signal::Offer { sdp }, .. }) => {
                            let answer = relay_call.accept_offer(SessionDescription::offer(sdp)).await.expect("answer");
                            let _ = relay_out.send(AgentToHub::Signal { session: relay_session.clone(), signal: Signal::Answer { sdp: answer.sdp } });
                        }
                        Some(HubToAgent::Signal { signal: Signal::Candidate { candidate }, .. }) => {
                            let c = visio_media::IceCandidate {
                                candidate: candidate.candidate,
                                sdp_mid: candidate.sdp_mid,
                                sdp_m_line_index: candidate.sdp_m_line_index,
                                username_fragment: candidate.username_fragment,
                            };
                            let _ = relay_call.add_remote_candidate(c).await;
                        }
                        Some(other) => eprintln!("agent: {other:?}"),
                        None => return,
                    },
                    out = outgoing.recv() => match out {
                        Some(msg) => agent.send(msg).await,
                        None => return,
                    },
                }
            }
        });
        let event_out = to_hub.clone();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    CallEvent::LocalCandidate(c) => {
                        let candidate = IceCandidate {
                            candidate: c.candidate,
                            sdp_mid: c.sdp_mid,
                            sdp_m_line_index: c.sdp_m_line_index,
                            username_fragment: c.username_fragment,
                        };
                        let _ = event_out.send(AgentToHub::Signal { session: session.clone(), signal: Signal::Candidate { candidate } });
                    }
                    CallEvent::DataChannelOpen(channel) => {
                        let _ = channel_tx.send(channel);
                    }
                    _ => {}
                }
            }
        });

        let channel = within("the documents channel at the agent", channel_rx.recv()).await.unwrap();
        let spool_dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(spool_dir.path().join("spool")).unwrap();
        let (documents, notices) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
        let (link, link_events) = DocumentsLink::attach(channel);
        documents.attach(link, link_events).await.unwrap();
        (ScriptedAgent { call, documents, notices, _spool: spool_dir }, to_hub)
    }

    async fn notice<T>(&mut self, what: &str, pick: impl Fn(&Notice) -> Option<T>) -> T {
        loop {
            let notice = within(what, self.notices.recv()).await.unwrap_or_else(|| panic!("transfer session ended before {what}"));
            if let Some(v) = pick(&notice) {
                return v;
            }
        }
    }

    async fn outcome(&mut self, id: u32) -> (OutcomeKind, Option<String>) {
        self.notice("the kiosk's outcome", |n| match n {
            Notice::Core { event: Event::Outcome { id: i, outcome, reason }, .. } if *i == id => Some((*outcome, reason.clone())),
            _ => None,
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_kiosk_completes_a_call_with_documents_against_the_real_hub() {
    init_tracing();
    let hub = TestHub::start().await;
    let secret = hub.enroll("demo-kiosk");
    hub.add_agent("agent", "correct horse", &["demo"]);
    let cups = Cups::start();
    let sane = sane_config();
    let dir = tempfile::tempdir().unwrap();
    let config = kiosk_config(dir.path(), &hub, &cups.queue);
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, &secret.0).unwrap();
    let spool = dir.path().join("spool");

    let mut agent = Agent::connect(&hub, "agent", "correct horse").await;
    let mut kiosk = HeadlessKiosk::start(&config, &secret_file, &spool, &cups, sane.path(), "demo");

    // The resident waits; the agent sees the kiosk in the queue and takes it.
    let ready = kiosk.event("ready").await;
    assert_eq!(ready["kiosk_id"], "demo-kiosk");
    let queued = kiosk.event("queued").await;
    assert_eq!(queued["service"], "demo");
    assert_eq!(queued["position"], 1);
    agent
        .wait_for("the kiosk in the agent's queue", |m| {
            visio_testkit::hub::waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])
        })
        .await;
    let session = agent.take_next().await;
    assert_eq!(queued["session"], session.as_str());

    // The call: media both ways.
    let (mut scripted, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;
    let answered = kiosk.event("answered").await;
    assert_eq!(answered["session"], session.as_str());
    kiosk.event("connected").await;
    kiosk.event("first_remote_frame").await;
    let frame = within("the kiosk's video at the agent", scripted.call.remote_frames().next()).await.expect("a frame");
    assert!(frame.width >= 320 && frame.height >= 180, "kiosk video {}x{}", frame.width, frame.height);

    // A scan: the agent receives exactly what the kiosk reports it sent.
    let req = scripted
        .documents
        .request_scan(ScanSettings { color: ColorMode::Gray, dpi: 150, format: ScanFormat::Pdf })
        .await
        .unwrap();
    let (agent_sha, agent_size, agent_file) = scripted
        .notice("the scan at the agent", |n| match n {
            Notice::Core { event: Event::FileReceived { req: Some(r), sha256, size, .. }, file } if *r == req => {
                Some((sha256.clone(), *size, file.clone().unwrap()))
            }
            _ => None,
        })
        .await;
    let sent = kiosk.event("scan_sent").await;
    assert_eq!(sent["sha256"], agent_sha.as_str(), "the agent got the bytes the kiosk scanned");
    assert_eq!(sent["size"], agent_size);
    assert!(sent["name"].as_str().is_some_and(|n| n.ends_with(".pdf")), "{sent}");
    assert_eq!(hash_file(&agent_file).unwrap().1, agent_sha);

    // A form to print: cupsd's PDF queue receives it.
    let docs = tempfile::tempdir().unwrap();
    let form = docs.path().join("formulaire.pdf");
    std::fs::write(&form, text_pdf("Demande de RSA 2026")).unwrap();
    let (id, _) = scripted.documents.push_file(&form, "formulaire.pdf", Purpose::Print, None).await.unwrap();
    assert_eq!(scripted.outcome(id).await, (OutcomeKind::Printed, None));
    let printed = kiosk.event("printed").await;
    assert_eq!(printed["name"], "formulaire.pdf");
    let output = wait_for("the cups-pdf output", || std::fs::read_dir(&cups.out).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "pdf"))).await;
    let text = wait_for("the printed PDF's text", || Some(pdf_text(&output)).filter(|t| !t.trim().is_empty())).await;
    assert!(text.contains("Demande de RSA 2026"), "printed: {text:?}");

    // A document to show on the kiosk's screen.
    let notice = docs.path().join("notice.pdf");
    std::fs::write(&notice, text_pdf("Notice explicative")).unwrap();
    let (id, _) = scripted.documents.push_file(&notice, "notice.pdf", Purpose::Display, None).await.unwrap();
    assert_eq!(scripted.outcome(id).await, (OutcomeKind::Shown, None));
    let displayed = kiosk.event("displayed").await;
    assert_eq!((displayed["name"].as_str(), displayed["pages"].as_u64()), (Some("notice.pdf"), Some(1)));

    // The agent hangs up: the kiosk ends normally and keeps nothing.
    to_hub.send(AgentToHub::HangUp { session: session.clone() }).unwrap();
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let status = within("the kiosk exits", kiosk.child.wait()).await.unwrap();
    assert!(status.success(), "a normal end exits 0, got {status}");
    assert!(list_files(&spool).is_empty(), "the kiosk's spool is empty after the visit: {:?}", list_files(&spool));
    let record = hub
        .wait_for_log("the session in the hub's log", |log| log.iter().find(|r| r.session == session.as_str()).cloned())
        .await;
    assert_eq!(record.kiosk_id, "demo-kiosk");
    assert_eq!(record.agent.as_deref(), Some("agent"));
    assert!(record.answered_at.is_some());

    scripted.documents.end().await.unwrap();
    scripted.call.hang_up().await;
    hub.stop().await;
}
