//! Negotiation bookkeeping, without I/O: checking a peer's SDP before handing it
//! to webrtc-rs, holding remote candidates until they can be applied, and
//! deciding when to ask the sender for a keyframe.
//!
//! Time is an input (`now`); nothing here reads the clock.

use crate::config::VideoCodec;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Audio codecs this crate can encode and decode, by SDP encoding name (lower
/// case). Video codecs are [`VideoCodec`]s, chosen per call in the configuration.
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

/// One `m=` section, as far as codec choice needs it.
#[derive(Debug, Default)]
struct Section {
    kind: String,
    port: String,
    /// Payload types in the order of the `m=` line: the peer's preference.
    formats: Vec<String>,
    /// `(payload type, encoding name in lower case)` from `a=rtpmap`.
    rtpmap: Vec<(String, String)>,
    /// `(payload type, parameters)` from `a=fmtp`.
    fmtp: Vec<(String, String)>,
}

impl Section {
    fn active(&self) -> bool {
        self.port != "0" // port 0: a rejected or stopped section
    }

    /// Encoding names in the peer's order of preference.
    fn codecs(&self) -> impl Iterator<Item = (&str, &str)> {
        // Formats without an rtpmap (static payload types) are not ours.
        self.formats.iter().filter_map(|pt| self.rtpmap.iter().find(|(p, _)| p == pt)).map(|(p, n)| (p.as_str(), n.as_str()))
    }
}

fn parse_sections(sdp: &str) -> Result<Vec<Section>, SdpProblem> {
    let mut lines = sdp.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some("v=0") => {}
        Some(first) => {
            let shown: String = first.chars().take(40).collect();
            return Err(SdpProblem::Malformed(format!("it must start with \"v=0\", not {shown:?}")));
        }
        None => return Err(SdpProblem::Malformed("it is empty".into())),
    }
    let mut sections: Vec<Section> = Vec::new();
    for line in lines {
        if line.len() < 2 || line.as_bytes()[1] != b'=' {
            let shown: String = line.chars().take(40).collect();
            return Err(SdpProblem::Malformed(format!("line {shown:?} is not \"<letter>=<value>\"")));
        }
        if let Some(m) = line.strip_prefix("m=") {
            // m=<kind> <port> <proto> <fmt> ...
            let mut parts = m.split_whitespace();
            let kind = parts.next().unwrap_or_default().to_owned();
            let port = parts.next().unwrap_or_default().to_owned();
            let formats = parts.skip(1).map(str::to_owned).collect();
            sections.push(Section { kind, port, formats, ..Section::default() });
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            // a=rtpmap:<pt> <name>/<clock>[/<channels>]
            let mut parts = map.split_whitespace();
            if let (Some(section), Some(pt), Some(codec)) = (sections.last_mut(), parts.next(), parts.next()) {
                let name = codec.split('/').next().unwrap_or_default().to_ascii_lowercase();
                section.rtpmap.push((pt.to_owned(), name));
            }
        } else if let Some(fmtp) = line.strip_prefix("a=fmtp:") {
            // a=fmtp:<pt> <parameters>
            if let (Some(section), Some((pt, parameters))) = (sections.last_mut(), fmtp.split_once(' ')) {
                section.fmtp.push((pt.to_owned(), parameters.trim().to_owned()));
            }
        }
    }
    if sections.is_empty() {
        return Err(SdpProblem::Malformed("it has no media section (m= line)".into()));
    }
    Ok(sections)
}

/// Checks a peer's SDP for the two mistakes webrtc-rs reports poorly: text that
/// is not SDP, and media we have no codec for (`video` lists the video codecs
/// this call accepts).
pub fn check_remote_sdp(sdp: &str, video: &[VideoCodec]) -> Result<SdpSummary, SdpProblem> {
    let video_names: Vec<String> = video.iter().map(|c| c.encoding_name().to_ascii_lowercase()).collect();
    let mut summary = SdpSummary::default();
    for section in parse_sections(sdp)?.iter().filter(|s| s.active()) {
        let supported: Vec<&str> = match section.kind.as_str() {
            "video" => video_names.iter().map(String::as_str).collect(),
            "audio" => SUPPORTED_AUDIO.to_vec(),
            "application" => {
                summary.data = true;
                continue;
            }
            _ => continue,
        };
        // Helper payloads that are never the media itself.
        let media: Vec<&str> = section
            .rtpmap
            .iter()
            .map(|(_, name)| name.as_str())
            .filter(|c| !matches!(*c, "rtx" | "red" | "ulpfec" | "flexfec-03" | "telephone-event" | "cn"))
            .collect();
        if media.iter().any(|c| supported.contains(c)) {
            if section.kind == "video" {
                summary.video = true;
            } else {
                summary.audio = true;
            }
        } else {
            let mut offered: Vec<String> = media.iter().map(|c| c.to_ascii_uppercase()).collect();
            offered.dedup();
            return Err(SdpProblem::UnsupportedCodec {
                kind: section.kind.clone(),
                offered: if offered.is_empty() { "nothing".into() } else { offered.join(", ") },
                supported: if supported.is_empty() {
                    "nothing".into()
                } else {
                    supported.iter().map(|c| c.to_ascii_uppercase()).collect::<Vec<_>>().join(", ")
                },
            });
        }
    }
    Ok(summary)
}

