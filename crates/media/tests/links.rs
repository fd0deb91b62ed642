//! Two calls across an emulated rural link (visio-linkem, issue 9): the
//! kiosk's call offers from the kiosk namespace (10.77.0.1), a stand-in for
//! the agent answers from the hub namespace (10.77.0.2), and signaling goes
//! through this test, outside the link. Needs root (network namespaces);
//! without it the tests fail and say so.
//!
//! The calls run one at a time (`one_at_a_time`): each is two real-time VP8
//! encoders and decoders, and several at once on a loaded 2-core machine
//! would measure the machine, not the link.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::DEADLINE;
use tokio::sync::{mpsc, watch};
use visio_linkem::{Link, NsRuntime, Profile, Side};
use visio_media::adapt::document_send_rate;
use visio_kiosk_core::IceRestartPolicy;
use visio_media::{Call, CallConfig, CallEvent, CallEvents, CallState, CallStats, DataChannelHandle, DocumentsLink};
use visio_transfer::driver::{Notice, SessionHandle, spawn_session};

/// Serialises the calls of this file (see the module docs).
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    GATE.lock().await
}

fn link(name: &str, profile: Profile) -> Link {
    Link::builder()
        .name(name)
        .profile(profile)
        .start()
        .unwrap_or_else(|e| panic!("cannot bring the emulated link up (root needed): {e}"))
}

/// A test-sources call for a namespace: real addresses, not loopback.
fn config(frequency: f64) -> CallConfig {
    let mut c = CallConfig::test_sources("ball", None, frequency);
    c.loopback_only = false;
    c
}

/// What one side of the call has seen, shared with its event pump.
struct Party {
    call: Call,
    state: watch::Receiver<CallState>,
    stats: watch::Receiver<Option<Box<CallStats>>>,
    /// The other side's stats, for what a failure prints.
    peer_stats: watch::Receiver<Option<Box<CallStats>>>,
    /// Room for documents, from each stats and each back-off in between.
    data_room: watch::Receiver<u64>,
    /// How many back-offs the call reported between its stats.
    backoffs: Arc<AtomicU32>,
    channel: watch::Receiver<Option<DataChannelHandle>>,
    /// Every state change, with when it happened.
    history: Arc<Mutex<Vec<(Instant, CallState)>>>,
    channel_closed: Arc<AtomicU32>,
    /// ICE restarts this side offered.
    restarts: Arc<AtomicU32>,
    /// Keeps the namespace's runtime (and the call's driver) alive.
    _runtime: NsRuntime,
}

impl Party {
    async fn stats_where(&self, what: &str, mut accept: impl FnMut(&CallStats) -> bool) -> Box<CallStats> {
        let mut rx = self.stats.clone();
        let found = tokio::time::timeout(DEADLINE, rx.wait_for(|s| s.as_deref().is_some_and(&mut accept))).await;
        match found {
            Ok(Ok(s)) => s.clone().expect("accepted stats exist"),
            Ok(Err(_)) => panic!("the call's events ended before {what}"),
            Err(_) => panic!("no {what} within {DEADLINE:?}; last stats: {:?}; the peer's: {:?}", self.stats.borrow(), self.peer_stats.borrow()),
        }
    }

    /// Like [`Party::stats_where`] with another deadline.
    async fn stats_where_within(&self, what: &str, deadline: Duration, mut accept: impl FnMut(&CallStats) -> bool) -> Box<CallStats> {
        let mut rx = self.stats.clone();
        match tokio::time::timeout(deadline, rx.wait_for(|s| s.as_deref().is_some_and(&mut accept))).await {
            Ok(Ok(s)) => s.clone().expect("accepted stats exist"),
            Ok(Err(_)) => panic!("the call's events ended before {what}"),
            Err(_) => panic!("no {what} within {deadline:?}; last stats: {:?}; the peer's: {:?}", self.stats.borrow(), self.peer_stats.borrow()),
        }
    }

    /// The stats `reports` reports from now (about a second each): a
    /// stretch of call, measured in what the call says rather than a sleep.
    async fn stats_after(&self, what: &str, reports: u32) -> Box<CallStats> {
        let mut rx = self.stats.clone();
        rx.borrow_and_update();
        for _ in 0..reports {
            match tokio::time::timeout(DEADLINE, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => panic!("stats stopped during {what}"),
            }
        }
        rx.borrow().clone().expect("stats")
    }

    async fn state_where(&self, what: &str, mut accept: impl FnMut(CallState) -> bool) -> CallState {
        let mut rx = self.state.clone();
        match tokio::time::timeout(DEADLINE, rx.wait_for(|s| accept(*s))).await {
            Ok(Ok(s)) => *s,
            _ => panic!("no {what} within {DEADLINE:?}; states: {:?}", self.history.lock().unwrap()),
        }
    }

    async fn data_channel(&self) -> DataChannelHandle {
        let mut rx = self.channel.clone();
        match tokio::time::timeout(DEADLINE, rx.wait_for(Option::is_some)).await {
            Ok(Ok(ch)) => ch.clone().expect("some"),
            _ => panic!("no documents channel within {DEADLINE:?}"),
        }
    }

    /// Waits until remote video frames and the peer's tone keep arriving:
    /// `frames` more frames and `audio` more 20 ms buffers than now, and
    /// the tone loud.
    async fn media_flows(&self, who: &str, frames: u64, audio: u64) -> Box<CallStats> {
        let now = self.stats.borrow().clone();
        let (f0, a0) = now.map_or((0, 0), |s| (s.frames_decoded, s.audio_frames_decoded));
        self.stats_where(&format!("{who}: {frames} more frames and {audio} more audio buffers, tone audible"), |s| {
            s.frames_decoded >= f0 + frames
                && s.audio_frames_decoded >= a0 + audio
                && s.audio_level_received_dbfs.is_some_and(|l| l > -30.0)
        })
        .await
    }
}

struct Pair {
    kiosk: Party,
    agent: Party,
    started: Instant,
}

