//! From the kiosk's configuration to the devices a visit uses: the call's
//! camera, microphone and limits (visio-media), the scanner and printer
//! (visio-transfer).

use std::path::Path;

use visio_config::kiosk::{Devices, MediaLimits, MediaSource, Panel, Printer, Scanner};
use visio_media::{AudioConfig, AudioSink, AudioSource, CallConfig, VideoConfig, VideoSource};
use visio_transfer::check::ContentKind;
use visio_transfer::printer::{CupsPrinter, PrintError, PrintReport};
use visio_transfer::scanner::{Fed, SaneScanner, ScanError, ScanOutput};
use visio_transfer::{ScanSettings, display, printer, scanner};

/// The CUPS server when `CUPS_SERVER` (CUPS's own variable) is not set.
const DEFAULT_CUPS_SERVER: &str = "localhost:631";

/// A camera or microphone the media crate cannot open from this description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("devices.{device}: {description:?} is not supported; use \"test\", {supported}")]
pub struct UnsupportedSource {
    pub device: &'static str,
    pub description: String,
    pub supported: &'static str,
}

/// The call settings for this kiosk: its devices and media limits.
pub fn call_config(devices: &Devices, limits: &MediaLimits, sink: AudioSink) -> Result<CallConfig, UnsupportedSource> {
    let mut config = CallConfig::default();
    config.video = VideoConfig {
        source: video_source(&devices.camera)?,
        width: limits.max_width.min(1280),
        height: limits.max_height.min(720),
        framerate: limits.max_framerate,
        ..VideoConfig::default()
    };
    config.audio = AudioConfig { source: audio_source(&devices.microphone)?, sink, ..AudioConfig::default() };
    config.max_video_bitrate_bps = limits.max_video_kbps.saturating_mul(1000);
    config.start_video_bitrate_bps = config.start_video_bitrate_bps.min(config.max_video_bitrate_bps);
    config.min_video_bitrate_bps = config.min_video_bitrate_bps.min(config.max_video_bitrate_bps);
    Ok(config)
}

/// Reads `key=value` out of a one-element GStreamer description such as
/// `v4l2src device=/dev/video0`.
fn property<'a>(description: &'a str, key: &str) -> Option<&'a str> {
    description
        .split_whitespace()
        .skip(1)
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}

/// The V4L2 device node a camera description names, if any: the one part
/// of a camera that can be checked without opening it.
pub fn camera_node(source: &MediaSource) -> Option<String> {
    match video_source(source) {
        Ok(VideoSource::V4l2 { device }) => Some(device),
        _ => None,
    }
}

fn video_source(source: &MediaSource) -> Result<VideoSource, UnsupportedSource> {
    let description = match source {
        MediaSource::Test => return Ok(VideoSource::Test { pattern: "smpte".into(), colour: None }),
        MediaSource::Gstreamer(d) => d,
    };
    let unsupported = || UnsupportedSource {
        device: "camera",
        description: description.clone(),
        supported: "\"autovideosrc\", \"v4l2src device=/dev/videoN\" or \"videotestsrc [pattern=NAME]\"",
    };
    match description.split_whitespace().next() {
        Some("autovideosrc") => Ok(VideoSource::Auto),
        Some("videotestsrc") => {
            Ok(VideoSource::Test { pattern: property(description, "pattern").unwrap_or("smpte").to_owned(), colour: None })
        }
        Some("v4l2src") => Ok(VideoSource::V4l2 { device: property(description, "device").unwrap_or("/dev/video0").to_owned() }),
        _ => Err(unsupported()),
    }
}

fn audio_source(source: &MediaSource) -> Result<AudioSource, UnsupportedSource> {
    let description = match source {
        MediaSource::Test => return Ok(AudioSource::Test { frequency: 440.0 }),
        MediaSource::Gstreamer(d) => d,
    };
    match description.split_whitespace().next() {
        Some("autoaudiosrc") => Ok(AudioSource::Auto),
        Some("pulsesrc") => Ok(AudioSource::Pulse { device: property(description, "device").map(str::to_owned) }),
        // A test tone, or silence (`wave=silence`): a muted microphone.
        Some("audiotestsrc") if property(description, "wave") == Some("silence") => Ok(AudioSource::Test { frequency: 0.0 }),
        Some("audiotestsrc") => Ok(AudioSource::Test { frequency: 440.0 }),
        _ => Err(UnsupportedSource {
            device: "microphone",
            description: description.clone(),
            supported: "\"autoaudiosrc\", \"pulsesrc [device=NAME]\" or \"audiotestsrc [wave=silence]\"",
        }),
    }
}

/// The kiosk's scanner, or the lack of one (the agent is told so).
#[derive(Debug, Clone)]
pub enum KioskScanner {
    Sane(SaneScanner),
    Missing,
}

