use super::*;
use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

mod path;
use path::{Path, Second};

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
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0).publish_moves(tx);
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

#[test]
fn while_documents_wait_each_tenth_of_a_climb_is_published() {
    let (tx, mut rx) = watch::channel(0.0);
    let data = DataUplink::default();
    let mut e = QueueDelayEstimator::with_data_uplink(800_000.0, 60_000.0, 11_000_000.0, data.clone()).publish_moves(tx);
    let mut path = Path::new();
    data.set_waiting(true);
    let mut published = Vec::new();
    for _ in 0..40 {
        path.run(&mut e, 0.1, 30_000_000.0);
        if rx.has_changed().unwrap() {
            published.push(*rx.borrow_and_update());
        }
    }
    assert!(published.len() >= 5, "a probe's climb, published as it goes: {published:?}");
    assert!(published.windows(2).all(|w| w[1] >= w[0] * PUBLISHED_CLIMB), "only climbs of a tenth: {published:?}");
    assert!(published.last().is_some_and(|&p| p * PUBLISHED_CLIMB > e.target_bitrate()), "the last within a tenth of the estimate");
    // The scan is over: climbs wait for the call's stats again.
    data.set_waiting(false);
    path.run(&mut e, 2.0, 30_000_000.0);
    assert!(!rx.has_changed().unwrap(), "no documents, no climb published");
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
    let (tx, mut rx) = watch::channel(0.0);
    let mut e = QueueDelayEstimator::new(1_000_000.0, 60_000.0, 1_540_000.0).publish_moves(tx);
    let t0 = Instant::now();
    for i in 0..20 {
        e.on_reports(t0 + Duration::from_millis(i * 100 + 40), &batch(t0, i * 100, 0));
    }
    // A queue of 300 ms that drains to 150 ms and stays there.
    let mut backoffs = Vec::new();
    for i in 20..80 {
        let queue = if i < 30 { 300 } else if i < 40 { 300 - (i - 30) * 15 } else { 150 };
        e.on_reports(t0 + Duration::from_millis(i * 100 + 40), &batch(t0, i * 100, queue));
        if rx.has_changed().unwrap() {
            rx.mark_unchanged();
            backoffs.push(i);
        }
    }
    assert!(e.target_bitrate() < 1_000_000.0);
    assert_eq!(backoffs.first(), Some(&20), "at the first queue over the threshold: {backoffs:?}");
    assert!(!backoffs.iter().any(|i| (31..40).contains(i)), "no back-off while the queue drains: {backoffs:?}");
    assert!(backoffs.iter().any(|&i| i >= 40), "a standing queue is backed off again: {backoffs:?}");
}

#[test]
fn a_back_off_counts_the_data_channel_too() {
    let data = DataUplink::default();
    let mut e = QueueDelayEstimator::with_data_uplink(800_000.0, 60_000.0, 1_540_000.0, data.clone());
    let mut path = Path::new();
    path.run(&mut e, 10.0, 1_000_000.0);
    // Documents now take 400 of a 600 kbit/s link: media (all the
    // peer reports on) gets 200. The back-off starts from both: 85 % of
    // 200 + 428, not of 200.
    path.app_limit_bps = 200_000.0;
    for _ in 0..10 {
        data.count_sent(5_000); // 400 kbit/s
        path.run(&mut e, 0.1, 200_000.0);
    }
    let with_data = e.target_bitrate();
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

/// The bench's uplinks (crates/linkem's profiles): name, propagation each
/// way (ms), the line's loss, the modem's queue (ms).
const PROFILES: [(&str, f64, f64, f64); 4] =
    [("adsl", 20.0, 0.0, 500.0), ("adsl-poor", 30.0, 0.01, 800.0), ("satellite", 300.0, 0.005, 500.0), ("lossy", 20.0, 0.03, 500.0)];

/// The bench's follow phase on a profile: 20 s at 1 Mbit/s, 30 s at 300
/// kbit/s, 45 s at 1 Mbit/s; the seconds of each phase. The sender puts
/// out `overshoot` × its target.
fn follow(one_way_ms: f64, loss: f64, queue_ms: f64, overshoot: f64) -> (Vec<Second>, Vec<Second>, Vec<Second>) {
    let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0);
    let mut path = Path::profile(one_way_ms, loss, queue_ms);
    path.overshoot = overshoot;
    let warm = path.seconds(&mut e, 20, 1_000_000.0);
    let low = path.seconds(&mut e, 30, 300_000.0);
    let back = path.seconds(&mut e, 45, 1_000_000.0);
    (warm, low, back)
}

fn kbps(seconds: &[Second], f: impl Fn(&Second) -> f64) -> Vec<u32> {
    seconds.iter().map(|s| (f(s) / 1000.0).round() as u32).collect()
}

