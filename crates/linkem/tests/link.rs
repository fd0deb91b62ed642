//! The emulated link for real: namespaces, TUN devices, the forwarder, and
//! real traffic (ping, UDP, TCP) across it. These tests need root; without
//! it they fail and say so, they never skip.

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use visio_linkem::probe::{self, FlowSpec};
use visio_linkem::{Bitrate, Direction, Link, LinkParams, Loss, Params, Profile, Side};

fn up(profile: Profile) -> Link {
    Link::up(profile).unwrap_or_else(|e| panic!("cannot bring the emulated link up: {e}"))
}

fn start(params: LinkParams) -> Link {
    Link::builder()
        .params(params)
        .start()
        .unwrap_or_else(|e| panic!("cannot bring the emulated link up: {e}"))
}

/// Polls `cond` every 5 ms until it holds, or fails after `deadline`.
fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn ping_across_satellite_takes_at_least_600_ms() {
    let link = up(Profile::Satellite);
    let hub = link.hub_addr().to_string();
    // -w: ping's own deadline, so a broken link fails instead of hanging.
    let out = link
        .run_in(
            Side::Kiosk,
            Command::new("ping").args(["-n", "-c", "5", "-i", "0.2", "-w", "15", &hub]),
        )
        .unwrap_or_else(|e| panic!("{e} (ping comes from iputils-ping: bash scripts/setup.sh)"));
    let text = String::from_utf8_lossy(&out.stdout);
    let rtts: Vec<f64> = text
        .lines()
        .filter_map(|l| {
            l.split("time=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(!rtts.is_empty(), "no reply across the link:\n{text}");
    for rtt in &rtts {
        assert!(
            (600.0..900.0).contains(rtt),
            "RTT {rtt} ms on satellite:\n{text}"
        );
    }
    let up = link.counters(Direction::Up);
    assert!(up.packets_in >= 5, "{up:?}");
}

#[test]
fn udp_rtt_on_adsl_is_twice_the_one_way_delay() {
    let link = up(Profile::Adsl);
    let rtt = probe::udp_rtt(&link, Side::Kiosk, 30, ms(10), 100).expect("probing the link");
    assert_eq!(rtt.samples.len(), 30, "adsl loses nothing");
    let (min, median) = (rtt.min().unwrap(), rtt.quantile(0.5).unwrap());
    // 20 ms each way, plus 0.8 ms + 0.1 ms of serialisation: never below.
    assert!(min >= ms(40), "min {min:?}");
    assert!(median <= ms(70), "median {median:?}");
}

#[test]
fn a_udp_blast_at_4_mbit_over_the_1_mbit_uplink_delivers_the_uplink_rate() {
    let link = up(Profile::Adsl);
    let flow = probe::udp_flow(
        &link,
        Side::Kiosk,
        FlowSpec::for_duration(Bitrate::mbit(4), 1200, ms(3000)),
    )
    .expect("sending the blast");
    let rate = flow.received_rate(ms(500)).expect("packets arrived");
    assert!(
        (0.8e6..=1.2e6).contains(&rate),
        "received {:.3} Mbit/s",
        rate / 1e6
    );
    let c = link.counters(Direction::Up);
    assert!(c.dropped_queue > 0, "the 500 ms queue overflowed: {c:?}");
    assert_eq!(
        c.packets_out as usize,
        flow.received.len(),
        "every packet out of the link was received"
    );
}

#[test]
fn loss_of_10_percent_drops_between_5_and_15_percent_of_2000_packets() {
    let lossy = Params::CLEAN.loss(Loss::random(0.10));
    let link = start(LinkParams {
        up: lossy,
        down: Params::CLEAN,
    });
    let flow = probe::udp_flow(
        &link,
        Side::Kiosk,
        FlowSpec {
            count: 2000,
            size: 200,
            rate: Bitrate::mbit(2),
        },
    )
    .expect("sending the flow");
    let loss = flow.loss();
    assert!((0.05..=0.15).contains(&loss), "lost {:.1} %", loss * 100.0);
    let c = link.counters(Direction::Up);
    assert_eq!(c.packets_in, 2000, "{c:?}");
    assert_eq!(
        c.dropped_loss as usize,
        2000 - flow.received.len(),
        "only the emulated loss lost packets"
    );
}

#[test]
fn during_a_cut_nothing_crosses_and_afterwards_traffic_flows_again() {
    let p = Params::CLEAN.delay(ms(20));
    let link = start(LinkParams { up: p, down: p });
    let cut = Duration::from_millis(1500);
    let cut_window = Mutex::new(None);
    // 250 packets a second for 4 s; the cut comes about 0.4 s in.
    let spec = FlowSpec::for_duration(Bitrate::kbit(200), 100, ms(4000));
    let flow = std::thread::scope(|s| {
        s.spawn(|| {
            wait_for("the flow to start", ms(10_000), || {
                link.counters(Direction::Up).packets_in >= 100
            });
            let before = Instant::now();
            link.cut(cut).expect("cutting the link");
            *cut_window.lock().unwrap() = Some((Instant::now(), before + cut));
        });
        probe::udp_flow(&link, Side::Kiosk, spec).expect("sending the flow")
    });
    let (cut_from, cut_to) = cut_window.into_inner().unwrap().expect("the cut happened");
    let received: std::collections::HashSet<u32> = flow.received.iter().map(|r| r.1).collect();
    let sent_in = |from: Instant, to: Instant| {
        flow.sent_at
            .iter()
            .enumerate()
            .filter(move |(_, t)| **t >= from && **t < to)
            .map(|(i, _)| i as u32)
    };
    let during: Vec<u32> = sent_in(cut_from, cut_to - ms(50)).collect();
    assert!(
        during.len() > 200,
        "the flow ran through the cut: {} packets",
        during.len()
    );
    let crossed: Vec<&u32> = during.iter().filter(|i| received.contains(i)).collect();
    assert!(
        crossed.is_empty(),
        "{} packets crossed during the cut: {crossed:?}",
        crossed.len()
    );
    let after: Vec<u32> = sent_in(cut_to + ms(50), Instant::now()).collect();
    assert!(after.len() > 200, "the flow went on after the cut");
    let got_after = after.iter().filter(|i| received.contains(i)).count();
    assert_eq!(
        got_after,
        after.len(),
        "after the cut every packet crosses again"
    );
    let before = sent_in(flow.sent_at[0], cut_from - ms(50))
        .filter(|i| received.contains(i))
        .count();
    assert!(before >= 50, "traffic crossed before the cut: {before}");
    assert!(link.counters(Direction::Up).dropped_cut >= during.len() as u64);
    assert!(!link.is_cut());
}

#[test]
fn a_rate_change_while_running_takes_effect_at_once() {
    let fast = Params::CLEAN
        .rate(Bitrate::mbit(8))
        .queue(visio_linkem::QueueLimit::Time(ms(200)));
    let link = start(LinkParams {
        up: fast,
        down: fast,
    });
    let changed_at = Mutex::new(None);
    let flow = std::thread::scope(|s| {
        s.spawn(|| {
            // 6 Mbit/s of 1200-byte packets is 625 a second: change after ~1 s.
            wait_for("the flow to start", ms(10_000), || {
                link.counters(Direction::Up).packets_in >= 600
            });
            link.update(Direction::Up, |p| p.rate = Some(Bitrate::mbit(2)))
                .expect("setting the rate");
            *changed_at.lock().unwrap() = Some(Instant::now());
        });
        probe::udp_flow(
            &link,
            Side::Kiosk,
            FlowSpec::for_duration(Bitrate::mbit(6), 1200, ms(3500)),
        )
        .expect("sending the flow")
    });
    let changed = changed_at
        .into_inner()
        .unwrap()
        .expect("the rate was changed");
    let rate_between = |from: Instant, to: Instant| {
        let bytes: usize = flow
            .received
            .iter()
            .filter(|r| r.0 >= from && r.0 < to)
            .map(|r| r.2)
            .sum();
        bytes as f64 * 8.0 / (to - from).as_secs_f64()
    };
    let before = rate_between(flow.received[0].0 + ms(200), changed);
    let after = rate_between(changed + ms(300), changed + ms(2300));
    assert!(
        before > 4.5e6,
        "before the change: {:.2} Mbit/s",
        before / 1e6
    );
    assert!(
        (1.6e6..=2.4e6).contains(&after),
        "after the change: {:.2} Mbit/s",
        after / 1e6
    );
    assert_eq!(link.params().up.rate, Some(Bitrate::mbit(2)));
}

#[test]
fn processes_and_tokio_runtimes_run_inside_their_namespace() {
    let link = up(Profile::Adsl);
    for side in Side::ALL {
        let out = link
            .run_in(
                side,
                Command::new("ip").args(["-4", "-o", "addr", "show", "dev", "vlk0"]),
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("inet {} peer", link.addr(side))),
            "{side}: {text}"
        );
    }
    // A hub task in one namespace, a kiosk task in the other, over TCP.
    let hub_rt = link.runtime(Side::Hub).unwrap();
    let kiosk_rt = link.runtime(Side::Kiosk).unwrap();
    let hub_addr = link.hub_addr();
    let listener =
        hub_rt.block_on(async move { tokio::net::TcpListener::bind((hub_addr, 0)).await.unwrap() });
    let server = listener.local_addr().unwrap();
    let echo = hub_rt.spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut conn, peer) = listener.accept().await.unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).await.unwrap();
        conn.write_all(&buf).await.unwrap();
        peer
    });
    let reply = kiosk_rt.block_on(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut conn = tokio::time::timeout(ms(10_000), tokio::net::TcpStream::connect(server))
            .await
            .expect("connect within 10 s")
            .unwrap();
        conn.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).await.unwrap();
        buf
    });
    assert_eq!(&reply, b"hello");
    let peer = hub_rt.block_on(echo).unwrap();
    assert_eq!(
        peer.ip(),
        link.kiosk_addr(),
        "the hub saw the kiosk's address"
    );
    assert!(
        link.counters(Direction::Up).packets_out >= 3,
        "the connection crossed the link"
    );
}

