//! The pacer driven with packets and instants: priorities, rates, the
//! age bound and the repair counts.

use super::*;
use rtc::interceptor::AttributedPacket;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;
use rtc::shared::{TransportContext, TransportMessage};
use std::time::Duration;

const AUDIO: u32 = 1;
const VIDEO: u32 = 2;

fn rtp(now: Instant, ssrc: u32, seq: u16, retransmission: bool) -> TaggedPacket {
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header { version: 2, ssrc, sequence_number: seq, ..Default::default() },
        payload: vec![0u8; 1188].into(),
    };
    let mut message = AttributedPacket::new(Packet::Rtp(packet));
    if retransmission {
        message.add(Attribute::Retransmission);
    }
    TransportMessage { now, transport: TransportContext::default(), message }
}

fn pacer(bps: f64) -> PriorityPacer {
    let mut p = PriorityPacer::new(bps / PACING_FACTOR, Arc::default(), ReportedRate::default());
    p.bind_local_stream(&StreamInfo { ssrc: AUDIO, mime_type: "audio/opus".into(), ..Default::default() });
    p.bind_local_stream(&StreamInfo { ssrc: VIDEO, mime_type: "video/VP8".into(), ..Default::default() });
    p
}

/// Releases what is due at `now`: (ssrc, seq) in departure order.
fn release(p: &mut PriorityPacer, now: Instant) -> Vec<(u32, u16)> {
    p.handle_timeout(now).unwrap();
    std::iter::from_fn(|| p.poll_write())
        .filter_map(|m| match m.message.packet {
            Packet::Rtp(r) => Some((r.header.ssrc, r.header.sequence_number)),
            _ => None,
        })
        .collect()
}

#[test]
fn audio_and_retransmissions_overtake_queued_video() {
    let t0 = Instant::now();
    // 96 kbit/s: one 1,200-byte packet every 100 ms, a burst of one.
    let mut p = pacer(96_000.0);
    for seq in 0..5 {
        p.handle_write(rtp(t0, VIDEO, seq, false)).unwrap();
    }
    assert_eq!(release(&mut p, t0), vec![(VIDEO, 0)]);
    p.handle_write(rtp(t0, VIDEO, 0, true)).unwrap();
    p.handle_write(rtp(t0, AUDIO, 7, false)).unwrap();
    assert_eq!(std::iter::from_fn(|| p.poll_write()).count(), 1, "audio leaves at once");
    // Audio spent the budget of the next slot; then the retransmission
    // goes before the four queued video packets.
    let mut order = Vec::new();
    for ms in (100..=800).step_by(100) {
        order.extend(release(&mut p, t0 + Duration::from_millis(ms)));
    }
    assert_eq!(order, vec![(VIDEO, 0), (VIDEO, 1), (VIDEO, 2), (VIDEO, 3), (VIDEO, 4)]);
    assert_eq!(p.counts.retransmissions_sent.load(Ordering::Relaxed), 1);
}

#[test]
fn video_is_paced_above_the_estimate() {
    let t0 = Instant::now();
    let mut p = PriorityPacer::new(96_000.0, Arc::default(), ReportedRate::default());
    for seq in 0..30 {
        p.handle_write(rtp(t0, VIDEO, seq, false)).unwrap();
    }
    let mut sent = release(&mut p, t0).len();
    for ms in (10..=1000).step_by(10) {
        sent += release(&mut p, t0 + Duration::from_millis(ms)).len();
    }
    // One second at 1.5 × 96 kbit/s: 15 packets (and the first burst).
    assert!((15..=17).contains(&sent), "{sent} packets left in a second");
}

fn estimate(now: Instant, bps: f64) -> TaggedPacket {
    let mut message = AttributedPacket::new(Packet::Rtcp(vec![]));
    message.add(Attribute::TargetBitrateChanged { bits_per_second: bps });
    TransportMessage { now, transport: TransportContext::default(), message }
}

