//! What a call is made of: ICE servers, capture sources, outputs and limits.
//!
//! Plain data with serde, so the kiosk can fill it from its configuration file
//! and the hub can hand over ICE servers (the same shape as the browser's
//! `RTCIceServer`).

use serde::{Deserialize, Serialize};

/// One STUN or TURN server, shaped like the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, …
    pub urls: Vec<String>,
    /// TURN user name (empty for STUN).
    #[serde(default)]
    pub username: String,
    /// TURN password or REST credential (empty for STUN).
    #[serde(default)]
    pub credential: String,
}

/// Which candidates ICE may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IcePolicy {
    /// Host, server-reflexive and relay candidates.
    #[default]
    All,
    /// Only TURN relays (hides the kiosk's addresses; also how tests prove TURN works).
    Relay,
}

/// Where the kiosk's picture comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VideoSource {
    /// A V4L2 camera, e.g. `/dev/video0`.
    V4l2 {
        /// Device node.
        device: String,
    },
    /// Whatever camera GStreamer finds (`autovideosrc`).
    Auto,
    /// A generated picture (`videotestsrc`): tests, demos, machines without a camera.
    Test {
        /// `videotestsrc` pattern name, e.g. `smpte`, `ball`, `solid-color`.
        pattern: String,
        /// ARGB colour for `solid-color` (e.g. `0xffff0000` for red).
        #[serde(default)]
        colour: Option<u32>,
    },
    /// No video is sent.
    None,
}

/// Where the kiosk's sound comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AudioSource {
    /// A PulseAudio/PipeWire source; `None` for the default one.
    Pulse {
        /// Source name.
        #[serde(default)]
        device: Option<String>,
    },
    /// Whatever microphone GStreamer finds (`autoaudiosrc`).
    Auto,
    /// A sine tone (`audiotestsrc`) at this frequency in hertz.
    Test {
        /// Frequency in hertz; 0 is silence (a muted microphone, for tests).
        frequency: f64,
    },
    /// No audio is sent.
    None,
}

/// Where the agent's voice goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AudioSink {
    /// The system's default output (`autoaudiosink`).
    #[default]
    Auto,
    /// Decoded and dropped (`fakesink`): tests and machines without sound.
    Fake,
}

/// A video codec this crate can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// VP8 (libvpx): every browser has it; the default.
    Vp8,
    /// H.264 constrained baseline, packetization-mode 1 (`profile-level-id=42e01f`):
    /// what browsers accept everywhere, and the codec with hardware decoders on
    /// the weakest agent PCs.
    H264,
}

impl VideoCodec {
    /// The RTP encoding name as SDP writes it (`a=rtpmap:<pt> <name>/90000`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        }
    }

    /// The WebRTC MIME type (`video/VP8`, `video/H264`), as `getStats()` reports it.
    pub fn mime_type(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "video/VP8",
            VideoCodec::H264 => "video/H264",
        }
    }

    /// The codec named by an SDP encoding name or MIME type, any case.
    pub fn from_name(name: &str) -> Option<VideoCodec> {
        let name = name.strip_prefix("video/").unwrap_or(name);
        [VideoCodec::Vp8, VideoCodec::H264].into_iter().find(|c| c.encoding_name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encoding_name())
    }
}

fn default_codecs() -> Vec<VideoCodec> {
    vec![VideoCodec::Vp8, VideoCodec::H264]
}

/// Video capture and encoding settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoConfig {
    /// Picture source.
    pub source: VideoSource,
    /// Width sent at full quality, in pixels.
    pub width: u32,
    /// Height sent at full quality, in pixels.
    pub height: u32,
    /// Frames per second at full quality.
    pub framerate: u32,
    /// Longest gap between two keyframes, in frames. Keyframes come when
    /// the peer asks (PLI/FIR) or the pacer dropped video; a periodic one
    /// is only a safety net, and each costs a stall on a thin uplink
    /// (docs/decisions.md #383).
    pub keyframe_interval: u32,
    /// Writes the capture time into the top rows of each sent frame (black and
    /// white blocks) so a receiver in the same process can measure
    /// glass-to-glass latency. For benchmarks only: it is visible.
    #[serde(default)]
    pub stamp_capture_time: bool,
    /// Codecs this kiosk offers and accepts, most preferred first. As the
    /// offerer the list is offered in this order and the answer's first
    /// codec is sent; as the answerer the offer's first codec found here is
    /// sent (and answered first). A codec whose GStreamer elements are missing
    /// is left out with a warning.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<VideoCodec>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            source: VideoSource::Auto,
            width: 640,
            height: 360,
            framerate: 30,
            // libwebrtc's VP8 default: 100 s at 30 fps.
            keyframe_interval: 3000,
            stamp_capture_time: false,
            codecs: default_codecs(),
        }
    }
}

/// Audio capture and playback settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioConfig {
    /// Microphone.
    pub source: AudioSource,
    /// Loudspeaker.
    pub sink: AudioSink,
    /// Opus bitrate in bits per second; audio keeps it whatever the video gets.
    pub bitrate_bps: u32,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self { source: AudioSource::Auto, sink: AudioSink::Auto, bitrate_bps: 32_000 }
    }
}

/// Everything a [`Call`](crate::Call) needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallConfig {
    /// STUN and TURN servers.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// Which candidates ICE may use.
    #[serde(default)]
    pub ice_policy: IcePolicy,
    /// Bind to 127.0.0.1 and gather loopback candidates: tests and benchmarks on one machine.
    #[serde(default)]
    pub loopback_only: bool,
    /// PEM certificates a `turns:` server's certificate may chain to, beside
    /// the system's authorities. The kiosk passes the trust it has for its hub.
    #[serde(default)]
    pub turn_trust_pem: Option<String>,
    /// The site's HTTP proxy: TURN over TCP/TLS goes through it (`CONNECT`).
    #[serde(default)]
    pub proxy: Option<crate::proxy::HttpProxy>,
    /// Video.
    pub video: VideoConfig,
    /// Audio.
    pub audio: AudioConfig,
    /// Ceiling of the video bitrate in bits per second (the link's upload budget).
    pub max_video_bitrate_bps: u32,
    /// Floor below which video is not pushed; audio is never squeezed.
    pub min_video_bitrate_bps: u32,
    /// Video bitrate before the first bandwidth estimate (the congestion
    /// controller starts there too and climbs about 8 % a second).
    pub start_video_bitrate_bps: u32,
    /// Bytes a data channel may hold unsent before `send` waits (back-pressure).
    pub data_channel_send_buffer_limit: usize,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            ice_policy: IcePolicy::All,
            loopback_only: false,
            turn_trust_pem: None,
            proxy: None,
            video: VideoConfig::default(),
            audio: AudioConfig::default(),
            max_video_bitrate_bps: 1_500_000,
            min_video_bitrate_bps: 100_000,
            start_video_bitrate_bps: 800_000,
            data_channel_send_buffer_limit: 1024 * 1024,
        }
    }
}

impl CallConfig {
    /// A call with generated picture and tone, loopback networking and no sound
    /// output: what tests, benchmarks and the demo use.
    pub fn test_sources(pattern: &str, colour: Option<u32>, frequency: f64) -> Self {
        Self {
            loopback_only: true,
            video: VideoConfig {
                source: VideoSource::Test { pattern: pattern.to_owned(), colour },
                ..VideoConfig::default()
            },
            audio: AudioConfig {
                source: AudioSource::Test { frequency },
                sink: AudioSink::Fake,
                ..AudioConfig::default()
            },
            ..Self::default()
        }
    }
}
