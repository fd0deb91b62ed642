//! One kiosk: `kiosk-config/kiosks/<id>.json`.
//!
//! [`RawKiosk`] mirrors the file (and generates its JSON Schema);
//! [`RawKiosk::validate`] checks it against the catalogue and yields a
//! [`Kiosk`], whose fields hold only valid values.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use visio_protocol::{KioskId, ServiceId};

use crate::{Catalogue, ConfigError, Problem};

pub use crate::limits::{DocumentLimits, MediaLimits, RawDocumentLimits, RawMediaLimits};
pub use crate::panel::{Panel, RawPanel};

mod validate;

/// A kiosk file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKiosk {
    /// The kiosk's id, the same as its file name without `.json`
    /// (lowercase letters, digits and '-'). It is the id the kiosk is
    /// enrolled under at the hub (`visio-hub kiosk enroll`).
    pub id: String,
    /// The site as residents know it, e.g. "Mairie de Besse".
    pub site: String,
    /// The commune the site is in.
    pub commune: String,
    /// Postal address, for the technician who comes to fix the kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where the kiosk stands; kilometres saved are counted from here.
    pub location: Location,
    /// Ids of the catalogue's services this kiosk offers, in the order its
    /// home screen shows them. At least one.
    pub services: Vec<String>,
    /// The kiosk's camera, microphone, scanner and printer.
    pub devices: RawDevices,
    /// How the kiosk reaches the hub and which certificate it trusts.
    pub hub: RawHubLink,
    /// Seconds without a touch after which any screen but the call returns
    /// home (15 to 600).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u32,
    /// Languages the kiosk offers, French first: "fr", "en".
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Caps on what the kiosk sends, for its uplink (rural ADSL often has
    /// 1 Mbit/s up or less).
    #[serde(default)]
    pub media: RawMediaLimits,
    /// Caps on the documents a visit exchanges (scans, files the agent
    /// shows or prints).
    #[serde(default, skip_serializing_if = "RawDocumentLimits::is_default")]
    pub documents: RawDocumentLimits,
    /// The kiosk's touch screen: its diagonal and resolution. A document
    /// the agent shows is drawn for it (fit to width, at the screen's own
    /// resolution). 15.6 inches at 1920x1080 when absent.
    #[serde(default, skip_serializing_if = "RawPanel::is_default")]
    pub panel: RawPanel,
}

fn default_idle_timeout() -> u32 {
    90
}

fn default_languages() -> Vec<String> {
    vec!["fr".into(), "en".into()]
}

/// A point in decimal degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude, within France.
    pub lat: f64,
    /// Longitude, within France.
    pub lon: f64,
}

/// The kiosk's devices as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDevices {
    /// A GStreamer source description such as
    /// "v4l2src device=/dev/video0", or "test" for a test pattern.
    pub camera: String,
    /// A GStreamer source description such as "pulsesrc", or "test" for a
    /// test tone.
    pub microphone: String,
    /// A SANE device name such as "airscan:e0:Canon MF240" (or "test" for
    /// SANE's test backend), or "none".
    pub scanner: String,
    /// A CUPS queue name such as "Brother_HL_L2350DW", or "none".
    pub printer: String,
    /// A handset or headset beside the loudspeaker, for privacy: while
    /// it is plugged in, the call and the kiosk's speech go to it and the
    /// loudspeaker is cut. Absent: the system's default output only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<RawSound>,
}

/// The kiosk's two sound outputs, as the sound server (PulseAudio or
/// PipeWire) names its sinks (`pactl list short sinks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSound {
    /// The loudspeaker's sink, e.g. "alsa_output.pci-0000_00_1f.3.analog-stereo".
    pub loudspeaker: String,
    /// The handset's or headset's sink, e.g. "alsa_output.usb-Plantronics_Handset-00.analog-stereo":
    /// present while it is plugged in.
    pub handset: String,
}

/// The link to the hub as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHubLink {
    /// The hub's kiosk WebSocket URLs, tried in order:
    /// "wss://hub.example.fr:8443/ws/kiosk". At least one.
    pub urls: Vec<String>,
    /// The certificate the kiosk trusts for the hub.
    pub trust: RawTrust,
    /// The site's HTTP proxy, when only it may reach outside: the hub link
    /// and TURN over TLS go through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<crate::proxy::RawProxy>,
}

