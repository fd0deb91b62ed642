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
use visio_protocol::{Secret, ServiceId};
use visio_transfer::Limits;
use visio_transfer::spool::Spool;

use crate::app::HubSettings;
use crate::config_store::ConfigStore;
use crate::hub_link::{self, Endpoint};
use crate::visit::{VisitDevices, devices};

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
        let catalogue = match &sources.catalogue {
            Some(path) => {
                Catalogue::from_json(&path.display().to_string(), &read(path)?)?
            }
            None => Catalogue::demo(),
        };
        let kiosk = match &sources.config {
            Some(path) => {
                let text = read(path)?;
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                // `pem_file` paths are relative to the kiosk-config folder,
                // the parent of kiosks/.
                let config_dir = path.parent().and_then(Path::parent);
                Kiosk::from_json(&name, &text, &catalogue, config_dir)?
            }
            None => Kiosk::from_json("demo-kiosk.json", DEMO_KIOSK_JSON, &catalogue, None)?,
        };
        // The last good signed configuration outranks the files: it is the
        // admins' latest word, and it works without the hub.
        let config_store = match &sources.state_dir {
            Some(dir) => Some(open_store(dir, &sources.admin_keys, &kiosk)?),
            None => None,
        };
        let (kiosk, catalogue) = match config_store.as_ref().and_then(|s| s.current()) {
            Some(applied) => {
                tracing::info!(version = applied.version, "starting on the last good signed configuration");
                (applied.kiosk().clone(), applied.config.catalogue().clone())
            }
            None => (kiosk, catalogue),
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
        let visit = visit_devices(&kiosk, spool, loopback)?;
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
        let visit = visit_devices(&kiosk, self.visit.spool.clone(), loopback)?;
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

/// The call and document devices a kiosk's configuration describes.
fn visit_devices(kiosk: &Kiosk, spool: Spool, loopback_only: bool) -> anyhow::Result<VisitDevices> {
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
    Ok(VisitDevices { call, services: devices::kiosk_services(&kiosk.devices), spool, limits: Limits::default() })
}

fn open_store(dir: &Path, admin_keys: &[String], kiosk: &Kiosk) -> anyhow::Result<ConfigStore> {
    let keys = admin_keys
        .iter()
        .map(|k| parse_public_key(k).with_context(|| format!("--admin-key {k:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        tracing::warn!("no --admin-key: every configuration from the hub will be refused");
    }
    let store = ConfigStore::open(dir, keys, kiosk.id.clone())
        .with_context(|| format!("the configuration store in {}", dir.display()))?;
    if let Some(problem) = store.load_warning() {
        tracing::warn!(%problem, "the last good configuration was set aside");
    }
    Ok(store)
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
        endpoint: Endpoint { hub_urls, trust_pem: trust, kiosk_id: kiosk.id.clone(), secret: Secret(secret.trim().to_owned()) },
        tls,
    })
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
    }
}
