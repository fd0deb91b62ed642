//! Everything a kiosk needs to start, from its configuration file and the
//! command line: which services it offers, how to reach the hub, its devices.
//! Both shells (window and headless) start from a [`Setup`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use visio_config::bundle::parse_public_key;
use visio_config::kiosk::Trust;
use visio_config::{Catalogue, Kiosk};
use visio_kiosk_core::ConfigFetch;
use visio_media::{AudioSink, VideoSource};
use visio_protocol::{KioskId, Secret, ServiceId};
use visio_transfer::Limits;
use visio_transfer::spool::Spool;

use crate::hub_link::HubSettings;
use crate::config_store::ConfigStore;
use crate::hub_link::{self, Endpoint};
use crate::visit::{self, VisitDevices, devices};

/// The demo kiosk, used when no configuration file is given.
const DEMO_KIOSK_JSON: &str = include_str!("../../../kiosk-config/kiosks/demo-kiosk.json");

/// What the command line says; `None` means "from the configuration file".
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The kiosk's file (as in kiosk-config/kiosks/); the demo kiosk if `None`.
    pub config: Option<PathBuf>,
    /// The service catalogue (kiosk-config/services.json); the embedded demo
    /// catalogue if `None`.
    pub catalogue: Option<PathBuf>,
    /// Overrides the configured hub addresses.
    pub hub: Option<String>,
    /// Overrides the configured certificate to trust (a PEM file).
    pub trust: Option<PathBuf>,
    /// This kiosk's enrolment secret; without it the kiosk runs without a hub.
    pub secret_file: Option<PathBuf>,
    /// Overrides the services offered, in tile order.
    pub services: Vec<String>,
    /// Where a visit's documents live while it lasts.
    pub spool_dir: Option<PathBuf>,
    /// Where the last good signed configuration is kept; without it the
    /// kiosk does not take configurations from the hub.
    pub state_dir: Option<PathBuf>,
    /// The admin public keys (`ed25519:…`) whose signatures this kiosk
    /// accepts on configurations.
    pub admin_keys: Vec<String>,
}

/// A kiosk ready to start.
#[derive(Debug, Clone)]
pub struct Setup {
    pub kiosk: Kiosk,
    pub catalogue: Arc<Catalogue>,
    /// Services offered, in tile order.
    pub offered: Vec<ServiceId>,
    pub session: visio_kiosk_core::Config,
    pub hub: Option<HubSettings>,
    pub visit: VisitDevices,
    /// The signed configuration store, when the kiosk takes its
    /// configuration from the hub.
    pub config_store: Option<Arc<Mutex<ConfigStore>>>,
}

impl Setup {
    pub fn load(sources: &Sources) -> anyhow::Result<Setup> {
        // The last good signed configuration outranks the files: it is the
        // admins' latest word, and it works without the hub. The store is
        // opened first, under the id the file name gives (a kiosk file is
        // named after its id), so a broken file cannot keep it from running.
        let config_store = match &sources.state_dir {
            Some(dir) => Some(open_store(dir, &sources.admin_keys, kiosk_id_of(sources))?),
            None => None,
        };
        let local = local_config(sources);
        let (kiosk, catalogue) = match (config_store.as_ref().and_then(|s| s.current()), local) {
            (Some(applied), local) => {
                if let Err(e) = local {
                    tracing::warn!(
                        problems = %format!("{e:#}"),
                        "the local configuration files are refused; running on the signed configuration"
                    );
                }
                tracing::info!(version = applied.version, "starting on the last good signed configuration");
                (applied.kiosk().clone(), applied.config.catalogue().clone())
            }
            (None, local) => local?,
        };
        let config_version = config_store.as_ref().and_then(ConfigStore::version);

        let offered: Vec<ServiceId> = if sources.services.is_empty() {
            kiosk.services.clone()
        } else {
            sources.services.iter().map(|s| ServiceId::new(s.clone())).collect()
        };
        for s in &offered {
            anyhow::ensure!(catalogue.get(s).is_some(), "unknown service {:?} in --services", s.as_str());
        }

        let session = visio_kiosk_core::Config {
            idle_timeout: kiosk.idle_timeout,
            scan_consent_services: kiosk.scan_consent.clone(),
            receipt_services: catalogue.services().iter().filter(|s| s.receipt).map(|s| s.id.clone()).collect(),
            app_version: env!("CARGO_PKG_VERSION").into(),
            config_version,
            ..Default::default()
        };
        let hub = match &sources.secret_file {
            Some(secret_file) => Some(hub_settings(&kiosk, sources, secret_file)?),
            None => None,
        };

        let spool_dir = sources.spool_dir.clone().unwrap_or_else(default_spool_dir);
        let spool = Spool::open(&spool_dir).with_context(|| format!("the document spool {}", spool_dir.display()))?;
        let loopback = hub.as_ref().is_some_and(|h| h.endpoint.hub_urls.iter().all(|u| hub_link::is_loopback(u)));
        // `turns:` servers are trusted as the hub is (docs/operations.md).
        let turn_trust = hub.as_ref().and_then(|h| h.endpoint.trust_pem.as_deref()).map(|p| String::from_utf8_lossy(p).into_owned());
        let visit = visit_devices(&kiosk, &catalogue, spool, loopback, turn_trust)?;
        let config_store = config_store.map(|s| Arc::new(Mutex::new(s)));
        Ok(Setup { catalogue: Arc::new(catalogue), offered, session, hub, visit, kiosk, config_store })
    }

