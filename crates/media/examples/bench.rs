//! Loopback benchmark of a call between two peers of this crate in one process.
//!
//! ```sh
//! cargo run -p visio-media --release --example bench            # VP8: 360p, 720p, bandwidth drop
//! cargo run -p visio-media --release --example bench -- h264     # the same in H.264
//! cargo run -p visio-media --release --example bench -- h264 360 # H.264, 640x360 only
//! cargo run -p visio-media --release --example bench -- 360 snow # noise: the hardest content
//! cargo run -p visio-media --release --example bench -- drop     # bandwidth drop only
//! ```
//!
//! Reports, per picture size: offer → first decoded remote frame, glass-to-glass
//! latency (capture stamp drawn into the picture → decoded RGBA) p50/p95, and
//! the CPU time the whole process (both peers: capture, encode, send, receive,
//! decode) uses per second of call.

use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use visio_media::{Call, CallConfig, CallEvent, CallState, CallStats, Frames, IceCandidate, VideoCodec};

const MEASURE: Duration = Duration::from_secs(15);

fn cpu_seconds() -> f64 {
    // utime + stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Side {
    call: Call,
    events: mpsc::UnboundedReceiver<CallEvent>,
}

async fn start(config: CallConfig, candidates: mpsc::UnboundedSender<IceCandidate>) -> Side {
    let (call, mut events) = Call::new(config).await.expect("call starts");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                CallEvent::LocalCandidate(c) => drop(candidates.send(c)),
                other => drop(tx.send(other)),
            }
        }
    });
    Side { call, events: rx }
}

fn relay(mut rx: mpsc::UnboundedReceiver<IceCandidate>, to: Call) {
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            let _ = to.add_remote_candidate(c).await;
        }
    });
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn run(width: u32, height: u32, codec: VideoCodec, pattern: &str) {
    let config = |freq| {
        let mut c = CallConfig::test_sources(pattern, None, freq);
        c.video.codecs = vec![codec];
        c.video.width = width;
        c.video.height = height;
        c.video.stamp_capture_time = true;
        c.max_video_bitrate_bps = if width >= 1280 { 2_500_000 } else { 1_200_000 };
        // Start at the ceiling so the whole window runs at the configured size
        // (GCC climbs ~8 %/s from a low start: 720p would need ~20 s).
        c.start_video_bitrate_bps = c.max_video_bitrate_bps;
        c
    };
    let (a_tx, a_rx) = mpsc::unbounded_channel();
    let (b_tx, b_rx) = mpsc::unbounded_channel();
    let mut a = start(config(440.0), a_tx).await;
    let mut b = start(config(660.0), b_tx).await;
    relay(a_rx, b.call.clone());
    relay(b_rx, a.call.clone());

    let t0 = Instant::now();
    let offer = a.call.create_offer().await.expect("offer");
    let answer = b.call.accept_offer(offer).await.expect("answer");
    a.call.set_answer(answer).await.expect("answer accepted");
    let (fa, fb) = (a.call.remote_frames(), b.call.remote_frames());
    let first = |frames: Frames| async move {
        tokio::time::timeout(Duration::from_secs(60), frames.next()).await.ok().flatten().map(|_| t0.elapsed())
    };
    let (first_a, first_b) = tokio::join!(first(fa.clone()), first(fb.clone()));

    // Latency and CPU over the measurement window, at B (A's video).
    let cpu0 = cpu_seconds();
    let w0 = Instant::now();
    let mut latencies = Vec::new();
    while w0.elapsed() < MEASURE {
        if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(1), fb.next()).await
            && let Some(stamp) = frame.capture_stamp()
        {
            latencies.push(visio_media::stamp::clock_ms().wrapping_sub(stamp));
        }
        // Drain A's events meanwhile so the window ends with fresh stats.
    }
    let cpu = (cpu_seconds() - cpu0) / w0.elapsed().as_secs_f64();
    let last = |events: &mut mpsc::UnboundedReceiver<CallEvent>| {
        let mut last_stats: Option<Box<CallStats>> = None;
        while let Ok(event) = events.try_recv() {
            if let CallEvent::Stats(s) = event {
                last_stats = Some(s);
            }
        }
        last_stats
    };
    let (stats_a, stats_b) = (last(&mut a.events), last(&mut b.events));
    latencies.retain(|&l| l < 10_000); // a misread stamp, not a latency
    latencies.sort_unstable();
    println!("## {width}x{height} {codec}, pattern {pattern}");
    println!("offer -> first decoded frame: A {first_a:?}, B {first_b:?}");
    println!(
        "glass-to-glass latency over {} frames: p50 {} ms, p95 {} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
    println!("CPU, whole process (both peers): {:.0} % of one core", cpu * 100.0);
    for (side, s) in [("A", stats_a), ("B", stats_b)] {
        let Some(s) = s else { continue };
        println!(
            "{side} stats: {:?} out, {:?} in; receive {:.0} fps {:?}, {} kbit/s in, {} kbit/s out, estimate {:?} bit/s, sending {:?}, rtt {:?}",
            s.video_codec_sent,
            s.video_codec_received,
            s.receive_fps,
            s.receive_resolution,
            s.receive_bitrate_bps / 1000,
            s.send_bitrate_bps / 1000,
            s.estimate_bps,
            s.sending,
            s.rtt
        );
    }
    a.call.hang_up().await;
    b.call.hang_up().await;
    // Let the other side notice, so the next run starts clean.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = b.events.recv().await {
            if matches!(e, CallEvent::State(CallState::Closed)) {
                break;
            }
        }
    })
    .await;
}

