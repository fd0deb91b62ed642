//! The uplink estimate: how many bits a second the path takes without
//! building a queue. Pure (time is an input), plugged into webrtc-rs as its
//! [`BandwidthEstimator`]; the pacer sends at `target_bitrate`, and the
//! adaptation controller (`adapt`) gives video what audio leaves of it.
//!
//! # Why not webrtc-rs's `Gcc`
//!
//! Measured on linkem's `adsl` uplink (1 Mbit/s, a 500 ms modem queue) with
//! content that fills its target (docs/benchmarks.md, "Adaptation on
//! emulated links"), webrtc-rs 0.21.1's GCC climbed past the link (1.3 Mbit/s),
//! filled the queue (RTT 540 ms), then backed off to 0.2–0.3 Mbit/s and kept
//! sinking with the queue empty: its overuse detector stays `Over` while the
//! delay trend is above threshold, and each feedback batch in that state
//! backs off to 85 % of the *received* rate, which for an encoder that meets
//! its target exactly (x264) is the target itself — a ratchet down to the
//! floor. On 300 kbit/s it reached the floor (60 kbit/s) and stayed there.
//!
//! # What this does instead
//!
//! It reads the queue directly: the one-way delay of each packet (arrival
//! on the peer's clock minus departure on ours) minus the smallest of the
//! last ten seconds is the time the packet spent queued. The clocks' offset
//! and the propagation delay cancel out; a satellite hop's 300 ms is in
//! the minimum, not in the queue.
//!
//! - queue under [`LOW_QUEUE`] and loss under [`CONGESTION_LOSS`]: climb
//!   8 % a second (GCC's multiplicative increase);
//! - queue over [`HIGH_QUEUE`]: back off to 85 % of what the peer
//!   *acknowledged* while the queue stood (the link's rate, since it was
//!   full), or of the rate of its last 200 ms of packets when
//!   they all waited and came slower (right after a drop: the new link's
//!   rate), taken in the estimate's units (divided by what our sender
//!   puts out over its estimate: `overshoot`, `capacity`); never up, and
//!   never from the estimate itself (libwebrtc's rule: a second back-off on
//!   the same queue lands where the first did instead of compounding);
//!   loss over [`CONGESTION_LOSS`] with a queue over
//!   [`LOW_QUEUE`] but under [`HIGH_QUEUE`]: cut by half the loss. At most
//!   once per [`BACKOFF_INTERVAL`] and not again while the queue drains, so
//!   one queue is one back-off and not a ratchet;
//! - near what the path carried at the last back-off on a standing queue
//!   (`capacity`), the climb is 3 % a second, not 8; with documents
//!   waiting and no capacity found, it is a probe doubling each second;
//! - an increase never takes the estimate past 1.5 × what was acknowledged
//!   plus 10 kbit/s (libwebrtc's bound): a sender that does not fill the
//!   estimate does not learn anything of the path above what it sent;
//! - heavy loss without a queue stops the climb but does not back off (see
//!   the comment in `on_reports`);
//! - in between: hold.
//!
//! Loss is judged over the last [`LOSS_WINDOW`] of feedback, never fewer
//! than [`LOSS_SAMPLE`] packets, not batch by batch. The line's own loss
//! (a long copper pair, the town hall's Wi-Fi: 1–3 % at random) is not
//! congestion: a modem's drop-tail queue fills, and the queue delay says
//! so, before it drops. Our first rule (GCC's: climb only under 2 % loss),
//! judged per feedback batch, held the climb on most batches of a 3 %-loss line — one lost packet in
//! a batch of ten is 10 % — and the estimate never came back up after a
//! rate drop (docs/benchmarks.md, "Rural links").
//!
//! The target is what the pacer releases, so a sender that meets its target
//! exactly still probes: when the queue stays empty the target rises, the
//! encoder follows, and the queue says when to stop.
//!
//! Data-channel bytes (documents) share the uplink but carry no TWCC
//! number, so the peer never reports them: the call's channels count what
//! they send ([`DataUplink`]), the estimator reads the count at each
//! feedback, and the received rate a back-off starts from includes them.
//! Without that, a paced transfer taking half the link made every
//! back-off land at 85 % of the media alone, and the estimate sank.
//!
//! Each back-off is also published as it happens
//! ([`QueueDelayEstimator::publish_moves`]): the call hands documents
//! their smaller pace at once, not at its next stats a second later, while
//! the queue it backed off for is still growing. While documents wait,
//! each climb of [`PUBLISHED_CLIMB`] is published too: their pace follows
//! a probe within a fraction of a second, and what they then send is what
//! lets the estimate climb further (the bound on what was acknowledged).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{BandwidthEstimator, EstimatorStats, PacketReport};
use tokio::sync::watch;

