//! The protocol core driven by feeding messages: two endpoints wired in
//! memory (no sockets, no files), time advanced by hand.

mod core_support;

use std::time::{Duration, Instant};

use core_support::*;
use visio_transfer::core::paced_chunk_len;
use visio_transfer::wire::{CHUNK_DATA_LEN, Chunk};
use visio_transfer::{
    ColorMode, Direction, ErrorCode, Event, FileMeta, Frame, Limits, Message, OutcomeKind,
    PeerError, Purpose, ScanFormat, ScanSettings, Side, Transmit,
};

#[test]
fn push_to_print_roundtrip_and_outcome() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(2, 100_000);
    let id = a.push(now, "certificat.pdf", doc.clone(), Purpose::Print);
    let (ek, ea) = run(now, &mut k, &mut a, &mut |_| true);
    assert!(ek.is_empty() && ea.is_empty(), "{ek:?} {ea:?}");
    assert_eq!(k.received[&id], doc);
    let got = k.events.iter().find_map(|e| match e {
        Event::FileReceived { id: i, purpose, info, sha256, .. } if *i == id => Some((*purpose, info.pages, sha256.clone())),
        _ => None,
    });
    // PDF pages are counted by the kiosk's PDF reader (inspect), after the core
    assert_eq!(got, Some((Purpose::Print, None, sha(&doc))));
    assert!(a.events.contains(&Event::Delivered { id }));
    assert!(a.events.iter().any(|e| matches!(e, Event::Progress { direction: Direction::Outgoing, .. })));

    k.ep.report_outcome(now, id, OutcomeKind::Printed, None).unwrap();
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(a.events.contains(&Event::Outcome { id, outcome: OutcomeKind::Printed, reason: None }));
    assert_eq!(k.ep.active_transfers() + a.ep.active_transfers(), 0);
}

#[test]
fn scan_request_and_scan_back() {
    let (now, mut k, mut a) = pair();
    let settings = ScanSettings { color: ColorMode::Gray, dpi: 150, format: ScanFormat::Jpeg };
    let req = a.ep.request_scan(now, settings).unwrap();
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(k.events.contains(&Event::ScanRequested { req, settings }));
    // the kiosk "scans" and sends a JPEG back
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.extend(std::iter::repeat_n(0x55, 40_000));
    jpeg.extend([0xFF, 0xD9]);
    let meta = FileMeta { name: "scan-1.jpg".into(), size: jpeg.len() as u64, sha256: sha(&jpeg), purpose: Purpose::Scan, req: Some(req) };
    let id = k.ep.push_file(now, meta).unwrap();
    assert!(id & 0x8000_0000 != 0, "kiosk ids carry the high bit");
    k.sources.insert(id, jpeg.clone());
    run(now, &mut k, &mut a, &mut |_| true);
    assert_eq!(a.received[&id], jpeg);
    assert!(a.events.iter().any(|e| matches!(e, Event::FileReceived { req: Some(r), .. } if *r == req)));
    // refusals of side misuse are errors, not panics
    assert!(k.ep.request_scan(now, settings).is_err());
}

#[test]
fn scan_failure_and_bad_dpi_reach_the_agent() {
    let (now, mut k, mut a) = pair();
    let req = a.ep.request_scan(now, ScanSettings { color: ColorMode::Color, dpi: 5000, format: ScanFormat::Pdf }).unwrap();
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(a.events.iter().any(|e| matches!(e, Event::ScanFailed { req: r, reason } if *r == req && reason.contains("5000"))));
    k.ep.scan_failed(now, 9, "Document feeder jammed").unwrap();
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(a.events.contains(&Event::ScanFailed { req: 9, reason: "Document feeder jammed".into() }));
}

