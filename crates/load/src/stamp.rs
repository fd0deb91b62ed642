//! Fake negotiation that carries its own send time. The hub relays a
//! `signal` verbatim, so a time written into the SDP or the candidate line
//! by the sender is read back by the receiver: both run in the same load
//! process, on one monotonic clock (microseconds since the run started).

use visio_protocol::{IceCandidate, Signal};

const MARK: &str = "x-visio-load-sent";

/// An offer or answer of about `size` bytes (a real one with audio, video
/// and a data channel is 3 to 10 KB), stamped with `sent_us`.
pub fn sdp(offer: bool, sent_us: u64, size: usize) -> Signal {
    let mut sdp = format!("v=0\r\no=- {sent_us} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na={MARK}:{sent_us}\r\n");
    let mut n = 0;
    while sdp.len() < size {
        // Filler shaped like the codec lines of a real SDP.
        sdp.push_str(&format!("a=rtpmap:{} H264/90000\r\na=fmtp:{} level-asymmetry-allowed=1;packetization-mode=1\r\n", 96 + n % 32, 96 + n % 32));
        n += 1;
    }
    if offer { Signal::Offer { sdp } } else { Signal::Answer { sdp } }
}

/// Host candidate number `n`, stamped with `sent_us` as an extension
/// attribute at the end of the line (browsers pass unknown ones through).
pub fn candidate(n: u16, sent_us: u64) -> Signal {
    Signal::Candidate {
        candidate: IceCandidate {
            candidate: format!("candidate:{n} 1 udp 2130706431 127.0.0.1 {} typ host {MARK} {sent_us}", 50000 + u32::from(n)),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        },
    }
}

/// The send time a stamped signal carries, if it carries one.
pub fn sent_us(signal: &Signal) -> Option<u64> {
    let text = match signal {
        Signal::Offer { sdp } | Signal::Answer { sdp } => sdp.as_str(),
        Signal::Candidate { candidate } => candidate.candidate.as_str(),
        Signal::EndOfCandidates | Signal::Restart => return None,
    };
    let rest = &text[text.find(MARK)? + MARK.len()..];
    let digits: String = rest.trim_start_matches([':', ' ']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_answers_and_candidates_carry_their_time_through_the_wire() {
        for signal in [sdp(true, 123_456, 3000), sdp(false, 7, 100), candidate(3, 99_000_001)] {
            let text = serde_json::to_string(&signal).unwrap();
            let back: Signal = serde_json::from_str(&text).unwrap();
            assert_eq!(back, signal);
            assert!(sent_us(&back).is_some(), "{text}");
        }
        assert_eq!(sent_us(&sdp(true, 123_456, 3000)), Some(123_456));
        assert_eq!(sent_us(&candidate(3, 99_000_001)), Some(99_000_001));
    }

    #[test]
    fn sdp_reaches_the_size_asked_and_stays_under_the_hub_limit() {
        let Signal::Offer { sdp } = sdp(true, 1, 3000) else { unreachable!() };
        assert!((3000..3200).contains(&sdp.len()), "{}", sdp.len());
        let Signal::Offer { sdp: big } = super::sdp(true, 1, 20_000) else { unreachable!() };
        assert!(big.len() < visio_protocol::MAX_MESSAGE_BYTES);
    }

    #[test]
    fn unstamped_signals_have_no_time() {
        assert_eq!(sent_us(&Signal::EndOfCandidates), None);
        assert_eq!(sent_us(&Signal::Offer { sdp: "v=0\r\n".into() }), None);
        assert_eq!(sent_us(&Signal::Offer { sdp: format!("a={MARK}:\r\n") }), None);
    }
}