    /// A downloaded configuration, for both shells: verified and stored
    /// (any refusal keeps the last good one). When applied, the offered
    /// services change now, and the returned devices serve from the next
    /// visit on.
    pub fn take_configuration(&mut self, version: u64, fetched: Result<String, String>) -> (ConfigFetch, Option<VisitDevices>) {
        let Some(store) = self.config_store.clone() else {
            let reason = "this kiosk keeps no configuration (no --state-dir)".into();
            return (ConfigFetch::Failed { version, reason }, None);
        };
        let text = match fetched {
            Ok(text) => text,
            Err(reason) => return (ConfigFetch::Failed { version, reason }, None),
        };
        let (version, kiosk, catalogue) = match store.lock().expect("config store").apply(&text) {
            Ok(applied) => (applied.version, applied.kiosk().clone(), applied.config.catalogue().clone()),
            Err(e) => return (ConfigFetch::Refused { version, reason: e.to_refusal() }, None),
        };
        match self.reconfigure(kiosk, catalogue) {
            Ok(devices) => (ConfigFetch::Applied { version }, Some(devices)),
            Err(e) => {
                tracing::warn!(error = %e, "the new configuration's devices cannot be used; keeping the previous ones");
                (ConfigFetch::Applied { version }, None)
            }
        }
    }

    fn reconfigure(&mut self, kiosk: Kiosk, catalogue: Catalogue) -> anyhow::Result<VisitDevices> {
        let loopback = self.visit.call.loopback_only;
        let visit = visit_devices(&kiosk, &catalogue, self.visit.spool.clone(), loopback, self.visit.call.turn_trust_pem.clone())?;
        self.offered = kiosk.services.clone();
        self.catalogue = Arc::new(catalogue);
        self.visit = visit.clone();
        self.kiosk = kiosk;
        Ok(visit)
    }

    /// Whether the configured camera is there now. Only a V4L2 device can be
    /// checked without opening it; the others are assumed present.
    pub fn camera_present(&self) -> bool {
        match &self.visit.call.video.source {
            VideoSource::V4l2 { device } => Path::new(device).exists(),
            _ => true,
        }
    }
}

/// The kiosk and catalogue its local files describe (the demo ones when
/// none is given).
fn local_config(sources: &Sources) -> anyhow::Result<(Kiosk, Catalogue)> {
    let catalogue = match &sources.catalogue {
        Some(path) => {
            let name = path.display().to_string();
            Catalogue::from_json(&name, &read_config(&name, path)?)?
        }
        None => Catalogue::demo(),
    };
    let kiosk = match &sources.config {
        Some(path) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text = read_config(&name, path)?;
            // `pem_file` paths are relative to the kiosk-config folder,
            // the parent of kiosks/.
            let config_dir = path.parent().and_then(Path::parent);
            Kiosk::from_json(&name, &text, &catalogue, config_dir)?
        }
        None => Kiosk::from_json("demo-kiosk.json", DEMO_KIOSK_JSON, &catalogue, None)?,
    };
    Ok((kiosk, catalogue))
}

