//! What a kiosk reports of its devices in its heartbeats.

use serde::{Deserialize, Serialize};

/// What the kiosk knows of its devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub camera: DeviceStatus,
    pub microphone: DeviceStatus,
    pub scanner: DeviceStatus,
    pub printer: DeviceStatus,
    /// The sound output (loudspeaker or handset); absent from kiosks that
    /// do not check it (older ones, or sound sent nowhere on purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<DeviceStatus>,
}

impl DeviceHealth {
    /// Every device the metrics and tables name, in this order.
    pub const NAMES: [&'static str; 5] = ["camera", "microphone", "speaker", "scanner", "printer"];

    /// The devices reported, by name, in [`DeviceHealth::NAMES`]'s order.
    pub fn by_name(&self) -> Vec<(&'static str, &DeviceStatus)> {
        let mut all = vec![("camera", &self.camera), ("microphone", &self.microphone)];
        all.extend(self.speaker.as_ref().map(|s| ("speaker", s)));
        all.extend([("scanner", &self.scanner), ("printer", &self.printer)]);
        all
    }
}

/// One device's state, with a short detail for a person ("Document feeder
/// jammed", "/dev/video0 not found"); kiosks keep it under 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub state: DeviceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl DeviceStatus {
    pub fn new(state: DeviceState, detail: Option<&str>) -> DeviceStatus {
        DeviceStatus { state, detail: detail.map(str::to_owned) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Present and working.
    Ok,
    /// Configured but not found (unplugged, no driver).
    Missing,
    /// Found but failing (jammed, out of paper, stopped).
    Error,
    /// The kiosk's configuration says it has none (`"none"`): not a fault.
    NotInstalled,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Ok => "ok",
            DeviceState::Missing => "missing",
            DeviceState::Error => "error",
            DeviceState::NotInstalled => "not_installed",
        }
    }

    /// Missing or failing: worth an admin's attention.
    pub fn is_unhealthy(self) -> bool {
        matches!(self, DeviceState::Missing | DeviceState::Error)
    }
}

/// The network as the kiosk's last call measured it: what its video and
/// documents really had, beside the heartbeat's round trip to the hub.
/// Medians over the call (the last ten minutes of a longer one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLink {
    /// The uplink the kiosk's congestion control estimated, in kbit/s.
    pub uplink_kbps: u32,
    /// The media's round trip to the agent (RTCP), in milliseconds; absent
    /// when the agent's stack sent no receiver reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
}