/// Which certificate the kiosk trusts for the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawTrust {
    /// The system's public certificate authorities (a hub with a
    /// certificate from a public CA).
    System,
    /// A PEM certificate file under kiosk-config/ (relative path); it is
    /// checked and embedded when the configuration is signed.
    PemFile(String),
    /// A PEM certificate written inline.
    Pem(String),
    /// An absolute path to a PEM file on the kiosk itself, installed with
    /// the kiosk (the hub's self-signed certificate in a demo).
    KioskFile(String),
}

/// A validated kiosk. `#[non_exhaustive]`: only [`RawKiosk::validate`]
/// makes one, so every field holds a checked value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Kiosk {
    pub id: KioskId,
    pub site: String,
    pub commune: String,
    pub address: Option<String>,
    pub location: Location,
    /// Known to the catalogue, no duplicates, at least one.
    pub services: Vec<ServiceId>,
    pub devices: Devices,
    pub hub: HubLink,
    pub idle_timeout: Duration,
    /// French first.
    pub languages: Vec<Language>,
    pub media: MediaLimits,
    pub documents: DocumentLimits,
    /// Services whose scans the resident confirms page by page.
    pub scan_consent: Vec<ServiceId>,
    pub panel: Panel,
}

/// A camera or microphone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// GStreamer's test pattern or tone.
    Test,
    /// A GStreamer source description, e.g. "v4l2src device=/dev/video0".
    Gstreamer(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanner {
    None,
    /// A SANE device name.
    Sane(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printer {
    None,
    /// A CUPS queue name.
    Cups(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices {
    pub camera: MediaSource,
    pub microphone: MediaSource,
    pub scanner: Scanner,
    pub printer: Printer,
    /// A handset beside the loudspeaker; `None`: the default output only.
    pub sound: Option<SoundSinks>,
}

/// The sound server's sinks for the loudspeaker and the handset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SoundSinks {
    pub loudspeaker: String,
    pub handset: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubLink {
    /// `wss://` URLs, at least one, tried in order.
    pub urls: Vec<String>,
    pub trust: Trust,
    pub proxy: Option<crate::proxy::Proxy>,
}

/// The certificate the kiosk trusts for the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    System,
    /// A PEM certificate (read from kiosk-config/ or written inline).
    Pem(String),
    /// A PEM file on the kiosk itself.
    KioskFile(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Fr,
    En,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// What a kiosk file is checked against.
#[derive(Debug, Clone, Copy)]
pub struct KioskContext<'a> {
    /// The file name without `.json`: the kiosk's id must match it.
    pub file_stem: &'a str,
    /// Ids of the catalogue's services; `None` when the catalogue could
    /// not be read, and service ids are not checked (its own problem is
    /// reported instead of one "unknown service" per kiosk).
    pub known_services: Option<&'a BTreeSet<String>>,
    /// The configuration folder `pem_file` paths are relative to; `None`
    /// in a signed bundle, where certificates are embedded.
    pub config_dir: Option<&'a Path>,
}

/// Whether `id` is a valid kiosk or service id.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

impl RawKiosk {
    /// Parses a kiosk file's value; `None` with a problem if its shape is
    /// wrong (a missing field, a number where a string belongs…).
    /// Every shape problem of the file is reported, not only the first.
    pub fn from_value(value: &Value, problems: &mut Vec<Problem>) -> Option<RawKiosk> {
        crate::parse_all(value, "", &RawKiosk::template(), problems)
    }

    /// A valid kiosk file with every field, which [`crate::parse_all`]
    /// borrows from to read past a shape error.
    fn template() -> Value {
        serde_json::json!({
            "id": "template", "site": "site", "commune": "commune", "address": "address",
            "location": { "lat": 45.0, "lon": 3.0 },
            "services": ["service"],
            "devices": { "camera": "test", "microphone": "test", "scanner": "none", "printer": "none" },
            "hub": { "urls": ["wss://hub.example.fr/ws/kiosk"], "trust": "system" },
            "idle_timeout_seconds": 90,
            "languages": ["fr"],
            "media": { "max_video_kbps": 1000, "max_resolution": "1280x720", "max_framerate": 25 },
            "documents": { "max_file_mib": 20, "max_pages": 50 },
        })
    }
}

impl Kiosk {
    /// Parses and validates one kiosk file on its own, e.g. a kiosk's local
    /// copy. `file` names it in errors and gives the expected id.
    pub fn from_json(file: &str, text: &str, catalogue: &Catalogue, config_dir: Option<&Path>) -> Result<Kiosk, ConfigError> {
        let value = crate::parse_file(file, text)?;
        let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or(file);
        let mut problems = Vec::new();
        let known_services = catalogue.services().iter().map(|s| s.id.as_str().to_owned()).collect();
        let ctx = KioskContext { file_stem: stem, known_services: Some(&known_services), config_dir };
        let result = RawKiosk::from_value(&value, &mut problems).map(|raw| raw.validate(&ctx));
        match result {
            Some(Ok(kiosk)) => Ok(kiosk),
            Some(Err(p)) => Err(ConfigError::Invalid { file: file.to_owned(), problems: p }),
            None => Err(ConfigError::Invalid { file: file.to_owned(), problems }),
        }
    }

    /// The kiosk as written, certificates embedded: what a bundle carries.
    pub fn to_raw(&self) -> RawKiosk {
        let source = |s: &MediaSource| match s {
            MediaSource::Test => "test".to_owned(),
            MediaSource::Gstreamer(d) => d.clone(),
        };
        RawKiosk {
            id: self.id.as_str().to_owned(),
            site: self.site.clone(),
            commune: self.commune.clone(),
            address: self.address.clone(),
            location: self.location,
            services: self.services.iter().map(|s| s.as_str().to_owned()).collect(),
            devices: RawDevices {
                camera: source(&self.devices.camera),
                microphone: source(&self.devices.microphone),
                scanner: match &self.devices.scanner {
                    Scanner::None => "none".into(),
                    Scanner::Sane(n) => n.clone(),
                },
                printer: match &self.devices.printer {
                    Printer::None => "none".into(),
                    Printer::Cups(n) => n.clone(),
                },
                sound: self.devices.sound.as_ref().map(|s| RawSound { loudspeaker: s.loudspeaker.clone(), handset: s.handset.clone() }),
            },
            hub: RawHubLink {
                urls: self.hub.urls.clone(),
                trust: match &self.hub.trust {
                    Trust::System => RawTrust::System,
                    Trust::Pem(p) => RawTrust::Pem(p.clone()),
                    Trust::KioskFile(p) => RawTrust::KioskFile(p.display().to_string()),
                },
                proxy: self.hub.proxy.as_ref().map(crate::proxy::Proxy::to_raw),
            },
            idle_timeout_seconds: self.idle_timeout.as_secs() as u32,
            languages: self.languages.iter().map(|l| l.code().to_owned()).collect(),
            media: RawMediaLimits {
                max_video_kbps: self.media.max_video_kbps,
                max_resolution: format!("{}x{}", self.media.max_width, self.media.max_height),
                max_framerate: self.media.max_framerate,
            },
            documents: RawDocumentLimits {
                max_file_mib: (self.documents.max_file_bytes / (1024 * 1024)) as u32,
                max_pages: self.documents.max_pages,
                scan_consent_services: self.scan_consent.iter().map(|s| s.as_str().to_owned()).collect(),
            },
            panel: self.panel.raw(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO_KIOSK: &str = include_str!("../../../kiosk-config/kiosks/demo-kiosk.json");

    #[test]
    fn the_demo_kiosk_loads_on_its_own() {
        let k = Kiosk::from_json("kiosks/demo-kiosk.json", DEMO_KIOSK, &Catalogue::demo(), None).unwrap();
        assert_eq!(k.id.as_str(), "demo-kiosk");
        assert_eq!(k.site, "Point Visio-Public de démonstration");
        assert_eq!(k.services[0].as_str(), "demo");
        assert_eq!(k.devices.camera, MediaSource::Test);
        assert_eq!(k.devices.microphone, MediaSource::Test);
        assert_eq!(k.languages, [Language::Fr, Language::En]);
        assert_eq!(k.idle_timeout, Duration::from_secs(60));
        assert_eq!(k.to_raw(), serde_json::from_str::<RawKiosk>(DEMO_KIOSK).unwrap());
    }

    #[test]
    fn scan_consent_names_the_kiosks_own_services() {
        let mut raw: Value = serde_json::from_str(DEMO_KIOSK).unwrap();
        raw["documents"] = serde_json::json!({ "scan_consent_services": ["demo"] });
        let k = Kiosk::from_json("kiosks/demo-kiosk.json", &raw.to_string(), &Catalogue::demo(), None).unwrap();
        assert_eq!(k.scan_consent, [ServiceId::new("demo".to_owned())]);
        assert_eq!(k.to_raw().documents.scan_consent_services, ["demo"]);
        raw["documents"] = serde_json::json!({ "scan_consent_services": ["cpam"] });
        let err = Kiosk::from_json("kiosks/demo-kiosk.json", &raw.to_string(), &Catalogue::demo(), None).unwrap_err();
        assert!(err.to_string().contains("documents.scan_consent_services[0]: \"cpam\" is not one of this kiosk's services"), "{err}");
    }

    #[test]
    fn a_handset_names_its_own_sink_beside_the_loudspeaker() {
        let mut raw: Value = serde_json::from_str(DEMO_KIOSK).unwrap();
        raw["devices"]["sound"] = serde_json::json!({ "loudspeaker": "speaker", "handset": "handset" });
        let k = Kiosk::from_json("kiosks/demo-kiosk.json", &raw.to_string(), &Catalogue::demo(), None).unwrap();
        assert_eq!(k.devices.sound, Some(SoundSinks { loudspeaker: "speaker".into(), handset: "handset".into() }));
        assert_eq!(k.to_raw().devices.sound, Some(RawSound { loudspeaker: "speaker".into(), handset: "handset".into() }));
        raw["devices"]["sound"] = serde_json::json!({ "loudspeaker": "speaker", "handset": "speaker" });
        let err = Kiosk::from_json("kiosks/demo-kiosk.json", &raw.to_string(), &Catalogue::demo(), None).unwrap_err().to_string();
        assert!(err.contains("devices.sound.handset") && err.contains("is the loudspeaker's too"), "{err}");
        raw["devices"]["sound"] = serde_json::json!({ "loudspeaker": "my speaker", "handset": "handset" });
        let err = Kiosk::from_json("kiosks/demo-kiosk.json", &raw.to_string(), &Catalogue::demo(), None).unwrap_err().to_string();
        assert!(err.contains("devices.sound.loudspeaker") && err.contains("pactl list short sinks"), "{err}");
    }

    #[test]
    fn the_template_is_a_valid_kiosk_file() {
        let mut problems = Vec::new();
        assert!(RawKiosk::from_value(&RawKiosk::template(), &mut problems).is_some(), "{problems:?}");
    }

    #[test]
    fn every_shape_error_is_reported_at_once() {
        let text = r#"{"id": 5, "site": "s", "commune": "c", "location": {"lat": "north", "lon": 3.0},
            "services": ["caf", 7], "devices": {"camera": "test", "microphone": "test", "scanner": "none"},
            "hub": {"urls": ["wss://h/ws"], "trust": {"pem_fil": "x"}}, "idle_timeout_seconds": -1,
            "langs": ["fr"], "media": {"max_framerate": "25"}}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let mut problems = Vec::new();
        assert!(RawKiosk::from_value(&value, &mut problems).is_none());
        // In key order here; the folder loader puts them in file order.
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "devices: missing field `printer`",
                "hub.trust: unknown variant `pem_fil`, expected one of `system`, `pem_file`, `pem`, `kiosk_file`",
                "id: invalid type: integer `5`, expected a string",
                "idle_timeout_seconds: invalid value: integer `-1`, expected u32",
                "langs: unknown field `langs`, expected one of `id`, `site`, `commune`, `address`, `location`, `services`, `devices`, `hub`, `idle_timeout_seconds`, `languages`, `media`, `documents`, `panel`",
                "location.lat: invalid type: string \"north\", expected f64",
                "media.max_framerate: invalid type: string \"25\", expected u32",
                "services[1]: invalid type: integer `7`, expected a string",
            ]
        );
    }

    #[test]
    fn the_file_name_gives_the_expected_id() {
        let err = Kiosk::from_json("kiosks/other.json", DEMO_KIOSK, &Catalogue::demo(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "kiosks/other.json: 1 problem(s):\n  id: the id \"demo-kiosk\" does not match the file name \"other.json\""
        );
    }
}
