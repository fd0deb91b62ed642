use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::{Attribute, AttributedPacket, Packet as Tagged, TaggedPacket};
use rtc::rtp::Packet;
use rtc::rtp::header::Header;
use rtc::sansio::Protocol;
use rtc::shared::marshal::Marshal;
use rtc::shared::{TransportContext, TransportMessage};

use super::*;
use super::control::NACK_IN_TIME;

const VP8: u8 = 96;
const SSRC: u32 = 0x1234_5678;
const TYPES: FecPayloadTypes = FecPayloadTypes { red: RED_PAYLOAD_TYPE, ulpfec: ULPFEC_PAYLOAD_TYPE };

/// A frame of `sizes.len()` VP8 packets as the packetiser makes them: the
/// payload type, timestamp and SSRC, the marker on the last; contents
/// differ from packet to packet.
fn frame(timestamp: u32, sizes: &[usize]) -> Vec<Packet> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| Packet {
            header: Header { version: 2, marker: i + 1 == sizes.len(), payload_type: VP8, timestamp, ssrc: SSRC, ..Default::default() },
            payload: (0..size).map(|b| (b * 7 + i * 31 + timestamp as usize) as u8).collect::<Vec<_>>().into(),
        })
        .collect()
}

fn tagged(packet: Packet, retransmission: bool) -> TaggedPacket {
    let mut message = AttributedPacket::new(Tagged::Rtp(packet));
    if retransmission {
        message = message.with(Attribute::Retransmission);
    }
    TransportMessage { now: Instant::now(), transport: TransportContext::default(), message }
}

/// The packets through the filler, each first given a transport-wide
/// sequence number (a header extension, as the TWCC sender writes it).
fn through_filler(filler: &mut FecFiller, packets: Vec<Packet>, twcc: &mut u16) -> Vec<Packet> {
    packets
        .into_iter()
        .map(|mut p| {
            p.header.set_extension(5, Bytes::copy_from_slice(&twcc.to_be_bytes())).unwrap();
            *twcc += 1;
            filler.handle_write(tagged(p, false)).unwrap();
            match filler.poll_write().unwrap().message.packet {
                Tagged::Rtp(p) => p,
                _ => unreachable!(),
            }
        })
        .collect()
}

/// An RFC 5109 §7 decoder, written apart from the encoder: given one ULPFEC
/// packet (what follows the RED header) and the protected packets that
/// arrived (RED removed, marshalled), rebuilds the one missing.
fn recover(fec: &[u8], ssrc: u32, received: &Received) -> Option<(u16, Vec<u8>)> {
    let long = fec[0] & 0x40 != 0;
    let base = u16::from_be_bytes([fec[2], fec[3]]);
    let mask_len = if long { 6 } else { 2 };
    let protection_len = usize::from(u16::from_be_bytes([fec[10], fec[11]]));
    let mask = &fec[12..12 + mask_len];
    let payload = &fec[12 + mask_len..];
    assert_eq!(payload.len(), protection_len, "the level-0 payload is as long as its header says");
    let protected: Vec<u16> = (0..mask_len * 8).filter(|&i| mask[i / 8] & (0x80 >> (i % 8)) != 0).map(|i| base.wrapping_add(i as u16)).collect();
    let missing: Vec<u16> = protected.iter().copied().filter(|s| !received.contains_key(s)).collect();
    let [lost] = missing[..] else { return None };
    let (mut first, mut second) = (fec[0], fec[1]);
    let mut ts = [fec[4], fec[5], fec[6], fec[7]];
    let mut len = [fec[8], fec[9]];
    let mut body = payload.to_vec();
    for seq in protected.iter().filter(|&&s| s != lost) {
        let p = &received[seq];
        first ^= p[0];
        second ^= p[1];
        for i in 0..4 {
            ts[i] ^= p[4 + i];
        }
        let l = ((p.len() - 12) as u16).to_be_bytes();
        len[0] ^= l[0];
        len[1] ^= l[1];
        for (b, x) in body.iter_mut().zip(&p[12..]) {
            *b ^= x;
        }
    }
    let len = usize::from(u16::from_be_bytes(len));
    let mut out = vec![0x80 | (first & 0x3f), second];
    out.extend(lost.to_be_bytes());
    out.extend(ts);
    out.extend(ssrc.to_be_bytes());
    out.extend(&body[..len]);
    Some((lost, out))
}