mod capacity;
mod overshoot;
use capacity::Capacity;
use overshoot::Overshoot;

/// Below this much queueing, the path has room: climb.
pub const LOW_QUEUE: Duration = Duration::from_millis(25);
/// Above this much queueing, the path is full: back off.
pub const HIGH_QUEUE: Duration = Duration::from_millis(80);
/// Above this much queueing in the gentle band near the capacity found,
/// back off.
pub const NEAR_CAPACITY_QUEUE: Duration = Duration::from_millis(40);
/// Time between two back-offs: long enough for the first to drain the queue
/// it was reacting to.
pub const BACKOFF_INTERVAL: Duration = Duration::from_millis(500);
/// A queue under this share of the one the last back-off reacted to is
/// draining: no second back-off.
const DRAINING: f64 = 0.9;
/// Growth per second while the queue is empty.
const INCREASE_PER_SECOND: f64 = 1.08;
/// Back-off: this share of the received rate.
const DECREASE_FACTOR: f64 = 0.85;
/// An increase stops at this multiple of what was acknowledged…
const ACKED_HEADROOM: f64 = 1.5;
/// …plus this (bits per second), libwebrtc's bound.
const ACKED_SLACK_BPS: f64 = 10_000.0;
/// A packet queued at least this long (ms) found the link busy: a rate read
/// over packets all queued this long is the link's.
const STANDING_QUEUE_MS: f64 = 40.0;
/// The latest packets whose rate, when they all found the link busy, is
/// the link's now (ms of the peer's clock): two feedback intervals, six
/// packets at 300 kbit/s.
const BUSY_SPAN_MS: f64 = 200.0;
/// Base delay: minimum over this many one-second buckets.
const BASE_BUCKETS: usize = 10;
/// The received rate is measured over this much of the peer's clock.
const RATE_WINDOW_MS: f64 = 500.0;
/// Loss is the share of packets lost over this much feedback…
pub const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// …and never over fewer packets than this: at audio plus the video floor
/// (≈ 60 packets a second) one lost packet must not read as congestion.
pub const LOSS_SAMPLE: usize = 100;
/// Above this loss (GCC's threshold for congestion) the climb stops; with
/// a queue building, it backs off. Under it, the line's own loss.
pub const CONGESTION_LOSS: f64 = 0.10;

/// While documents wait, a climb to this multiple of the last target
/// published is published (`publish_moves`): their pace is set from it.
pub const PUBLISHED_CLIMB: f64 = 1.1;

/// SCTP, DTLS, UDP and IP bytes around a data-channel message's bytes
/// (about 85 bytes per 1,200-byte packet).
const DATA_OVERHEAD: f64 = 1.07;
/// The data channels' rate is read over this much of our clock, sliding:
/// a transfer's chunks are tens of kilobytes, a few a second on a thin
/// link, and half a second would hold none or two.
const DATA_WINDOW: Duration = Duration::from_secs(1);

/// The call's data channels as the estimator needs them: the bytes handed
/// to them so far (counted as they are sent, [`DataUplink::count_sent`]), and
/// whether documents are waiting to go up; shared between the call, its
/// channels' handles and the estimator.
#[derive(Debug, Clone, Default)]
pub struct DataUplink(Arc<DataUplinkShared>);

#[derive(Debug, Default)]
struct DataUplinkShared {
    sent: AtomicU64,
    waiting: AtomicBool,
}

