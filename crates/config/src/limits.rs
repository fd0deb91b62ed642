//! The caps a kiosk file sets on what a kiosk sends and accepts: media
//! (for its uplink) and documents (for its disk, printer and patience).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Media caps as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMediaLimits {
    /// Maximum video bitrate the kiosk sends, in kbit/s (100 to 8000).
    #[serde(default = "default_kbps")]
    pub max_video_kbps: u32,
    /// Largest video the kiosk sends, "WIDTHxHEIGHT", at most 1920x1080.
    #[serde(default = "default_resolution")]
    pub max_resolution: String,
    /// Maximum frames per second the kiosk sends (5 to 30).
    #[serde(default = "default_framerate")]
    pub max_framerate: u32,
}

fn default_kbps() -> u32 {
    1000
}

fn default_resolution() -> String {
    "1280x720".into()
}

fn default_framerate() -> u32 {
    25
}

impl Default for RawMediaLimits {
    fn default() -> Self {
        RawMediaLimits {
            max_video_kbps: default_kbps(),
            max_resolution: default_resolution(),
            max_framerate: default_framerate(),
        }
    }
}

/// Document caps as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocumentLimits {
    /// Largest document received, in MiB (1 to 200).
    #[serde(default = "default_file_mib")]
    pub max_file_mib: u32,
    /// Most pages of a PDF received (1 to 500).
    #[serde(default = "default_pages")]
    pub max_pages: u32,
    /// Services (ids among the kiosk's `services`) whose scans the resident
    /// confirms on screen, page by page, seeing each page, before anything
    /// leaves the kiosk. Empty by default: the resident touches nothing
    /// and the agent checks the pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_consent_services: Vec<String>,
}

fn default_file_mib() -> u32 {
    20
}

fn default_pages() -> u32 {
    50
}

impl Default for RawDocumentLimits {
    fn default() -> Self {
        RawDocumentLimits { max_file_mib: default_file_mib(), max_pages: default_pages(), scan_consent_services: Vec::new() }
    }
}

impl RawDocumentLimits {
    /// Left out of bundles at its defaults, so kiosks that predate the
    /// field still read bundles that do not change it.
    pub(crate) fn is_default(&self) -> bool {
        *self == RawDocumentLimits::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub max_video_kbps: u32,
    pub max_width: u32,
    pub max_height: u32,
    pub max_framerate: u32,
}


/// What the kiosk accepts of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    pub max_file_bytes: u64,
    pub max_pages: u32,
}