/// Media packets by sequence number, as marshalled bytes.
type Received = HashMap<u16, Vec<u8>>;

/// Splits what left into the media (as the receiver's FEC decoder sees it:
/// RED removed, marshalled) and the ULPFEC packets.
fn split(sent: &[Packet]) -> (Received, Vec<(u16, Bytes)>) {
    let (mut media, mut fec) = (HashMap::new(), Vec::new());
    for p in sent {
        match red_unwrap(p, TYPES).expect("every packet is RED") {
            RedContent::Media(m) => drop(media.insert(p.header.sequence_number, m.marshal().unwrap().to_vec())),
            RedContent::Fec(f) => fec.push((p.header.sequence_number, f)),
        }
    }
    (media, fec)
}

#[test]
fn red_wraps_a_packet_in_one_primary_block_and_unwraps_it_back() {
    let packet = frame(9000, &[40]).remove(0);
    let red = red_wrap(packet.clone(), RED_PAYLOAD_TYPE);
    assert_eq!(red.header.payload_type, RED_PAYLOAD_TYPE);
    assert_eq!(red.payload[0], VP8, "F = 0, block payload type = the media's");
    assert_eq!(&red.payload[1..], &packet.payload[..]);
    assert_eq!((red.header.sequence_number, red.header.timestamp, red.header.marker), (0, 9000, true));
    assert_eq!(red_unwrap(&red, TYPES), Some(RedContent::Media(packet.clone())));
    assert_eq!(red_unwrap(&packet, TYPES), None, "not RED");
}

#[test]
fn a_lost_packet_is_recovered_bit_exactly_from_the_fec_packet_and_the_others() {
    let mut sender = FecSender::default();
    let mut filler = FecFiller::new(Arc::new(FecShared::default()));
    filler.shared.set_types(Some(TYPES));
    let (mut seq, mut twcc) = (65_533u16, 100u16); // the numbers wrap within the frame
    // At 5 % loss a delta frame of five packets closes its own group: 0.3 × 5 → 2 FEC packets.
    let shells = sender.frame(frame(3000, &[1100, 1100, 900, 700, 13]), false, 0.05, TYPES, &mut seq);
    assert_eq!(shells.len(), 7);
    assert!(shells[5..].iter().all(|p| !p.header.marker && p.header.timestamp == 3000 && p.header.ssrc == SSRC));
    let numbers: Vec<u16> = shells.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(numbers, [65_533, 65_534, 65_535, 0, 1, 2, 3], "FEC packets take the next numbers");
    let sent = through_filler(&mut filler, shells, &mut twcc);
    let (media, fec) = split(&sent);
    assert_eq!(fec.len(), 2);
    for lost in media.keys().copied() {
        let mut received = media.clone();
        received.remove(&lost);
        let recovered: Vec<_> = fec.iter().filter_map(|(_, f)| recover(f, SSRC, &received)).collect();
        assert_eq!(recovered.len(), 1, "exactly one FEC packet protects {lost}");
        assert_eq!(recovered[0], (lost, media[&lost].clone()), "packet {lost} rebuilt with its header extension");
    }
    // Two losses a FEC packet apart (a burst of two) are both recovered.
    let mut received = media.clone();
    received.remove(&65_533);
    received.remove(&65_534);
    assert_eq!(fec.iter().filter_map(|(_, f)| recover(f, SSRC, &received)).count(), 2);
}