impl DataUplink {
    /// Counts `bytes` of a message handed to a data channel.
    pub fn count_sent(&self, bytes: usize) {
        self.0.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes of messages handed to the data channels so far.
    pub fn bytes_sent(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    /// Documents are going up (a scan, a signed form) and take whatever
    /// room the estimate leaves them: on a path that never showed its
    /// limit, the estimate probes for it (`capacity`).
    pub fn set_waiting(&self, waiting: bool) {
        self.0.waiting.store(waiting, Ordering::Relaxed);
    }

    fn waiting(&self) -> bool {
        self.0.waiting.load(Ordering::Relaxed)
    }
}

/// The estimator. See the module docs.
#[derive(Debug)]
pub struct QueueDelayEstimator {
    data: DataUplink,
    min: f64,
    max: f64,
    target: f64,
    /// Departure instant the one-way delays are measured from.
    epoch: Option<Instant>,
    /// (bucket start, smallest one-way delay in it, ms).
    base: VecDeque<(Instant, f64)>,
    /// Smoothed queueing delay, ms.
    queue_ms: f64,
    /// Feedback on each packet, oldest first: when it came, and whether
    /// the packet arrived. Spans [`LOSS_WINDOW`] or [`LOSS_SAMPLE`] packets,
    /// whichever is more.
    outcomes: VecDeque<(Instant, bool)>,
    /// Packets lost among `outcomes`.
    lost_in_window: usize,
    /// The data channels' byte count as last read, oldest first, spanning
    /// [`DATA_WINDOW`].
    data_sent: VecDeque<(Instant, u64)>,
    /// Packets the peer received: arrival on its clock (ms), bytes, and
    /// the time the packet spent queued (ms).
    arrivals: VecDeque<Arrival>,
    last_update: Option<Instant>,
    /// When the last back-off was, and the queue it reacted to (0 once
    /// that queue has emptied).
    last_backoff: Option<(Instant, f64)>,
    /// What the path carried at the last back-off on a standing queue.
    capacity: Capacity,
    /// What our sender puts out over the estimate.
    overshoot: Overshoot,
    /// Where each back-off's new target goes, and each climb while
    /// documents wait, if anyone listens.
    moves: Option<watch::Sender<f64>>,
    /// The last target sent there.
    published: f64,
}

impl QueueDelayEstimator {
    /// Starts at `initial`, kept within `min..=max` (bits per second).
    pub fn new(initial: f64, min: f64, max: f64) -> Self {
        Self::with_data_uplink(initial, min, max, DataUplink::default())
    }

    /// Like [`QueueDelayEstimator::new`], counting the data channel's
    /// bytes as `data` says.
    pub fn with_data_uplink(initial: f64, min: f64, max: f64, data: DataUplink) -> Self {
        Self {
            data,
            min,
            max,
            target: initial.clamp(min, max),
            epoch: None,
            base: VecDeque::new(),
            queue_ms: 0.0,
            outcomes: VecDeque::new(),
            lost_in_window: 0,
            arrivals: VecDeque::new(),
            data_sent: VecDeque::new(),
            last_update: None,
            last_backoff: None,
            capacity: Capacity::default(),
            overshoot: Overshoot::default(),
            moves: None,
            published: 0.0,
        }
    }

    /// Sends the new target (bits per second) on `to` each time the
    /// estimate backs off, and while documents wait each time it climbed
    /// [`PUBLISHED_CLIMB`] × the last target sent; other climbs wait for
    /// the call's next stats.
    pub fn publish_moves(mut self, to: watch::Sender<f64>) -> Self {
        self.moves = Some(to);
        self
    }

    fn publish(&mut self) {
        if let Some(to) = &self.moves {
            to.send_replace(self.target);
            self.published = self.target;
        }
    }

    /// The smoothed time packets spend queued on the path.
    pub fn queue_delay(&self) -> Duration {
        Duration::from_secs_f64(self.queue_ms.max(0.0) / 1000.0)
    }

    fn one_way_delay_ms(&mut self, report: &PacketReport) -> Option<f64> {
        let arrival = report.arrival?.as_secs_f64() * 1000.0;
        let epoch = *self.epoch.get_or_insert(report.departure);
        let departure = match report.departure.checked_duration_since(epoch) {
            Some(d) => d.as_secs_f64() * 1000.0,
            None => -(epoch.duration_since(report.departure).as_secs_f64() * 1000.0),
        };
        Some(arrival - departure)
    }

    fn note_base(&mut self, now: Instant, delay_ms: f64) {
        match self.base.back_mut() {
            Some((start, low)) if now.duration_since(*start) < Duration::from_secs(1) => *low = low.min(delay_ms),
            _ => {
                self.base.push_back((now, delay_ms));
                if self.base.len() > BASE_BUCKETS {
                    self.base.pop_front();
                }
            }
        }
    }

    /// What the peer received over the last half second of its own clock:
    /// with a queue standing, the path's rate.
    fn received_bps(&self) -> Option<f64> {
        let first = self.arrivals.front()?.at_ms;
        let last = self.arrivals.back()?.at_ms;
        let span = (last - first) / 1000.0;
        // The first packet's bytes arrived before the span began.
        let bytes: usize = self.arrivals.iter().skip(1).map(|a| a.bytes).sum();
        (self.arrivals.len() >= 2 && span > 0.05).then(|| bytes as f64 * 8.0 / span)
    }

    /// What the peer acknowledged over the rate window, media and documents.
    fn acked_bps(&self) -> Option<f64> {
        self.received_bps().map(|r| r + self.data_bps())
    }

    /// What the peer received over its last [`BUSY_SPAN_MS`] if every
    /// packet in it found the link busy (queued at least
    /// [`STANDING_QUEUE_MS`]), media and documents: the link's rate now.
    /// Right after the link drops, the rate window still holds what the
    /// fast link delivered before; these packets came at the new rate.
    fn busy_acked_bps(&self) -> Option<f64> {
        let last = self.arrivals.back()?;
        let recent: Vec<&Arrival> = self.arrivals.iter().rev().take_while(|a| last.at_ms - a.at_ms <= BUSY_SPAN_MS).collect();
        let first = recent.last()?;
        let span = last.at_ms - first.at_ms;
        if recent.len() < 2 || span < 0.8 * BUSY_SPAN_MS || recent.iter().any(|a| a.queued_ms < STANDING_QUEUE_MS) {
            return None;
        }
        // The first packet's bytes arrived before the span began.
        let bytes: usize = recent.iter().map(|a| a.bytes).sum::<usize>() - first.bytes;
        Some(bytes as f64 * 8.0 / (span / 1000.0) + self.data_bps())
    }

    fn note_data_sent(&mut self, now: Instant) {
        self.data_sent.push_back((now, self.data.bytes_sent()));
        while self.data_sent.get(1).is_some_and(|(at, _)| now.saturating_duration_since(*at) >= DATA_WINDOW) {
            self.data_sent.pop_front();
        }
    }

    /// What the data channels sent over the last [`DATA_WINDOW`], with
    /// packet overhead. Counted as sent, not as acknowledged: the peer does
    /// not report on them. Read at each feedback, not at the call's stats
    /// a second apart: the documents' pace follows a probe within a
    /// fraction of a second, and the bound on an increase must see it.
    fn data_bps(&self) -> f64 {
        let (Some((first_at, first)), Some((last_at, last))) = (self.data_sent.front(), self.data_sent.back()) else { return 0.0 };
        let span = last_at.saturating_duration_since(*first_at).as_secs_f64();
        if span < 0.1 { 0.0 } else { (last - first) as f64 * 8.0 / span * DATA_OVERHEAD }
    }

    /// Whether every packet of the rate window, and the window is nearly
    /// whole, found the link busy: then the received rate is the link's.
    /// A burst's queue (a keyframe, retransmissions) stands only for its
    /// end, and the rate over the window reads the idle time before it.
    fn queue_stood(&self) -> bool {
        let (Some(first), Some(last)) = (self.arrivals.front(), self.arrivals.back()) else { return false };
        last.at_ms - first.at_ms >= 0.8 * RATE_WINDOW_MS && self.arrivals.iter().all(|a| a.queued_ms >= STANDING_QUEUE_MS)
    }

    fn note_arrival(&mut self, report: &PacketReport, queued_ms: f64) {
        let Some(arrival) = report.arrival else { return };
        let ms = arrival.as_secs_f64() * 1000.0;
        if self.arrivals.back().is_some_and(|a| ms < a.at_ms) {
            // Out of order (or the peer's clock restarted): keep it monotonic.
            if self.arrivals.back().is_some_and(|a| a.at_ms - ms > RATE_WINDOW_MS) {
                self.arrivals.clear();
            } else {
                return;
            }
        }
        self.arrivals.push_back(Arrival { at_ms: ms, bytes: report.size, queued_ms });
        while self.arrivals.front().is_some_and(|a| ms - a.at_ms > RATE_WINDOW_MS) {
            self.arrivals.pop_front();
        }
    }

    fn note_outcomes(&mut self, now: Instant, reports: &[PacketReport]) {
        for report in reports {
            self.outcomes.push_back((now, report.arrived));
            self.lost_in_window += usize::from(!report.arrived);
        }
        while self.outcomes.len() > LOSS_SAMPLE
            && self.outcomes.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > LOSS_WINDOW)
        {
            let (_, arrived) = self.outcomes.pop_front().expect("not empty");
            self.lost_in_window -= usize::from(!arrived);
        }
    }

    /// The share of packets lost over the loss window; 0 before any feedback.
    pub fn loss(&self) -> f64 {
        if self.outcomes.is_empty() { 0.0 } else { self.lost_in_window as f64 / self.outcomes.len() as f64 }
    }

    fn base_ms(&self) -> Option<f64> {
        self.base.iter().map(|(_, d)| *d).reduce(f64::min)
    }
}

impl QueueDelayEstimator {
    /// What the path carried at the last back-off on a standing queue.
    pub fn capacity_bps(&self) -> Option<f64> {
        self.capacity.get()
    }

