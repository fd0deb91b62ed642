//! The two senders on the kiosk's side of the link: ours (a
//! `visio_media::Call` with test sources, and the kiosk's document transfer)
//! and the reference (Chromium with a fake camera playing the same picture).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use visio_bench::figures::Frame;
use visio_media::adapt::document_send_rate;
use visio_media::{Call, CallConfig, CallEvent, DataChannelHandle, DocumentsLink, IceCandidate, SessionDescription};
use visio_transfer::driver::{Notice, spawn_session};
use visio_transfer::spool::Spool;
use visio_transfer::{Event, Limits, Purpose, Side};

use crate::now_ms;
use crate::page::{Page, Recorded};
use crate::turn::RelayServer;

/// `videotestsrc` content both senders encode: SMPTE bars scrolling 4 px a
/// frame, which needs about 1 Mbit/s of VP8 at 640x360 (the ball pattern
/// needs under 100 kbit/s and would never meet the link's limit). The
/// property rides in the pattern string, which the media crate writes into
/// its GStreamer launch line.
pub const PATTERN: &str = "smpte horizontal-speed=4";
/// 640 px / 4 px a frame: the clip loops seamlessly.
const CLIP_FRAMES: u32 = 160;

/// Chromium's fake camera plays this file: the same picture, made by the same
/// GStreamer element.
pub fn camera_clip(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("smpte-scroll-640x360-30.y4m");
    if path.exists() {
        return Ok(path);
    }
    let pattern: Vec<&str> = PATTERN.split(' ').collect();
    let status = std::process::Command::new("gst-launch-1.0")
        .arg("-q")
        .args(["videotestsrc", &format!("num-buffers={CLIP_FRAMES}"), &format!("pattern={}", pattern[0])])
        .args(&pattern[1..])
        .args(["!", "video/x-raw,format=I420,width=640,height=360,framerate=30/1", "!", "y4menc", "!", "filesink"])
        .arg(format!("location={}", path.display()))
        .status()
        .context("running gst-launch-1.0 (gstreamer1.0-tools)")?;
    if !status.success() {
        bail!("gst-launch-1.0 could not write {}", path.display());
    }
    Ok(path)
}

/// Our kiosk's call settings: the kiosk's defaults (1 Mbit/s video ceiling,
/// 800 kbit/s start, 100 kbit/s floor) at the size and rate Chromium's
/// camera gives, so both senders start from the same picture.
pub fn our_config() -> CallConfig {
    let mut config = CallConfig::test_sources(PATTERN, None, 440.0);
    config.loopback_only = false; // the link's address, not 127.0.0.1
    config.video.width = 640;
    config.video.height = 360;
    config.video.framerate = 30;
    config.max_video_bitrate_bps = 1_000_000;
    config
}

pub struct Ours {
    call: Call,
    candidates: Mutex<mpsc::UnboundedReceiver<IceCandidate>>,
    channel: watch::Receiver<Option<DataChannelHandle>>,
    /// The room the call's estimate leaves for documents (bits/s), from its
    /// stats: scans are paced at it, as the kiosk does.
    data_room: watch::Receiver<u64>,
    /// The agent's video as our kiosk decoded it.
    frames: Arc<Mutex<Vec<Frame>>>,
    /// The call's stats as they came, for `VISIO_BENCH_TRACE`.
    stats: Arc<Mutex<Vec<Value>>>,
    tmp: tempfile::TempDir,
}

pub enum Kiosk {
    Ours(Box<Ours>),
    Reference(Page),
}

impl std::fmt::Debug for Kiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kiosk::Ours(_) => "Kiosk::Ours",
            Kiosk::Reference(_) => "Kiosk::Reference",
        })
    }
}

