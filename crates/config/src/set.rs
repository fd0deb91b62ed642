//! The whole configuration folder, loaded and cross-checked at once:
//! `services.json`, `hub.json` and `kiosks/*.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::hub::RawHubSettings;
use crate::kiosk::{KioskContext, RawKiosk};
use crate::{Catalogue, Diagnostic, HubSettings, Kiosk, Problem, SpanMap};

/// A validated configuration folder.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigSet {
    pub catalogue: Catalogue,
    pub hub: HubSettings,
    /// By kiosk id.
    pub kiosks: BTreeMap<String, Kiosk>,
}

/// Why a configuration folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The folder could not be read at all: nothing was checked.
    #[error("cannot read {}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Every problem found, in file order.
    #[error("{} problem(s) in the configuration:\n{}", .0.len(), list(.0))]
    Invalid(Vec<Diagnostic>),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

/// The files of a configuration, as text. Kiosk files are named by their
/// file stem (`besse` for `kiosks/besse.json`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub services: Option<String>,
    pub hub: Option<String>,
    pub kiosks: Vec<(String, String)>,
    /// Files that could not be read as text (not UTF-8, a symbolic link
    /// loop…) or do not belong (`kiosks/Besse.JSON`): reported with the
    /// rest, and never also reported as missing.
    pub unread: Vec<Diagnostic>,
}

impl Sources {
    /// Reads a configuration folder. A missing file is left `None` (a
    /// problem to report), so is a file that cannot be read (its problem
    /// is in `unread`); only a folder that cannot be read is an error.
    pub fn read(dir: &Path) -> Result<Sources, LoadError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LoadError::Io { path, source }
        };
        if !dir.is_dir() {
            return Err(LoadError::Io {
                path: dir.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such folder"),
            });
        }
        let mut unread = Vec::new();
        let mut optional = |name: &str| match crate::source::read(name, &dir.join(name)) {
            Ok(text) => Some(text),
            Err(_) if std::fs::symlink_metadata(dir.join(name)).is_err() => None,
            Err(d) => {
                unread.push(d);
                None
            }
        };
        let services = optional("services.json");
        let hub = optional("hub.json");
        let mut kiosks = Vec::new();
        let kiosk_dir = dir.join("kiosks");
        if kiosk_dir.is_dir() {
            for entry in std::fs::read_dir(&kiosk_dir).map_err(io(&kiosk_dir))? {
                let path = entry.map_err(io(&kiosk_dir))?.path();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let file = format!("kiosks/{name}");
                // Hidden files are editors' and tools' own (.gitkeep, swap files).
                if name.starts_with('.') {
                    continue;
                }
                let Some(stem) = name.strip_suffix(".json") else {
                    unread.push(Diagnostic {
                        file,
                        position: None,
                        problem: Problem::new(
                            "",
                            "not read: kiosks/ holds one <id>.json file per kiosk (lowercase \".json\"); rename this file or move it out",
                        ),
                    });
                    continue;
                };
                match crate::source::read(&file, &path) {
                    Ok(text) => kiosks.push((stem.to_owned(), text)),
                    Err(d) => unread.push(d),
                }
            }
        } else if std::fs::symlink_metadata(&kiosk_dir).is_ok()
            && let Err(e) = std::fs::read_dir(&kiosk_dir)
        {
            unread.push(crate::source::unreadable("kiosks/", &e));
        }
        kiosks.sort();
        unread.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(Sources { services, hub, kiosks, unread })
    }

    fn is_unread(&self, file: &str) -> bool {
        self.unread.iter().any(|d| d.file == file)
    }
}

/// Diagnostics of one file sorted by position (stable: those without one
/// keep their order, first).
fn in_file_order(diagnostics: impl Iterator<Item = Diagnostic>) -> Vec<Diagnostic> {
    let mut list: Vec<Diagnostic> = diagnostics.collect();
    list.sort_by_key(|d| d.position.map(|p| (p.line, p.column)));
    list
}

/// Parses a file's text, reporting its text problems (syntax, BOM,
/// duplicate keys). The value, when there is one, is still checked so
/// that every problem shows in one run; any problem refuses the set.
fn parse(file: &str, text: &str, out: &mut Vec<Diagnostic>) -> Option<(Value, SpanMap)> {
    let (value, problems) = crate::source::parse(file, text);
    out.extend(problems);
    value
}

impl ConfigSet {
    /// Loads and checks a configuration folder, reporting every problem.
    pub fn load(dir: &Path) -> Result<ConfigSet, LoadError> {
        let sources = Sources::read(dir)?;
        ConfigSet::from_sources(&sources, Some(dir)).map_err(LoadError::Invalid)
    }

