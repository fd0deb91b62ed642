//! A third party end to end: the real hub over TLS, the headless kiosk,
//! the agent's console in one browser and an interpreter's page in the
//! other engine. The agent takes the call and invites a sign-language
//! interpreter; the interpreter opens the one-time link and receives the
//! kiosk's picture and voice (mixed with the agent's); the kiosk receives
//! the agent's camera with the interpreter beside it on its one video
//! track, and goes on decoding it. The kiosk's own statistics give its
//! sent bitrate with and without the guest (docs/benchmarks.md, "A third
//! party"). Opening the link again is refused with the reason in French.
//! Then the same across two hub processes on PostgreSQL and NATS: the
//! kiosk and the interpreter on one, the agent on the other.

use std::io::BufRead;

use serde_json::Value;
use visio_testkit::browser::{Browser, Kind};
use visio_testkit::hub::TestHub;
use visio_testkit::page::{click, page_until, sign_in_agent};
use visio_testkit::wait::{eventually, init_tracing};
use visio_tests::{AGENT, HeadlessKiosk, World};

/// The two scenes one after the other: each runs a kiosk, two browsers
/// and a hub or two, and on a 2-core machine side by side they starve each
/// other (axe-core's run in the agent's page timed out that way).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Seconds of the kiosk's statistics (one line a second) per measurement.
const WINDOW: usize = 8;
/// Seconds of an unchanged encoder target before the first measurement.
const SETTLED: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interpreter_joins_from_firefox_esr_with_video_both_ways_and_the_kiosk_sends_one_picture() {
    init_tracing();
    let _gate = ONE_AT_A_TIME.lock().await;
    let world = World::start().await;
    let (without, with) = guest_scene(&world, &world.hub, &world.hub, true).await;
    eprintln!("kiosk sent, one hub: {without} kbit/s without the interpreter, {with} kbit/s with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interpreter_joins_through_another_hub_process_on_postgresql_and_nats() {
    init_tracing();
    let _gate = ONE_AT_A_TIME.lock().await;
    // The kiosk connects to process 0, the agent to process 1; the link
    // is opened on process 0, which passes the guest to process 1.
    let (world, cluster) = World::cluster(2, 1).await;
    let (without, with) = guest_scene(&world, &cluster.hub(1), &cluster.hub(0), false).await;
    eprintln!("kiosk sent, two hubs: {without} kbit/s without the interpreter, {with} kbit/s with");
}

/// The scene; returns the kiosk's mean sent bitrate in kbit/s over
/// [`WINDOW`] seconds without the guest, then with.
async fn guest_scene(world: &World, agent_hub: &TestHub, guest_hub: &TestHub, shots: bool) -> (u64, u64) {
    let log_path = world.dir.path().join("kiosk.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut kiosk = world.kiosk_adjusted("demo", |command| {
        // The kiosk's own call statistics, once a second (crates/kiosk visit).
        command.env("RUST_LOG", "warn,visio_kiosk::visit=debug").stderr(log);
    });
    let agent = Browser::launch_kind(Kind::Chromium).await;
    agent.set_viewport(1366, 768).await;
    sign_in_agent(&agent, agent_hub, AGENT).await;
    kiosk.event("queued").await;
    click(&agent, "take-next").await;
    kiosk.event("first_remote_frame").await;
    page_until(&agent, "the kiosk's picture at the agent", "return document.querySelector('[data-testid=remote-video]').videoWidth > 0;").await;
    // Measured once the kiosk's congestion controller has done ramping up
    // on loopback, so that both windows see the same encoder target.
    let target = eventually("the kiosk's encoder target settled", || async {
        let stats = kiosk_stats(&log_path);
        let last = stats.get(stats.len().saturating_sub(SETTLED)..).filter(|last| last.len() == SETTLED)?;
        (last[0].target_bps > 0 && last.iter().all(|s| s.target_bps == last[0].target_bps)).then_some(last[0].target_bps / 1000)
    })
    .await;
    eprintln!("the kiosk's video encoder target: {target} kbit/s");
    let without = mean_sent_kbps(&log_path).await;

    // The agent invites a sign-language interpreter.
    agent
        .run(
            "const s = document.getElementById('guest-role'); s.value = 'sign_interpreter';
             s.dispatchEvent(new Event('change')); return true;",
            Value::Null,
        )
        .await;
    click(&agent, "guest-invite").await;
    let link = page_until(&agent, "the invitation link", "return document.querySelector('[data-testid=guest-link]').value || null;").await;
    let link = link.as_str().unwrap();
    let token = link.split_once('#').expect("the token after #").1;
    let link = format!("{}#{token}", guest_hub.url("/guest/"));

    let guest = Browser::launch_kind(Kind::Firefox).await;
    guest.set_viewport(1366, 768).await;
    guest.client.goto(&link).await.unwrap();
    // The interpreter sees the resident (the kiosk's picture decoding, not
    // just a size) and the agent, and hears the kiosk's voice mixed with
    // the agent's.
    let seen = page_until(
        &guest,
        "the kiosk's picture and sound at the interpreter",
        "if (!guest.pc) return null;
         const kiosk = document.querySelector('[data-testid=guest-kiosk]');
         const agent = document.querySelector('[data-testid=guest-agent]');
         const track = kiosk.srcObject && kiosk.srcObject.getVideoTracks()[0];
         const receiver = track && guest.pc.getReceivers().find(r => r.track === track);
         if (!receiver) return null;
         let frames = 0;
         (await receiver.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded || 0; });
         let audio = 0;
         (await guest.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') audio = r.packetsReceived || 0; });
         return kiosk.videoWidth > 0 && kiosk.videoHeight > 0 && agent.videoWidth > 0 && frames > 50 && audio > 100
           && { kiosk: [kiosk.videoWidth, kiosk.videoHeight], frames, audio,
                status: document.querySelector('[data-testid=guest-status]').textContent };",
    )
    .await;
    assert!(seen["status"].as_str().unwrap().contains("interprète en langue des signes"), "{seen}");
    // The agent sees the interpreter; the kiosk's video sender carries the
    // composite, still one video sender and no new negotiation.
    let mixed = page_until(
        &agent,
        "the composite on the kiosk's video sender",
        "const link = Guest.link;
         if (!link || !link.composite || document.querySelector('[data-testid=guest-video]').videoWidth === 0) return null;
         const senders = state.call.pc.getSenders().filter(s => s.track && s.track.kind === 'video');
         let frames = 0;
         (await state.call.pc.getStats()).forEach(r => { if (r.type === 'outbound-rtp' && r.kind === 'video') frames += r.framesEncoded || 0; });
         return { senders: senders.length, composite: senders[0].track === link.composite,
                  transceivers: state.call.pc.getTransceivers().length, frames,
                  status: document.querySelector('[data-testid=guest-status]').textContent };",
    )
    .await;
    assert_eq!(mixed["senders"], 1, "{mixed}");
    assert_eq!(mixed["composite"], true, "{mixed}");
    assert!(mixed["status"].as_str().unwrap().contains("L'interprète LSF est dans l'appel"), "{mixed}");
    // The kiosk decodes what it now receives: frames keep coming.
    let decoded = kiosk_stats(&log_path).last().map(|s| s.frames_decoded).unwrap_or(0);
    eventually("the kiosk decoding the composite", || async {
        kiosk_stats(&log_path).last().is_some_and(|s| s.frames_decoded > decoded + 50).then_some(())
    })
    .await;
    let with = mean_sent_kbps(&log_path).await;
    assert!(no_renegotiation(&mut kiosk).await, "the kiosk saw a reconnection");

    for browser in [&agent, &guest] {
        let violations = browser.accessibility_violations().await;
        assert!(violations.is_empty(), "axe-core in {}: {:#}", browser.kind.name(), Value::Array(violations));
    }
    if shots && let Some(dir) = std::env::var_os("VISIO_SCREENSHOTS") {
        for (browser, name) in [(&agent, "console-guest"), (&guest, "guest")] {
            let png = browser.client.screenshot().await.unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }

    // The kiosk sends one picture whatever the agent mixes into what it
    // receives: its sent bitrate with the interpreter stays that of one
    // stream. A second copy of its video on its uplink would double it
    // (2 × without); 1.5 × leaves room for the encoder's and the
    // congestion controller's swings between two windows of WINDOW
    // seconds, and cannot be met by two copies.
    assert!(without > 50, "the kiosk sends its picture: {without} kbit/s");
    assert!(with * 2 < without * 3, "the kiosk's uplink with the interpreter, {with} kbit/s, against {without} kbit/s alone");

    // The same link opened again (in another tab): refused, said in
    // French; the interpreter in the call stays.
    let first = guest.client.window().await.unwrap();
    let second = guest.client.new_window(true).await.unwrap().handle;
    guest.client.switch_to_window(second).await.unwrap();
    guest.client.goto(&link).await.unwrap();
    let refused = page_until(
        &guest,
        "the used link refused",
        "const s = document.querySelector('[data-testid=guest-status]'); return s.dataset.state === 'refused' && s.textContent;",
    )
    .await;
    assert_eq!(refused, "Ce lien a déjà servi : il ne vaut qu'une fois. Demandez un nouveau lien au conseiller.");
    guest.client.close_window().await.unwrap();
    guest.client.switch_to_window(first).await.unwrap();
    let still = guest.run("return Boolean(guest.pc) && !guest.over;", Value::Null).await;
    assert_eq!(still, true, "the refused second opening let the interpreter go");

    // The agent ends the call: the interpreter leaves with it, told so,
    // and the agent's page drops the guest's connection.
    click(&agent, "end-call").await;
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let gone = page_until(
        &guest,
        "the interpreter out of the ended call",
        "const s = document.querySelector('[data-testid=guest-status]');
         return guest.over && !guest.pc && document.getElementById('guest-call').hidden
           && document.querySelector('[data-testid=guest-kiosk]').srcObject === null && s.textContent;",
    )
    .await;
    assert_eq!(gone, "L'appel est terminé pour vous. Merci ; vous pouvez fermer cette page.");
    let alone = page_until(
        &agent,
        "the agent's page without the guest",
        "return !state.call && !Guest.link && !Guest.invite && document.getElementById('guest-row').hidden;",
    )
    .await;
    assert_eq!(alone, true);
    guest.close().await;
    agent.close().await;
    (without, with)
}

/// The kiosk printed no `reconnecting`: the agent changed what it sends
/// without a new negotiation.
async fn no_renegotiation(kiosk: &mut HeadlessKiosk) -> bool {
    !kiosk.printed_so_far().await.iter().any(|e| e["event"] == "reconnecting")
}

/// One of the kiosk's `call stats` log lines.
#[derive(Debug, Clone, Copy)]
struct Stats {
    send_bps: u64,
    /// The video encoder's target (`sending.video_bitrate_bps`).
    target_bps: u64,
    frames_decoded: u64,
}

/// The kiosk's call statistics so far, from its log.
fn kiosk_stats(path: &std::path::Path) -> Vec<Stats> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let number = |line: &str, field: &str| -> Option<u64> {
        let rest = &line[line.find(field)? + field.len()..];
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
    };
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|line| line.contains("call stats"))
        .filter_map(|line| {
            Some(Stats {
                send_bps: number(&line, "send_bitrate_bps: ")?,
                target_bps: number(&line, "video_bitrate_bps: ")?,
                frames_decoded: number(&line, "frames_decoded: ")?,
            })
        })
        .collect()
}

/// The mean of the kiosk's sent bitrate over the next [`WINDOW`] seconds
/// of its statistics, in kbit/s.
async fn mean_sent_kbps(path: &std::path::Path) -> u64 {
    let start = kiosk_stats(path).len();
    let window = eventually("the kiosk's statistics", || async {
        let stats = kiosk_stats(path);
        (stats.len() >= start + WINDOW).then(|| stats[start..start + WINDOW].to_vec())
    })
    .await;
    let target = window.iter().map(|s| s.target_bps).sum::<u64>() / WINDOW as u64 / 1000;
    let sent = window.iter().map(|s| s.send_bps).sum::<u64>() / WINDOW as u64 / 1000;
    eprintln!("the kiosk over {WINDOW} s: {sent} kbit/s sent, video encoder target {target} kbit/s");
    sent
}
