//! One profile: a link, the hub's Chromium, then our kiosk and Chromium's as
//! senders in turn on the same link, each through the same phases.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;
use visio_bench::figures::{self, Column, Frame, LinkSample, StatsSample, Transfer};
use visio_bench::relay::Relay;
use visio_bench::table::ProfileRun;
use visio_linkem::{Bitrate, Direction, Link, Profile, Side};

use crate::kiosk::Kiosk;
use crate::now_ms;
use crate::page::Page;
use crate::turn::RelayServer;

/// What a run does, from the command line.
#[derive(Debug, Clone)]
pub struct Plan {
    pub window: Duration,
    pub follow: bool,
    pub scan_bytes: usize,
    pub ours: bool,
    pub reference: bool,
    /// The link's loss and jitter seed.
    pub seed: u64,
    /// Chromium's sender offers no RED/ULPFEC (what FEC is worth to it).
    pub reference_without_fec: bool,
    /// Through coturn on the hub's side, the kiosk side firewalled (`--relay`).
    pub relay: Option<Relay>,
}

/// The bitrate-follow schedule on the kiosk → hub direction (issue 9).
const HIGH: Bitrate = Bitrate::mbit(1);
const LOW: Bitrate = Bitrate::kbit(300);
const WARM: Duration = Duration::from_secs(20);
const LOW_FOR: Duration = Duration::from_secs(30);
const BACK_FOR: Duration = Duration::from_secs(45);
/// "Follows the drop": the sender's IP rate at or under 1.1 × 300 kbit/s.
const CEILING_KBPS: f64 = 330.0;
const BACK_SHARE: f64 = 0.8;

/// Everything recorded during one column, all sources, as it arrives.
#[derive(Debug, Default)]
struct Recording {
    up_frames: Vec<Frame>,
    up_stats: Vec<StatsSample>,
    down_frames: Vec<Frame>,
    down_stats: Vec<StatsSample>,
    link: Vec<LinkSample>,
    errors: Vec<String>,
}

type Shared = Arc<Mutex<Recording>>;

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Recording> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

pub async fn profile(profile: Profile, plan: &Plan, clip: &Path) -> Result<ProfileRun> {
    // An automatic name (vlk-<pid>-<n>): runs side by side never collide, and
    // a killed run's namespaces are reaped by the next.
    let link = Arc::new(Link::builder().profile(profile).seed(plan.seed).start()?);
    let (hub_rt, kiosk_rt) = (link.runtime(Side::Hub)?, link.runtime(Side::Kiosk)?);
    let up = link.params().up;
    let mut run = ProfileRun {
        profile: profile.name().into(),
        uplink: up.to_string().split(", queue").next().unwrap_or_default().to_string(),
        window_s: plan.window.as_secs(),
        relay: plan.relay.map(|r| r.label().to_string()),
        ..Default::default()
    };
    let hub = Page::launch(hub_rt.handle().clone(), Vec::new()).await?;
    // coturn on the hub's side; from here only TCP to it leaves the kiosk's.
    let relay = plan.relay.map(|r| RelayServer::start(&link, r)).transpose()?;
    if let Some(r) = &relay {
        eprintln!("[{}] relayed: {} (the kiosk side lets only TCP to it out)", profile.name(), r.server.urls.join(" "));
    }
    if plan.ours {
        eprintln!("[{}] ours", profile.name());
        let kiosk = Kiosk::ours(kiosk_rt.handle(), relay.as_ref()).await?;
        run.ours = Some(column(&link, profile, &hub, kiosk, plan).await);
    }
    if plan.reference {
        eprintln!("[{}] Chromium", profile.name());
        link.set_profile(profile)?;
        let mut args = vec![format!("--use-file-for-fake-video-capture={}", clip.display())];
        args.extend(relay.as_ref().map(|r| r.chromium_flag.clone()));
        let page = Page::launch(kiosk_rt.handle().clone(), args).await?;
        page.open_with(relay.as_ref().map_or(Value::Null, RelayServer::page_config)).await?;
        if plan.reference_without_fec {
            page.run("window.bench.noFec = true; return true;", Value::Null).await?;
        }
        run.reference = Some(column(&link, profile, &hub, Kiosk::Reference(page), plan).await);
    }
    drop(hub);
    drop(relay);
    drop((hub_rt, kiosk_rt));
    if let Ok(link) = Arc::try_unwrap(link)
        && let Err(e) = link.down()
    {
        eprintln!("[{}] tearing the link down: {e}", profile.name());
    }
    Ok(run)
}

