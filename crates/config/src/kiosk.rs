//! One kiosk: `kiosk-config/kiosks/<id>.json`.
//!
//! [`RawKiosk`] mirrors the file (and generates its JSON Schema);
//! [`RawKiosk::validate`] checks it against the catalogue and yields a
//! [`Kiosk`], whose fields hold only valid values.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use visio_protocol::{KioskId, ServiceId};

use crate::{Catalogue, ConfigError, Problem, in_france};

pub use crate::limits::{DocumentLimits, MediaLimits, RawDocumentLimits, RawMediaLimits};
pub use crate::panel::{Panel, RawPanel};

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

    /// Checks every field and the cross-file rules (services known to the
    /// catalogue, id matching the file name), collecting every problem.
    pub fn validate(&self, ctx: &KioskContext<'_>) -> Result<Kiosk, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| problems.push(Problem::new(path, message));

        if !valid_id(&self.id) {
            problem("id", format!("{:?} is not a valid id; use lowercase letters, digits and '-'", self.id));
        } else if self.id != ctx.file_stem {
            problem("id", format!("the id {:?} does not match the file name {:?}", self.id, format!("{}.json", ctx.file_stem)));
        }
        for (path, text) in [("site", &self.site), ("commune", &self.commune)] {
            if text.trim().is_empty() {
                problem(path, "must not be empty".into());
            }
        }
        if !in_france(self.location.lat, self.location.lon) {
            problem("location", format!("coordinates {}, {} are outside France", self.location.lat, self.location.lon));
        }

        let mut services = Vec::new();
        if self.services.is_empty() {
            problem("services", "the kiosk offers no service; list at least one service id".into());
        }
        let mut seen = HashSet::new();
        for (i, id) in self.services.iter().enumerate() {
            let path = format!("services[{i}]");
            let sid = ServiceId::new(id.clone());
            if let Some(known) = ctx.known_services.filter(|known| !known.contains(id)) {
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                problem(&path, format!("unknown service {id:?}; the catalogue has: {}", known.join(", ")));
            } else if !seen.insert(id.as_str()) {
                problem(&path, format!("service {id:?} is listed twice"));
            } else {
                services.push(sid);
            }
        }

        let camera = media_source(&self.devices.camera, "devices.camera", &mut problem);
        let microphone = media_source(&self.devices.microphone, "devices.microphone", &mut problem);
        let scanner = match self.devices.scanner.as_str() {
            "none" => Scanner::None,
            name if name.is_empty() || name.contains(char::is_whitespace) && !name.contains(':') => {
                problem("devices.scanner", format!("{name:?} is not a SANE device name (see `scanimage -L`) or \"none\""));
                Scanner::None
            }
            name => Scanner::Sane(name.to_owned()),
        };
        let printer = match self.devices.printer.as_str() {
            "none" => Printer::None,
            // CUPS refuses queue names with spaces, '/' or '#', and longer than 127.
            name if name.is_empty() || name.len() > 127 || name.contains([' ', '/', '#', '\t']) => {
                problem(
                    "devices.printer",
                    format!("{name:?} is not a CUPS queue name (see `lpstat -p`; no spaces, '/' or '#') or \"none\""),
                );
                Printer::None
            }
            name => Printer::Cups(name.to_owned()),
        };

        if self.hub.urls.is_empty() {
            problem("hub.urls", "no hub URL; add one such as \"wss://hub.example.fr:8443/ws/kiosk\"".into());
        }
        let mut seen_urls = HashSet::new();
        for (i, url) in self.hub.urls.iter().enumerate() {
            let path = format!("hub.urls[{i}]");
            let host = url.strip_prefix("wss://").map(|rest| rest.split(['/', ':']).next().unwrap_or(""));
            match host {
                None => problem(&path, format!("{url:?} is not a wss:// URL; kiosks reach the hub only over TLS")),
                Some("") => problem(&path, format!("{url:?} has no host")),
                Some(_) if !seen_urls.insert(url.as_str()) => problem(&path, format!("{url:?} is listed twice")),
                Some(_) => {}
            }
        }
        let trust = match &self.hub.trust {
            RawTrust::System => Trust::System,
            RawTrust::Pem(pem) => {
                check_pem(pem, "hub.trust.pem", &mut problem);
                Trust::Pem(pem.clone())
            }
            RawTrust::PemFile(file) => match ctx.config_dir {
                None => {
                    problem("hub.trust.pem_file", "a signed bundle must embed the certificate (\"pem\")".into());
                    Trust::System
                }
                Some(_) if Path::new(file).is_absolute() => {
                    problem(
                        "hub.trust.pem_file",
                        format!("{file:?} must be relative to the configuration folder; for a file on the kiosk use \"kiosk_file\""),
                    );
                    Trust::System
                }
                Some(dir) => match std::fs::read_to_string(dir.join(file)) {
                    Ok(pem) => {
                        check_pem(&pem, "hub.trust.pem_file", &mut problem);
                        Trust::Pem(pem)
                    }
                    Err(e) => {
                        problem("hub.trust.pem_file", format!("cannot read {file:?}: {e}"));
                        Trust::System
                    }
                },
            },
            RawTrust::KioskFile(file) => {
                if !Path::new(file).is_absolute() {
                    problem("hub.trust.kiosk_file", format!("{file:?} must be an absolute path on the kiosk"));
                }
                Trust::KioskFile(PathBuf::from(file))
            }
        };

        let proxy = self.hub.proxy.as_ref().and_then(|p| p.validate().map_err(|(path, message)| problem(path, message)).ok());

        if !(15..=600).contains(&self.idle_timeout_seconds) {
            problem("idle_timeout_seconds", format!("{} is out of range; use 15 to 600 seconds", self.idle_timeout_seconds));
        }

        let mut languages = Vec::new();
        for (i, code) in self.languages.iter().enumerate() {
            let path = format!("languages[{i}]");
            match code.as_str() {
                "fr" | "en" => {
                    let language = if code == "fr" { Language::Fr } else { Language::En };
                    if languages.contains(&language) {
                        problem(&path, format!("language {code:?} is listed twice"));
                    } else {
                        languages.push(language);
                    }
                }
                _ => problem(&path, format!("unknown language {code:?}; the kiosk speaks \"fr\" and \"en\"")),
            }
        }
        if self.languages.first().map(String::as_str) != Some("fr") {
            problem("languages", "French must come first: residents are greeted in French".into());
        }

        let m = &self.media;
        if !(100..=8000).contains(&m.max_video_kbps) {
            problem("media.max_video_kbps", format!("{} is out of range; use 100 to 8000 kbit/s", m.max_video_kbps));
        }
        if !(5..=30).contains(&m.max_framerate) {
            problem("media.max_framerate", format!("{} is out of range; use 5 to 30 frames per second", m.max_framerate));
        }
        let resolution = m
            .max_resolution
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .filter(|&(w, h)| (160..=1920).contains(&w) && (120..=1080).contains(&h));
        if resolution.is_none() {
            problem(
                "media.max_resolution",
                format!("{:?} is not a resolution from 160x120 to 1920x1080; write it like \"1280x720\"", m.max_resolution),
            );
        }

        let d = &self.documents;
        if !(1..=200).contains(&d.max_file_mib) {
            problem("documents.max_file_mib", format!("{} is out of range; use 1 to 200 MiB", d.max_file_mib));
        }
        if !(1..=500).contains(&d.max_pages) {
            problem("documents.max_pages", format!("{} is out of range; use 1 to 500 pages", d.max_pages));
        }
        for (i, id) in d.scan_consent_services.iter().enumerate() {
            if !self.services.contains(id) {
                problem(&format!("documents.scan_consent_services[{i}]"), format!("{id:?} is not one of this kiosk's services"));
            }
        }

        for (field, why) in self.panel.check() {
            problem(field, why);
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        let (max_width, max_height) = resolution.unwrap_or((1280, 720));
        Ok(Kiosk {
            id: KioskId::new(self.id.clone()),
            site: self.site.clone(),
            commune: self.commune.clone(),
            address: self.address.clone(),
            location: self.location,
            services,
            devices: Devices { camera, microphone, scanner, printer },
            hub: HubLink { urls: self.hub.urls.clone(), trust, proxy },
            idle_timeout: Duration::from_secs(u64::from(self.idle_timeout_seconds)),
            languages,
            media: MediaLimits {
                max_video_kbps: m.max_video_kbps,
                max_width,
                max_height,
                max_framerate: m.max_framerate,
            },
            documents: DocumentLimits {
                max_file_bytes: u64::from(d.max_file_mib) * 1024 * 1024,
                max_pages: d.max_pages,
            },
            scan_consent: d.scan_consent_services.iter().map(|s| ServiceId::new(s.clone())).collect(),
            panel: Panel { diagonal_inches: self.panel.diagonal_inches, width_px: self.panel.width_px, height_px: self.panel.height_px },
        })
    }
}

fn media_source(text: &str, path: &str, problem: &mut impl FnMut(&str, String)) -> MediaSource {
    let first = text.split_whitespace().next().unwrap_or("");
    if text == "test" {
        MediaSource::Test
    } else if first.is_empty() || !first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        problem(path, format!("{text:?} is not a GStreamer source (e.g. \"v4l2src device=/dev/video0\") or \"test\""));
        MediaSource::Test
    } else {
        MediaSource::Gstreamer(text.to_owned())
    }
}

fn check_pem(pem: &str, path: &str, problem: &mut impl FnMut(&str, String)) {
    let begin = pem.find("-----BEGIN CERTIFICATE-----");
    let end = pem.find("-----END CERTIFICATE-----");
    if !matches!((begin, end), (Some(b), Some(e)) if b < e) {
        problem(path, "not a PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")".into());
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
