//! The kiosk's part in fleet administration, for both shells: what its
//! devices look like (sent in heartbeats), and fetching the signed
//! configuration the hub announces (verified and stored by
//! [`crate::config_store`] through [`crate::setup::Setup::take_configuration`]).

use std::sync::Arc;
use std::time::Duration;

use visio_config::kiosk::{Devices, MediaSource, Printer, Scanner};
use visio_kiosk_core::ConfigFetchRequest;
use visio_protocol::{DeviceHealth, DeviceState, DeviceStatus, KioskId, Secret};

use crate::hub_link::{Endpoint, https_origin};
use crate::visit::{Device, Fault};
use crate::visit::devices::camera_node;

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What the kiosk knows of its devices without disturbing them: whether
/// the camera's device node is there, what is configured, and the last
/// scanner or printer fault seen (cleared by the next success).
#[derive(Debug, Clone, Default)]
pub struct DeviceWatch {
    pub scanner_fault: Option<Fault>,
    pub printer_fault: Option<Fault>,
    pub camera_fault: Option<Fault>,
    pub microphone_fault: Option<Fault>,
    /// The sound output, once probed (`Some(None)`: it works).
    pub speaker: Option<Option<Fault>>,
}

impl DeviceWatch {
    /// A scanner or printer failed (`Some(why)`) or worked (`None`).
    pub fn record(&mut self, device: Device, fault: Option<Fault>) {
        match device {
            Device::Scanner => self.scanner_fault = fault,
            Device::Printer => self.printer_fault = fault,
            Device::Camera => self.camera_fault = fault,
            Device::Microphone => self.microphone_fault = fault,
            Device::Speaker => self.speaker = Some(fault),
        }
    }

    pub fn health(&self, devices: &Devices) -> DeviceHealth {
        let ok = || DeviceStatus::new(DeviceState::Ok, None);
        let not_installed = || DeviceStatus::new(DeviceState::NotInstalled, None);
        let faulty = |fault: &Option<Fault>| match fault {
            Some(fault) => DeviceStatus::new(DeviceState::Error, Some(&truncate(&fault.detail, 200))).with_code(fault.code),
            None => ok(),
        };
        let camera = match (&devices.camera, camera_node(&devices.camera)) {
            (_, Some(node)) if !std::path::Path::new(&node).exists() => {
                DeviceStatus::new(DeviceState::Missing, Some(&format!("{node} not found"))).with_code(Some(visio_protocol::fault::NOT_FOUND))
            }
            _ if self.camera_fault.is_some() => faulty(&self.camera_fault),
            (MediaSource::Test, _) => DeviceStatus::new(DeviceState::Ok, Some("test pattern")),
            _ => ok(),
        };
        let microphone = match &devices.microphone {
            _ if self.microphone_fault.is_some() => faulty(&self.microphone_fault),
            MediaSource::Test => DeviceStatus::new(DeviceState::Ok, Some("test tone")),
            MediaSource::Gstreamer(_) => ok(),
        };
        let scanner = match &devices.scanner {
            Scanner::None => not_installed(),
            Scanner::Sane(_) => faulty(&self.scanner_fault),
        };
        let printer = match &devices.printer {
            Printer::None => not_installed(),
            Printer::Cups(_) => faulty(&self.printer_fault),
        };
        DeviceHealth { camera, microphone, scanner, printer, speaker: self.speaker.as_ref().map(faulty), sound_output: None }
    }
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
        let mut http = reqwest::Client::builder().use_preconfigured_tls((*tls).clone()).timeout(FETCH_TIMEOUT);
        if let Some(proxy) = &endpoint.proxy {
            let host = if proxy.host.contains(':') { format!("[{}]", proxy.host) } else { proxy.host.clone() };
            let mut through = reqwest::Proxy::all(format!("http://{host}:{}", proxy.port))?;
            if let Some(c) = &proxy.credentials {
                through = through.basic_auth(&c.username, &c.password);
            }
            http = http.proxy(through);
        }
        let http = http.build()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_report_what_is_configured_and_what_failed() {
        let devices = Devices {
            camera: MediaSource::Gstreamer("v4l2src device=/dev/video-that-is-not-there".into()),
            microphone: MediaSource::Test,
            scanner: Scanner::Sane("test".into()),
            printer: Printer::None,
            sound: None,
        };
        let silent = Fault { code: Some(visio_protocol::fault::SILENT), detail: "the microphone sends silence".into() };
        let watch = DeviceWatch {
            scanner_fault: Some("scanner: Document feeder jammed".to_owned().into()),
            microphone_fault: Some(silent),
            ..DeviceWatch::default()
        };
        let health = watch.health(&devices);
        assert_eq!(health.camera.state, DeviceState::Missing);
        assert!(health.camera.detail.as_deref().is_some_and(|d| d.contains("/dev/video-that-is-not-there")));
        assert_eq!(health.camera.code, Some(visio_protocol::FaultCode::NotFound), "pages translate the code");
        // A measured fault keeps its code for the pages, its words as the fallback.
        assert_eq!(
            (health.microphone.state, health.microphone.code, health.microphone.detail.as_deref()),
            (DeviceState::Error, Some(visio_protocol::FaultCode::Silent), Some("the microphone sends silence"))
        );
        assert_eq!((health.scanner.state, health.scanner.detail.as_deref()), (DeviceState::Error, Some("scanner: Document feeder jammed")));
        assert_eq!(health.scanner.code, None, "a scanner's own words have no code");
        assert_eq!(health.printer.state, DeviceState::NotInstalled);
    }
}