#[test]
fn resume_after_link_drop_does_not_restart() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(1, 600_000);
    let id = a.push(now, "form.pdf", doc.clone(), Purpose::Display);
    // deliver until about 200 KB reached the kiosk, then cut the link
    let mut delivered = 0usize;
    let mut cut = false;
    for _ in 0..10_000 {
        a.drain(now);
        k.drain(now);
        for t in std::mem::take(&mut a.wire) {
            if cut {
                continue; // lost with the channel
            }
            if let Transmit::Binary(b) = &t {
                delivered += b.len();
            }
            let _ = deliver(now, &mut k.ep, &t);
            if delivered > 200_000 {
                cut = true;
            }
        }
        for t in std::mem::take(&mut k.wire) {
            if !cut {
                let _ = deliver(now, &mut a.ep, &t);
            }
        }
        if cut {
            break;
        }
    }
    assert!(cut);
    let later = now + Duration::from_secs(5);
    a.ep.handle_link_down(later);
    k.ep.handle_link_down(later);
    // the stall timer does not fire while the link is down (resume window instead)
    a.ep.handle_timeout(later + Duration::from_secs(100));
    k.ep.handle_link_up(later);
    a.ep.handle_link_up(later);
    let mut first_offset_after = None;
    run(later, &mut k, &mut a, &mut |t| {
        if let Transmit::Binary(b) = t {
            let c = Chunk::decode(b).unwrap();
            first_offset_after.get_or_insert(c.offset);
        }
        true
    });
    let resumed = a.events.iter().find_map(|e| match e {
        Event::Resumed { id: i, offset } if *i == id => Some(*offset),
        _ => None,
    });
    let resumed = resumed.expect("a Resumed event");
    assert!(resumed > 0, "resumed from {resumed}");
    assert!(first_offset_after.unwrap() as u64 >= resumed);
    assert_eq!(k.received[&id], doc, "file complete and intact");
    assert!(a.events.contains(&Event::Delivered { id }));
}

/// A file pushed before the session saw its link up is offered once, and
/// no byte goes twice (it was offered twice: once from the queue, once as a
/// re-offer, and the second `accept` rewound the sender by up to a window).
#[test]
fn a_file_pushed_before_the_link_is_up_is_offered_once_and_sent_once() {
    let now = Instant::now();
    let mut k = Peer::new(Side::Kiosk, Limits::default());
    let mut a = Peer::new(Side::Agent, Limits::default());
    let doc = pdf(1, 600_000);
    let id = a.push(now, "early.pdf", doc.clone(), Purpose::Print);
    a.drain(now);
    assert!(a.wire.is_empty(), "nothing leaves while the link is down");
    k.ep.handle_link_up(now);
    a.ep.handle_link_up(now);
    let (mut offers, mut chunk_bytes) = (0, 0);
    let (ek, ea) = run(now, &mut k, &mut a, &mut |t| {
        match t {
            Transmit::Text(m) if matches!(Message::from_json(m), Ok(Message::Offer { .. })) => offers += 1,
            Transmit::Binary(b) => chunk_bytes += Chunk::decode(b).unwrap().data.len(),
            _ => {}
        }
        true
    });
    assert!(ek.is_empty() && ea.is_empty(), "{ek:?} {ea:?}");
    assert_eq!(offers, 1);
    assert_eq!(chunk_bytes, doc.len(), "every byte sent once");
    assert_eq!(k.received[&id], doc);
    assert!(a.events.contains(&Event::Delivered { id }));
    assert!(!a.events.iter().any(|e| matches!(e, Event::Resumed { .. })));
}

/// An offer the receiver sees twice (from a peer with the bug above) is
/// accepted twice; the second `accept`, arriving mid-transfer, does not
/// rewind the sender.
#[test]
fn a_repeated_accept_does_not_rewind_the_sender() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(1, 600_000);
    let id = a.push(now, "twice.pdf", doc.clone(), Purpose::Print);
    a.drain(now);
    let offer = a.wire[0].clone();
    let (mut chunk_bytes, mut repeated) = (0, false);
    for _ in 0..100_000 {
        a.drain(now);
        k.drain(now);
        if a.wire.is_empty() && k.wire.is_empty() {
            break;
        }
        for t in std::mem::take(&mut a.wire) {
            if let Transmit::Binary(b) = &t {
                chunk_bytes += Chunk::decode(b).unwrap().data.len();
            }
            deliver(now, &mut k.ep, &t).unwrap();
        }
        if !repeated && k.received.get(&id).map_or(0, Vec::len) > 200_000 {
            deliver(now, &mut k.ep, &offer).unwrap();
            repeated = true;
        }
        for t in std::mem::take(&mut k.wire) {
            deliver(now, &mut a.ep, &t).unwrap();
        }
    }
    assert!(repeated, "the offer was seen twice mid-transfer");
    assert_eq!(chunk_bytes, doc.len(), "every byte sent once");
    assert_eq!(k.received[&id], doc);
    assert!(a.events.contains(&Event::Delivered { id }));
}