    fn on_congestion(&mut self, now: Instant, queued: bool, loss: f64) {
        // Again only once the last back-off had time to act and the queue
        // is not draining: a 400 ms queue takes seconds to drain at 85 % of
        // the link, and backing off all that time would overshoot
        // downwards. While it drains, the reference follows it down, so a
        // queue that stops draining is backed off again. A lossy queue
        // waits too: the loss window still holds the drop tail of the queue
        // already backed off for (satellite sank 916 → 65 kbit/s on 300).
        let again = match self.last_backoff {
            None => true,
            Some((t, _)) if now.saturating_duration_since(t) < BACKOFF_INTERVAL => false,
            Some((_, queue)) if self.queue_ms <= queue * DRAINING => {
                self.last_backoff = Some((now, self.queue_ms));
                false
            }
            Some(_) => true,
        };
        if !again {
            return;
        }
        let acked = self.acked_bps();
        let stood = self.queue_stood();
        // The packets that found the link busy, when they came slower than
        // the window's: right after a drop the window still holds what the
        // fast link delivered, and one back-off from it landed at 1.5 ×
        // the new link, the next half a second later. Their rate is the
        // link's, a capacity reading as a standing queue's is. Slower only:
        // a keyframe's burst on a link with room comes at the link's rate,
        // and the window's lower rate is the one that says the link has room.
        let busy = self.busy_acked_bps().filter(|&b| acked.is_some_and(|a| b < a));
        let (carried, link_read) = match busy {
            Some(b) => (Some(b), true),
            None => (acked, stood),
        };
        let target = if queued {
            // From what the path carried while the link was busy (media the
            // peer reports on, plus documents, counted as sent), and only
            // ever down; the drop tail's loss is not cut a second time.
            self.capacity.on_backoff(now, carried.unwrap_or(self.target), link_read && carried.is_some());
            // In the estimate's units: a sender that puts out more than its
            // estimate would otherwise overfill the link at 0.85 × it.
            carried.map_or(self.target * DECREASE_FACTOR, |c| self.target.min(self.capacity.in_estimate_units(c) * DECREASE_FACTOR))
        } else {
            self.target * (1.0 - 0.5 * loss)
        };
        tracing::debug!(from = self.target, to = target, queue_ms = self.queue_ms, loss, ?acked, ?busy, stood, capacity = ?self.capacity.get(), overshoot = ?self.capacity.overshoot(), "uplink estimate backs off");
        self.target = target.clamp(self.min, self.max);
        self.last_backoff = Some((now, self.queue_ms));
        self.publish();
    }