#[test]
fn after_the_estimate_goes_down_video_is_paced_at_it_until_the_encoder_follows() {
    let t0 = Instant::now();
    let mut p = PriorityPacer::new(1_000_000.0, Arc::default(), ReportedRate::default());
    assert_eq!(p.bucket.target_bitrate(), 1_000_000.0 * PACING_FACTOR);
    p.handle_read(estimate(t0, 500_000.0)).unwrap();
    assert_eq!(p.bucket.target_bitrate(), 500_000.0, "strict while the encoder catches up");
    p.handle_read(estimate(t0 + Duration::from_millis(500), 600_000.0)).unwrap();
    assert_eq!(p.bucket.target_bitrate(), 600_000.0, "a rise within the spell stays strict");
    p.handle_timeout(t0 + AFTER_DECREASE).unwrap();
    assert_eq!(p.bucket.target_bitrate(), 600_000.0 * PACING_FACTOR);
    p.handle_read(estimate(t0 + AFTER_DECREASE * 2, 700_000.0)).unwrap();
    assert_eq!(p.bucket.target_bitrate(), 700_000.0 * PACING_FACTOR);
}

/// A VP8 packet of frame `ts`: `first` for a frame's first packet,
/// `key` for a keyframe's.
fn vp8(now: Instant, seq: u16, ts: u32, first: bool, key: bool) -> TaggedPacket {
    let mut payload = vec![0u8; 1188];
    if first {
        payload[0] = 0x10; // S = 1, partition 0
        payload[1] = if key { 0x00 } else { 0x01 };
    }
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header { version: 2, ssrc: VIDEO, sequence_number: seq, timestamp: ts, ..Default::default() },
        payload: payload.into(),
    };
    TransportMessage { now, transport: TransportContext::default(), message: AttributedPacket::new(Packet::Rtp(packet)) }
}

/// Writes a frame of `packets` packets at `now`, numbered from `seq`.
fn frame(p: &mut PriorityPacer, now: Instant, seq: u16, ts: u32, packets: u16, key: bool) {
    for i in 0..packets {
        p.handle_write(vp8(now, seq + i, ts, i == 0, key)).unwrap();
    }
}

/// Releases every 10 ms from `from_ms` to `to_ms` after `t0`.
fn run(p: &mut PriorityPacer, t0: Instant, from_ms: u64, to_ms: u64) -> Vec<(u32, u16)> {
    (from_ms..=to_ms).step_by(10).flat_map(|ms| release(p, t0 + Duration::from_millis(ms))).collect()
}

#[test]
fn video_older_than_the_bound_is_dropped_whole_with_what_needs_it_and_a_keyframe_is_asked_for() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    // 96 kbit/s: one packet every 100 ms.
    let mut p = pacer(96_000.0);
    frame(&mut p, t0, 0, 1000, 3, true); // 0..=2, keyframe
    frame(&mut p, t0, 3, 2000, 3, false); // 3..=5
    let mut sent = run(&mut p, t0, 0, 290);
    frame(&mut p, ms(300), 6, 3000, 2, false); // 6, 7
    sent.extend(run(&mut p, t0, 300, 800));
    // 2000 began to leave 300 ms old and was finished 500 ms old; 3000 left 300 ms old.
    assert_eq!(sent, [0, 1, 2, 3, 4, 5, 6, 7].map(|s| (VIDEO, s)));
    assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 0);

    // A longer keyframe: the frames behind it wait over 400 ms.
    let mut p = pacer(96_000.0);
    frame(&mut p, t0, 0, 1000, 5, true); // 0..=4: 500 ms to send
    let mut sent = run(&mut p, t0, 0, 40);
    frame(&mut p, ms(50), 5, 2000, 2, false); // waits behind it
    sent.extend(run(&mut p, t0, 50, 80));
    frame(&mut p, ms(90), 7, 3000, 2, false); // needs 2000
    sent.extend(run(&mut p, t0, 90, 690));
    // 2000 is 410 ms old at 460 ms; 3000, not stale, cannot decode without it.
    assert_eq!(sent, [0, 1, 2, 3, 4].map(|s| (VIDEO, s)), "2000 (and 3000 after it) never left");
    assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 2);
    assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 1, "asked once");
    // Until the keyframe comes, new video is dropped at the door.
    frame(&mut p, ms(700), 9, 4000, 2, false);
    assert!(run(&mut p, t0, 700, 890).is_empty());
    frame(&mut p, ms(900), 11, 5000, 2, true);
    sent = run(&mut p, t0, 900, 930);
    frame(&mut p, ms(933), 13, 6000, 1, false);
    sent.extend(run(&mut p, t0, 940, 1290));
    assert_eq!(sent, [11, 12, 13].map(|s| (VIDEO, s)));
    assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 3);
    // The peer NACKs the gap: dropped packets are not resent, sent ones are.
    for seq in [6, 9, 4] {
        p.handle_write(rtp(ms(1300), VIDEO, seq, true)).unwrap();
    }
    assert_eq!(run(&mut p, t0, 1300, 1500), [(VIDEO, 4)]);
    assert_eq!(p.counts.retransmissions_refused.load(Ordering::Relaxed), 2);
}