#[test]
fn a_sender_with_less_to_send_does_not_raise_the_estimate_past_what_it_carried() {
    // An encoder at its ceiling, 300 kbit/s, on a 2 Mbit/s path.
    let mut e = QueueDelayEstimator::new(300_000.0, 60_000.0, 10_000_000.0);
    let mut path = Path::profile(20.0, 0.0, 500.0);
    path.app_limit_bps = 300_000.0;
    let seconds = path.seconds(&mut e, 30, 2_000_000.0);
    let top = seconds.iter().map(|s| s.target).fold(0.0, f64::max);
    assert!(top <= 1.5 * 300_000.0 + 10_000.0 + 1.0, "at most 1.5 × what it carried + 10 kbit/s: {:?}", kbps(&seconds, |s| s.target));
    assert!(top > 400_000.0, "still over what it sends: {top}");
}

#[test]
fn a_sender_that_fills_the_estimate_still_climbs_eight_percent_a_second() {
    let mut e = QueueDelayEstimator::new(300_000.0, 60_000.0, 10_000_000.0);
    let mut path = Path::profile(20.0, 0.0, 500.0);
    let seconds = path.seconds(&mut e, 10, 5_000_000.0);
    let expected = 300_000.0 * 1.08f64.powi(10);
    let reached = seconds.last().unwrap().target;
    assert!(reached > 0.9 * expected, "8 %/s: {expected} expected, {:?}", kbps(&seconds, |s| s.target));
}

#[test]
fn after_a_drop_back_offs_on_one_queue_do_not_compound() {
    for (name, one_way, loss, queue) in PROFILES {
        let (_, low, _) = follow(one_way, loss, queue, 1.0);
        let floor = low[..5].iter().map(|s| s.target).fold(f64::MAX, f64::min);
        // 0.85 × what the thin link carried, once more at most for the
        // sender's second of lag: not 0.85 × 0.85 × … down to the floor.
        assert!(floor > 170_000.0, "{name}: sank to {floor}: {:?}", kbps(&low, |s| s.target));
    }
}

#[test]
fn near_the_capacity_found_it_climbs_gently_and_past_it_fast_again() {
    // A sender that puts out 10 % more than its target, as the bench's
    // calls do, fills the link at 0.9 × it: the gentle band must start
    // from the estimate that filled the link, not from what was carried.
    for ((name, one_way, loss, queue), overshoot) in PROFILES.into_iter().flat_map(|p| [(p, 1.0), (p, 1.1), (p, 1.2)]) {
        let name = format!("{name} × {overshoot}");
        let (warm, low, back) = follow(one_way, loss, queue, overshoot);
        let before = warm[10..].iter().map(|s| s.sent).sum::<f64>() / 10.0;
        // The bench's figures: the last second over 1.1 × the thin link,
        // and the first second back at 80 % of the rate before the drop.
        let down = low.iter().rposition(|s| s.sent > 330_000.0).map_or(0, |i| i + 1);
        let up = back.iter().position(|s| s.sent >= 0.8 * before).map(|i| i + 1);
        eprintln!("{name}: down {down} s, back {up:?} s; low {:?}; back {:?}", kbps(&low, |s| s.sent), kbps(&back, |s| s.sent));
        eprintln!("{name}: queue {:?}", low.iter().map(|s| s.queued_ms.round() as u32).collect::<Vec<_>>());
        assert!(down <= 3, "{name}: over 330 kbit/s {down} s after the drop: {:?}", kbps(&low, |s| s.sent));
        // A sender over its estimate must not keep the modem's queue full
        // (with back-offs to 0.85 × what was carried, 1.2 × did, for good).
        let queue = low[10..].iter().map(|s| s.queued_ms).fold(0.0, f64::max);
        assert!(queue < 150.0, "{name}: a queue of {queue} ms stands: {:?}", low.iter().map(|s| s.queued_ms.round() as u32).collect::<Vec<_>>());
        assert!(up.is_some_and(|s| s <= 16), "{name}: back to 80 % in {up:?} s: {:?}", kbps(&back, |s| s.sent));
    }
}

#[test]
fn a_bursts_queue_is_not_taken_for_the_capacity() {
    // 150 kbit/s on a 300 kbit/s link, then 300 ms of a keyframe at twice
    // the link: a queue, a back-off, but the link was idle before it.
    let (tx, rx) = watch::channel(0.0);
    let mut e = QueueDelayEstimator::new(150_000.0, 60_000.0, 1_540_000.0).publish_moves(tx);
    let mut path = Path::profile(20.0, 0.0, 500.0);
    path.app_limit_bps = 150_000.0;
    path.seconds(&mut e, 10, 300_000.0);
    assert!(!rx.has_changed().unwrap(), "no queue under the link");
    // The pacer lets the keyframe out at once, whatever the encoder's target.
    let limit = std::mem::replace(&mut path.app_limit_bps, 600_000.0);
    path.encoder_each_second = false;
    e.target = 600_000.0;
    path.run(&mut e, 0.3, 300_000.0);
    (path.app_limit_bps, path.encoder_each_second) = (limit, true);
    path.seconds(&mut e, 3, 300_000.0);
    assert!(rx.has_changed().unwrap(), "backed off for the burst's queue");
    assert_eq!(e.capacity_bps(), None, "no capacity from a burst's queue");
}