/// This kiosk's id: its file's name without `.json`, which validation
/// holds equal to the id inside; the demo kiosk's without a file.
fn kiosk_id_of(sources: &Sources) -> KioskId {
    let stem = sources.config.as_deref().and_then(Path::file_stem).map(|s| s.to_string_lossy().into_owned());
    KioskId::new(stem.unwrap_or_else(|| "demo-kiosk".to_owned()))
}

/// The call and document devices a kiosk's configuration describes.
fn visit_devices(
    kiosk: &Kiosk,
    catalogue: &Catalogue,
    spool: Spool,
    loopback_only: bool,
    turn_trust_pem: Option<String>,
) -> anyhow::Result<VisitDevices> {
    // Tests and machines without sound decode the agent's voice into
    // nothing (the chime reads the same variable).
    let sink = match std::env::var("VISIO_AUDIO_SINK").as_deref() {
        Ok("fakesink") => AudioSink::Fake,
        _ => AudioSink::Auto,
    };
    let mut call = devices::call_config(&kiosk.devices, &kiosk.media, sink)?;
    // Loopback-only candidates when the hub is on this machine: the demo
    // and the tests, where no other interface may be used.
    call.loopback_only = loopback_only;
    call.turn_trust_pem = turn_trust_pem;
    call.proxy = http_proxy(kiosk);
    // The documents' caps come from the configuration; the rest of the
    // transfer's limits keep their defaults.
    let limits = Limits {
        max_file_bytes: kiosk.documents.max_file_bytes,
        max_pages: kiosk.documents.max_pages,
        ..Limits::default()
    };
    let receipt = visit::receipt::ReceiptHeading::new(&kiosk.site, catalogue);
    Ok(VisitDevices { call, services: devices::kiosk_services(&kiosk.devices, &kiosk.panel), spool, limits, receipt })
}

