use super::*;
use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

/// A path of `rate` bits per second with a FIFO queue, fed by a sender
/// that sends exactly the estimator's target (as x264 and the pacer do),
/// 1,200-byte packets, feedback every 100 ms. Returns the target after
/// each second.
struct Path {
    t0: Instant,
    /// When the link is free again, ms after t0.
    free_at_ms: f64,
    next_id: u64,
    sent_ms: f64,
    /// The line's own loss, at random, after the queue.
    loss: f64,
    /// State of the loss draw.
    seed: u64,
}

impl Path {
    fn new() -> Self {
        Path { t0: Instant::now(), free_at_ms: 0.0, next_id: 0, sent_ms: 0.0, loss: 0.0, seed: 1 }
    }

    fn with_loss(loss: f64) -> Self {
        Path { loss, ..Path::new() }
    }

    /// A uniform draw in 0..1 (xorshift: same seed, same run).
    fn draw(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Runs `secs` seconds at `rate_bps`; returns the target at the end
    /// and the largest queue seen (ms).
    fn run(&mut self, e: &mut QueueDelayEstimator, secs: f64, rate_bps: f64) -> (f64, f64) {
        let end = self.sent_ms + secs * 1000.0;
        let mut worst: f64 = 0.0;
        while self.sent_ms < end {
            let batch_end = self.sent_ms + 100.0;
            let mut reports = Vec::new();
            while self.sent_ms < batch_end {
                let size = 1200usize;
                let depart = self.sent_ms;
                let start = self.free_at_ms.max(depart);
                self.free_at_ms = start + size as f64 * 8.0 / rate_bps * 1000.0;
                worst = worst.max(self.free_at_ms - depart);
                // 20 ms propagation, and a receiver clock 5 s ahead.
                let arrival = self.free_at_ms + 20.0 + 5000.0;
                let arrived = self.draw() >= self.loss;
                reports.push(PacketReport {
                    ssrc: 1,
                    id: self.next_id,
                    rtp_sequence_number: self.next_id as u16,
                    is_twcc: true,
                    twcc_sequence_number: self.next_id as u16,
                    size,
                    arrived,
                    departure: self.t0 + Duration::from_secs_f64(depart / 1000.0),
                    arrival: arrived.then(|| Duration::from_secs_f64(arrival / 1000.0)),
                    ecn: Ecn::default(),
                });
                self.next_id += 1;
                self.sent_ms += size as f64 * 8.0 / e.target_bitrate() * 1000.0;
            }
            // Feedback comes back a round trip after the batch.
            let now = self.t0 + Duration::from_secs_f64((self.sent_ms + 40.0) / 1000.0);
            e.on_reports(now, &reports);
        }
        (e.target_bitrate(), worst)
    }
}

#[test]
fn an_exact_sender_on_an_empty_path_climbs() {
    let mut e = QueueDelayEstimator::new(300_000.0, 60_000.0, 1_540_000.0);
    let (target, queue) = Path::new().run(&mut e, 10.0, 2_000_000.0);
    assert!(target > 500_000.0, "climbed to {target}");
    assert!(queue < 20.0, "no queue on a path faster than the sender: {queue} ms");
}

#[test]
fn it_backs_off_under_the_link_and_does_not_sink_to_the_floor() {
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0);
    let mut path = Path::new();
    path.run(&mut e, 20.0, 1_000_000.0);
    // Now 300 kbit/s for thirty seconds.
    path.run(&mut e, 5.0, 300_000.0);
    let mut lows = Vec::new();
    for _ in 0..25 {
        lows.push(path.run(&mut e, 1.0, 300_000.0).0);
    }
    let low = lows.iter().copied().fold(f64::MAX, f64::min);
    let high = lows.iter().copied().fold(0.0, f64::max);
    assert!(high < 330_000.0, "never far over the link: {lows:?}");
    assert!(low > 150_000.0, "never far under it either: {lows:?}");
    // The link comes back: the estimate climbs above the old rate.
    let (back, _) = path.run(&mut e, 30.0, 1_000_000.0);
    assert!(back > 600_000.0, "climbed back to {back}");
}

#[test]
fn back_offs_are_published_as_they_happen_and_climbs_are_not() {
    let (tx, mut rx) = watch::channel(0.0);
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0).publish_backoffs(tx);
    let mut path = Path::new();
    path.run(&mut e, 10.0, 2_000_000.0);
    assert!(!rx.has_changed().unwrap(), "an empty path only climbs: nothing published");
    // The link drops under the sender: the first back-off is published
    // within the feedback that saw the queue, with the new target.
    let (mut published, mut tenths) = (None, 0);
    while published.is_none() && tenths < 10 {
        path.run(&mut e, 0.1, 300_000.0);
        tenths += 1;
        if rx.has_changed().unwrap() {
            published = Some(*rx.borrow_and_update());
        }
    }
    let published = published.expect("a back-off within a second of a queue");
    assert!(published < 800_000.0, "published the lower target: {published}");
    assert_eq!(published, e.target_bitrate(), "the target at the back-off, not an older one");
}

/// Reports for 100 ms of 1,200-byte packets every 10 ms (960 kbit/s),
/// each queued `queue_ms`.
fn batch(t0: Instant, at_ms: u64, queue_ms: u64) -> Vec<PacketReport> {
    (0..10)
        .map(|k| {
            let sent = at_ms + k * 10;
            PacketReport {
                ssrc: 1,
                id: sent,
                rtp_sequence_number: 0,
                is_twcc: true,
                twcc_sequence_number: 0,
                size: 1200,
                arrived: true,
                departure: t0 + Duration::from_millis(sent),
                arrival: Some(Duration::from_millis(sent + 20 + queue_ms)),
                ecn: Ecn::default(),
            }
        })
        .collect()
}