/// A sender's phases; a failed phase is a note, the others still count.
async fn column(link: &Arc<Link>, profile: Profile, hub: &Page, kiosk: Kiosk, plan: &Plan) -> Column {
    let kiosk = Arc::new(kiosk);
    let recording: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut column = Column::default();
    let started = connect(hub, &kiosk).await;
    match started {
        Ok(offered) => {
            let recorder = tokio::spawn(record(Arc::clone(link), hub.clone(), Arc::clone(&kiosk), Arc::clone(&recording), Arc::clone(&stop)));
            if let Err(e) = phases(link, profile, &kiosk, plan, &recording, offered, &mut column).await {
                column.notes.push(format!("{e:#}"));
            }
            timelines(hub, &kiosk, offered).await;
            stop.store(true, Ordering::SeqCst);
            let _ = recorder.await;
        }
        Err(e) => column.notes.push(format!("{e:#}")),
    }
    column.notes.extend(lock(&recording).errors.drain(..).take(3));
    if let Some(dir) = std::env::var_os("VISIO_BENCH_TRACE") {
        let sender = if matches!(*kiosk, Kiosk::Ours(_)) { "ours" } else { "chromium" };
        let name = format!("{}-{sender}-seed{}.json", profile.name(), plan.seed);
        let r = lock(&recording);
        let trace = serde_json::json!({ "frames": r.up_frames, "stats": r.up_stats, "call": kiosk.call_stats() });
        let path = Path::new(&dir).join(name);
        if let Err(e) = std::fs::write(&path, trace.to_string()) {
            eprintln!("  trace {}: {e}", path.display());
        }
    }
    kiosk.close().await;
    hub.blank().await;
    let _ = link.set_profile(profile);
    column
}

/// Prints the Chromium pages' own setup timelines, in seconds from the offer.
async fn timelines(hub: &Page, kiosk: &Kiosk, offered: f64) {
    let pages = [("hub's page", Some(hub)), ("Chromium sender", if let Kiosk::Reference(p) = kiosk { Some(p) } else { None })];
    for (who, page) in pages {
        let Some(page) = page else { continue };
        let Ok(events) = page.take_timeline().await else { continue };
        let line: Vec<String> = events.iter().map(|(t, what)| format!("{what} {:.2}", (t - offered) / 1000.0)).collect();
        eprintln!("  {who}: {}", line.join(", "));
    }
}

/// Opens the hub's page and runs offer → answer; returns when the offer was made.
async fn connect(hub: &Page, kiosk: &Kiosk) -> Result<f64> {
    hub.open().await?;
    let offered = now_ms();
    let offer = kiosk.offer().await?;
    let answer = hub.run("return await window.bench.answer(arg);", offer).await?;
    kiosk.set_answer(answer).await?;
    Ok(offered)
}