#[test]
fn dropping_the_link_tears_everything_down_even_after_a_panic() {
    let names = Mutex::new(Vec::new());
    let child = Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let link = up(Profile::Lossy);
        names
            .lock()
            .unwrap()
            .extend(Side::ALL.map(|s| link.namespace(s).to_string()));
        let sleeper = link
            .spawn_in(Side::Hub, Command::new("sleep").arg("600"))
            .unwrap();
        *child.lock().unwrap() = Some(sleeper);
        panic!("a test failing while the link is up");
    });
    assert!(result.is_err());
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 2);
    for ns in &names {
        assert!(
            !std::path::Path::new("/run/netns").join(ns).exists(),
            "namespace {ns} is still there"
        );
    }
    let mut sleeper = child
        .into_inner()
        .unwrap()
        .expect("the process was started");
    let mut status = None;
    wait_for("the process inside to be stopped", ms(10_000), || {
        status = sleeper.try_wait().unwrap();
        status.is_some()
    });
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.unwrap().signal(), Some(9), "stopped with SIGKILL");
}

#[test]
fn parallel_links_do_not_collide() {
    let a = up(Profile::Clean);
    let b = up(Profile::Clean);
    assert_ne!(a.namespace(Side::Kiosk), b.namespace(Side::Kiosk));
    let rtt_a = probe::udp_rtt(&a, Side::Kiosk, 5, ms(5), 100).unwrap();
    let rtt_b = probe::udp_rtt(&b, Side::Hub, 5, ms(5), 100).unwrap();
    assert_eq!((rtt_a.samples.len(), rtt_b.samples.len()), (5, 5));
    assert_eq!(
        a.counters(Direction::Up).packets_in,
        5,
        "a's probes stayed on a"
    );
    assert_eq!(
        b.counters(Direction::Down).packets_in,
        5,
        "b's probes stayed on b"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_test_puts_a_server_on_one_side_and_a_client_on_the_other() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let link = up(Profile::Satellite);
    let hub_addr = link.hub_addr();
    // A socket made inside the hub namespace stays there; the test's own
    // runtime drives it.
    let std_listener = link
        .in_namespace(Side::Hub, || std::net::TcpListener::bind((hub_addr, 0)))
        .unwrap()
        .unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
    let server = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        conn.write_all(b"bonjour").await.unwrap();
    });
    // The kiosk side opens its socket on a runtime that lives there.
    let kiosk = link.runtime(Side::Kiosk).unwrap();
    let started = Instant::now();
    let greeting = kiosk
        .spawn(async move {
            let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).await.unwrap();
            buf
        })
        .await
        .unwrap();
    accept.await.unwrap();
    assert_eq!(greeting, b"bonjour");
    // Handshake and data: at least two 600 ms round trips on satellite.
    assert!(started.elapsed() >= ms(1200), "{:?}", started.elapsed());
}