/// Video at its ceiling (1 Mbit/s) for 10 s, then `secs` seconds of a scan
/// that takes all the room the estimate leaves, on a path of `rate_bps`
/// with a 500 ms modem queue; whether the call says documents wait.
fn scan_after_video(rate_bps: f64, secs: usize, waiting: bool) -> (QueueDelayEstimator, Vec<Second>) {
    let data = DataUplink::default();
    let mut e = QueueDelayEstimator::with_data_uplink(800_000.0, 60_000.0, 11_000_000.0, data.clone());
    let mut path = Path::profile(20.0, 0.0, 500.0);
    path.app_limit_bps = 1_000_000.0;
    path.seconds(&mut e, 10, rate_bps);
    // Here every byte is reported on; in a call the documents' bytes are
    // counted by `DataUplink` instead, with the same effect on the bound.
    path.app_limit_bps = f64::INFINITY;
    data.set_waiting(waiting);
    let seconds = path.seconds(&mut e, secs, rate_bps);
    (e, seconds)
}

#[test]
fn documents_waiting_on_a_path_of_unknown_capacity_probe_for_it() {
    let (_, slow) = scan_after_video(30_000_000.0, 8, false);
    let (_, probed) = scan_after_video(30_000_000.0, 8, true);
    let bits = |s: &[Second]| s.iter().map(|s| s.sent).sum::<f64>();
    eprintln!("8 %/s: {:?}\nprobed: {:?}", kbps(&slow, |s| s.target), kbps(&probed, |s| s.target));
    assert!(slow.last().unwrap().target < 3_500_000.0, "without documents waiting, 8 %/s: {:?}", kbps(&slow, |s| s.target));
    assert!(probed.last().unwrap().target > 10_000_000.0, "documents waiting probe: {:?}", kbps(&probed, |s| s.target));
    assert!(bits(&probed) > 2.5 * bits(&slow), "moved {} against {} Mbit", bits(&probed) / 1e6, bits(&slow) / 1e6);
    assert!(probed.iter().all(|s| s.queued_ms < 20.0), "no queue on a path faster than the probe");
}

#[test]
fn a_probe_for_documents_stops_at_a_thin_link_and_keeps_its_queue_short() {
    // 1.5 Mbit/s with adsl's 500 ms modem queue: video alone never filled it.
    let (e, seconds) = scan_after_video(1_500_000.0, 30, true);
    eprintln!("sent {:?}\nqueue {:?}", kbps(&seconds, |s| s.sent), seconds.iter().map(|s| s.queued_ms.round() as u32).collect::<Vec<_>>());
    assert!(e.capacity_bps().is_some(), "the probe found the link");
    let worst = seconds.iter().map(|s| s.queued_ms).fold(0.0, f64::max);
    assert!(worst < 400.0, "the modem's queue never filled: {worst} ms");
    let settled = seconds[10..].iter().map(|s| s.sent).sum::<f64>() / 20.0;
    assert!((1_200_000.0..1_600_000.0).contains(&settled), "the scan uses the link: {settled}");
    let standing = seconds[10..].iter().map(|s| s.queued_ms).fold(0.0, f64::max);
    assert!(standing < 150.0, "no queue stands once found: {standing} ms");
}

#[test]
fn the_first_back_off_after_a_drop_lands_under_the_new_link() {
    // The bench's drop on adsl-poor's uplink: 1 Mbit/s to 300 kbit/s with
    // an 800 ms modem queue. The rate window still holds the last
    // packets the fast link delivered; the packets that found the link
    // busy came at the new rate.
    for (one_way, queue) in [(30.0, 800.0), (20.0, 500.0), (300.0, 500.0)] {
        let (tx, mut rx) = watch::channel(0.0);
        let mut e = QueueDelayEstimator::new(800_000.0, 60_000.0, 1_540_000.0).publish_moves(tx);
        let mut path = Path::profile(one_way, 0.0, queue);
        path.seconds(&mut e, 20, 1_000_000.0);
        rx.mark_unchanged();
        let mut first = None;
        for _ in 0..40 {
            path.run(&mut e, 0.05, 300_000.0);
            if rx.has_changed().unwrap() {
                first = Some(*rx.borrow_and_update());
                break;
            }
        }
        let first = first.expect("a back-off within two seconds of the drop");
        assert!(first < 300_000.0, "{one_way} ms each way: the first back-off went to {first}, over the 300 kbit/s link");
        assert!(first > 200_000.0, "{one_way} ms each way: not far under it either: {first}");
    }
}