#[test]
fn corrupted_chunk_is_refused_and_session_goes_on() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(1, 50_000);
    let id = a.push(now, "a.pdf", doc.clone(), Purpose::Print);
    let mut flipped = false;
    let (ek, _) = run(now, &mut k, &mut a, &mut |t| {
        if let Transmit::Binary(b) = t
            && !flipped
            && b.len() > 100
        {
            b[100] ^= 0xFF;
            flipped = true;
        }
        true
    });
    assert!(matches!(ek.as_slice(), [PeerError::Refused { code: ErrorCode::HashMismatch, .. }]), "{ek:?}");
    assert!(!k.received.contains_key(&id), "corrupt file discarded");
    assert!(a.events.iter().any(|e| matches!(e, Event::Rejected { id: i, code: ErrorCode::HashMismatch, by_peer: true, .. } if *i == id)));
    // the next transfer works
    let id2 = a.push(now, "b.pdf", doc.clone(), Purpose::Print);
    run(now, &mut k, &mut a, &mut |_| true);
    assert_eq!(k.received[&id2], doc);
}

#[test]
fn offset_gap_is_refused() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(1, 80_000);
    let id = a.push(now, "gap.pdf", doc, Purpose::Print);
    let mut n = 0;
    let (ek, _) = run(now, &mut k, &mut a, &mut |t| {
        if matches!(t, Transmit::Binary(_)) {
            n += 1;
            return n != 2; // lose the second chunk
        }
        true
    });
    assert!(ek.iter().any(|e| matches!(e, PeerError::Refused { code: ErrorCode::OffsetGap, .. })), "{ek:?}");
    assert!(a.events.iter().any(|e| matches!(e, Event::Rejected { id: i, code: ErrorCode::OffsetGap, .. } if *i == id)));
}

#[test]
fn oversized_wrong_type_and_bad_name_refused() {
    let now = Instant::now();
    let limits = Limits { max_file_bytes: 100_000, max_pages: 3, ..Limits::default() };
    let mut k = Peer::new(Side::Kiosk, limits.clone());
    let mut a = Peer::new(Side::Agent, Limits::default());
    k.ep.handle_link_up(now);
    a.ep.handle_link_up(now);

    let big = a.push(now, "big.pdf", pdf(1, 200_000), Purpose::Print);
    let exe = a.push(now, "letter.pdf", b"MZ\x90\x00This program cannot be run in DOS mode".to_vec(), Purpose::Print);
    let evil = a.push(now, "../../etc/passwd", pdf(1, 10), Purpose::Print);
    run(now, &mut k, &mut a, &mut |_| true);
    let code_of = |id: u32| {
        a.events.iter().find_map(|e| match e {
            Event::Rejected { id: i, code, reason, .. } if *i == id => Some((*code, reason.clone())),
            _ => None,
        })
    };
    let (c, r) = code_of(big).unwrap();
    assert_eq!(c, ErrorCode::TooLarge, "{r}");
    let (c, r) = code_of(exe).unwrap();
    assert_eq!(c, ErrorCode::UnsupportedType);
    assert!(r.contains("not a PDF, PNG or JPEG"), "{r}");
    let (c, r) = code_of(evil).unwrap();
    assert_eq!(c, ErrorCode::BadName);
    assert!(r.contains("path separator"), "{r}");
    assert!(k.received.is_empty());
    // session goes on
    let ok = a.push(now, "ok.pdf", pdf(2, 1000), Purpose::Display);
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(k.received.contains_key(&ok));
}

