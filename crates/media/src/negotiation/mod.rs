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

/// The payload types of RED and ULPFEC (`red/90000`, `ulpfec/90000`) in a
/// description's first active video section, when it lists both: the peer
/// sends and takes video with forward error correction.
pub fn video_fec_payload_types(sdp: &str) -> Option<(u8, u8)> {
    let sections = parse_sections(sdp).ok()?;
    let video = sections.iter().find(|s| s.kind == "video" && s.active())?;
    let find = |name: &str| video.codecs().find(|(_, n)| *n == name).and_then(|(pt, _)| pt.parse().ok());
    find("red").zip(find("ulpfec"))
}

/// An offer with RED and ULPFEC (and the retransmission formats of RED)
/// taken out of its video sections, for an answerer that declines them:
/// only the kiosk, which offers, sends FEC; between two peers of this
/// crate video stays plain.
pub fn without_video_fec(sdp: &str) -> String {
    let newline = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = Vec::new();
    let mut section: Vec<&str> = Vec::new();
    let flush = |section: &mut Vec<&str>, out: &mut Vec<String>| {
        let lines = std::mem::take(section);
        if !lines.first().is_some_and(|l| l.starts_with("m=video ")) {
            out.extend(lines.into_iter().map(str::to_owned));
            return;
        }
        let pt_of = |line: &str, prefix: &str| line.strip_prefix(prefix).and_then(|r| r.split([' ', ':']).next()).map(str::to_owned);
        let mut drop: Vec<String> = lines
            .iter()
            .filter_map(|l| {
                let pt = pt_of(l, "a=rtpmap:")?;
                let name = l.split_whitespace().nth(1)?.split('/').next()?.to_ascii_lowercase();
                matches!(name.as_str(), "red" | "ulpfec").then_some(pt)
            })
            .collect();
        let rtx: Vec<String> = lines
            .iter()
            .filter_map(|l| {
                let pt = pt_of(l, "a=fmtp:")?;
                let apt = l.split_whitespace().nth(1)?.split(';').find_map(|kv| kv.trim().strip_prefix("apt="))?;
                drop.contains(&apt.to_owned()).then_some(pt)
            })
            .collect();
        drop.extend(rtx);
        for line in lines {
            if line.starts_with("m=video ") {
                let kept: Vec<&str> = line.split(' ').enumerate().filter(|(i, f)| *i < 3 || !drop.iter().any(|d| d == f)).map(|(_, f)| f).collect();
                out.push(kept.join(" "));
            } else if ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|p| pt_of(line, p).is_some_and(|pt| drop.contains(&pt))) {
                continue;
            } else {
                out.push(line.to_owned());
            }
        }
    };
    for line in sdp.lines() {
        if line.starts_with("m=") {
            flush(&mut section, &mut out);
        }
        section.push(line);
    }
    flush(&mut section, &mut out);
    let mut text = out.join(newline);
    if sdp.ends_with('\n') {
        text.push_str(newline);
    }
    text
}

/// The ICE user fragment (`a=ice-ufrag:`) of a description: it names the
/// ICE generation, and changes with every ICE restart.
pub fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines().find_map(|l| l.trim().strip_prefix("a=ice-ufrag:")).map(|u| u.trim().to_owned())
}

/// Which end of DTLS a side plays: the client sends the first flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// Starts the handshake as soon as its ICE check succeeds.
    Client,
    /// Waits for the client (webrtc-rs's server adds a HelloVerifyRequest).
    Server,
}

/// The offerer's DTLS role once the answer chose (`a=setup:` of the answer:
/// `passive` leaves the offerer the client, `active` the server); `None`
/// when the answer does not say.
pub fn offerer_dtls_role(answer: &str) -> Option<DtlsRole> {
    answer.lines().find_map(|l| match l.trim() {
        "a=setup:passive" => Some(DtlsRole::Client),
        "a=setup:active" => Some(DtlsRole::Server),
        _ => None,
    })
}

/// What to do with a remote candidate now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateVerdict<C> {
    /// Apply it: it belongs to the peer's current description.
    Apply(C),
    /// Held until the description it belongs to is set.
    Held,
    /// It belongs to an ICE generation that a restart replaced: dropped.
    Stale,
}

/// Remote candidates that arrived before the description they belong to.
///
/// The hub can deliver the answerer's first candidate before its answer, and
/// after an ICE restart the peer's new candidates (new user fragment) before
/// its new description: applied early, a restart would wipe them. Candidates
/// name their generation by user fragment; one without is taken as current.
#[derive(Debug, Default)]
pub struct CandidateQueue<C> {
    remote_description_set: bool,
    /// The current remote description's user fragment.
    current: Option<String>,
    /// User fragments of replaced remote descriptions.
    past: Vec<String>,
    pending: VecDeque<(Option<String>, C)>,
}

impl<C> CandidateQueue<C> {
    /// An empty queue, waiting for the remote description.
    pub fn new() -> Self {
        Self { remote_description_set: false, current: None, past: Vec::new(), pending: VecDeque::new() }
    }

    fn verdict(&self, ufrag: Option<&str>) -> CandidateVerdict<()> {
        match ufrag {
            _ if !self.remote_description_set => CandidateVerdict::Held,
            None => CandidateVerdict::Apply(()),
            Some(u) if self.current.as_deref().is_none_or(|c| c == u) => CandidateVerdict::Apply(()),
            Some(u) if self.past.iter().any(|p| p == u) => CandidateVerdict::Stale,
            Some(_) => CandidateVerdict::Held,
        }
    }

    /// A candidate of generation `ufrag` arrived.
    pub fn handle_candidate(&mut self, ufrag: Option<&str>, candidate: C) -> CandidateVerdict<C> {
        match self.verdict(ufrag) {
            CandidateVerdict::Apply(()) => CandidateVerdict::Apply(candidate),
            CandidateVerdict::Stale => CandidateVerdict::Stale,
            CandidateVerdict::Held => {
                self.pending.push_back((ufrag.map(str::to_owned), candidate));
                CandidateVerdict::Held
            }
        }
    }

    /// A remote description with user fragment `ufrag` is set: its held
    /// candidates become ready, and those of the generation it replaces stale.
    pub fn handle_remote_description(&mut self, ufrag: Option<&str>) {
        self.remote_description_set = true;
        if let Some(u) = ufrag
            && self.current.as_deref() != Some(u)
            && let Some(old) = self.current.replace(u.to_owned())
        {
            self.past.push(old);
        }
        let past = &self.past;
        self.pending.retain(|(u, _)| u.as_ref().is_none_or(|u| !past.contains(u)));
    }

    /// Held candidates to apply now, oldest first.
    pub fn poll_ready(&mut self) -> Option<C> {
        let at = self.pending.iter().position(|(u, _)| self.verdict(u.as_deref()) == CandidateVerdict::Apply(()))?;
        self.pending.remove(at).map(|(_, c)| c)
    }

    /// How many candidates are held.
    pub fn held(&self) -> usize {
        self.pending.len()
    }
}

/// When to send a picture-loss indication to the remote sender.
///
/// RTP arriving before webrtc-rs has wired the remote track is dropped, so the
/// first keyframe is often lost (docs/platform.md). Ask for one as soon as the track
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
mod tests;