impl Pair {
    /// Starts both calls in their namespaces and negotiates the first offer.
    /// The kiosk side restarts ICE by the kiosk's [`IceRestartPolicy`] when `restart` is set.
    async fn connect(link: &Link, kiosk: CallConfig, agent: CallConfig, restart: bool) -> Pair {
        let started = Instant::now();
        let (kiosk_rt, agent_rt) = (link.runtime(Side::Kiosk).unwrap(), link.runtime(Side::Hub).unwrap());
        let (kc, ke) = kiosk_rt.spawn(Call::new(kiosk)).await.unwrap().expect("kiosk call starts");
        let (ac, ae) = agent_rt.spawn(Call::new(agent)).await.unwrap().expect("agent call starts");
        let mut kiosk = Party::pump("kiosk", kc.clone(), ke, ac.clone(), restart, kiosk_rt, started);
        let mut agent = Party::pump("agent", ac.clone(), ae, kc.clone(), false, agent_rt, started);
        (kiosk.peer_stats, agent.peer_stats) = (agent.stats.clone(), kiosk.stats.clone());
        let offer = kc.create_offer().await.expect("offer");
        let answer = ac.accept_offer(offer).await.expect("answer");
        kc.set_answer(answer).await.expect("answer accepted");
        Pair { kiosk, agent, started }
    }

    async fn connected(&self) {
        for (who, p) in [("kiosk", &self.kiosk), ("agent", &self.agent)] {
            p.state_where(&format!("{who} connected"), |s| s == CallState::Connected).await;
        }
        eprintln!("connected after {:.2} s", self.started.elapsed().as_secs_f64());
    }

    async fn hang_up(self) {
        self.kiosk.call.hang_up().await;
        self.agent.call.hang_up().await;
    }
}

impl Party {
    /// Spawns the task that turns `me`'s events into the party's watches,
    /// relays local candidates to `peer`, and (offerer) restarts ICE.
    fn pump(side: &'static str, me: Call, mut events: CallEvents, peer: Call, restart: bool, runtime: NsRuntime, t0: Instant) -> Party {
        let (state_tx, state) = watch::channel(CallState::New);
        let (stats_tx, stats) = watch::channel(None);
        let (room_tx, data_room) = watch::channel(0);
        let backoffs = Arc::new(AtomicU32::new(0));
        let (channel_tx, channel) = watch::channel(None);
        let history = Arc::new(Mutex::new(Vec::new()));
        let channel_closed = Arc::new(AtomicU32::new(0));
        let restarts = Arc::new(AtomicU32::new(0));
        let (h, closed, count, backed_off) = (history.clone(), channel_closed.clone(), restarts.clone(), backoffs.clone());
        let call = me.clone();
        tokio::spawn(async move {
            // The kiosk's own rule, with the kiosk's settings; the test's
            // signaling always reaches the agent.
            let settings = visio_kiosk_core::Config::default();
            let mut policy = IceRestartPolicy::new(settings.ice_restart_after, settings.ice_restart_every);
            let mut restart_now = false;
            loop {
                if std::mem::take(&mut restart_now) {
                    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                    eprintln!("{:6.2} s kiosk: ICE restart #{n}", t0.elapsed().as_secs_f64());
                    if let Err(e) = renegotiate(&me, &peer).await {
                        eprintln!("ICE restart #{n} failed: {e}");
                    }
                }
                let wake = policy.poll_timeout().filter(|_| restart);
                let event = tokio::select! {
                    event = events.next() => match event { Some(e) => e, None => break },
                    _ = tokio::time::sleep_until(wake.map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std)), if wake.is_some() => {
                        restart_now = policy.handle_timeout(Instant::now(), true);
                        continue;
                    }
                };
                match event {
                    CallEvent::LocalCandidate(c) => {
                        if let Err(e) = peer.add_remote_candidate(c).await {
                            eprintln!("{side}'s candidate refused: {e}");
                        }
                    }
                    CallEvent::State(s) => {
                        eprintln!("{:6.2} s {side}: {s:?}", t0.elapsed().as_secs_f64());
                        h.lock().unwrap().push((Instant::now(), s));
                        // As the kiosk's session: down on a cut, at once
                        // when ICE failed, nothing more once up or closed.
                        match s {
                            CallState::Disconnected => policy.handle_down(Instant::now()),
                            CallState::Failed => {
                                policy.handle_down(Instant::now());
                                restart_now = restart && policy.restart_now(Instant::now(), true);
                            }
                            CallState::Connected | CallState::Closed => policy.handle_up(),
                            _ => {}
                        }
                        state_tx.send_replace(s);
                    }
                    CallEvent::Stats(s) => {
                        if std::env::var_os("VISIO_LINK_STATS").is_some() {
                            eprintln!("{:6.2} s {side}: {}", t0.elapsed().as_secs_f64(), brief(&s));
                        }
                        room_tx.send_replace(s.data_room_bps);
                        stats_tx.send_replace(Some(s));
                    }
                    CallEvent::DataRoom { data_room_bps } => {
                        backed_off.fetch_add(1, Ordering::SeqCst);
                        room_tx.send_replace(data_room_bps);
                    }
                    CallEvent::DataChannelOpen(ch) => {
                        channel_tx.send_replace(Some(ch));
                    }
                    CallEvent::DataChannelClosed => {
                        closed.fetch_add(1, Ordering::SeqCst);
                    }
                    CallEvent::Error(e) => eprintln!("{side}: {e}"),
                    _ => {}
                }
            }
        });
        Party { call, state, peer_stats: stats.clone(), stats, data_room, backoffs, channel, history, channel_closed, restarts, _runtime: runtime }
    }
}

/// The kiosk restarts ICE: new offer through the test's signaling, answer back.
async fn renegotiate(kiosk: &Call, agent: &Call) -> Result<(), visio_media::CallError> {
    let offer = kiosk.restart_ice().await?;
    let answer = agent.accept_offer(offer).await?;
    kiosk.set_answer(answer).await
}

/// One line of figures for the log.
fn brief(s: &CallStats) -> String {
    format!(
        "est {:>5} kb/s, video target {:>4} kb/s {}x{}@{}, sent {:>4} kb/s, recv {:>4} kb/s, {:.0} fps, loss {:.1} %, rtt {:?}, audio {} ({:?} dBFS)",
        s.estimate_bps.map_or(0, |e| e / 1000),
        s.sending.video_bitrate_bps / 1000,
        s.sending.format.width,
        s.sending.format.height,
        s.sending.format.framerate,
        s.send_bitrate_bps / 1000,
        s.receive_bitrate_bps / 1000,
        s.receive_fps,
        s.loss_sent.unwrap_or(0.0) * 100.0,
        s.rtt.map(|r| r.as_millis()),
        s.audio_frames_decoded,
        s.audio_level_received_dbfs.map(|l| l.round()),
    )
}

