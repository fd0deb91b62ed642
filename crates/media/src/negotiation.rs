//! Negotiation bookkeeping, without I/O: checking a peer's SDP before handing it
//! to webrtc-rs, holding remote candidates until they can be applied, and
//! deciding when to ask the sender for a keyframe.
//!
//! Time is an input (`now`); nothing here reads the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Codecs this crate can encode and decode, by SDP encoding name (lower case).
pub const SUPPORTED_VIDEO: &[&str] = &["vp8"];
/// See [`SUPPORTED_VIDEO`].
pub const SUPPORTED_AUDIO: &[&str] = &["opus"];

/// Why a peer's session description cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpProblem {
    /// Not SDP at all.
    #[error("not an SDP document: {0}")]
    Malformed(String),
    /// A media section offers only codecs we cannot decode.
    #[error("the peer offers {kind} only as {offered}; this kiosk supports {supported}")]
    UnsupportedCodec {
        /// `audio` or `video`.
        kind: String,
        /// What the peer offered, comma-separated.
        offered: String,
        /// What we support, comma-separated.
        supported: String,
    },
}

/// What a usable peer description contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdpSummary {
    /// A video section with a supported codec is present.
    pub video: bool,
    /// An audio section with a supported codec is present.
    pub audio: bool,
    /// A data channel (`m=application`) section is present.
    pub data: bool,
}