/// The video codecs of a peer's description (its first active video
/// section), most preferred first, each with the payload type the peer uses
/// for it. Codecs this crate does not know are left out.
pub fn remote_video_codecs(sdp: &str) -> Vec<(u8, VideoCodec)> {
    remote_video_formats(sdp).into_iter().map(|(pt, codec, _)| (pt, codec)).collect()
}

/// Like [`remote_video_codecs`], with whether each format is exactly the
/// variant we register (H.264: packetization-mode 1, constrained baseline).
fn remote_video_formats(sdp: &str) -> Vec<(u8, VideoCodec, bool)> {
    let Ok(sections) = parse_sections(sdp) else { return Vec::new() };
    let Some(video) = sections.iter().find(|s| s.kind == "video" && s.active()) else { return Vec::new() };
    video
        .codecs()
        .filter_map(|(pt, name)| {
            let codec = VideoCodec::from_name(name)?;
            let fmtp = video.fmtp.iter().find(|(p, _)| p == pt).map_or("", |(_, f)| f.as_str());
            Some((pt.parse().ok()?, codec, is_exact(codec, fmtp)))
        })
        .collect()
}

/// Whether webrtc-rs would match this format exactly against our
/// registration (its H.264 match compares packetization-mode and the profile
/// bytes of profile-level-id).
fn is_exact(codec: VideoCodec, fmtp: &str) -> bool {
    match codec {
        VideoCodec::Vp8 => true,
        VideoCodec::H264 => {
            let parameter = |key: &str| {
                fmtp.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
            };
            parameter("packetization-mode") == Some("1")
                && parameter("profile-level-id").is_some_and(|p| p.len() >= 4 && p[..4].eq_ignore_ascii_case("42e0"))
        }
    }
}

/// The codec to send, read from the peer's description before it is applied:
/// its first video codec that is also in `enabled`. Both roles use it: on an
/// answer it is the answerer's choice (JSEP: the offerer sends the answer's
/// first codec); on an offer it is the offerer's preference, which the answer
/// keeps first (webrtc-rs answers in the offer's order).
///
/// Like webrtc-rs, formats that match our registration exactly come first:
/// when any exists it negotiates only those (an H.264 variant we do not
/// register, e.g. baseline `42001f`, is then dropped even if listed first).
pub fn choose_video_codec(sdp: &str, enabled: &[VideoCodec]) -> Option<VideoCodec> {
    let formats: Vec<_> = remote_video_formats(sdp).into_iter().filter(|(_, c, _)| enabled.contains(c)).collect();
    formats.iter().find(|(_, _, exact)| *exact).or(formats.first()).map(|(_, c, _)| *c)
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
    /// The app asked: one request goes out even if frames keep decoding
    /// (a picture can look broken while the decoder still outputs frames).
    forced: bool,
}

impl KeyframeRequests {
    /// Nothing requested until a track appears.
    pub fn new(interval: Duration) -> Self {
        Self { interval, next: None, decoding: false, forced: false }
    }

    /// The remote track appeared: a request is due now.
    pub fn handle_track(&mut self, now: Instant) {
        self.decoding = false;
        self.next = Some(now);
    }

    /// A frame was decoded: stop asking (but keep a request the app made).
    pub fn handle_frame_decoded(&mut self) {
        self.decoding = true;
        if !self.forced {
            self.next = None;
        }
    }

    /// The decoder lost the picture (or the app asked): ask now and until a
    /// frame decodes again; at least once, whatever decodes meanwhile.
    pub fn handle_picture_lost(&mut self, now: Instant) {
        self.decoding = false;
        self.forced = true;
        self.next = Some(now);
    }

