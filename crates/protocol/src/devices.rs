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
    /// Where the call's sound and the kiosk's speech go now; absent from
    /// kiosks without a handset or headset configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound_output: Option<SoundOutput>,
}

/// The kiosk's sound output in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoundOutput {
    /// The room hears the call.
    Loudspeaker,
    /// A handset or headset is in use: the loudspeaker is cut.
    Handset,
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
    /// What is wrong, as a code that pages translate (the agent's
    /// console, the host page, the admin console); `detail` is the
    /// fallback for faults without one (a printer's own reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<FaultCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl DeviceStatus {
    pub fn new(state: DeviceState, detail: Option<&str>) -> DeviceStatus {
        DeviceStatus { state, code: None, detail: detail.map(str::to_owned) }
    }

    /// With a fault code ([`fault`]'s names).
    pub fn with_code(mut self, code: Option<&str>) -> DeviceStatus {
        self.code = code.map(FaultCode::named);
        self
    }
}

/// The faults the kiosk measures itself (its probes of the camera,
/// microphone and sound output). Pages look them up in their catalogues
/// as `fault.<device>.<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultCode {
    /// The device's node is not there (an unplugged camera).
    NotFound,
    /// The device would not open or start.
    NotStarted,
    /// The camera gave no frame in time.
    NoPicture,
    /// The camera's picture is black (a covered lens).
    Black,
    /// The microphone gave no sound at all in time.
    NoSound,
    /// The microphone sends digital silence (muted, unplugged).
    Silent,
    /// No loudspeaker or handset: the sound would go nowhere.
    NoOutput,
    /// A code this side does not know (a newer kiosk's): pages show the
    /// detail.
    #[serde(other)]
    Other,
}

impl FaultCode {
    pub const ALL: [FaultCode; 7] = [
        FaultCode::NotFound,
        FaultCode::NotStarted,
        FaultCode::NoPicture,
        FaultCode::Black,
        FaultCode::NoSound,
        FaultCode::Silent,
        FaultCode::NoOutput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::NotFound => fault::NOT_FOUND,
            FaultCode::NotStarted => fault::NOT_STARTED,
            FaultCode::NoPicture => fault::NO_PICTURE,
            FaultCode::Black => fault::BLACK,
            FaultCode::NoSound => fault::NO_SOUND,
            FaultCode::Silent => fault::SILENT,
            FaultCode::NoOutput => fault::NO_OUTPUT,
            FaultCode::Other => "other",
        }
    }

    /// The code of that name; [`FaultCode::Other`] for any other.
    pub fn named(name: &str) -> FaultCode {
        FaultCode::ALL.into_iter().find(|c| c.as_str() == name).unwrap_or(FaultCode::Other)
    }
}

/// The [`FaultCode`]s by name, for the crates that name them without
/// depending on this one's types (the media crate's probes).
pub mod fault {
    pub const NOT_FOUND: &str = "not_found";
    pub const NOT_STARTED: &str = "not_started";
    pub const NO_PICTURE: &str = "no_picture";
    pub const BLACK: &str = "black";
    pub const NO_SOUND: &str = "no_sound";
    pub const SILENT: &str = "silent";
    pub const NO_OUTPUT: &str = "no_output";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_codes_are_their_wire_names_and_unknown_ones_are_other() {
        for code in FaultCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(FaultCode::named(code.as_str()), code);
        }
        assert_eq!(FaultCode::named("on_fire"), FaultCode::Other);
        let status: DeviceStatus = serde_json::from_str(r#"{"state":"error","code":"on_fire","detail":"smoke"}"#).unwrap();
        assert_eq!(status.code, Some(FaultCode::Other));
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