impl Kiosk {
    /// Our call, started on `rt` (the kiosk namespace's runtime) so its
    /// sockets are on the kiosk's side of the link.
    /// With `relay`, the call has its TURN server, and trusts its certificate.
    pub async fn ours(rt: &Handle, relay: Option<&RelayServer>) -> Result<Kiosk> {
        let mut config = our_config();
        if let Some(relay) = relay {
            config.ice_servers = vec![relay.server.clone()];
            config.turn_trust_pem = Some(relay.cert_pem.clone());
        }
        let (call, mut events) = rt.spawn(Call::new(config)).await?.context("starting our call")?;
        let (cand_tx, cand_rx) = mpsc::unbounded_channel();
        let (chan_tx, chan_rx) = watch::channel(None);
        let (room_tx, data_room) = watch::channel(0);
        let stats = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&stats);
        rt.spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    CallEvent::LocalCandidate(c) => drop(cand_tx.send(c)),
                    CallEvent::DataChannelOpen(ch) => drop(chan_tx.send(Some(ch))),
                    CallEvent::Stats(s) => {
                        log.lock().unwrap_or_else(|p| p.into_inner()).push(stats_json(&s));
                        let _ = room_tx.send(s.data_room_bps);
                    }
                    CallEvent::DataRoom { data_room_bps } => drop(room_tx.send(data_room_bps)),
                    CallEvent::Error(e) => eprintln!("  ours: {e}"),
                    _ => {}
                }
            }
        });
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (remote, seen) = (call.remote_frames(), Arc::clone(&frames));
        rt.spawn(async move {
            while let Some(f) = remote.next().await {
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(Frame { t: now_ms(), w: f.width, h: f.height });
            }
        });
        Ok(Kiosk::Ours(Box::new(Ours {
            call,
            candidates: Mutex::new(cand_rx),
            channel: chan_rx,
            data_room,
            frames,
            stats,
            tmp: tempfile::tempdir()?,
        })))
    }

    pub async fn offer(&self) -> Result<Value> {
        match self {
            Kiosk::Ours(o) => {
                // Answered as the agent console answers a kiosk (`active`).
                Ok(serde_json::to_value(o.call.create_offer().await?)?)
            }
            Kiosk::Reference(p) => p.run("return await window.bench.offer();", Value::Null).await,
        }
    }

    pub async fn set_answer(&self, answer: Value) -> Result<()> {
        match self {
            Kiosk::Ours(o) => {
                let answer: SessionDescription = serde_json::from_value(answer)?;
                Ok(o.call.set_answer(answer).await?)
            }
            Kiosk::Reference(p) => p.run("await window.bench.setAnswer(arg); return true;", answer).await.map(drop),
        }
    }

    pub async fn take_candidates(&self) -> Result<Vec<Value>> {
        match self {
            Kiosk::Ours(o) => {
                let mut rx = o.candidates.lock().unwrap_or_else(|p| p.into_inner());
                let mut out = Vec::new();
                while let Ok(c) = rx.try_recv() {
                    out.push(serde_json::to_value(c)?);
                }
                Ok(out)
            }
            Kiosk::Reference(p) => p.take_candidates().await,
        }
    }

    pub async fn add_candidate(&self, candidate: Value) -> Result<()> {
        match self {
            Kiosk::Ours(o) => Ok(o.call.add_remote_candidate(serde_json::from_value(candidate)?).await?),
            Kiosk::Reference(p) => p.add_candidate(candidate).await,
        }
    }

    /// The agent's video as this kiosk received it, since last asked.
    pub async fn take(&self) -> Result<Recorded> {
        match self {
            Kiosk::Ours(o) => {
                let frames = std::mem::take(&mut *o.frames.lock().unwrap_or_else(|p| p.into_inner()));
                Ok(Recorded { frames, stats: Vec::new() })
            }
            Kiosk::Reference(p) => p.take().await,
        }
    }

    /// Our call's stats so far (empty for the reference), for `VISIO_BENCH_TRACE`.
    pub fn call_stats(&self) -> Vec<Value> {
        match self {
            Kiosk::Ours(o) => o.stats.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            Kiosk::Reference(_) => Vec::new(),
        }
    }

    /// Moves `size` bytes to the hub's page during the call; returns the
    /// seconds until the receiver had them all.
    pub async fn send_scan(&self, size: usize) -> Result<f64> {
        match self {
            Kiosk::Ours(o) => o.send_scan(size).await,
            Kiosk::Reference(p) => {
                p.run("return window.bench.startSend(arg);", json!(size)).await?;
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    match p.run("return window.bench.sendResult;", Value::Null).await? {
                        Value::Null => continue,
                        Value::Number(ms) => return Ok(ms.as_f64().unwrap_or(0.0) / 1000.0),
                        other => bail!("sending failed: {other}"),
                    }
                }
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Kiosk::Ours(o) => o.call.hang_up().await,
            Kiosk::Reference(p) => p.blank().await,
        }
    }
}

/// What a trace keeps of one of our call's stats.
fn stats_json(s: &visio_media::CallStats) -> Value {
    let r = &s.repair_sent;
    json!({
        "t": now_ms(),
        "rtt_ms": s.rtt.map(|d| d.as_secs_f64() * 1000.0),
        "estimate_bps": s.estimate_bps,
        "send_bps": s.send_bitrate_bps,
        "video_bps": s.sending.video_bitrate_bps,
        "keyframes_sent": s.keyframes_sent,
        "nacked_packets": r.nacked_packets,
        "nack_requests": r.nack_requests,
        "retransmissions_sent": r.retransmissions_sent,
        "frames_dropped": r.video_frames_dropped,
        "nacks_for_dropped": r.nacks_for_dropped,
    })
}

impl Ours {
    /// As the kiosk sends a scan: a transfer session on the documents
    /// channel, `push_file`, until the agent's page confirmed the hash.
    async fn send_scan(&self, size: usize) -> Result<f64> {
        let mut channel = self.channel.clone();
        let handle = tokio::time::timeout(Duration::from_secs(30), channel.wait_for(|c| c.is_some()))
            .await
            .context("the documents channel did not open")??
            .clone()
            .expect("waited for Some");
        let file = self.tmp.path().join("scan.pdf");
        std::fs::write(&file, visio_testkit::pdf::padded_pdf("Visio-Public bench scan", size))?;
        let spool = Spool::open(self.tmp.path().join("spool"))?.session("bench")?;
        let (session, mut notices) = spawn_session(Side::Kiosk, Limits::default(), spool);
        let (link, events) = DocumentsLink::attach(handle);
        session.attach(link, events).await?;
        // Paced as the kiosk paces scans: the same rule from visio-media.
        session.set_send_rate(Some(document_send_rate(0))).await?;
        self.call.set_sending_documents(true).await?;
        let pacing = tokio::spawn({
            let (session, mut room) = (session.clone(), self.data_room.clone());
            async move {
                while room.changed().await.is_ok() {
                    let rate = document_send_rate(*room.borrow_and_update());
                    if session.set_send_rate(Some(rate)).await.is_err() {
                        return;
                    }
                }
            }
        });
        let start = std::time::Instant::now();
        let (id, _) = session.push_file(&file, "scan.pdf", Purpose::Scan, None).await?;
        loop {
            match notices.recv().await {
                Some(Notice::Core { event: Event::Delivered { id: done }, .. }) if done == id => break,
                Some(Notice::Core { event: Event::Rejected { reason, .. }, .. }) => bail!("transfer rejected: {reason}"),
                None => bail!("the transfer session ended"),
                _ => {}
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        pacing.abort();
        let _ = self.call.set_sending_documents(false).await;
        let _ = session.end().await;
        Ok(seconds)
    }
}