    fn climb(&mut self, elapsed: Duration) {
        let acked = self.acked_bps();
        let growth = self.capacity.growth(self.target, acked, INCREASE_PER_SECOND, elapsed.as_secs_f64(), self.data.waiting());
        let mut next = self.target * growth.powf(elapsed.as_secs_f64());
        if let Some(edge) = self.capacity.fast_climb_ceiling(self.target) {
            next = next.min(edge);
        }
        if let Some(acked) = acked {
            // Bounds the increase, never lowers the estimate.
            next = next.min((acked * ACKED_HEADROOM + ACKED_SLACK_BPS).max(self.target));
        }
        self.target = next.clamp(self.min, self.max);
    }
}

/// A packet the peer received.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// On the peer's clock, ms.
    at_ms: f64,
    bytes: usize,
    /// Time it spent queued, ms.
    queued_ms: f64,
}

impl BandwidthEstimator for QueueDelayEstimator {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        if reports.is_empty() {
            return;
        }
        let mut delays = Vec::with_capacity(reports.len());
        if let Some(first) = reports.first() {
            self.overshoot.start(first.departure, self.target);
        }
        for report in reports {
            self.overshoot.note_departure(report.departure, report.size);
            if report.arrived
                && let Some(d) = self.one_way_delay_ms(report)
            {
                self.note_base(now, d);
                delays.push(d);
                let queued = self.base_ms().map_or(0.0, |base| d - base);
                self.note_arrival(report, queued);
            }
        }
        self.note_outcomes(now, reports);
        self.note_data_sent(now);
        let loss = self.loss();
        if let (Some(base), false) = (self.base_ms(), delays.is_empty()) {
            // The least delayed packet of the batch: a standing queue delays
            // every packet, a hiccup of the receiving host only some.
            let batch = delays.iter().copied().fold(f64::MAX, f64::min) - base;
            self.queue_ms = 0.6 * self.queue_ms + 0.4 * batch;
        }
        if let Some(overshoot) = self.overshoot.measure(self.data_bps()) {
            self.capacity.set_overshoot(overshoot);
        }
        let elapsed = self.last_update.map_or(Duration::ZERO, |t| now.saturating_duration_since(t)).min(Duration::from_secs(1));
        self.last_update = Some(now);