#[test]
fn a_queue_that_stops_draining_is_backed_off_again() {
    let mut e = QueueDelayEstimator::new(1_000_000.0, 60_000.0, 1_540_000.0);
    let t0 = Instant::now();
    for i in 0..20 {
        e.on_reports(t0 + Duration::from_millis(i * 100 + 40), &batch(t0, i * 100, 0));
    }
    // A queue of 300 ms that drains to 150 ms and stays there.
    let mut targets = Vec::new();
    for i in 20..80 {
        let queue = if i < 30 { 300 } else if i < 40 { 300 - (i - 30) * 15 } else { 150 };
        e.on_reports(t0 + Duration::from_millis(i * 100 + 40), &batch(t0, i * 100, queue));
        targets.push(e.target_bitrate());
    }
    let after_first = targets[5];
    let while_draining = targets[19];
    assert!(after_first < 1_000_000.0);
    assert_eq!(while_draining, targets[12], "no back-off while the queue drains: {targets:?}");
    assert!(*targets.last().unwrap() < while_draining, "a standing queue is backed off again: {targets:?}");
}

#[test]
fn a_back_off_counts_the_data_channel_too() {
    let data = DataRate::default();
    let mut e = QueueDelayEstimator::with_data_rate(800_000.0, 60_000.0, 1_540_000.0, data.clone());
    let mut path = Path::new();
    path.run(&mut e, 10.0, 1_000_000.0);
    // Documents now take 400 of a 600 kbit/s link: media (all the
    // peer reports on) gets 200. The back-off starts from both: 85 % of
    // 200 + 428, not of 200.
    data.set(400_000);
    let (with_data, _) = path.run(&mut e, 1.0, 200_000.0);
    assert!(with_data > 450_000.0, "backed off from media plus data, not media alone: {with_data}");
}

#[test]
fn loss_without_a_queue_holds_the_rate() {
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0);
    let t0 = Instant::now();
    for i in 0..20u64 {
        let reports: Vec<PacketReport> = (0..10)
            .map(|k| PacketReport {
                ssrc: 1,
                id: i * 10 + k,
                rtp_sequence_number: 0,
                is_twcc: true,
                twcc_sequence_number: 0,
                size: 1200,
                arrived: k % 3 != 0,
                departure: t0 + Duration::from_millis(i * 100 + k * 10),
                arrival: (k % 3 != 0).then(|| Duration::from_millis(i * 100 + k * 10 + 20)),
                ecn: Ecn::default(),
            })
            .collect();
        e.on_reports(t0 + Duration::from_millis(i * 100 + 140), &reports);
    }
    assert_eq!(e.target_bitrate(), 800_000.0);
}

#[test]
fn the_lines_own_loss_does_not_stop_the_climb() {
    // The lossy profile: 3 % at random, no queue on a fast path.
    let mut e = QueueDelayEstimator::new(300_000.0, 60_000.0, 1_540_000.0);
    let (target, _) = Path::with_loss(0.03).run(&mut e, 15.0, 4_000_000.0);
    assert!(target > 800_000.0, "climbed under 3 % line loss: {target}");
    assert!((0.01..0.06).contains(&e.loss()), "loss read over the window: {}", e.loss());
}

#[test]
fn one_lost_packet_among_few_is_not_congestion() {
    // adsl-poor during a scan: audio and the video floor, a few packets
    // per feedback batch, 1 % loss.
    let mut e = QueueDelayEstimator::new(120_000.0, 60_000.0, 1_540_000.0);
    let (target, _) = Path::with_loss(0.01).run(&mut e, 15.0, 2_000_000.0);
    assert!(target > 250_000.0, "climbed from few packets under 1 % loss: {target}");
}

#[test]
fn under_line_loss_the_queue_still_stops_it_at_the_link() {
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0);
    let mut path = Path::with_loss(0.03);
    path.run(&mut e, 20.0, 1_000_000.0);
    let mut targets = Vec::new();
    let mut worst_queue: f64 = 0.0;
    for _ in 0..20 {
        let (target, queue) = path.run(&mut e, 1.0, 1_000_000.0);
        targets.push(target);
        worst_queue = worst_queue.max(queue);
    }
    assert!(targets.iter().all(|t| *t < 1_100_000.0), "never far over the link: {targets:?}");
    assert!(targets.iter().all(|t| *t > 500_000.0), "never far under it either: {targets:?}");
    assert!(worst_queue < 400.0, "the queue stays short: {worst_queue} ms");
}

#[test]
fn after_a_drop_on_a_lossy_line_it_climbs_back() {
    // The benchmark's drop on the lossy profile: 1 Mbit/s, 300 kbit/s
    // for 30 s, 1 Mbit/s again, 3 % loss throughout.
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0);
    let mut path = Path::with_loss(0.03);
    path.run(&mut e, 20.0, 1_000_000.0);
    let (low, _) = path.run(&mut e, 30.0, 300_000.0);
    assert!(low < 330_000.0, "came down to the thin link: {low}");
    let (back, _) = path.run(&mut e, 20.0, 1_000_000.0);
    assert!(back > 700_000.0, "back up within 20 s: {back}");
}
