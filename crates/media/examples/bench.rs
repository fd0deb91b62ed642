//! Loopback benchmark of a call between two peers of this crate in one process.
//!
//! ```sh
//! cargo run -p visio-media --release --example bench
//! ```
//!
//! Reports, per picture size: offer → first decoded remote frame, glass-to-glass
//! latency (capture stamp drawn into the picture → decoded RGBA) p50/p95, and
//! the CPU time the whole process (both peers: capture, encode, send, receive,
//! decode) uses per second of call.

use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use visio_media::{Call, CallConfig, CallEvent, CallState, CallStats, IceCandidate, RemoteFrames};

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

async fn run(width: u32, height: u32) {
    let config = |freq| {
        let mut c = CallConfig::test_sources("ball", None, freq);
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
    let first = |frames: RemoteFrames| async move {
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
    println!("## {width}x{height}");
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
            "{side} stats: receive {:.0} fps {:?}, {} kbit/s in, {} kbit/s out, estimate {:?} bit/s, sending {:?}, rtt {:?}",
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

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into())).try_init();
    run(640, 360).await;
    run(1280, 720).await;
}
