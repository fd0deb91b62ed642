//! The kiosk over emulated rural links (visio-linkem): the hub and the agent
//! on the link's hub side, the headless kiosk process on its kiosk side, so
//! that the call's media, its signaling and its documents all cross the
//! emulated link. The agent is the scripted Rust peer of `visio_tests::agent`.
//!
//! Needs root (network namespaces and a TUN device), like the link
//! emulator's own tests.

use std::sync::Arc;
use std::time::Duration;

use visio_tests::agent::ScriptedAgent;
use visio_tests::town_hall::TownHall;
use visio_tests::{AGENT, HeadlessKiosk, World};
use visio_linkem::{Direction as LinkDirection, Link, Profile, Side};
use visio_media::CallConfig;
use visio_protocol::*;
use visio_testkit::hub::{Agent, waiting};
use visio_testkit::pdf::padded_pdf;
use visio_testkit::wait::{init_tracing, within};
use visio_transfer::driver::Notice;
use visio_transfer::spool::{hash_file, list_files};
use visio_transfer::{Direction, Event, OutcomeKind, Purpose};

/// The agent's media: test sources, on the link's addresses (not loopback).
fn agent_media() -> CallConfig {
    let mut config = CallConfig::test_sources("ball", None, 880.0);
    config.loopback_only = false;
    config
}

/// Brings up a link and runs `test` on a runtime on its hub side.
fn over_link<F, Fut>(profile: Profile, name: &str, test: F)
where
    F: FnOnce(Arc<Link>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    init_tracing();
    let link = Link::builder().profile(profile).name(name).start().expect("an emulated link (the tests run as root)");
    let link = Arc::new(link);
    let hub_side = link.runtime(Side::Hub).unwrap();
    hub_side.block_on(test(link.clone()));
}

/// A resident at the kiosk queued for `demo`, taken by the scripted agent,
/// media connected both ways.
async fn call_over(link: &Link, world: &World) -> (HeadlessKiosk, ScriptedAgent, SessionId, tokio::sync::mpsc::UnboundedSender<AgentToHub>) {
    let mut agent = Agent::connect(&world.hub, AGENT.0, AGENT.1).await;
    let mut kiosk = world.kiosk_behind(link, "demo");
    kiosk.event("ready").await;
    kiosk.event("queued").await;
    agent.wait_for("the kiosk in the agent's queue", |m| waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])).await;
    let session = agent.take_next().await;
    let (scripted, to_hub) = ScriptedAgent::answer_with(agent, session.clone(), agent_media()).await;
    kiosk.event("connected").await;
    kiosk.event("first_remote_frame").await;
    (kiosk, scripted, session, to_hub)
}

/// `count` new frames of the kiosk's video reach the agent.
async fn kiosk_video_flows(agent: &ScriptedAgent, count: usize) {
    let frames = agent.call.remote_frames();
    for n in 0..count {
        let frame = within(&format!("kiosk video frame {n} at the agent"), frames.next()).await.expect("the call is up");
        assert!(frame.width >= 160 && frame.height >= 90, "kiosk video {}x{}", frame.width, frame.height);
    }
}

/// The agent hangs up; the kiosk ends normally, exits 0 and keeps nothing.
async fn hang_up(mut kiosk: HeadlessKiosk, agent: ScriptedAgent, session: SessionId, to_hub: tokio::sync::mpsc::UnboundedSender<AgentToHub>, world: &World) {
    to_hub.send(AgentToHub::HangUp { session }).unwrap();
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let status = within("the kiosk exits", kiosk.child.wait()).await.unwrap();
    assert!(status.success(), "a normal end exits 0, got {status}");
    assert!(list_files(&world.spool).is_empty(), "the spool is empty after the visit: {:?}", list_files(&world.spool));
    agent.documents.end().await.unwrap();
    agent.call.hang_up().await;
}

async fn a_call_connects_and_frames_flow(link: Arc<Link>) {
    let world = World::behind(&link).await;
    let (kiosk, agent, session, to_hub) = call_over(&link, &world).await;
    kiosk_video_flows(&agent, 30).await;
    // The resident's voice reaches the agent (the agent's picture reached
    // the kiosk: first_remote_frame).
    let mut stats = agent.stats.clone();
    let heard = within("the kiosk's audio at the agent", stats.wait_for(|s| s.as_ref().is_some_and(|s| s.audio_frames_decoded > 100))).await;
    let level = heard.unwrap().as_ref().and_then(|s| s.audio_level_received_dbfs);
    assert!(level.is_some_and(|db| db > -60.0), "the kiosk's test tone is heard, not silence: {level:?} dBFS");
    // It all crossed the emulated link.
    let up = link.counters(LinkDirection::Up);
    let down = link.counters(LinkDirection::Down);
    assert!(up.bytes_out > 100_000 && down.bytes_out > 10_000, "traffic through the link: up {up:?}, down {down:?}");
    hang_up(kiosk, agent, session, to_hub, &world).await;
}

#[test]
fn a_call_connects_and_frames_flow_over_adsl() {
    over_link(Profile::Adsl, "kl-adsl", a_call_connects_and_frames_flow);
}

#[test]
fn a_call_connects_and_frames_flow_over_poor_adsl() {
    over_link(Profile::AdslPoor, "kl-poor", a_call_connects_and_frames_flow);
}

#[test]
fn a_call_connects_and_frames_flow_over_satellite() {
    over_link(Profile::Satellite, "kl-sat", a_call_connects_and_frames_flow);
}