#[test]
fn while_the_keyframe_does_not_come_it_is_asked_for_again_then_video_flows_anyway() {
    let t0 = Instant::now();
    let mut p = pacer(96_000.0);
    frame(&mut p, t0, 0, 1000, 5, true);
    frame(&mut p, t0, 5, 2000, 1, false);
    run(&mut p, t0, 0, 500);
    assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 1);
    for (seq, ms) in (6..).zip((500..3500).step_by(100)) {
        frame(&mut p, t0 + Duration::from_millis(ms), seq, 10 * ms as u32, 1, false);
    }
    // Asked at 410 ms, then every 500 ms while it waits (1000, 1500, … 3000 ms).
    assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 6);
    // Three seconds after the drop, video flows again.
    frame(&mut p, t0 + Duration::from_millis(3500), 100, 99_000, 1, false);
    assert_eq!(run(&mut p, t0, 3500, 3600), [(VIDEO, 100)]);
}

#[test]
fn a_late_keyframe_is_sent_unless_a_newer_one_is_queued() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    for newer in [false, true] {
        let mut p = pacer(96_000.0);
        // Audio leaves at once but spends the budget of the next 600 ms.
        for seq in 0..6 {
            p.handle_write(rtp(t0, AUDIO, seq, false)).unwrap();
        }
        // A keyframe that cannot leave before it is stale ...
        frame(&mut p, t0, 0, 1000, 3, true);
        let mut sent = run(&mut p, t0, 0, 490);
        if newer {
            // ... unless a newer one is queued by then.
            frame(&mut p, ms(500), 3, 3000, 1, true);
        }
        sent.extend(run(&mut p, t0, 500, 590));
        frame(&mut p, ms(600), 4, 4000, 1, false);
        sent.extend(run(&mut p, t0, 600, 1200));
        let video: Vec<_> = sent.into_iter().filter(|&(ssrc, _)| ssrc == VIDEO).collect();
        if newer {
            assert_eq!(video, [(VIDEO, 3), (VIDEO, 4)], "the old keyframe gave way to the new one");
            assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 1);
        } else {
            assert_eq!(video, [0, 1, 2, 4].map(|s| (VIDEO, s)), "the keyframe left 600 ms old: the only way to a picture");
            assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 0);
        }
        assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 0);
    }
}

#[test]
fn a_retransmission_that_waited_too_long_or_is_already_queued_is_not_sent() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut p = pacer(96_000.0);
    for seq in 0..8 {
        p.handle_write(rtp(t0, VIDEO, seq, true)).unwrap();
    }
    p.handle_write(rtp(ms(50), VIDEO, 7, true)).unwrap(); // asked again
    let sent = run(&mut p, t0, 0, 900);
    // One every 100 ms; at 500 ms the rest had waited over 400 ms.
    assert_eq!(sent, [0, 1, 2, 3, 4].map(|s| (VIDEO, s)));
    assert_eq!(p.counts.retransmissions_refused.load(Ordering::Relaxed), 4);
}

#[test]
fn audio_is_never_held_or_dropped() {
    let t0 = Instant::now();
    let mut p = pacer(96_000.0);
    frame(&mut p, t0, 0, 1000, 20, true);
    for seq in 0..50 {
        p.handle_write(rtp(t0 + Duration::from_millis(20 * u64::from(seq)), AUDIO, seq, false)).unwrap();
    }
    let audio = std::iter::from_fn(|| p.poll_write()).filter(|m| matches!(&m.message.packet, Packet::Rtp(r) if r.header.ssrc == AUDIO)).count();
    assert_eq!(audio, 50);
}

#[test]
fn counts_distinct_nacked_packets_and_repeated_requests() {
    let mut p = pacer(1_000_000.0);
    let nack = |id, bits| TransportMessage {
        now: Instant::now(),
        transport: TransportContext::default(),
        message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(TransportLayerNack {
            sender_ssrc: 9,
            media_ssrc: VIDEO,
            nacks: vec![NackPair { packet_id: id, lost_packets: bits }],
        })])),
    };
    p.handle_read(nack(10, 0b1)).unwrap(); // 10 and 11
    p.handle_read(nack(11, 0)).unwrap(); // 11 again
    let c = &p.counts;
    assert_eq!(c.nacked_packets.load(Ordering::Relaxed), 2);
    assert_eq!(c.nack_requests.load(Ordering::Relaxed), 3);
    assert_eq!(std::iter::from_fn(|| p.poll_read()).count(), 2, "NACKs go on to the responder");
}