#[test]
fn a_keyframe_over_sixteen_packets_is_protected_with_a_long_mask() {
    let mut sender = FecSender::default();
    let mut filler = FecFiller::new(Arc::new(FecShared::default()));
    filler.shared.set_types(Some(TYPES));
    let (mut seq, mut twcc) = (10u16, 0u16);
    let sizes: Vec<usize> = (0..30).map(|i| 1000 + i).collect();
    let sent = through_filler(&mut filler, sender.frame(frame(0, &sizes), true, 0.01, TYPES, &mut seq), &mut twcc);
    let (media, fec) = split(&sent);
    // A keyframe at 1 % loss: protection 0.3 → 9 FEC packets.
    assert_eq!((media.len(), fec.len()), (30, 9));
    assert!(fec.iter().all(|(_, f)| f[0] & 0x40 != 0), "L set: a 48-bit mask");
    let mut received = media.clone();
    received.remove(&39);
    let recovered: Vec<_> = fec.iter().filter_map(|(_, f)| recover(f, SSRC, &received)).collect();
    assert_eq!(recovered, [(39, media[&39].clone())]);
}

#[test]
fn small_frames_share_a_group_of_at_most_three() {
    let mut sender = FecSender::default();
    let mut seq = 0u16;
    // 0.5 % loss: protection 0.12, a group of 9 packets or 3 frames.
    let sizes = |n| frame(0, &vec![500; n]);
    assert_eq!(sender.frame(sizes(2), false, 0.005, TYPES, &mut seq).len(), 2, "group open");
    assert_eq!(sender.frame(sizes(2), false, 0.005, TYPES, &mut seq).len(), 2, "group open");
    let third = sender.frame(sizes(2), false, 0.005, TYPES, &mut seq);
    assert_eq!(third.len(), 3, "the third frame closes the group with one FEC packet");
    let protected = Protected::read(&third[2].payload[1..]).unwrap();
    assert_eq!(protected.seqs().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(third[2].header.sequence_number, 6);
    // No loss: no FEC, and the open group is forgotten.
    assert_eq!(sender.frame(sizes(2), false, 0.0, TYPES, &mut seq).len(), 2);
    assert!(sender.group.is_empty());
}

#[test]
fn a_retransmitted_shell_gets_the_same_content_and_a_retransmission_is_not_protected_again() {
    let mut sender = FecSender::default();
    let mut filler = FecFiller::new(Arc::new(FecShared::default()));
    filler.shared.set_types(Some(TYPES));
    let (mut seq, mut twcc) = (0u16, 0u16);
    let shells = sender.frame(frame(0, &[300, 200]), true, 0.05, TYPES, &mut seq);
    let sent = through_filler(&mut filler, shells.clone(), &mut twcc);
    // The NACK responder resends media 0 and the shell 2 as it buffered
    // them, and the TWCC sender numbers them again.
    for (packet, twcc) in [(&shells[0], 900u16), (&shells[2], 901)] {
        let mut again = packet.clone();
        again.header.set_extension(5, Bytes::copy_from_slice(&twcc.to_be_bytes())).unwrap();
        filler.handle_write(tagged(again, true)).unwrap();
    }
    let Tagged::Rtp(media) = filler.poll_write().unwrap().message.packet else { unreachable!() };
    let Tagged::Rtp(fec) = filler.poll_write().unwrap().message.packet else { unreachable!() };
    assert_eq!(media.header.sequence_number, 0);
    assert_eq!(fec.payload, sent[2].payload, "same FEC content as the first time");
}

#[test]
fn the_decoder_gets_media_unwrapped_and_fec_as_an_empty_packet() {
    let packet = frame(0, &[10]).remove(0);
    assert_eq!(for_decoder(packet.clone(), None, Some(VP8)), Some(packet.clone()), "no RED negotiated");
    assert_eq!(for_decoder(red_wrap(packet.clone(), RED_PAYLOAD_TYPE), Some(TYPES), Some(VP8)), Some(packet.clone()));
    let mut seq = 40;
    let shells = FecSender::default().frame(frame(0, &[10]), true, 0.05, TYPES, &mut seq);
    let empty = for_decoder(shells[1].clone(), Some(TYPES), Some(VP8)).unwrap();
    assert_eq!((empty.header.payload_type, empty.header.sequence_number, empty.payload.len()), (VP8, 41, 0));
}

#[test]
fn protection_grows_with_loss_and_is_higher_for_keyframes() {
    assert_eq!(protection(0.0, false), 0.0);
    assert_eq!(protection(0.001, true), 0.0, "NACK alone under 0.2 %");
    let rates: Vec<f64> = [0.005, 0.01, 0.03, 0.1, 0.5].iter().map(|&l| protection(l, false)).collect();
    assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
    assert!(rates.iter().all(|&r| r > 0.0 && r <= 0.5));
    assert!(protection(0.005, true) > protection(0.005, false));
    assert_eq!(fec_count(5, 0.12), 1);
    assert_eq!(fec_count(30, 0.3), 9);
    assert_eq!(fec_count(2, 0.6), 1);
    assert!(overhead(0.005) > 0.0 && overhead(0.005) < protection(0.005, false));
    // A loss counts at once and fades over seconds.
    let after_loss = filter_loss(0.0, 0.02);
    assert_eq!(after_loss, 0.02);
    assert!(filter_loss(after_loss, 0.0) > 0.018);
    assert!((0..60).fold(after_loss, |l, _| filter_loss(l, 0.0)) < MIN_LOSS);
}

#[test]
fn the_call_turns_fec_on_when_negotiated_and_follows_the_nacked_share() {
    let mut control = FecControl::new(Arc::new(FecShared::default()));
    assert_eq!(control.negotiated([("video/VP8", 96), ("video/red", 116)].into_iter()), None, "RED alone is not enough");
    assert_eq!(control.encoder_share(), 1.0, "no FEC: the encoder has the whole budget");
    let types = control.negotiated([("video/VP8", 96), ("video/red", 116), ("video/ulpfec", 117)].into_iter());
    assert_eq!(types, Some(TYPES));
    assert_eq!(control.shared.types(), Some(TYPES));
    // A second of 1000 packets, 10 NACKed while the report says 0.1 %,
    // over a satellite hop.
    control.observe(Some(0.001), 0, 0, Some(SATELLITE));
    control.observe(Some(0.001), 10, 1000, Some(SATELLITE));
    assert!((control.shared.loss() - 0.01).abs() < 1e-6, "{}", control.shared.loss());
    assert!(control.encoder_share() < 0.9, "FEC's share comes out of the encoder's");
    assert!(control.share_moved(false), "moved from the whole budget");
    assert!(!control.share_moved(false), "applied: no change since");
}

const SATELLITE: Duration = Duration::from_millis(600);

#[test]
fn where_a_retransmission_comes_in_time_no_fec_takes_the_encoders_budget() {
    let lossy_line = |rtt| {
        let mut control = FecControl::new(Arc::new(FecShared::default()));
        control.negotiated([("video/VP8", 96), ("video/red", 116), ("video/ulpfec", 117)].into_iter());
        // 3 % of the packets NACKed each second, as on linkem's `lossy`.
        for second in 0..5u64 {
            control.observe(Some(0.03), second * 30, second * 1000, rtt);
        }
        (control.shared.loss(), control.encoder_share())
    };
    assert_eq!(lossy_line(Some(Duration::from_millis(40))), (0.0, 1.0), "40 ms: NACK repairs in time");
    assert_eq!(lossy_line(Some(NACK_IN_TIME)).0, 0.0);
    let (far, far_share) = lossy_line(Some(SATELLITE));
    assert!((far - 0.03).abs() < 1e-6, "600 ms: FEC follows the whole loss ({far})");
    assert!(far_share < 0.85, "and takes its share of the encoder's budget ({far_share})");
    let (between, between_share) = lossy_line(Some(Duration::from_millis(150)));
    assert!((between - 0.015).abs() < 1e-6, "150 ms: half of it ({between})");
    assert!(between_share > far_share && between_share < 1.0);
    assert_eq!(lossy_line(None).0, far, "before any report: as far as it can be");
}