fn open_store(dir: &Path, admin_keys: &[String], kiosk_id: KioskId) -> anyhow::Result<ConfigStore> {
    let keys = admin_keys
        .iter()
        .map(|k| parse_public_key(k).with_context(|| format!("--admin-key {k:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        tracing::warn!("no --admin-key: every configuration from the hub will be refused");
    }
    let store = ConfigStore::open(dir, keys, kiosk_id)
        .with_context(|| format!("the configuration store in {}", dir.display()))?;
    if let Some(problem) = store.load_warning() {
        tracing::warn!(%problem, "the last good configuration was set aside");
    }
    Ok(store)
}

/// The site's proxy from `hub.proxy`, for the hub link and the calls' TURN.
fn http_proxy(kiosk: &Kiosk) -> Option<visio_media::proxy::HttpProxy> {
    let proxy = kiosk.hub.proxy.as_ref()?;
    Some(visio_media::proxy::HttpProxy {
        host: proxy.host.clone(),
        port: proxy.port,
        credentials: proxy
            .credentials
            .as_ref()
            .map(|(username, password)| visio_media::proxy::ProxyCredentials { username: username.clone(), password: password.clone() }),
    })
}

fn hub_settings(kiosk: &Kiosk, sources: &Sources, secret_file: &Path) -> anyhow::Result<HubSettings> {
    let secret = read(secret_file).context("the kiosk secret (from `visio-hub kiosk enroll`)")?;
    let trust = match (&sources.trust, &kiosk.hub.trust) {
        (Some(path), _) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
        (None, Trust::System) => None,
        (None, Trust::Pem(pem)) => Some(pem.clone().into_bytes()),
        (None, Trust::KioskFile(path)) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read the hub certificate {} (hub.trust in the kiosk's configuration)", path.display()))?,
        ),
    };
    let tls = hub_link::tls_config(trust.as_deref()).context("the hub certificate to trust")?;
    let hub_urls = match &sources.hub {
        Some(url) => vec![url.clone()],
        None => kiosk.hub.urls.clone(),
    };
    Ok(HubSettings {
        endpoint: Endpoint {
            hub_urls,
            trust_pem: trust,
            kiosk_id: kiosk.id.clone(),
            secret: Secret(secret.trim().to_owned()),
            proxy: http_proxy(kiosk),
        },
        tls,
    })
}

/// A configuration file as text; bytes that are not UTF-8 are located.
fn read_config(name: &str, path: &Path) -> anyhow::Result<String> {
    visio_config::source::read(name, path).map_err(|d| anyhow::anyhow!("{d}"))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A visit's files belong in memory-backed storage that a power cut erases:
/// `/run` (tmpfs) when the kiosk may write there, else the temporary folder.
fn default_spool_dir() -> PathBuf {
    let run = Path::new("/run/visio-kiosk");
    if std::fs::create_dir_all(run).is_ok() {
        return run.join("spool");
    }
    std::env::temp_dir().join("visio-kiosk-spool")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_kiosk_loads_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let setup = Setup::load(&Sources { spool_dir: Some(dir.path().join("spool")), ..Default::default() }).unwrap();
        assert_eq!(setup.kiosk.id.as_str(), "demo-kiosk");
        assert_eq!(setup.offered, setup.kiosk.services);
        assert!(setup.hub.is_none());
        assert_eq!(setup.visit.limits.max_file_bytes, 20 * 1024 * 1024, "today's default");
        assert_eq!(setup.visit.limits.max_pages, 50);
    }

    fn demo_folder() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config")
    }

    /// Issue 21, item 13: docs/protocol.md says the documents' caps come
    /// from the kiosk's configuration.
    #[test]
    fn the_document_limits_come_from_the_kiosk_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut kiosk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(demo_folder().join("kiosks/besse.json")).unwrap()).unwrap();
        kiosk["documents"] = serde_json::json!({ "max_file_mib": 5, "max_pages": 7 });
        std::fs::create_dir_all(dir.path().join("kiosks")).unwrap();
        let file = dir.path().join("kiosks/besse.json");
        std::fs::write(&file, kiosk.to_string()).unwrap();
        let setup = Setup::load(&Sources {
            config: Some(file),
            catalogue: Some(demo_folder().join("services.json")),
            spool_dir: Some(dir.path().join("spool")),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(setup.visit.limits.max_file_bytes, 5 * 1024 * 1024);
        assert_eq!(setup.visit.limits.max_pages, 7);
        assert_eq!(setup.visit.limits.max_concurrent_incoming, Limits::default().max_concurrent_incoming);
    }

    /// Issue 21, item 12: a kiosk that holds a good signed configuration
    /// boots on it whatever its local files say.
    #[test]
    fn a_broken_local_file_does_not_stop_a_kiosk_with_a_signed_configuration() {
        use visio_config::bundle::{Bundle, SigningKey, public_key_text};
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let state = dir.path().join("state");
        let set = visio_config::ConfigSet::load(&demo_folder()).unwrap();
        let mut store = ConfigStore::open(&state, vec![key.verifying_key()], "besse".into()).unwrap();
        store.apply(&Bundle::sign(&set, &key, 100, jiff::Timestamp::now()).to_json()).unwrap();
        std::fs::create_dir_all(dir.path().join("kiosks")).unwrap();
        let file = dir.path().join("kiosks/besse.json");
        // A Latin-1 byte and a key written twice.
        std::fs::write(&file, b"{\"id\": \"besse\", \"id\": \"besse\", \"site\": \"Mairie de Besse-et-Saint-Anastaise \xe9\"}").unwrap();
        let sources = Sources {
            config: Some(file),
            catalogue: Some(demo_folder().join("services.json")),
            spool_dir: Some(dir.path().join("spool")),
            state_dir: Some(state),
            admin_keys: vec![public_key_text(&key.verifying_key())],
            ..Default::default()
        };
        let setup = Setup::load(&sources).unwrap();
        assert_eq!(setup.kiosk.id.as_str(), "besse");
        assert_eq!(setup.session.config_version, Some(100));
        assert_eq!(setup.offered, set.kiosk("besse").unwrap().services);

        // Without the signed configuration the same file stops the kiosk,
        // saying where.
        let err = Setup::load(&Sources { state_dir: None, ..sources }).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "besse.json:1:76: not UTF-8: byte 0xE9 at offset 75 (an accent saved as Latin-1 or Windows-1252?); save the file as UTF-8"
        );
    }
}