#[test]
fn malformed_input_gives_errors_never_panics() {
    let (now, mut k, _a) = pair();
    let inputs: Vec<Frame<'_>> = vec![
        Frame::Text("{garbage"),
        Frame::Text(r#"{"type":"self_destruct"}"#),
        Frame::Text(r#"{"type":"offer","id":1}"#),
        Frame::Text(r#"{"type":"accept","id":99,"offset":5}"#),
        Frame::Text(r#"{"type":"resume","id":42}"#),
        Frame::Text(r#"{"type":"offer","id":3,"name":"x.pdf","size":10,"sha256":"zz","purpose":"print"}"#),
        Frame::Text(r#"{"type":"offer","id":2147483653,"name":"x.pdf","size":10,"sha256":"00","purpose":"print"}"#),
        Frame::Text(r#"{"type":"outcome","id":1,"outcome":"printed"}"#),
        Frame::Text(""),
        Frame::Binary(&[]),
        Frame::Binary(&[1, 0, 0]),
        Frame::Binary(&[7, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]),
        Frame::Binary(&[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]),
    ];
    for f in inputs {
        assert!(k.ep.handle_frame(now, f).is_err(), "{f:?} should be refused");
    }
    k.drain(now);
    let errors = k.wire.iter().filter(|t| matches!(t, Transmit::Text(s) if s.contains(r#""type":"error""#))).count();
    // every refusal is answered, except chunks for unknown transfers (no reply storm)
    assert!(errors >= 11, "{errors} error replies: {:?}", k.wire);
    // random bytes
    let mut x: u32 = 12345;
    for len in 0..300 {
        let buf: Vec<u8> = (0..len).map(|_| { x = x.wrapping_mul(1_103_515_245).wrapping_add(12345); (x >> 16) as u8 }).collect();
        let _ = k.ep.handle_frame(now, Frame::Binary(&buf));
        if let Ok(s) = std::str::from_utf8(&buf) {
            let _ = k.ep.handle_frame(now, Frame::Text(s));
        }
    }
    k.drain(now);
}

#[test]
fn back_pressure_holds_chunks_until_buffer_low() {
    let now = Instant::now();
    let mut a = Peer::new(Side::Agent, Limits::default());
    a.ep.handle_link_up(now);
    let id = a.push(now, "p.pdf", pdf(1, 3 * CHUNK_DATA_LEN), Purpose::Print);
    a.drain(now);
    a.wire.clear(); // the offer
    a.ep.handle_buffer_high(now);
    a.ep.handle_message(now, Message::Accept { id, offset: 0 }).unwrap();
    a.drain(now);
    assert!(!a.wire.iter().any(|t| matches!(t, Transmit::Binary(_))), "no chunk while the buffer is high");
    a.ep.handle_buffer_low(now);
    a.drain(now);
    assert!(a.wire.iter().any(|t| matches!(t, Transmit::Binary(_))));
}

#[test]
fn window_bounds_unacked_bytes() {
    let now = Instant::now();
    let limits = Limits { window_bytes: 64 * 1024, ..Limits::default() };
    let mut a = Peer::new(Side::Agent, limits);
    a.ep.handle_link_up(now);
    let id = a.push(now, "w.pdf", pdf(1, 1_000_000), Purpose::Print);
    a.drain(now);
    a.ep.handle_message(now, Message::Accept { id, offset: 0 }).unwrap();
    a.drain(now);
    let sent: usize = a.wire.iter().map(|t| match t { Transmit::Binary(b) => b.len() - 12, _ => 0 }).sum();
    assert!((48 * 1024..=64 * 1024 + CHUNK_DATA_LEN).contains(&sent), "sent {sent} without acks");
}

#[test]
fn stalled_transfer_times_out() {
    let (now, mut k, mut a) = pair();
    let id = a.push(now, "s.pdf", pdf(1, 10), Purpose::Print);
    a.drain(now); // offer never delivered
    let t = a.ep.poll_timeout().expect("a deadline");
    a.ep.handle_timeout(t);
    a.drain(t);
    assert!(a.events.iter().any(|e| matches!(e, Event::Rejected { id: i, code: ErrorCode::Timeout, .. } if *i == id)));
    let _ = &mut k;
}

#[test]
fn cancel_mid_transfer_discards_on_the_other_side() {
    let (now, mut k, mut a) = pair();
    let id = a.push(now, "c.pdf", pdf(1, 2_000_000), Purpose::Print);
    // offer, accept and the first window of chunks, but not the end
    a.drain(now);
    for t in std::mem::take(&mut a.wire) {
        deliver(now, &mut k.ep, &t).unwrap();
    }
    k.drain(now);
    for t in std::mem::take(&mut k.wire) {
        deliver(now, &mut a.ep, &t).unwrap();
    }
    a.drain(now);
    for t in std::mem::take(&mut a.wire) {
        deliver(now, &mut k.ep, &t).unwrap();
    }
    k.drain(now);
    assert!(k.received.contains_key(&id), "some bytes arrived");
    a.ep.cancel(now, id, "cancelled by the agent").unwrap();
    run(now, &mut k, &mut a, &mut |_| true);
    assert!(!k.received.contains_key(&id), "partial file discarded");
    assert!(k.events.iter().any(|e| matches!(e, Event::Rejected { id: i, code: ErrorCode::Cancelled, by_peer: true, .. } if *i == id)));
    assert_eq!(k.ep.active_transfers() + a.ep.active_transfers(), 0);
    assert!(a.ep.cancel(now, id, "again").is_err(), "unknown id is a command error");
}

#[test]
fn limits_come_from_json_configuration_and_are_checked() {
    let l: Limits = serde_json::from_str(r#"{"max_file_bytes": 5000000, "max_pages": 10, "resume_window_secs": 60}"#).unwrap();
    assert_eq!((l.max_file_bytes, l.max_pages, l.resume_window), (5_000_000, 10, Duration::from_secs(60)));
    assert_eq!(l.window_bytes, Limits::default().window_bytes, "absent fields keep their defaults");
    l.validate().unwrap();
    Limits::default().validate().unwrap();
    assert!(serde_json::from_str::<Limits>(r#"{"max_file_size": 1}"#).is_err(), "a misspelt field is an error");
    let bad = Limits { max_file_bytes: 5_000_000_000, ..Limits::default() };
    let e = bad.validate().unwrap_err();
    assert_eq!(e.field, "max_file_bytes");
    assert!(e.to_string().contains("4294967295"), "{e}");
    assert!(Limits { ack_every: 0, ..Limits::default() }.validate().is_err());
}

#[test]
fn pacing_spreads_chunks_over_time() {
    let t0 = Instant::now();
    let rate = 160 * 1024; // bytes per second
    let limits = Limits { send_rate: Some(rate), ..Limits::default() };
    let mut a = core_support::Peer::new(Side::Agent, limits);
    a.ep.handle_link_up(t0);
    let id = a.push(t0, "paced.pdf", pdf(1, 2_000_000), Purpose::Print);
    a.drain(t0);
    a.wire.clear();
    a.ep.handle_message(t0, Message::Accept { id, offset: 0 }).unwrap();
    let mut sent_by = Vec::new();
    let mut now = t0;
    let mut total = 0u64;
    let mut largest = 0;
    // Let the receiver ack everything at once so only pacing holds chunks back.
    for _ in 0..2000 {
        a.drain(now);
        for t in std::mem::take(&mut a.wire) {
            if let Transmit::Binary(b) = t {
                total += (b.len() - 12) as u64;
                largest = largest.max(b.len() - 12);
            }
        }
        a.ep.handle_message(now, Message::Ack { id, offset: total }).unwrap();
        sent_by.push((now - t0, total));
        let next = a.ep.poll_timeout().expect("a pacing wake-up");
        assert!(next > now, "wake-up in the future");
        now = next;
        a.ep.handle_timeout(now);
        if now - t0 >= Duration::from_secs(2) {
            break;
        }
    }
    let first = sent_by[0].1;
    assert!(first <= 2 * CHUNK_DATA_LEN as u64, "initial burst only: {first}");
    // Chunks of about 10 ms at the rate, not 16 KiB bursts into a thin uplink.
    assert_eq!(largest, paced_chunk_len(Some(rate)), "paced chunk size");
    assert!(largest < 2_000, "{largest}");
    let (elapsed, last) = *sent_by.last().unwrap();
    let achieved = last as f64 / elapsed.as_secs_f64();
    assert!((0.8 * rate as f64..1.2 * rate as f64).contains(&achieved), "paced at {achieved:.0} B/s for a {rate} B/s limit");
    // lifting the limit sends a full window at once
    a.ep.set_send_rate(now, None);
    a.drain(now);
    let burst: usize = a.wire.iter().map(|t| if let Transmit::Binary(b) = t { b.len() - 12 } else { 0 }).sum();
    assert!(burst as u64 >= Limits::default().window_bytes - CHUNK_DATA_LEN as u64, "{burst}");
}

#[test]
fn busy_and_session_end_cancel_everything() {
    let now = Instant::now();
    let mut k = core_support::Peer::new(Side::Kiosk, Limits { max_concurrent_incoming: 1, ..Limits::default() });
    let mut a = core_support::Peer::new(Side::Agent, Limits::default());
    k.ep.handle_link_up(now);
    a.ep.handle_link_up(now);
    let first = a.push(now, "a.pdf", pdf(1, 2_000_000), Purpose::Print);
    let second = a.push(now, "b.pdf", pdf(1, 10), Purpose::Print);
    // deliver offers and accept only (no chunks yet)
    a.drain(now);
    for t in std::mem::take(&mut a.wire) {
        let _ = deliver(now, &mut k.ep, &t);
    }
    k.drain(now);
    for t in std::mem::take(&mut k.wire) {
        let _ = deliver(now, &mut a.ep, &t);
    }
    a.drain(now);
    assert!(a.events.iter().any(|e| matches!(e, Event::Rejected { id, code: ErrorCode::Busy, .. } if *id == second)));
    // the kiosk's session ends: the agent hears it at once
    k.ep.cancel_all(now, "the session ended");
    k.drain(now);
    for t in std::mem::take(&mut k.wire) {
        let _ = deliver(now, &mut a.ep, &t);
    }
    a.drain(now);
    assert!(a.events.iter().any(|e| matches!(e, Event::Rejected { id, code: ErrorCode::Cancelled, reason, .. } if *id == first && reason == "the session ended")));
    assert_eq!(a.ep.active_transfers() + k.ep.active_transfers(), 0);
}

/// Rejections with code `timeout` for `id` and their reasons.
fn timeouts(p: &Peer, id: u32) -> Vec<String> {
    p.events
        .iter()
        .filter_map(|e| match e {
            Event::Rejected { id: i, code: ErrorCode::Timeout, reason, .. } if *i == id => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// A cut call (the path down, the channel still open: SCTP retransmits
/// across it) does not count against the 60 s no-progress limit; once the
/// path is back that limit counts again, from zero.
#[test]
fn a_cut_does_not_count_as_no_progress_and_the_clock_restarts_after_it() {
    let (now, _k, mut a) = pair();
    let id = a.push(now, "s.pdf", pdf(1, 10), Purpose::Print);
    a.drain(now); // the offer never arrives: no progress from here
    let cut_at = now + Duration::from_secs(30);
    a.ep.handle_path_down(cut_at);
    let back_at = cut_at + Duration::from_secs(90);
    assert!(a.ep.poll_timeout().unwrap() > back_at, "the cut is bounded by the resume window, not 60 s");
    a.ep.handle_timeout(back_at);
    a.drain(back_at);
    assert!(timeouts(&a, id).is_empty(), "90 s of cut did not fail the transfer");
    a.ep.handle_path_up(back_at);
    assert_eq!(a.ep.poll_timeout(), Some(back_at + Duration::from_secs(60)));
    a.ep.handle_timeout(back_at + Duration::from_secs(59));
    a.drain(back_at + Duration::from_secs(59));
    assert!(timeouts(&a, id).is_empty());
    a.ep.handle_timeout(back_at + Duration::from_secs(60));
    a.drain(back_at + Duration::from_secs(60));
    assert_eq!(timeouts(&a, id), vec!["no progress for 60 s".to_string()], "60 s connected without progress still fails");
}

/// A call that never comes back: the transfer fails at the resume window
/// (5 min), saying so, and the receiver's partial file is discarded.
#[test]
fn a_cut_longer_than_the_resume_window_fails_the_transfer_saying_so() {
    let (now, mut k, mut a) = pair();
    let doc = pdf(1, 200_000);
    let id = a.push(now, "scan.pdf", doc, Purpose::Display);
    // The offer, its accept and a few chunks go through, then the path goes down.
    a.drain(now);
    for t in std::mem::take(&mut a.wire) {
        let _ = deliver(now, &mut k.ep, &t);
    }
    k.drain(now);
    for t in std::mem::take(&mut k.wire) {
        let _ = deliver(now, &mut a.ep, &t);
    }
    a.drain(now);
    for t in std::mem::take(&mut a.wire).iter().take(3) {
        let _ = deliver(now, &mut k.ep, t);
    }
    k.drain(now);
    assert!(k.received.contains_key(&id), "part of the file arrived");
    a.ep.handle_path_down(now);
    k.ep.handle_path_down(now);
    let end = now + Duration::from_secs(300);
    for p in [&mut a, &mut k] {
        p.ep.handle_timeout(end - Duration::from_secs(1));
        p.drain(end);
        assert!(timeouts(p, id).is_empty());
        assert_eq!(p.ep.poll_timeout(), Some(end));
        p.ep.handle_timeout(end);
        p.drain(end);
        assert_eq!(timeouts(p, id), vec!["the call stayed cut for 300 s".to_string()]);
    }
    assert!(!k.received.contains_key(&id), "the partial file is discarded");
    assert_eq!(a.ep.active_transfers() + k.ep.active_transfers(), 0);
}