impl KioskScanner {
    pub fn from_config(scanner: &Scanner) -> KioskScanner {
        match scanner {
            Scanner::None => KioskScanner::Missing,
            Scanner::Sane(device) => KioskScanner::Sane(SaneScanner::new(device.clone())),
        }
    }
}

impl scanner::Scanner for KioskScanner {
    async fn scan(&self, settings: ScanSettings, dir: &Path, stem: &str) -> Result<ScanOutput, ScanError> {
        match self {
            KioskScanner::Sane(sane) => sane.scan(settings, dir, stem).await,
            KioskScanner::Missing => Err(ScanError::Device("this kiosk has no scanner".into())),
        }
    }

    async fn has_feeder(&self) -> bool {
        match self {
            KioskScanner::Sane(sane) => sane.has_feeder().await,
            KioskScanner::Missing => false,
        }
    }

    async fn scan_feeder(&self, settings: ScanSettings, dir: &Path, stem: &str, max: u32) -> Fed {
        match self {
            KioskScanner::Sane(sane) => sane.scan_feeder(settings, dir, stem, max).await,
            KioskScanner::Missing => Fed { pages: Vec::new(), stopped: Some(ScanError::NoFeeder), at_limit: false },
        }
    }
}

/// The kiosk's printer, or the lack of one.
#[derive(Debug, Clone)]
pub enum KioskPrinter {
    Cups(CupsPrinter),
    Missing,
}

impl KioskPrinter {
    /// A CUPS queue on the server `CUPS_SERVER` names (as `lp` does), or on
    /// this machine.
    pub fn from_config(printer: &Printer) -> KioskPrinter {
        match printer {
            Printer::None => KioskPrinter::Missing,
            Printer::Cups(queue) => {
                let server = std::env::var("CUPS_SERVER").ok().filter(|s| !s.is_empty());
                let server = server.as_deref().unwrap_or(DEFAULT_CUPS_SERVER);
                KioskPrinter::Cups(CupsPrinter::new(format!("ipp://{server}/printers/{queue}")))
            }
        }
    }
}

impl printer::Printer for KioskPrinter {
    async fn print(&self, path: &Path, kind: ContentKind, title: &str) -> Result<PrintReport, PrintError> {
        match self {
            KioskPrinter::Cups(cups) => cups.print(path, kind, title).await,
            KioskPrinter::Missing => Err(PrintError::Refused(printer::NO_PRINTER.into())),
        }
    }

    fn available(&self) -> bool {
        matches!(self, KioskPrinter::Cups(_))
    }
}

/// The kiosk's devices for the document-transfer session.
pub type KioskServices = visio_transfer::driver::KioskServices<KioskScanner, KioskPrinter, display::PopplerDisplay>;

/// Left and right margins of the call screen around a shown page, pixels.
pub const PAGE_MARGINS: u32 = 64;

/// The devices; shown pages are drawn for `panel`'s width.
pub fn kiosk_services(devices: &Devices, panel: &Panel) -> KioskServices {
    visio_transfer::driver::KioskServices {
        scanner: KioskScanner::from_config(&devices.scanner),
        printer: KioskPrinter::from_config(&devices.printer),
        display: display::PopplerDisplay::for_width(panel.width_px.saturating_sub(PAGE_MARGINS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gstreamer_descriptions_map_to_media_sources() {
        let camera = |d: &str| video_source(&MediaSource::Gstreamer(d.into()));
        assert_eq!(camera("v4l2src device=/dev/video2"), Ok(VideoSource::V4l2 { device: "/dev/video2".into() }));
        assert_eq!(camera("v4l2src"), Ok(VideoSource::V4l2 { device: "/dev/video0".into() }));
        assert_eq!(camera("autovideosrc"), Ok(VideoSource::Auto));
        let err = camera("ximagesrc").unwrap_err();
        assert!(err.to_string().contains("devices.camera: \"ximagesrc\" is not supported"), "{err}");

        let mic = |d: &str| audio_source(&MediaSource::Gstreamer(d.into()));
        assert_eq!(mic("pulsesrc device=\"usb-mic\""), Ok(AudioSource::Pulse { device: Some("usb-mic".into()) }));
        assert_eq!(mic("autoaudiosrc"), Ok(AudioSource::Auto));
        assert!(mic("alsasrc").is_err());
    }

    #[test]
    fn media_limits_cap_the_call() {
        let devices = Devices {
            camera: MediaSource::Test,
            microphone: MediaSource::Test,
            scanner: Scanner::None,
            printer: Printer::None,
            sound: None,
        };
        let limits = MediaLimits { max_video_kbps: 400, max_width: 640, max_height: 360, max_framerate: 15 };
        let config = call_config(&devices, &limits, AudioSink::Fake).unwrap();
        assert_eq!(config.max_video_bitrate_bps, 400_000);
        assert!(config.start_video_bitrate_bps <= 400_000);
        assert_eq!((config.video.width, config.video.height, config.video.framerate), (640, 360, 15));
    }
}