    /// The clock reached `now`: whether to send a request now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.next {
            Some(at) if at <= now && (!self.decoding || self.forced) => {
                self.forced = false;
                self.next = (!self.decoding).then_some(now + self.interval);
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

    #[test]
    fn an_asked_keyframe_is_requested_even_if_a_frame_decodes_first() {
        let t0 = Instant::now();
        let mut k = KeyframeRequests::new(Duration::from_millis(500));
        k.handle_track(t0);
        k.handle_frame_decoded();
        assert!(!k.handle_timeout(t0), "decoding: nothing to ask");
        k.handle_picture_lost(t0);
        // The next frame decodes before the timer fires (a loaded machine).
        k.handle_frame_decoded();
        assert!(k.handle_timeout(t0), "the app's request still goes out");
        assert!(!k.handle_timeout(t0 + Duration::from_secs(1)), "once: frames decode");
        assert_eq!(k.poll_timeout(), None);
    }

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";

    const BOTH: &[VideoCodec] = &[VideoCodec::Vp8, VideoCodec::H264];

    #[test]
    fn accepts_vp8_and_opus() {
        let s = check_remote_sdp(CHROME_LIKE, BOTH).unwrap();
        assert_eq!(s, SdpSummary { video: true, audio: true, data: true });
    }

    #[test]
    fn refuses_text_that_is_not_sdp() {
        assert!(matches!(check_remote_sdp("hello", BOTH), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp("", BOTH), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp("v=0\r\ngarbage\r\n", BOTH), Err(SdpProblem::Malformed(_))));
        assert!(matches!(check_remote_sdp("v=0\r\ns=-\r\n", BOTH), Err(SdpProblem::Malformed(_))));
    }

    #[test]
    fn refuses_video_only_in_h265_and_says_what_is_supported() {
        let sdp = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 49 50\r\na=rtpmap:49 H265/90000\r\na=rtpmap:50 rtx/90000\r\n";
        let err = check_remote_sdp(sdp, BOTH).unwrap_err();
        assert_eq!(err.to_string(), "the peer offers video only as H265; this kiosk supports VP8, H264");
    }

    #[test]
    fn refuses_vp8_when_only_h264_is_enabled() {
        let err = check_remote_sdp(CHROME_LIKE, &[VideoCodec::H264]).unwrap_err();
        assert_eq!(err.to_string(), "the peer offers video only as VP8; this kiosk supports H264");
    }

    // Chrome lists its formats on the m= line in preference order; the
    // rtpmap lines need not follow it.
    const H264_FIRST: &str = "v=0\r\ns=-\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 106 107 96 97 45\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:107 rtx/90000\r\na=rtpmap:45 AV1/90000\r\n";

    #[test]
    fn video_codecs_come_in_the_order_of_the_m_line() {
        assert_eq!(remote_video_codecs(H264_FIRST), vec![(106, VideoCodec::H264), (96, VideoCodec::Vp8)]);
        assert_eq!(remote_video_codecs(CHROME_LIKE), vec![(96, VideoCodec::Vp8)]);
        assert_eq!(remote_video_codecs("not sdp"), vec![]);
    }

    #[test]
    fn the_peers_first_codec_we_enabled_is_sent() {
        assert_eq!(choose_video_codec(H264_FIRST, BOTH), Some(VideoCodec::H264));
        assert_eq!(choose_video_codec(H264_FIRST, &[VideoCodec::Vp8]), Some(VideoCodec::Vp8));
        assert_eq!(choose_video_codec(CHROME_LIKE, BOTH), Some(VideoCodec::Vp8));
        assert_eq!(choose_video_codec(CHROME_LIKE, &[VideoCodec::H264]), None);
        // A rejected video section carries nothing to send.
        let rejected = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(choose_video_codec(rejected, BOTH), None);
    }

    #[test]
    fn an_h264_variant_we_do_not_register_yields_to_an_exact_match() {
        // Baseline (42001f) first, then VP8: webrtc-rs negotiates only VP8.
        let sdp = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 102 96\r\na=rtpmap:102 H264/90000\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(choose_video_codec(sdp, BOTH), Some(VideoCodec::Vp8));
        // Alone, it is negotiated anyway (webrtc-rs falls back to a name match).
        assert_eq!(choose_video_codec(sdp, &[VideoCodec::H264]), Some(VideoCodec::H264));
        // Packetization mode 0 is not our variant either.
        let mode0 = sdp.replace("packetization-mode=1;profile-level-id=42001f", "packetization-mode=0;profile-level-id=42e01f");
        assert_eq!(choose_video_codec(&mode0, BOTH), Some(VideoCodec::Vp8));
        assert_eq!(choose_video_codec(H264_FIRST, BOTH), Some(VideoCodec::H264), "42e01f, mode 1: ours");
    }

    #[test]
    fn ignores_rejected_sections() {
        let sdp = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 49\r\na=rtpmap:49 H265/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(check_remote_sdp(sdp, BOTH).unwrap(), SdpSummary { video: false, audio: true, data: false });
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