async fn phases(link: &Link, profile: Profile, kiosk: &Kiosk, plan: &Plan, rec: &Shared, offered: f64, column: &mut Column) -> Result<()> {
    // Time to first frame.
    let first = wait_until(Duration::from_secs(60), || lock(rec).up_frames.first().map(|f| f.t)).await;
    let Some(first) = first else { bail!("no frame reached the hub's page within 60 s") };
    column.first_frame_s = Some((first - offered) / 1000.0);
    eprintln!("  first frame after {:.2} s", (first - offered) / 1000.0);

    // The steady window, from the first frame.
    let end = first + plan.window.as_secs_f64() * 1000.0;
    sleep_until(end + 1500.0).await;
    {
        let r = lock(rec);
        column.up = figures::video_with_stats(&r.up_frames, &r.up_stats, first, end);
        column.audio_loss = figures::audio_loss(&r.up_stats, first, end);
        column.queue_drops = figures::queue_drops(&r.link, first, end);
        column.repair = figures::repair(&r.up_stats, first, end);
        column.down = Some(figures::video_with_stats(&r.down_frames, &r.down_stats, first, end));
    }
    eprintln!("  window: {:?}, audio loss {:?}, queue drops {:?}, {:?}", column.up, column.audio_loss, column.queue_drops, column.repair);

    if plan.follow {
        link.update(Direction::Up, |p| p.rate = Some(HIGH))?;
        tokio::time::sleep(WARM).await;
        let drop_at = now_ms();
        link.update(Direction::Up, |p| p.rate = Some(LOW))?;
        tokio::time::sleep(LOW_FOR).await;
        let restore_at = now_ms();
        link.update(Direction::Up, |p| p.rate = Some(HIGH))?;
        tokio::time::sleep(BACK_FOR).await;
        let end = now_ms();
        let rates = figures::rates(&lock(rec).link);
        let follow = figures::follow(&rates, drop_at, restore_at, end, CEILING_KBPS, BACK_SHARE);
        eprintln!("  follow: {follow:?}");
        let link_samples = lock(rec).link.clone();
        eprintln!("  follow, kbit/s each second from the drop: {:?}", figures::per_second(&link_samples, drop_at, end));
        let over: Vec<String> =
            figures::windows_over(&rates, drop_at, restore_at, CEILING_KBPS).iter().map(|(at, k)| format!("{at:.2} s: {k:.0}")).collect();
        eprintln!("  follow, low phase's windows over {CEILING_KBPS} kbit/s (end, from the drop): {over:?}");
        column.follow = Some(follow);
        link.set_profile(profile)?;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }

    if plan.scan_bytes > 0 {
        let start = now_ms();
        let sent = tokio::time::timeout(Duration::from_secs(400), kiosk.send_scan(plan.scan_bytes))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("over 400 s")));
        let seconds = match sent {
            Ok(s) => s,
            Err(e) => {
                let at = (now_ms() - start) / 1000.0;
                eprintln!("  scan failed after {at:.0} s: {e:#}");
                column.scan_error = Some(format!("{e:#} (after {at:.0} s)"));
                return Ok(());
            }
        };
        sleep_until(start + seconds * 1000.0 + 1500.0).await;
        let r = lock(rec);
        let transfer = Transfer {
            bytes: plan.scan_bytes as u64,
            seconds,
            line_bps: profile.params().up.rate.map(|r| r.as_bps()),
            video: figures::video_with_stats(&r.up_frames, &r.up_stats, start, start + seconds * 1000.0),
        };
        eprintln!("  scan: {transfer:?}");
        column.transfer = Some(transfer);
    }
    Ok(())
}

/// Relays candidates both ways and collects what both ends and the link
/// record, until told to stop.
async fn record(link: Arc<Link>, hub: Page, kiosk: Arc<Kiosk>, rec: Shared, stop: Arc<AtomicBool>) {
    // The link's counters every 250 ms: the sender's rate before the bottleneck.
    let sampler = {
        let (link, rec, stop) = (Arc::clone(&link), Arc::clone(&rec), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let c = link.counters(Direction::Up);
                let sample = LinkSample { t: now_ms(), bytes: c.bytes_in, packets: c.packets_in, queue_drops: c.dropped_queue };
                lock(&rec).link.push(sample);
            }
        })
    };
    while !stop.load(Ordering::SeqCst) {
        if let Err(e) = record_once(&hub, &kiosk, &rec).await {
            lock(&rec).errors.push(format!("recording: {e:#}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = sampler.await;
}

async fn record_once(hub: &Page, kiosk: &Kiosk, rec: &Shared) -> Result<()> {
    for c in hub.take_candidates().await? {
        if on_link(&c) {
            kiosk.add_candidate(c).await?;
        }
    }
    for c in kiosk.take_candidates().await? {
        if on_link(&c) {
            hub.add_candidate(c).await?;
        }
    }
    let up = hub.take().await?;
    let down = kiosk.take().await?;
    let mut r = lock(rec);
    r.up_frames.extend(up.frames);
    r.up_stats.extend(up.stats);
    r.down_frames.extend(down.frames);
    r.down_stats.extend(down.stats);
    Ok(())
}

/// Only candidates on the link's addresses: each namespace has its own
/// 127.0.0.1, which the other side cannot reach.
fn on_link(candidate: &Value) -> bool {
    candidate["candidate"].as_str().is_some_and(|c| c.contains(" 10.77."))
}

async fn wait_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sleep_until(epoch_ms: f64) {
    let wait = (epoch_ms - now_ms()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
}