async fn both_ways_on(profile: Profile) {
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link(&format!("vm-{}", profile.name()), profile);
    let pair = Pair::connect(&link, config(440.0), config(660.0), false).await;
    pair.connected().await;
    // A second of video and audio each way, after whatever start-up took.
    let at_agent = pair.agent.media_flows("agent", 15, 50).await;
    let at_kiosk = pair.kiosk.media_flows("kiosk", 15, 50).await;
    eprintln!("{profile}: first second of media after {:.2} s", pair.started.elapsed().as_secs_f64());
    eprintln!("{profile} agent: {}", brief(&at_agent));
    eprintln!("{profile} kiosk: {}", brief(&at_kiosk));
    pair.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_adsl_carries_video_and_audio_both_ways() {
    both_ways_on(Profile::Adsl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_poor_adsl_carries_video_and_audio_both_ways() {
    both_ways_on(Profile::AdslPoor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_satellite_carries_video_and_audio_both_ways() {
    both_ways_on(Profile::Satellite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_a_lossy_line_carries_video_and_audio_both_ways() {
    both_ways_on(Profile::Lossy).await;
}

/// A transfer session over a party's documents channel, and its notices.
async fn documents(party: &Party, side: visio_transfer::Side, spool: &Path) -> (SessionHandle, mpsc::UnboundedReceiver<Notice>) {
    let spool = visio_transfer::spool::Spool::open(spool).unwrap().session("visit").unwrap();
    let (handle, notices) = spawn_session(side, visio_transfer::Limits::default(), spool);
    let (link, events) = DocumentsLink::attach(party.data_channel().await);
    handle.attach(link, events).await.unwrap();
    // As the kiosk's visit does: a cut holds transfers without counting
    // as no progress.
    let (mut state, path) = (party.state.clone(), handle.clone());
    tokio::spawn(async move {
        while state.changed().await.is_ok() {
            let up = match *state.borrow_and_update() {
                CallState::Connected => true,
                CallState::Disconnected | CallState::Failed => false,
                _ => continue,
            };
            if path.set_call_connected(up).await.is_err() {
                break;
            }
        }
    });
    (handle, notices)
}

/// Reads notices until `pick` accepts one, keeping every notice in `seen`.
async fn notice<T>(rx: &mut mpsc::UnboundedReceiver<Notice>, seen: &mut Vec<(Instant, Notice)>, what: &str, mut pick: impl FnMut(&Notice) -> Option<T>) -> T {
    let found = tokio::time::timeout(DEADLINE * 2, async {
        while let Some(n) = rx.recv().await {
            let hit = pick(&n);
            seen.push((Instant::now(), n));
            if hit.is_some() {
                return hit;
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(v)) => v,
        Ok(None) => panic!("the transfer session ended before {what}"),
        Err(_) => panic!("no {what} within {:?}; notices: {seen:?}", DEADLINE * 2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_second_cut_is_survived_with_an_ice_restart_and_the_transfer_goes_on() {
    use visio_transfer::{Direction, Event, Purpose};
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link("vm-cut", Profile::Adsl);
    let pair = Pair::connect(&link, config(440.0), config(660.0), true).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    pair.kiosk.media_flows("kiosk", 15, 50).await;

    // A 3 MB scan goes up (1 Mbit/s, shared with the call's media).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.pdf");
    std::fs::write(&file, common_pdf(3_000_000)).unwrap();
    let (size, sha256) = visio_transfer::spool::hash_file(&file).unwrap();
    let (kiosk_docs, mut kiosk_notices) = documents(&pair.kiosk, visio_transfer::Side::Kiosk, &dir.path().join("kiosk")).await;
    let (_agent_docs, mut agent_notices) = documents(&pair.agent, visio_transfer::Side::Agent, &dir.path().join("agent")).await;
    let mut seen = Vec::new();
    // Pushed at once, maybe before the session has seen its link up: the
    // offer still goes out once (visio-transfer offered it twice before).
    let (id, _) = kiosk_docs.push_file(&file, "scan.pdf", Purpose::Scan, None).await.unwrap();
    let acked_before_cut = notice(&mut kiosk_notices, &mut seen, "300 kB acknowledged", |n| match n {
        Notice::Core { event: Event::Progress { direction: Direction::Outgoing, done, .. }, .. } if *done >= 300_000 => Some(*done),
        _ => None,
    })
    .await;

    let frames_before = pair.agent.stats.borrow().as_ref().map_or(0, |s| s.frames_decoded);
    let cut_at = Instant::now();
    link.cut(Duration::from_secs(10)).unwrap();
    eprintln!("{:6.2} s cut for 10 s with {acked_before_cut} of {size} bytes acknowledged", pair.started.elapsed().as_secs_f64());
    for (who, p) in [("kiosk", &pair.kiosk), ("agent", &pair.agent)] {
        let s = p.state_where(&format!("{who} noticing the cut"), |s| matches!(s, CallState::Disconnected | CallState::Failed)).await;
        eprintln!("{who}: {s:?} {:.2} s into the cut", cut_at.elapsed().as_secs_f64());
    }
    visio_testkit::wait::wait_for("the link to come back", || (!link.is_cut()).then_some(())).await;
    for (who, p) in [("kiosk", &pair.kiosk), ("agent", &pair.agent)] {
        p.state_where(&format!("{who} connected again"), |s| s == CallState::Connected).await;
        let back = p.history.lock().unwrap().iter().rev().find(|(_, s)| *s == CallState::Connected).map(|(t, _)| *t).unwrap();
        eprintln!("{who}: Connected again {:.2} s after the link returned", back.duration_since(cut_at + Duration::from_secs(10)).as_secs_f64());
    }
    let resumed_frames = pair
        .agent
        .stats_where("the agent decoding the kiosk's video again", |s| s.frames_decoded > frames_before + 30)
        .await;
    pair.kiosk.media_flows("kiosk after the cut", 15, 50).await;
    eprintln!("{:6.2} s video flows again ({} frames)", pair.started.elapsed().as_secs_f64(), resumed_frames.frames_decoded);
    assert!(pair.kiosk.restarts.load(Ordering::SeqCst) >= 1, "the kiosk restarted ICE while disconnected");

    // The scan arrives whole, from where it was, on the same channel.
    let mut agent_seen = Vec::new();
    let (received, path) = notice(&mut agent_notices, &mut agent_seen, "the scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { sha256, .. }, file } => Some((sha256.clone(), file.clone())),
        _ => None,
    })
    .await;
    notice(&mut kiosk_notices, &mut seen, "the scan delivered", |n| match n {
        Notice::Core { event: Event::Delivered { id: d }, .. } if *d == id => Some(()),
        _ => None,
    })
    .await;
    let done_at = seen.last().map(|(t, _)| *t).unwrap();
    eprintln!("scan delivered {:.2} s after the link returned", done_at.duration_since(cut_at + Duration::from_secs(10)).as_secs_f64());
    assert_eq!(received, sha256);
    assert_eq!(visio_transfer::spool::hash_file(&path.expect("received file")).unwrap(), (size, sha256));
    let resumed: Vec<u64> = seen
        .iter()
        .filter_map(|(_, n)| match n {
            Notice::Core { event: Event::Resumed { offset, .. }, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    let sent = kiosk_docs.stats().chunk_bytes_sent.load(Ordering::Relaxed);
    eprintln!("chunk bytes sent {sent} for a {size}-byte file; resumed at {resumed:?}");
    if resumed.is_empty() {
        // The channel stayed open: nothing was sent twice.
        let link_changes: Vec<&Notice> = seen.iter().map(|(_, n)| n).filter(|n| matches!(n, Notice::LinkUp | Notice::LinkDown)).collect();
        assert_eq!(sent, size, "no chunk resent; link notices: {link_changes:?}");
        assert_eq!(pair.kiosk.channel_closed.load(Ordering::SeqCst), 0, "the documents channel stayed open");
    } else {
        assert!(resumed.iter().all(|&o| o >= acked_before_cut), "resumed from {resumed:?}, {acked_before_cut} were acknowledged before the cut");
    }
    pair.hang_up().await;
}

fn common_pdf(size: usize) -> Vec<u8> {
    visio_testkit::pdf::padded_pdf("Scan across a cut", size)
}

/// What webrtc-rs does alone (no restart): `Disconnected` some seconds into
/// a cut (5 s after the last STUN answer), `Connected` again by itself on
/// the same pair once packets flow, as long as the cut stays under the 30 s
/// after which it says `Failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_restart_a_ten_second_cut_heals_by_itself() {
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link("vm-heal", Profile::Adsl);
    let pair = Pair::connect(&link, config(440.0), config(660.0), false).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    let cut_at = Instant::now();
    link.cut(Duration::from_secs(10)).unwrap();
    for (who, p) in [("kiosk", &pair.kiosk), ("agent", &pair.agent)] {
        p.state_where(&format!("{who} noticing the cut"), |s| s == CallState::Disconnected).await;
        eprintln!("{who}: Disconnected {:.2} s into the cut", cut_at.elapsed().as_secs_f64());
    }
    visio_testkit::wait::wait_for("the link to come back", || (!link.is_cut()).then_some(())).await;
    for (who, p) in [("kiosk", &pair.kiosk), ("agent", &pair.agent)] {
        p.state_where(&format!("{who} connected again by itself"), |s| s == CallState::Connected).await;
        eprintln!("{who}: Connected {:.2} s after the link returned", (cut_at + Duration::from_secs(10)).elapsed().as_secs_f64());
    }
    pair.agent.media_flows("agent after the cut", 30, 50).await;
    pair.kiosk.media_flows("kiosk after the cut", 30, 50).await;
    assert_eq!(pair.kiosk.restarts.load(Ordering::SeqCst), 0);
    pair.hang_up().await;
}

/// Audio keeps priority (issue 9): on a 150 kbit/s uplink, less than audio
/// plus the video floor, the kiosk's video goes down to a small picture
/// while the agent keeps hearing the kiosk's tone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_150_kbits_uplink_video_yields_and_audio_keeps_flowing() {
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link("vm-starved", Profile::Adsl);
    link.update(visio_linkem::Direction::Up, |p| p.rate = Some(visio_linkem::Bitrate::kbit(150))).unwrap();
    let pair = Pair::connect(&link, config(440.0), config(660.0), false).await;
    pair.connected().await;
    let small = pair
        .kiosk
        .stats_where("the kiosk's video down to a small picture", |s| s.sending.format.width <= 320 && s.sending.video_bitrate_bps <= 100_000)
        .await;
    eprintln!("kiosk degraded: {}", brief(&small));
    // Then ten seconds of the kiosk's tone at the agent, loud every second.
    let start = pair.agent.stats.borrow().as_ref().map_or(0, |s| s.audio_frames_decoded);
    let t0 = Instant::now();
    let mut rx = pair.agent.stats.clone();
    while t0.elapsed() < Duration::from_secs(10) {
        within_deadline(rx.changed()).await.expect("stats keep coming");
        let s = rx.borrow_and_update().clone().expect("stats");
        assert!(s.audio_level_received_dbfs.is_some_and(|l| l > -30.0), "the tone went quiet at the agent: {}", brief(&s));
    }
    let end = pair.agent.stats.borrow().clone().expect("stats");
    eprintln!("agent over 10 s: {} audio buffers; {}", end.audio_frames_decoded - start, brief(&end));
    assert!(end.audio_frames_decoded - start >= 400, "20 ms buffers for 8 of 10 seconds at least");
    pair.hang_up().await;
}

async fn within_deadline<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f).await.expect("within the deadline")
}

/// Content that makes both encoders spend their target (a moving zone
/// plate: vp8enc gives 252 kbit/s for 250 asked at 640x360, 236 at
/// 320x180; x264 meets any target). The ball sends ~140 kbit/s whatever it
/// is asked, so it cannot show a link being filled.
const BUSY_PATTERN: &str = "zone-plate kx2=20 ky2=20 kt=1";

/// A kiosk call offering only `codec`, with busy content.
fn busy_config(codec: visio_media::VideoCodec, frequency: f64) -> CallConfig {
    let mut c = config(frequency);
    c.video.source = visio_media::VideoSource::Test { pattern: BUSY_PATTERN.to_owned(), colour: None };
    c.video.codecs = vec![codec];
    c
}

/// The kiosk's uplink drops from 1 Mbit/s to 300 kbit/s, then comes back
/// (issue 9): the encoder target goes below the new rate, and once the link
/// is back, above it again. The figures (one line a second with
/// `VISIO_LINK_STATS=1`, and the summary) are in docs/benchmarks.md.
async fn the_encoder_follows_the_uplink_down_and_back_up(codec: visio_media::VideoCodec) {
    use visio_linkem::{Bitrate, Direction};
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link(&format!("vm-drop-{codec}"), Profile::Adsl);
    let pair = Pair::connect(&link, busy_config(codec, 440.0), busy_config(codec, 660.0), false).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    let full = pair.kiosk.stats_where("the kiosk sending above 300 kbit/s of video", |s| s.sending.video_bitrate_bps > 300_000).await;
    assert_eq!(full.video_codec_sent, Some(codec));
    // Ten seconds at 1 Mbit/s, counted in stats reports (about one a second).
    let settled = pair.kiosk.stats_after("the kiosk settled on 1 Mbit/s", 10).await;
    eprintln!("{codec} at 1 Mbit/s: {}", brief(&settled));

    let dropped_at = Instant::now();
    link.update(Direction::Up, |p| p.rate = Some(Bitrate::kbit(300))).unwrap();
    let down = pair.kiosk.stats_where("the kiosk's video target below 300 kbit/s", |s| s.sending.video_bitrate_bps < 300_000).await;
    eprintln!("{codec} 300 kbit/s: target below the link {:.1} s after the drop: {}", dropped_at.elapsed().as_secs_f64(), brief(&down));
    // Each back-off also reaches the application as it happens, for the
    // documents' pace (CallEvent::DataRoom), not only in the next stats.
    let backoffs = pair.kiosk.backoffs.load(Ordering::SeqCst);
    assert!(backoffs >= 1, "the estimate went from 1 Mbit/s to under 300 kbit/s without one back-off reported");
    eprintln!("{codec} 300 kbit/s: {backoffs} back-offs reported, room for data now {} kbit/s", *pair.kiosk.data_room.borrow() / 1000);
    let sending = pair.kiosk.stats_where("the kiosk sending under 330 kbit/s", |s| s.send_bitrate_bps < 330_000).await;
    eprintln!("{codec} 300 kbit/s: sending under 330 kbit/s {:.1} s after the drop: {}", dropped_at.elapsed().as_secs_f64(), brief(&sending));
    let held = pair.kiosk.stats_after("thirty seconds at 300 kbit/s", 30).await;
    eprintln!("{codec} after 30 s at 300 kbit/s: {}", brief(&held));
    pair.agent.media_flows("agent at 300 kbit/s", 15, 50).await;

    let restored_at = Instant::now();
    link.update(Direction::Up, |p| p.rate = Some(Bitrate::kbit(1000))).unwrap();
    let up = pair
        .kiosk
        .stats_where_within("the kiosk's video target back above 300 kbit/s", DEADLINE * 2, |s| s.sending.video_bitrate_bps > 300_000)
        .await;
    eprintln!("{codec} 1 Mbit/s again: target above 300 kbit/s {:.1} s after the link returned: {}", restored_at.elapsed().as_secs_f64(), brief(&up));
    // For the record only (no assertion on how fast): when it reaches 600 kbit/s.
    let mut rx = pair.kiosk.stats.clone();
    let high = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|s| s.as_deref().is_some_and(|s| s.sending.video_bitrate_bps > 600_000)))
        .await
        .ok()
        .and_then(|r| r.ok().map(|s| s.clone()));
    match high {
        Some(s) => eprintln!(
            "{codec} 1 Mbit/s again: target above 600 kbit/s {:.1} s after the link returned: {}",
            restored_at.elapsed().as_secs_f64(),
            brief(s.as_deref().unwrap())
        ),
        None => eprintln!("{codec} 1 Mbit/s again: target not above 600 kbit/s 60 s after the link returned: {}", brief(&rx.borrow().clone().unwrap())),
    }
    pair.agent.media_flows("agent after the link returned", 15, 50).await;
    pair.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp8_follows_an_uplink_drop_to_300_kbits_and_back() {
    the_encoder_follows_the_uplink_down_and_back_up(visio_media::VideoCodec::Vp8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_follows_an_uplink_drop_to_300_kbits_and_back() {
    the_encoder_follows_the_uplink_down_and_back_up(visio_media::VideoCodec::H264).await;
}

/// A 5 MB scan goes up the kiosk's `adsl` uplink (1 Mbit/s, 500 ms modem
/// queue) during a call with busy video; `paced` drives visio-transfer's
/// send rate from the call as the kiosk should (see
/// `Call::set_sending_documents`). Prints what the agent hears meanwhile.
async fn a_scan_goes_up_during_a_call(paced: bool) -> Vec<(f64, Box<CallStats>, Box<CallStats>)> {
    use visio_transfer::{Event, Purpose};
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link(if paced { "vm-scan-paced" } else { "vm-scan-unpaced" }, Profile::Adsl);
    let codec = visio_media::VideoCodec::Vp8;
    let pair = Pair::connect(&link, busy_config(codec, 440.0), busy_config(codec, 660.0), false).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.pdf");
    std::fs::write(&file, common_pdf(5_000_000)).unwrap();
    let (size, sha256) = visio_transfer::spool::hash_file(&file).unwrap();
    let (kiosk_docs, mut kiosk_notices) = documents(&pair.kiosk, visio_transfer::Side::Kiosk, &dir.path().join("kiosk")).await;
    let (_agent_docs, mut agent_notices) = documents(&pair.agent, visio_transfer::Side::Agent, &dir.path().join("agent")).await;
    let before = pair.kiosk.stats_after("the call settling on the link", 10).await;
    eprintln!("before the scan: kiosk {}", brief(&before));

    let mut pacer = None;
    if paced {
        // The kiosk's way: room first, a pace from the next stats, then the
        // file, so no chunk ever goes unpaced.
        pair.kiosk.call.set_sending_documents(true).await.unwrap();
        let room = pair.kiosk.stats_after("the call leaving room for documents", 2).await.data_room_bps;
        eprintln!("room for documents: {} kbit/s", room / 1000);
        kiosk_docs.set_send_rate(Some(document_send_rate(room))).await.unwrap();
        let (docs, mut room) = (kiosk_docs.clone(), pair.kiosk.data_room.clone());
        pacer = Some(tokio::spawn(async move {
            while room.changed().await.is_ok() {
                let room = *room.borrow_and_update();
                if docs.set_send_rate(Some(document_send_rate(room))).await.is_err() {
                    break;
                }
            }
        }));
    }
    let started = Instant::now();
    let (id, _) = kiosk_docs.push_file(&file, "scan.pdf", Purpose::Scan, None).await.unwrap();
    // One sample a second of both sides, until the scan is delivered.
    let mut samples = Vec::new();
    let mut seen = Vec::new();
    let (mut kiosk_rx, mut agent_rx) = (pair.kiosk.stats.clone(), pair.agent.stats.clone());
    let delivered = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            tokio::select! {
                n = kiosk_notices.recv() => match n {
                    Some(Notice::Core { event: Event::Delivered { id: d }, .. }) if d == id => return,
                    Some(n) => seen.push(n),
                    None => panic!("the kiosk's transfer session ended"),
                },
                changed = agent_rx.changed() => {
                    changed.expect("stats");
                    let agent = agent_rx.borrow_and_update().clone().expect("stats");
                    let kiosk = kiosk_rx.borrow_and_update().clone().expect("stats");
                    samples.push((started.elapsed().as_secs_f64(), kiosk, agent));
                }
            }
        }
    })
    .await;
    assert!(delivered.is_ok(), "no delivery within 300 s; notices {seen:?}");
    let took = started.elapsed().as_secs_f64();
    if let Some(p) = pacer {
        p.abort();
    }
    let received = notice(&mut agent_notices, &mut Vec::new(), "the scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { sha256, .. }, .. } => Some(sha256.clone()),
        _ => None,
    })
    .await;
    assert_eq!(received, sha256);
    let resent = kiosk_docs.stats().chunk_bytes_sent.load(Ordering::Relaxed) - size;
    eprintln!(
        "{} scan: {size} bytes in {took:.1} s ({:.0} kbit/s), {resent} bytes resent, {} back-offs reported",
        if paced { "paced" } else { "unpaced" },
        size as f64 * 8.0 / took / 1000.0,
        pair.kiosk.backoffs.load(Ordering::SeqCst)
    );
    report_during_transfer(&before, &samples);
    pair.hang_up().await;
    samples
}

/// Audio at the agent, the kiosk's round trip and video during a transfer.
fn report_during_transfer(before: &CallStats, samples: &[(f64, Box<CallStats>, Box<CallStats>)]) {
    let mut buffers = Vec::new();
    let mut rtts: Vec<u128> = Vec::new();
    let mut jitters: Vec<f64> = Vec::new();
    let mut fps = Vec::new();
    let mut last = None::<u64>;
    for (t, kiosk, agent) in samples {
        if let Some(l) = last {
            buffers.push(agent.audio_frames_decoded - l);
        }
        last = Some(agent.audio_frames_decoded);
        rtts.extend(kiosk.rtt.map(|r| r.as_millis()));
        jitters.extend(agent.audio_jitter_received.map(|j| j.as_secs_f64() * 1000.0));
        fps.push(agent.receive_fps);
        if std::env::var_os("VISIO_LINK_STATS").is_some() {
            eprintln!("{t:6.1} s kiosk: {}\n         agent: {}", brief(kiosk), brief(agent));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let lost = samples.last().map_or(0, |(_, _, a)| a.audio_packets_lost_received) - samples.first().map_or(0, |(_, _, a)| a.audio_packets_lost_received);
    let short = buffers.iter().filter(|&&b| b < 45).count();
    let mut rtt_f: Vec<f64> = rtts.iter().map(|&r| r as f64).collect();
    eprintln!(
        "during the transfer ({} s): agent audio lost {lost} packets; buffers a second min {} median {}; {short} s under 45; audio jitter median {:.1} ms max {:.1} ms; kiosk rtt median {:.0} ms max {:.0} ms (before: {:?}); agent video fps median {:.1} min {:.1}",
        samples.len(),
        buffers.iter().min().unwrap_or(&0),
        median(&mut buffers.iter().map(|&b| b as f64).collect()),
        median(&mut jitters.clone()),
        jitters.iter().copied().fold(0.0, f64::max),
        median(&mut rtt_f),
        rtt_f.last().copied().unwrap_or(0.0),
        before.rtt.map(|r| r.as_millis()),
        median(&mut fps.clone()),
        fps.iter().copied().fold(f64::MAX, f64::min),
    );
}

/// The kiosk's way (decisions, "Documents beside audio"): while a scan goes
/// up, the call leaves it room and the transfer is paced at that room;
/// the agent keeps decoding the kiosk's audio. (Unpaced, it decoded a
/// median of 6 of the 50 buffers a second; the median, not every second,
/// because both calls and both transfer shells share this process and
/// the agent's end of a 5 MB file stalls it for a moment.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_scan_leaves_the_kiosks_audio_flowing() {
    let samples = a_scan_goes_up_during_a_call(true).await;
    let mut per_second: Vec<u64> = samples.windows(2).map(|w| w[1].2.audio_frames_decoded - w[0].2.audio_frames_decoded).collect();
    per_second.sort_unstable();
    let median = per_second[per_second.len() / 2];
    assert!(median >= 45, "the agent decoded a median of {median} of the kiosk's 50 audio buffers a second during the scan");
}

/// The same scan unpaced: the baseline of docs/benchmarks.md (a
/// measurement, no assertion on what the agent hears).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: the unpaced baseline for docs/benchmarks.md"]
async fn an_unpaced_scan_during_a_call_for_the_record() {
    a_scan_goes_up_during_a_call(false).await;
}

/// Loss repair (issue 9): on a lossy line, with video that fills its
/// target, each packet the agent's side NACKs is resent in time, so it is
/// asked for about once (measured: 75 requests for 60 packets). With
/// webrtc-rs's FIFO pacer at the estimate, retransmissions waited behind
/// its own queue of video and each lost packet was asked for until the
/// agent's NACK generator gave up (181 requests for 63 packets, its limit
/// being 3 each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_lossy_line_each_lost_packet_is_resent_in_time() {
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link("vm-repair", Profile::Lossy);
    let codec = visio_media::VideoCodec::Vp8;
    let pair = Pair::connect(&link, busy_config(codec, 440.0), config(660.0), false).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    let before = pair.kiosk.stats.borrow().as_ref().map(|s| s.repair_sent).unwrap_or_default();
    let s = pair
        .kiosk
        .stats_where_within("60 packets NACKed by the agent", DEADLINE * 3, |s| s.repair_sent.nacked_packets >= before.nacked_packets + 60)
        .await;
    let (nacked, requests, resent) = (
        s.repair_sent.nacked_packets - before.nacked_packets,
        s.repair_sent.nack_requests - before.nack_requests,
        s.repair_sent.retransmissions_sent - before.retransmissions_sent,
    );
    let agent = pair.agent.stats.borrow().clone().expect("stats");
    eprintln!(
        "repair: {nacked} packets NACKed in {requests} requests, {resent} resent; {} frames dropped by the pacer, {} NACKs for them; kiosk {}; agent {}",
        s.repair_sent.video_frames_dropped - before.video_frames_dropped,
        s.repair_sent.nacks_for_dropped - before.nacks_for_dropped,
        brief(&s),
        brief(&agent)
    );
    assert!(resent >= nacked * 9 / 10, "{resent} retransmissions for {nacked} NACKed packets");
    assert!(requests * 4 <= nacked * 7, "{requests} requests for {nacked} NACKed packets: retransmissions late or missing");
    pair.agent.media_flows("agent after the repairs", 30, 50).await;
    pair.hang_up().await;
}

/// A town hall whose firewall lets only TCP to port 443 out: the kiosk's
/// namespace drops everything else it sends (UDP included), coturn listens
/// with TLS on 443 on the hub side, and the kiosk has the hub's short-lived
/// credentials for `turns:` only. The call goes through TURN over TLS (the
/// kiosk checks coturn's certificate, made here), video both ways, and a
/// scan arrives whole on the documents channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_only_tls_on_443_leaves_the_kiosk_the_call_and_a_scan_go_through_turns() {
    call_and_scan_through_a_firewall("vm-tls443", false).await;
}

/// The same where only the town hall's HTTP proxy (tinyproxy, asking for
/// credentials) may be reached: TURN over TLS goes through its `CONNECT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_only_an_http_proxy_leaves_the_kiosk_the_call_and_a_scan_go_through_it() {
    call_and_scan_through_a_firewall("vm-proxy", true).await;
}

async fn call_and_scan_through_a_firewall(name: &str, through_proxy: bool) {
    use visio_transfer::{Event, Purpose};
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let link = link(name, Profile::Adsl);
    let hub = link.hub_addr();
    let hub_accepts = |port| link.in_namespace(Side::Hub, || std::net::TcpStream::connect((hub, port)).is_ok()).unwrap_or(false);
    let spawn_on_hub_side = |command: &mut std::process::Command| link.spawn_in(Side::Hub, command).map_err(std::io::Error::other);

    // coturn on the hub side, TLS on 443 with a certificate for its address.
    let dir = tempfile::tempdir().unwrap();
    let identity = visio_hub::tls::load_or_generate_for(dir.path(), None, &[hub.to_string()]).unwrap();
    let key = identity.cert_path.with_file_name("key.pem");
    const SECRET: &str = "firewalled-town-hall";
    let turn = common::turn::Turn::with_tls(hub.into(), 443, (&identity.cert_path, &key), SECRET, spawn_on_hub_side, hub_accepts);
    let proxy = through_proxy.then(|| visio_testkit::proxy::Proxy::start(hub.into(), spawn_on_hub_side, hub_accepts));

    // The kiosk side's firewall: loopback, and TCP to 443 (or the proxy) on the hub side.
    let way_out = proxy.as_ref().map_or(turn.tls_port, |p| p.port);
    link.only_tcp_out(Side::Kiosk, &[way_out]).unwrap_or_else(|e| panic!("{e}"));
    let (udp_out, tcp_443) = link
        .in_namespace(Side::Kiosk, || {
            let socket = std::net::UdpSocket::bind((link.kiosk_addr(), 0)).unwrap();
            let udp = socket.send_to(b"x", (hub, turn.port)).is_ok();
            let tcp = std::net::TcpStream::connect_timeout(&(hub, turn.tls_port).into(), Duration::from_secs(1)).is_ok();
            (udp, tcp)
        })
        .unwrap();
    assert!(!udp_out, "UDP from the kiosk side is dropped");
    assert_eq!(tcp_443, !through_proxy, "TCP 443 is open only where there is no proxy");

    let rest = visio_hub::core::TurnRest {
        urls: vec![format!("turns:{hub}:{}?transport=tcp", turn.tls_port)],
        secret: visio_protocol::Secret(SECRET.into()),
        ttl: jiff::SignedDuration::from_mins(10),
    };
    let issued = rest.credentials(jiff::Timestamp::now(), "besse");
    let mut kiosk = config(440.0);
    kiosk.ice_servers = vec![visio_media::IceServer {
        urls: issued.urls,
        username: issued.username.unwrap(),
        credential: issued.credential.unwrap(),
    }];
    kiosk.turn_trust_pem = Some(std::fs::read_to_string(&identity.cert_path).unwrap());
    kiosk.proxy = proxy.as_ref().map(|p| visio_media::proxy::HttpProxy {
        host: hub.to_string(),
        port: p.port,
        credentials: Some(visio_media::proxy::ProxyCredentials {
            username: visio_testkit::proxy::USER.into(),
            password: visio_testkit::proxy::PASSWORD.into(),
        }),
    });
    let pair = Pair::connect(&link, kiosk, config(660.0), false).await;
    pair.connected().await;
    pair.agent.media_flows("agent", 15, 50).await;
    pair.kiosk.media_flows("kiosk", 15, 50).await;

    // A 300 kB scan up, checked by its hash.
    let file = dir.path().join("scan.pdf");
    std::fs::write(&file, common_pdf(300_000)).unwrap();
    let (size, sha256) = visio_transfer::spool::hash_file(&file).unwrap();
    let (kiosk_docs, _kiosk_notices) = documents(&pair.kiosk, visio_transfer::Side::Kiosk, &dir.path().join("kiosk")).await;
    let (_agent_docs, mut agent_notices) = documents(&pair.agent, visio_transfer::Side::Agent, &dir.path().join("agent")).await;
    kiosk_docs.push_file(&file, "scan.pdf", Purpose::Scan, None).await.unwrap();
    let mut seen = Vec::new();
    let (received, path) = notice(&mut agent_notices, &mut seen, "the scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { sha256, .. }, file } => Some((sha256.clone(), file.clone())),
        _ => None,
    })
    .await;
    assert_eq!(received, sha256);
    assert_eq!(visio_transfer::spool::hash_file(&path.expect("received file")).unwrap(), (size, sha256));
    eprintln!("{name}: scan received {:.2} s after the call started", pair.started.elapsed().as_secs_f64());
    pair.hang_up().await;
}

/// Issue 22 item 7: a scan in flight across a 65 s cut: longer than the
/// ~31 s after which rtc-sctp 0.21.1 as published stopped retransmitting for
/// good (vendor/README.md), and longer than the transfer's 60 s no-progress
/// limit, which does not count the time the call is cut (the sessions are
/// told the call's path state, as the kiosk's visit tells them;
/// `VISIO_LONG_CUT_SECS` sets the length). One test covers both, so CI
/// pays for one long cut. The call comes back by the kiosk's ICE restarts;
/// the scan must then go on and arrive whole. Prints the time from the
/// link's return to the transfer's first progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_long_cut_the_scan_in_flight_goes_on_and_arrives_whole() {
    use visio_transfer::{Direction, Event, Purpose};
    common::init_tracing();
    let _gate = one_at_a_time().await;
    let cut_secs: u64 = std::env::var("VISIO_LONG_CUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(65);
    let link = link("vm-longcut", Profile::Adsl);
    let pair = Pair::connect(&link, config(440.0), config(660.0), true).await;
    pair.connected().await;

    // A 1 MB scan goes up; cut once 200 kB are acknowledged.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.pdf");
    std::fs::write(&file, visio_testkit::pdf::padded_pdf("Scan across a long cut", 1_000_000)).unwrap();
    let (size, sha256) = visio_transfer::spool::hash_file(&file).unwrap();
    let (kiosk_docs, mut kiosk_notices) = documents(&pair.kiosk, visio_transfer::Side::Kiosk, &dir.path().join("kiosk")).await;
    let (_agent_docs, mut agent_notices) = documents(&pair.agent, visio_transfer::Side::Agent, &dir.path().join("agent")).await;
    let mut seen = Vec::new();
    let (id, _) = kiosk_docs.push_file(&file, "scan.pdf", Purpose::Scan, None).await.unwrap();
    let mut acked = notice(&mut kiosk_notices, &mut seen, "200 kB acknowledged", |n| match n {
        Notice::Core { event: Event::Progress { direction: Direction::Outgoing, done, .. }, .. } if *done >= 200_000 => Some(*done),
        _ => None,
    })
    .await;
    let cut = Duration::from_secs(cut_secs);
    let cut_at = Instant::now();
    link.cut(cut).unwrap();
    // What was acknowledged before the cut, read after it began.
    while let Ok(n) = kiosk_notices.try_recv() {
        if let Notice::Core { event: Event::Progress { direction: Direction::Outgoing, done, .. }, .. } = &n {
            acked = acked.max(*done);
        }
        seen.push((Instant::now(), n));
    }
    eprintln!("{:6.2} s cut for {cut_secs} s with {acked} of {size} bytes acknowledged", pair.started.elapsed().as_secs_f64());
    tokio::time::timeout(cut + DEADLINE, async {
        while link.is_cut() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the link comes back");
    let back_at = cut_at + cut;
    for (who, p) in [("kiosk", &pair.kiosk), ("agent", &pair.agent)] {
        p.state_where(&format!("{who} connected again"), |s| s == CallState::Connected).await;
        let again = p.history.lock().unwrap().iter().rev().find(|(_, s)| *s == CallState::Connected).map(|(t, _)| *t).unwrap();
        eprintln!("{who}: Connected again {:.2} s after the link returned", again.saturating_duration_since(back_at).as_secs_f64());
    }

    // The scan goes on from where it was, or resumes on a new channel.
    let resumed_or_progress = notice(&mut kiosk_notices, &mut seen, "the scan going on after the cut", |n| match n {
        Notice::Core { event: Event::Progress { direction: Direction::Outgoing, done, .. }, .. } if *done > acked => Some(format!("progress to {done}")),
        Notice::Core { event: Event::Resumed { offset, .. }, .. } => Some(format!("resumed at {offset}")),
        Notice::Core { event: Event::Delivered { .. }, .. } => Some("delivered".to_owned()),
        _ => None,
    })
    .await;
    let going_at = seen.last().map(|(t, _)| *t).unwrap();
    eprintln!(
        "LONG-CUT {cut_secs} s: transfer {resumed_or_progress} {:.2} s after the link returned",
        going_at.saturating_duration_since(back_at).as_secs_f64()
    );
    let mut agent_seen = Vec::new();
    let (received, path) = notice(&mut agent_notices, &mut agent_seen, "the scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { sha256, .. }, file } => Some((sha256.clone(), file.clone())),
        _ => None,
    })
    .await;
    notice(&mut kiosk_notices, &mut seen, "the scan delivered", |n| match n {
        Notice::Core { event: Event::Delivered { id: d }, .. } if *d == id => Some(()),
        _ => None,
    })
    .await;
    let done_at = seen.last().map(|(t, _)| *t).unwrap();
    eprintln!("LONG-CUT {cut_secs} s: scan delivered {:.2} s after the link returned", done_at.saturating_duration_since(back_at).as_secs_f64());
    assert_eq!(received, sha256);
    assert_eq!(visio_transfer::spool::hash_file(&path.expect("received file")).unwrap(), (size, sha256));
    let resumed: Vec<u64> = seen
        .iter()
        .filter_map(|(_, n)| match n {
            Notice::Core { event: Event::Resumed { offset, .. }, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert!(resumed.iter().all(|&o| o >= acked.min(200_000)), "resumed from {resumed:?}, {acked} were acknowledged before the cut");
    pair.hang_up().await;
}