#[test]
fn after_the_estimate_went_down_a_keyframe_is_paced_at_it() {
    let t0 = Instant::now();
    let mut p = pacer(200_000.0 * PACING_FACTOR);
    p.handle_read(estimate(t0, 96_000.0)).unwrap();
    // Past the strict spell, within the calm one: a keyframe of 20
    // packets goes at the estimate (one packet per 100 ms)…
    let t1 = t0 + AFTER_DECREASE;
    frame(&mut p, t1, 0, 9000, 20, true);
    let sent = run(&mut p, t1, 0, 1000).len();
    assert!((10..=12).contains(&sent), "{sent} keyframe packets in a second at the estimate");
    assert_eq!(p.bucket.target_bitrate(), 96_000.0);
    // So does a retransmission.
    while !release(&mut p, t1 + Duration::from_secs(3)).is_empty() {}
    p.handle_write(rtp(t1, VIDEO, 3, true)).unwrap();
    p.apply_rate(t1 + Duration::from_secs(3));
    assert_eq!(p.bucket.target_bitrate(), 96_000.0, "a retransmission next, within the calm spell");
    // …and once the calm spell is over, at 1.5 × it.
    let t2 = t0 + KEYFRAME_CALM;
    frame(&mut p, t2, 100, 18000, 30, true);
    let sent = run(&mut p, t2 + Duration::from_millis(10), 10, 1000).len();
    assert!((15..=18).contains(&sent), "{sent} packets in a second past the calm spell");
}

#[test]
fn right_after_a_decrease_video_is_drained_faster_rather_than_aged_out() {
    let t0 = Instant::now();
    // Strict at 60 kbit/s: a 1,200-byte packet every 160 ms; up to 1.5 ×
    // (90 kbit/s, 107 ms) to keep frames from waiting past MAX_VIDEO_AGE.
    let decreased = |frames: u16| {
        let mut p = pacer(96_000.0);
        p.handle_read(estimate(t0, 60_000.0)).unwrap();
        for i in 0..frames {
            frame(&mut p, t0, i, 1000 + u32::from(i), 1, false);
        }
        let sent = run(&mut p, t0, 0, 1000);
        (sent.len(), p.counts.frames_dropped.load(Ordering::Relaxed), p.bucket.target_bitrate())
    };
    // At 60 kbit/s the fourth frame would leave 480 ms old.
    assert_eq!(decreased(4), (4, 0, 60_000.0), "all four sent, and strict again once drained");
    // Never past 1.5 × the estimate: 6 frames take 533 ms even so.
    let (sent, dropped, _) = decreased(6);
    assert!(dropped >= 1 && sent + dropped as usize == 6, "{sent} sent, {dropped} dropped");
}

#[test]
fn a_packet_retransmitted_less_than_a_round_trip_ago_is_not_sent_again() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut p = pacer(960_000.0);
    let resend = |p: &mut PriorityPacer, at: u64| {
        p.handle_write(rtp(ms(at), VIDEO, 7, true)).unwrap();
        release(p, ms(at))
    };
    assert_eq!(resend(&mut p, 0), [(VIDEO, 7)], "no round trip known yet: sent");
    assert_eq!(resend(&mut p, 50), [(VIDEO, 7)], "still no round trip known: sent again");
    p.counts.set_round_trip(Duration::from_millis(120));
    assert_eq!(resend(&mut p, 100), [], "asked again 50 ms after the copy left, within the round trip");
    assert_eq!(resend(&mut p, 160), [], "110 ms after");
    assert_eq!(resend(&mut p, 175), [(VIDEO, 7)], "a round trip later the copy was lost: sent again");
    assert_eq!(resend(&mut p, 200), [], "25 ms after that copy");
    assert_eq!(p.counts.retransmissions_refused.load(Ordering::Relaxed), 3);
    assert_eq!(p.counts.retransmissions_sent.load(Ordering::Relaxed), 3);
    // Another packet is not held back by this one's copies.
    p.handle_write(rtp(ms(210), VIDEO, 8, true)).unwrap();
    assert_eq!(release(&mut p, ms(210)), [(VIDEO, 8)]);
}