/// A UDP relay between the two peers that shapes A's uplink like a DSL line:
/// a token bucket at `rate` bit/s with at most `MAX_QUEUE` of queueing, tail
/// drop beyond. A's candidates are rewritten to point at the relay and B's are
/// withheld, so B reaches A only through it (A learns B peer-reflexively).
mod shaper {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use tokio::net::UdpSocket;
    use tokio::sync::Mutex;
    use tokio::time::Instant;

    pub const MAX_QUEUE: Duration = Duration::from_millis(150);

    pub struct Relay {
        /// Where B must send to reach A.
        pub facing_b: SocketAddr,
        pub rate: Arc<AtomicU64>,
        pub dropped: Arc<AtomicU64>,
    }

    pub async fn start(a_addr: SocketAddr, rate_bps: u64) -> Relay {
        let to_b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let to_a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let facing_b = to_b.local_addr().unwrap();
        let rate = Arc::new(AtomicU64::new(rate_bps));
        let dropped = Arc::new(AtomicU64::new(0));
        let b_addr: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        // B -> A: unshaped.
        {
            let (to_b, to_a, b_addr) = (to_b.clone(), to_a.clone(), b_addr.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = to_b.recv_from(&mut buf).await {
                    *b_addr.lock().await = Some(from);
                    let _ = to_a.send_to(&buf[..n], a_addr).await;
                }
            });
        }
        // A -> B: shaped.
        {
            let (rate, dropped) = (rate.clone(), dropped.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let mut next_free = Instant::now();
                while let Ok((n, _)) = to_a.recv_from(&mut buf).await {
                    let now = Instant::now();
                    next_free = next_free.max(now);
                    if next_free - now > MAX_QUEUE {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let bps = rate.load(Ordering::Relaxed).max(1);
                    next_free += Duration::from_secs_f64((n as f64 + 28.0) * 8.0 / bps as f64);
                    let (packet, to_b, b_addr, at) = (buf[..n].to_vec(), to_b.clone(), b_addr.clone(), next_free);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(at).await;
                        if let Some(b) = *b_addr.lock().await {
                            let _ = to_b.send_to(&packet, b).await;
                        }
                    });
                }
            });
        }
        Relay { facing_b, rate, dropped }
    }
}