/// A town hall's firewall: from the kiosk side only TCP to the allowed port
/// on the hub side gets through; another TCP port and UDP do not; nothing
/// unasked comes in; the hub side itself is untouched.
#[test]
fn only_tcp_out_lets_the_allowed_port_through_and_nothing_else() {
    let link = up(Profile::Clean);
    let (hub, kiosk) = (link.hub_addr(), link.kiosk_addr());
    let (allowed, other) = link
        .in_namespace(Side::Hub, || {
            (std::net::TcpListener::bind((hub, 0)).unwrap(), std::net::TcpListener::bind((hub, 0)).unwrap())
        })
        .unwrap();
    let (allowed_port, other_port) = (allowed.local_addr().unwrap().port(), other.local_addr().unwrap().port());
    let inbox = link.in_namespace(Side::Kiosk, || std::net::UdpSocket::bind((kiosk, 0)).unwrap()).unwrap();
    let inbox_port = inbox.local_addr().unwrap().port();
    let send_from_hub = |what: &'static [u8]| {
        link.in_namespace(Side::Hub, || std::net::UdpSocket::bind((hub, 0)).unwrap().send_to(what, (kiosk, inbox_port)).is_ok()).unwrap()
    };
    let mut buf = [0u8; 16];
    // Before the firewall, a datagram from the hub side arrives.
    assert!(send_from_hub(b"before"));
    inbox.set_read_timeout(Some(ms(5_000))).unwrap();
    assert_eq!(inbox.recv(&mut buf).map(|n| buf[..n].to_vec()).ok(), Some(b"before".to_vec()));

    link.only_tcp_out(Side::Kiosk, &[allowed_port]).expect("the firewall goes up");
    let (to_allowed, to_other, udp) = link
        .in_namespace(Side::Kiosk, || {
            let connect = |port| std::net::TcpStream::connect_timeout(&(hub, port).into(), ms(1_000)).is_ok();
            let udp = std::net::UdpSocket::bind((kiosk, 0)).unwrap().send_to(b"x", (hub, 9)).is_ok();
            (connect(allowed_port), connect(other_port), udp)
        })
        .unwrap();
    assert!(to_allowed, "TCP to the allowed port gets through, its answers come in");
    assert!(!to_other, "TCP to another port is dropped");
    assert!(!udp, "UDP is dropped");
    // After it, the same datagram (the hub side sends it: its side is not
    // firewalled) never reaches the kiosk side's socket.
    assert!(send_from_hub(b"unasked"), "the hub side is not firewalled");
    inbox.set_read_timeout(Some(ms(500))).unwrap();
    assert!(inbox.recv(&mut buf).is_err(), "an unasked datagram reached the firewalled side");
}