    /// Checks a configuration given as text. `config_dir` resolves
    /// `pem_file` certificates; without it they are refused.
    pub fn from_sources(sources: &Sources, config_dir: Option<&Path>) -> Result<ConfigSet, Vec<Diagnostic>> {
        let mut out = sources.unread.clone();
        let missing = |file: &str, what: &str| Diagnostic {
            file: file.to_owned(),
            position: None,
            problem: Problem::new("", format!("missing; it holds {what}")),
        };

        // The catalogue first: kiosks are checked against its service ids.
        // `None` when the catalogue cannot be read at all: kiosks' service
        // ids are then not checked, rather than all reported unknown.
        let mut catalogue = None;
        let mut known_services: Option<BTreeSet<String>> = None;
        match &sources.services {
            None if sources.is_unread("services.json") => {}
            None => out.push(missing("services.json", "the service catalogue")),
            Some(text) => {
                if let Some((value, spans)) = parse("services.json", text, &mut out) {
                    // Even when the catalogue is invalid, the ids it does
                    // have let the kiosks be checked in the same run.
                    if let Some(items) = value.get("services").and_then(Value::as_array) {
                        known_services =
                            Some(items.iter().filter_map(|s| s.get("id")?.as_str().map(str::to_owned)).collect());
                    }
                    match Catalogue::from_value(&value) {
                        Ok(c) => catalogue = Some(c),
                        Err(problems) => {
                            out.extend(problems.into_iter().map(|p| Diagnostic::locate("services.json", &spans, p)))
                        }
                    }
                }
            }
        }

        let mut hub = None;
        match &sources.hub {
            None if sources.is_unread("hub.json") => {}
            None => out.push(missing("hub.json", "the hub's settings")),
            Some(text) => {
                if let Some((value, spans)) = parse("hub.json", text, &mut out) {
                    let mut problems = Vec::new();
                    let validated = crate::parse_all::<RawHubSettings>(&value, "", &RawHubSettings::template(), &mut problems)
                        .and_then(|raw| raw.validate().map_err(|p| problems.extend(p)).ok());
                    hub = validated;
                    out.extend(in_file_order(problems.into_iter().map(|p| Diagnostic::locate("hub.json", &spans, p))));
                }
            }
        }

        if sources.kiosks.is_empty() && !sources.unread.iter().any(|d| d.file.starts_with("kiosks/")) {
            out.push(Diagnostic {
                file: "kiosks/".into(),
                position: None,
                problem: Problem::new("", "no kiosk file; add one kiosks/<id>.json per kiosk"),
            });
        }
        let stems: BTreeSet<&str> = sources.kiosks.iter().map(|(stem, _)| stem.as_str()).collect();
        let mut kiosks = BTreeMap::new();
        for (stem, text) in &sources.kiosks {
            let file = format!("kiosks/{stem}.json");
            let Some((value, spans)) = parse(&file, text, &mut out) else { continue };
            let mut problems = Vec::new();
            let raw = RawKiosk::from_value(&value, &mut problems);
            if raw.is_none() {
                // Shape problems come in key order: show them in file order.
                out.extend(in_file_order(problems.drain(..).map(|p| Diagnostic::locate(&file, &spans, p))));
            }
            if let Some(raw) = raw {
                let ctx = KioskContext { file_stem: stem, known_services: known_services.as_ref(), config_dir };
                match raw.validate(&ctx) {
                    Ok(kiosk) => {
                        kiosks.insert(stem.clone(), kiosk);
                    }
                    Err(p) => problems.extend(p),
                }
                // Two files claiming one id: say which file has it.
                if raw.id != *stem && stems.contains(raw.id.as_str()) {
                    for p in problems.iter_mut().filter(|p| p.path == "id") {
                        p.message = format!("duplicate kiosk id {:?}: kiosks/{}.json already has it", raw.id, raw.id);
                    }
                }
            }
            out.extend(problems.into_iter().map(|p| Diagnostic::locate(&file, &spans, p)));
        }

        match (catalogue, hub, out.is_empty()) {
            (Some(catalogue), Some(hub), true) => {
                let set = ConfigSet { catalogue, hub, kiosks };
                // Refused now rather than by the hub after signing.
                let size = crate::bundle::bundle_size(&set.to_payload());
                if size > crate::bundle::MAX_BUNDLE_BYTES {
                    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
                    return Err(vec![Diagnostic {
                        file: "(all files)".into(),
                        position: None,
                        problem: Problem::new(
                            "",
                            format!(
                                "the signed configuration would be {:.1} MiB; the hub publishes at most {} MiB: \
                                 shorten the largest texts (inline certificates, addresses) or split the region",
                                mib(size),
                                crate::bundle::MAX_BUNDLE_BYTES / (1024 * 1024)
                            ),
                        ),
                    }]);
                }
                Ok(set)
            }
            _ => Err(out),
        }
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn hub(&self) -> &HubSettings {
        &self.hub
    }

    pub fn kiosk(&self, id: &str) -> Option<&Kiosk> {
        self.kiosks.get(id)
    }

    /// The whole set as one JSON value, certificates embedded: what a
    /// signed bundle carries. `{"services": …, "hub": …, "kiosks": {id: …}}`.
    pub fn to_payload(&self) -> Value {
        let kiosks: serde_json::Map<String, Value> = self
            .kiosks
            .iter()
            .map(|(id, k)| (id.clone(), serde_json::to_value(k.to_raw()).unwrap_or(Value::Null)))
            .collect();
        json!({
            "services": serde_json::to_value(self.catalogue.to_raw()).unwrap_or(Value::Null),
            "hub": serde_json::to_value(self.hub.to_raw()).unwrap_or(Value::Null),
            "kiosks": kiosks,
        })
    }

    /// Checks a payload made by [`ConfigSet::to_payload`], as a kiosk does
    /// with a bundle it received. Problems carry file and path, no line.
    pub fn from_payload(payload: &Value) -> Result<ConfigSet, Vec<Diagnostic>> {
        let text = |v: Option<&Value>| v.map(|v| serde_json::to_string_pretty(v).unwrap_or_default());
        let kiosks = match payload.get("kiosks") {
            Some(Value::Object(map)) => {
                map.iter().map(|(id, v)| (id.clone(), serde_json::to_string_pretty(v).unwrap_or_default())).collect()
            }
            _ => Vec::new(),
        };
        let sources =
            Sources { services: text(payload.get("services")), hub: text(payload.get("hub")), kiosks, unread: Vec::new() };
        ConfigSet::from_sources(&sources, None).map_err(|mut diagnostics| {
            // Lines of the re-serialized text would mislead: drop them.
            for d in &mut diagnostics {
                d.position = None;
            }
            diagnostics
        })
    }
}
