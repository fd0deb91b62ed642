//! Benchmark: time to move a 5 MB file over a loopback webrtc-rs data channel.
//!
//! `cargo run --release -p visio-transfer --example transfer_bench [MB] [runs]`
//!
//! Both ends are full sessions (core + driver + spool + the product's documents link),
//! so the figure includes hashing, acks, back-pressure and spool writes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use visio_transfer::driver::{Notice, spawn_session};
use visio_media::{DataChannelHandle, DocumentsLink};
use visio_transfer::spool::Spool;
use visio_transfer::{Event, Limits, Purpose, Side};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mb: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let runs: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let size = (mb * 1e6) as usize;
    let tmp = tempfile::tempdir().unwrap();
    let doc = tmp.path().join("doc.pdf");
    std::fs::write(&doc, support::padded_pdf("benchmark", size)).unwrap();
    let size = std::fs::metadata(&doc).unwrap().len();
    // VISIO_WINDOW_KIB overrides the unacknowledged-bytes window (default 512).
    let window = std::env::var("VISIO_WINDOW_KIB").ok().and_then(|s| s.parse::<u64>().ok()).map(|k| k * 1024);
    let defaults = Limits::default();
    // VISIO_RATE (bytes per second) paces the sender, as on a slow uplink.
    let send_rate = std::env::var("VISIO_RATE").ok().and_then(|s| s.parse::<u64>().ok());
    let limits = Limits { max_file_bytes: 100 * 1000 * 1000, window_bytes: window.unwrap_or(defaults.window_bytes), send_rate, ..defaults };
    println!("window {} KiB, chunk {} bytes, pacing {:?} B/s", limits.window_bytes / 1024, visio_transfer::wire::MAX_BINARY_MESSAGE, limits.send_rate);

    let spool = Spool::open(tmp.path().join("spool")).unwrap();
    let (kiosk, mut krx) = spawn_session(Side::Kiosk, limits.clone(), spool.session("kiosk").unwrap());
    let (agent, mut arx) = spawn_session(Side::Agent, limits, spool.session("agent").unwrap());
    let t0 = Instant::now();
    let (pair, kdc, adc) = support::Pair::connect().await;
    let (kl, kev) = DocumentsLink::attach(DataChannelHandle::attach_webrtc(kdc).await.unwrap());
    let (al, aev) = DocumentsLink::attach(DataChannelHandle::attach_webrtc(adc).await.unwrap());
    kiosk.attach(kl, kev).await.unwrap();
    agent.attach(al, aev).await.unwrap();
    while !matches!(arx.recv().await, Some(Notice::LinkUp)) {}
    println!("peer connection + data channel open: {:.0} ms", t0.elapsed().as_secs_f64() * 1000.0);

    for run in 1..=runs {
        let start = Instant::now();
        let (id, _) = agent.push_file(&doc, "doc.pdf", Purpose::Display, None).await.unwrap();
        loop {
            match arx.recv().await {
                Some(Notice::Core { event: Event::Delivered { id: i }, .. }) if i == id => break,
                Some(Notice::Core { event: Event::Rejected { reason, .. }, .. }) => panic!("{reason}"),
                None => panic!("session ended"),
                _ => {}
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "run {run}: {size} bytes in {:.3} s = {:.1} MB/s ({:.0} Mbit/s), hash verified",
            secs,
            size as f64 / secs / 1e6,
            size as f64 * 8.0 / secs / 1e6
        );
        println!("  buffered-amount-high events so far: {}", agent.stats().buffer_high_events.load(std::sync::atomic::Ordering::Relaxed));
        while let Ok(n) = krx.try_recv() {
            drop(n);
        }
    }
    kiosk.end().await.unwrap();
    agent.end().await.unwrap();
    pair.close().await;
}
