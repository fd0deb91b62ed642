//! Checking a kiosk file: every field, and the rules across files
//! (services known to the catalogue, the id matching the file name).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use visio_protocol::{KioskId, ServiceId};

use super::{
    Devices, DocumentLimits, HubLink, Kiosk, KioskContext, Language, MediaLimits, MediaSource, Panel, Printer, RawKiosk, RawTrust,
    Scanner, SoundSinks, Trust, valid_id,
};
use crate::{Problem, in_france};

impl RawKiosk {
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

        let sound = self.devices.sound.as_ref().and_then(|raw| {
            // pactl's sink names: no spaces; two different sinks.
            let bad = |name: &str| name.is_empty() || name.len() > 255 || name.contains(char::is_whitespace);
            for (field, name) in [("loudspeaker", &raw.loudspeaker), ("handset", &raw.handset)] {
                if bad(name) {
                    problem(&format!("devices.sound.{field}"), format!("{name:?} is not a sound server's sink name (see `pactl list short sinks`)"));
                }
            }
            if raw.loudspeaker == raw.handset {
                problem("devices.sound.handset", format!("the handset's sink {:?} is the loudspeaker's too; name the handset's own sink", raw.handset));
            }
            (!bad(&raw.loudspeaker) && !bad(&raw.handset) && raw.loudspeaker != raw.handset)
                .then(|| SoundSinks { loudspeaker: raw.loudspeaker.clone(), handset: raw.handset.clone() })
        });

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
            devices: Devices { camera, microphone, scanner, printer, sound },
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