/// How fast A's sending follows a drop of its uplink from `high` to `low`.
async fn bandwidth_drop(high: u64, low: u64, codec: VideoCodec) {
    use std::sync::atomic::Ordering;
    let config = |freq| {
        // Noise fills any bitrate, so the encoder really uses what it is given.
        let mut c = CallConfig::test_sources("snow", None, freq);
        c.video.codecs = vec![codec];
        c.max_video_bitrate_bps = 1_500_000;
        c.start_video_bitrate_bps = 1_200_000;
        c
    };
    let (a_tx, mut a_rx) = mpsc::unbounded_channel::<IceCandidate>();
    let (b_tx, mut b_rx) = mpsc::unbounded_channel::<IceCandidate>();
    let mut a = start(config(440.0), a_tx).await;
    let b = start(config(660.0), b_tx).await;
    let offer = a.call.create_offer().await.expect("offer");
    let answer = b.call.accept_offer(offer).await.expect("answer");
    a.call.set_answer(answer).await.expect("answer accepted");
    // A's host candidate names the socket the relay forwards to; B gets the relay's instead.
    let first = a_rx.recv().await.expect("a candidate from A");
    let parts: Vec<&str> = first.candidate.split_whitespace().collect();
    let a_addr: std::net::SocketAddr = format!("{}:{}", parts[4], parts[5]).parse().expect("host candidate");
    let relay = shaper::start(a_addr, high).await;
    let rewrite = |c: IceCandidate| {
        let mut p: Vec<String> = c.candidate.split_whitespace().map(str::to_owned).collect();
        p[4] = relay.facing_b.ip().to_string();
        p[5] = relay.facing_b.port().to_string();
        IceCandidate { candidate: p.join(" "), ..c }
    };
    b.call.add_remote_candidate(rewrite(first)).await.expect("candidate");
    tokio::spawn(async move { while b_rx.recv().await.is_some() {} }); // withheld from A
    let b_call = b.call.clone();
    let facing_b = relay.facing_b;
    tokio::spawn(async move {
        while let Some(c) = a_rx.recv().await {
            let mut p: Vec<String> = c.candidate.split_whitespace().map(str::to_owned).collect();
            p[4] = facing_b.ip().to_string();
            p[5] = facing_b.port().to_string();
            let _ = b_call.add_remote_candidate(IceCandidate { candidate: p.join(" "), ..c }).await;
        }
    });

    println!("## bandwidth drop {} -> {} kbit/s on A's uplink (relay queue {:?}), {codec}", high / 1000, low / 1000, shaper::MAX_QUEUE);
    println!("t(s)  link  A sends  A estimate  A encoder target");
    let t0 = Instant::now();
    let mut dropped_at = None;
    let mut followed = None;
    while t0.elapsed() < Duration::from_secs(75) {
        let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(5), a.events.recv()).await else { continue };
        let CallEvent::Stats(s) = event else { continue };
        let t = t0.elapsed().as_secs_f64();
        if dropped_at.is_none() && t >= 25.0 {
            relay.rate.store(low, Ordering::Relaxed);
            dropped_at = Some(Instant::now());
        }
        let link = relay.rate.load(Ordering::Relaxed);
        println!(
            "{t:5.1} {:5} {:8} {:11} {:9} {}x{}",
            link / 1000,
            s.send_bitrate_bps / 1000,
            s.estimate_bps.map(|e| (e / 1000).to_string()).unwrap_or("-".into()),
            s.sending.video_bitrate_bps / 1000,
            s.sending.format.width,
            s.sending.format.height
        );
        if let Some(at) = dropped_at
            && followed.is_none()
            && s.send_bitrate_bps <= low * 11 / 10
        {
            followed = Some(at.elapsed());
        }
        if let Some(at) = dropped_at
            && at.elapsed() > Duration::from_secs(40)
        {
            break;
        }
    }
    println!(
        "A's send rate under {} kbit/s (link +10 %) {:?} after the drop; relay dropped {} packets",
        low * 11 / 10 / 1000,
        followed,
        relay.dropped.load(Ordering::Relaxed)
    );
    a.call.hang_up().await;
    b.call.hang_up().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into())).try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |word: &str| args.iter().any(|a| a == word);
    let codec = if has("h264") { VideoCodec::H264 } else { VideoCodec::Vp8 };
    // "ball" is easy content (a small moving disc); "snow" is noise, the worst case.
    let pattern = if has("snow") { "snow" } else { "ball" };
    if has("360") {
        run(640, 360, codec, pattern).await;
        return;
    }
    if !has("drop") {
        run(640, 360, codec, pattern).await;
        run(1280, 720, codec, pattern).await;
    }
    bandwidth_drop(2_000_000, 500_000, codec).await;
}