/// Checks a peer's SDP for the two mistakes webrtc-rs reports poorly: text that
/// is not SDP, and media we have no codec for.
pub fn check_remote_sdp(sdp: &str) -> Result<SdpSummary, SdpProblem> {
    let mut lines = sdp.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some("v=0") => {}
        Some(first) => {
            let shown: String = first.chars().take(40).collect();
            return Err(SdpProblem::Malformed(format!("it must start with \"v=0\", not {shown:?}")));
        }
        None => return Err(SdpProblem::Malformed("it is empty".into())),
    }
    // (kind, port, codec names)
    let mut sections: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in lines {
        if line.len() < 2 || line.as_bytes()[1] != b'=' {
            let shown: String = line.chars().take(40).collect();
            return Err(SdpProblem::Malformed(format!("line {shown:?} is not \"<letter>=<value>\"")));
        }
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            let kind = parts.next().unwrap_or_default().to_owned();
            let port = parts.next().unwrap_or_default().to_owned();
            sections.push((kind, port, Vec::new()));
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            // a=rtpmap:<pt> <name>/<clock>[/<channels>]
            if let (Some(section), Some(codec)) = (sections.last_mut(), map.split_whitespace().nth(1)) {
                let name = codec.split('/').next().unwrap_or_default().to_ascii_lowercase();
                section.2.push(name);
            }
        }
    }
    if sections.is_empty() {
        return Err(SdpProblem::Malformed("it has no media section (m= line)".into()));
    }
    let mut summary = SdpSummary::default();
    for (kind, port, codecs) in &sections {
        if port == "0" {
            continue; // a rejected or stopped section
        }
        let supported = match kind.as_str() {
            "video" => SUPPORTED_VIDEO,
            "audio" => SUPPORTED_AUDIO,
            "application" => {
                summary.data = true;
                continue;
            }
            _ => continue,
        };
        // Helper payloads that are never the media itself.
        let media: Vec<&String> = codecs
            .iter()
            .filter(|c| !matches!(c.as_str(), "rtx" | "red" | "ulpfec" | "flexfec-03" | "telephone-event" | "cn"))
            .collect();
        if media.iter().any(|c| supported.contains(&c.as_str())) {
            if kind == "video" {
                summary.video = true;
            } else {
                summary.audio = true;
            }
        } else {
            let mut offered: Vec<String> = media.iter().map(|c| c.to_ascii_uppercase()).collect();
            offered.dedup();
            return Err(SdpProblem::UnsupportedCodec {
                kind: kind.clone(),
                offered: if offered.is_empty() { "nothing".into() } else { offered.join(", ") },
                supported: supported.iter().map(|c| c.to_ascii_uppercase()).collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(summary)
}

/// Remote candidates that arrived before the remote description (the hub can
/// deliver the answerer's first candidate before its answer).
#[derive(Debug, Default)]
pub struct CandidateQueue<C> {
    remote_description_set: bool,
    pending: VecDeque<C>,
}

impl<C> CandidateQueue<C> {
    /// An empty queue, waiting for the remote description.
    pub fn new() -> Self {
        Self { remote_description_set: false, pending: VecDeque::new() }
    }

    /// A candidate arrived: `Some` if it can be applied now, `None` if held.
    pub fn handle_candidate(&mut self, candidate: C) -> Option<C> {
        if self.remote_description_set {
            Some(candidate)
        } else {
            self.pending.push_back(candidate);
            None
        }
    }

    /// The remote description is set: from now on candidates pass straight through.
    pub fn handle_remote_description(&mut self) {
        self.remote_description_set = true;
    }

    /// Held candidates to apply now, oldest first (empty until the remote description is set).
    pub fn poll_ready(&mut self) -> Option<C> {
        if self.remote_description_set { self.pending.pop_front() } else { None }
    }

    /// How many candidates are held.
    pub fn held(&self) -> usize {
        self.pending.len()
    }
}

/// When to send a picture-loss indication to the remote sender.
///
/// RTP arriving before webrtc-rs has wired the remote track is dropped, so the
/// first keyframe is often lost (FIELD-NOTES). Ask for one as soon as the track
/// appears, then every `interval` until a frame decodes; afterwards only when
/// the decoder reports a loss.
#[derive(Debug)]
pub struct KeyframeRequests {
    interval: Duration,
    next: Option<Instant>,
    decoding: bool,
}

impl KeyframeRequests {
    /// Nothing requested until a track appears.
    pub fn new(interval: Duration) -> Self {
        Self { interval, next: None, decoding: false }
    }

    /// The remote track appeared: a request is due now.
    pub fn handle_track(&mut self, now: Instant) {
        self.decoding = false;
        self.next = Some(now);
    }

    /// A frame was decoded: stop asking.
    pub fn handle_frame_decoded(&mut self) {
        self.decoding = true;
        self.next = None;
    }

    /// The decoder lost the picture (or the app asked): ask now and until a frame decodes again.
    pub fn handle_picture_lost(&mut self, now: Instant) {
        self.decoding = false;
        self.next = Some(now);
    }

    /// The clock reached `now`: whether to send a request now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.next {
            Some(at) if at <= now && !self.decoding => {
                self.next = Some(now + self.interval);
                true
            }
            _ => false,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";

    #[test]
    fn accepts_vp8_and_opus() {
        let s = check_remote_sdp(CHROME_LIKE).unwrap();
        assert_eq!(s, SdpSummary { video: true, audio: true, data: true });
    }

    #[test]
    fn refuses_text_that_is_not_sdp() {
        assert!(matches!(check_remote_sdp("hello"), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp(""), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp("v=0\r\ngarbage\r\n"), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp("v=0\r\ns=-\r\n"), Err(SdpProblem::Malformed(_))));
    }

    #[test]
    fn refuses_video_only_in_h265_and_says_what_is_supported() {
        let sdp = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 49 50\r\na=rtpmap:49 H265/90000\r\na=rtpmap:50 rtx/90000\r\n";
        let err = check_remote_sdp(sdp).unwrap_err();
        assert_eq!(err.to_string(), "the peer offers video only as H265; this kiosk supports VP8");
    }

    #[test]
    fn ignores_rejected_sections() {
        let sdp = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 49\r\na=rtpmap:49 H265/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(check_remote_sdp(sdp).unwrap(), SdpSummary { video: false, audio: true, data: false });
    }

    #[test]
    fn candidates_wait_for_the_remote_description() {
        let mut q = CandidateQueue::new();
        assert_eq!(q.handle_candidate(1), None);
        assert_eq!(q.handle_candidate(2), None);
        assert_eq!(q.poll_ready(), None);
        q.handle_remote_description();
        assert_eq!(q.poll_ready(), Some(1));
        assert_eq!(q.poll_ready(), Some(2));
        assert_eq!(q.poll_ready(), None);
        assert_eq!(q.handle_candidate(3), Some(3));
    }

    #[test]
    fn keyframe_requested_on_track_and_every_interval_until_decoded() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut k = KeyframeRequests::new(s);
        assert!(!k.handle_timeout(t0));
        assert_eq!(k.poll_timeout(), None);
        k.handle_track(t0);
        assert!(k.handle_timeout(t0));
        assert!(!k.handle_timeout(t0 + s / 2));
        assert!(k.handle_timeout(t0 + s));
        k.handle_frame_decoded();
        assert!(!k.handle_timeout(t0 + s * 5));
        assert_eq!(k.poll_timeout(), None);
        k.handle_picture_lost(t0 + s * 6);
        assert!(k.handle_timeout(t0 + s * 6));
    }
}