        // In the gentle band a smaller queue is enough: the climb is slow
        // there, and a queue built at 3 %/s takes seconds to reach 80 ms.
        let high = if self.capacity.near(self.target) { NEAR_CAPACITY_QUEUE } else { HIGH_QUEUE };
        let queued = self.queue_ms > high.as_secs_f64() * 1000.0;
        // Loss counts as congestion only with a queue building: tail drop
        // at a full modem queue comes with one. TWCC loss without a queue
        // was seen at 20–35 % for ten seconds after a rate drop while the
        // peer's receiver reports said 0 %: it stops the climb, no more.
        let heavy_loss = loss > CONGESTION_LOSS;
        let lossy = heavy_loss && self.queue_ms > LOW_QUEUE.as_secs_f64() * 1000.0;
        if queued || lossy {
            self.on_congestion(now, queued, loss);
        } else if self.queue_ms < LOW_QUEUE.as_secs_f64() * 1000.0 && !heavy_loss {
            // The queue a back-off reacted to has emptied: the next one is
            // a new queue, not that one draining.
            if let Some((_, queue)) = &mut self.last_backoff {
                *queue = 0.0;
            }
            self.climb(elapsed);
            if self.data.waiting() && self.target >= self.published * PUBLISHED_CLIMB {
                self.publish();
            }
        } else {
            tracing::trace!(target = self.target, queue_ms = self.queue_ms, loss, "uplink estimate holds");
        }
        self.overshoot.note_target(now, self.target);
    }

    fn target_bitrate(&self) -> f64 {
        self.target
    }

    fn stats(&self) -> EstimatorStats {
        let mut stats = EstimatorStats::default();
        stats.delay_based_bitrate = Some(self.target);
        stats.packet_loss = (!self.outcomes.is_empty()).then(|| self.loss());
        stats
    }
}

#[cfg(test)]
mod tests;