#[test]
fn a_call_connects_and_frames_flow_over_a_lossy_link() {
    over_link(Profile::Lossy, "kl-lossy", a_call_connects_and_frames_flow);
}

/// A 10-second cut in the middle of a call and of a document on its way to
/// the kiosk: the kiosk says it is reconnecting, the call comes back by
/// itself, and the document arrives whole without starting over.
#[test]
fn after_a_ten_second_cut_the_call_resumes_and_the_cut_transfer_completes() {
    over_link(Profile::Adsl, "kl-cut", |link| async move {
        let world = World::behind(&link).await;
        let (mut kiosk, mut agent, session, to_hub) = call_over(&link, &world).await;

        let docs = tempfile::tempdir().unwrap();
        let path = docs.path().join("notice.pdf");
        std::fs::write(&path, padded_pdf("Notice explicative", 4 << 20)).unwrap();
        let (_, sha256) = hash_file(&path).unwrap();
        let (id, _) = agent.documents.push_file(&path, "notice.pdf", Purpose::Display, None).await.unwrap();
        let progress = |n: &Notice| match n {
            Notice::Core { event: Event::Progress { id: i, direction: Direction::Outgoing, done, total }, .. } if *i == id => Some((*done, *total)),
            _ => None,
        };
        let acked_before_cut = agent.notice("a tenth of the document acknowledged", |n| progress(n).filter(|(d, t)| d * 10 >= *t)).await.0;
        link.cut(Duration::from_secs(10)).unwrap();
        kiosk.event("reconnecting").await;
        kiosk.event("reconnected").await;

        // The transfer went on from where it was: acknowledged bytes never
        // went back, and the kiosk shows the very file the agent sent.
        let outcome = loop {
            let notice = within("the document's outcome", agent.next_notice()).await.expect("the transfer session lives");
            if let Some((done, _)) = progress(&notice) {
                assert!(done >= acked_before_cut, "the transfer started over: {done} acknowledged after {acked_before_cut}");
            }
            if let Notice::Core { event: Event::Outcome { id: i, outcome, reason }, .. } = notice
                && i == id
            {
                break (outcome, reason);
            }
        };
        assert_eq!(outcome, (OutcomeKind::Shown, None));
        let displayed = kiosk.event("displayed").await;
        assert_eq!(displayed["name"], "notice.pdf");
        // The spool names received files by transfer id; it holds the very
        // bytes the agent sent while the visit lasts.
        let spooled = list_files(&world.spool);
        assert!(
            spooled.iter().any(|p| hash_file(p).is_ok_and(|(_, h)| h == sha256)),
            "no file with the sent SHA-256 {sha256} in the kiosk's spool: {spooled:?}"
        );

        kiosk_video_flows(&agent, 10).await;
        hang_up(kiosk, agent, session, to_hub, &world).await;
    });
}

/// A town hall whose network lets out only its HTTP proxy (tinyproxy, with
/// credentials), from the kiosk's side of the link: the kiosk's namespace
/// drops everything else it sends. The kiosk reaches its hub through the
/// proxy, and its call goes through TURN over TLS (coturn on 443, the hub's
/// short-lived credentials) through the same proxy: video both ways, a
/// scan whose hash the agent checks, and a 10-second cut survived.
async fn a_call_and_a_scan_through_the_town_halls_proxy(link: Arc<Link>) {
    const SECRET: &str = "proxy-only-town-hall";
    let hub_ip = link.hub_addr();
    let town_hall = TownHall::start(&link, SECRET, true).await;
    let (world, proxy) = (&town_hall.world, town_hall.proxy.as_ref().unwrap());

    // The kiosk side's firewall: loopback and the proxy, nothing else.
    link.only_tcp_out(Side::Kiosk, &[proxy.port]).unwrap_or_else(|e| panic!("{e}"));
    let hub_port = world.hub.addr.port();
    let direct = link.in_namespace(Side::Kiosk, || std::net::TcpStream::connect_timeout(&(hub_ip, hub_port).into(), Duration::from_secs(1)).is_ok());
    assert!(!direct.unwrap(), "the kiosk side cannot reach the hub directly");

    let (mut kiosk, mut agent, session, to_hub) = call_over(&link, world).await;
    kiosk_video_flows(&agent, 15).await;
    let req = agent
        .documents
        .request_scan(visio_transfer::ScanSettings { color: visio_transfer::ColorMode::Gray, dpi: 75, format: visio_transfer::ScanFormat::Pdf })
        .await
        .unwrap();
    let (sha, file) = agent
        .notice("the scan at the agent", |n| match n {
            Notice::Core { event: Event::FileReceived { req: Some(r), sha256, .. }, file } if *r == req => Some((sha256.clone(), file.clone().unwrap())),
            _ => None,
        })
        .await;
    let sent = kiosk.event("scan_sent").await;
    assert_eq!(sent["sha256"], sha.as_str(), "the agent got the bytes the kiosk scanned");
    assert_eq!(hash_file(&file).unwrap().1, sha);

    // A 10-second cut: the TCP connections through the proxy (hub link and
    // TURN over TLS) hold, and the call comes back by itself.
    link.cut(Duration::from_secs(10)).unwrap();
    kiosk.event("reconnecting").await;
    kiosk.event("reconnected").await;
    kiosk_video_flows(&agent, 15).await;
    hang_up(kiosk, agent, session, to_hub, world).await;
}

#[test]
fn a_call_and_a_scan_go_through_the_town_halls_http_proxy() {
    over_link(Profile::Adsl, "kl-proxy", a_call_and_a_scan_through_the_town_halls_proxy);
}
