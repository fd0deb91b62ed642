//! The kiosk's part in fleet administration, for both shells: what its
//! devices look like (sent in heartbeats), and fetching the signed
//! configuration the hub announces (verified and stored by
//! [`crate::config_store`]).

use std::sync::Arc;
use std::time::Duration;

use visio_config::kiosk::{Devices, MediaSource, Printer, Scanner};
use visio_kiosk_core::{ConfigFetch, ConfigFetchRequest};
use visio_protocol::{DeviceHealth, DeviceState, DeviceStatus, KioskId, Secret};

use crate::config_store::ConfigStore;
use crate::hub_link::Endpoint;

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What the kiosk knows of its devices without disturbing them: whether
/// the camera's device node is there, what is configured, and the last
/// scanner or printer fault seen (cleared by the next success).
#[derive(Debug, Clone, Default)]
pub struct DeviceWatch {
    pub scanner_fault: Option<String>,
    pub printer_fault: Option<String>,
}

impl DeviceWatch {
    pub fn health(&self, devices: &Devices) -> DeviceHealth {
        let ok = || DeviceStatus::new(DeviceState::Ok, None);
        let not_installed = || DeviceStatus::new(DeviceState::NotInstalled, None);
        let camera = match &devices.camera {
            MediaSource::Test => DeviceStatus::new(DeviceState::Ok, Some("test pattern")),
            MediaSource::Gstreamer(description) => match v4l2_device(description) {
                Some(node) if !std::path::Path::new(node).exists() => {
                    DeviceStatus::new(DeviceState::Missing, Some(&format!("{node} not found")))
                }
                _ => ok(),
            },
        };
        let microphone = match &devices.microphone {
            MediaSource::Test => DeviceStatus::new(DeviceState::Ok, Some("test tone")),
            MediaSource::Gstreamer(_) => ok(),
        };
        let faulty = |fault: &Option<String>| match fault {
            Some(reason) => DeviceStatus::new(DeviceState::Error, Some(&truncate(reason, 200))),
            None => ok(),
        };
        let scanner = match &devices.scanner {
            Scanner::None => not_installed(),
            Scanner::Sane(_) => faulty(&self.scanner_fault),
        };
        let printer = match &devices.printer {
            Printer::None => not_installed(),
            Printer::Cups(_) => faulty(&self.printer_fault),
        };
        DeviceHealth { camera, microphone, scanner, printer }
    }
}

fn v4l2_device(description: &str) -> Option<&str> {
    let mut words = description.split_whitespace();
    (words.next() == Some("v4l2src")).then(|| {
        words.find_map(|w| w.strip_prefix("device=")).map(|d| d.trim_matches('"')).unwrap_or("/dev/video0")
    })
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Downloads announced configurations from the hub over HTTPS, with the
/// kiosk's own credentials and the certificate it trusts for the hub.
#[derive(Debug, Clone)]
pub struct ConfigFetcher {
    http: reqwest::Client,
    base: String,
    kiosk_id: KioskId,
    secret: Secret,
}

impl ConfigFetcher {
    pub fn new(endpoint: &Endpoint, tls: Arc<rustls::ClientConfig>) -> Result<ConfigFetcher, reqwest::Error> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(FETCH_TIMEOUT)
            .build()?;
        let hub = endpoint.hub_urls.first().map(String::as_str).unwrap_or_default();
        Ok(ConfigFetcher { http, base: https_origin(hub), kiosk_id: endpoint.kiosk_id.clone(), secret: endpoint.secret.clone() })
    }

    /// The bundle's text, or why it could not be had.
    pub async fn fetch(&self, request: &ConfigFetchRequest) -> Result<String, String> {
        let url = format!("{}{}", self.base, request.path);
        let response = self
            .http
            .get(&url)
            .basic_auth(self.kiosk_id.as_str(), Some(self.secret.expose()))
            .send()
            .await
            .map_err(|e| format!("cannot download {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        response.text().await.map_err(|e| format!("reading {url}: {e}"))
    }
}

/// Checks, stores and reports a fetched bundle: the input for the core.
pub fn apply(store: &mut ConfigStore, version: u64, fetched: Result<String, String>) -> ConfigFetch {
    match fetched {
        Err(reason) => ConfigFetch::Failed { version, reason },
        Ok(text) => match store.apply(&text) {
            Ok(applied) => ConfigFetch::Applied { version: applied.version },
            Err(e) => ConfigFetch::Refused { version, reason: e.to_refusal() },
        },
    }
}

/// `wss://hub:8443/ws/kiosk` → `https://hub:8443`.
fn https_origin(hub_url: &str) -> String {
    let rest = hub_url.split_once("://").map_or(hub_url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    format!("https://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_origin_comes_from_its_websocket_address() {
        assert_eq!(https_origin("wss://hub.example.fr:8443/ws/kiosk"), "https://hub.example.fr:8443");
        assert_eq!(https_origin("wss://127.0.0.1:8443"), "https://127.0.0.1:8443");
    }

    #[test]
    fn devices_report_what_is_configured_and_what_failed() {
        let devices = Devices {
            camera: MediaSource::Gstreamer("v4l2src device=/dev/video-that-is-not-there".into()),
            microphone: MediaSource::Test,
            scanner: Scanner::Sane("test".into()),
            printer: Printer::None,
        };
        let watch = DeviceWatch { scanner_fault: Some("scanner: Document feeder jammed".into()), printer_fault: None };
        let health = watch.health(&devices);
        assert_eq!(health.camera.state, DeviceState::Missing);
        assert!(health.camera.detail.as_deref().is_some_and(|d| d.contains("/dev/video-that-is-not-there")));
        assert_eq!(health.microphone.state, DeviceState::Ok);
        assert_eq!((health.scanner.state, health.scanner.detail.as_deref()), (DeviceState::Error, Some("scanner: Document feeder jammed")));
        assert_eq!(health.printer.state, DeviceState::NotInstalled);
    }
}
