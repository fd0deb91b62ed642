//! The hub's admin API bodies (`PUT /api/admin/config`, `GET /api/fleet`),
//! shared by the hub, which writes them, and `visio-admin`, which reads
//! them. JSON over HTTPS; documented in `docs/protocol.md`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{CallLink, ConfigRefusalCode, DeviceHealth, KioskId};

/// `GET /api/fleet`: every kiosk the hub knows, online or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    /// The hub's clock, so ages ("last heartbeat 40 s ago") do not depend
    /// on the admin's.
    pub now: Timestamp,
    /// How often kiosks are asked to send a heartbeat.
    pub heartbeat_seconds: u32,
    /// The configuration the hub serves, if one was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedConfig>,
    /// By kiosk id.
    pub kiosks: Vec<FleetKiosk>,
}

/// One kiosk in the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetKiosk {
    pub kiosk_id: KioskId,
    /// From the published configuration, else from the enrolment.
    pub site: String,
    /// Enrolled at the hub (`visio-hub kiosk enroll`). A kiosk of the
    /// published configuration that was never enrolled cannot connect.
    pub enrolled: bool,
    /// Connected to the hub now.
    pub online: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// The configuration version the kiosk last said it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<DeviceHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    /// What the kiosk's last call measured (uplink, media round trip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_call: Option<CallLink>,
    /// The last configuration the kiosk refused, until it applies that
    /// version or a newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<RefusalRecord>,
    /// What needs an admin's attention, the most pressing first; empty
    /// when all is well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<Concern>,
}

/// Something about a kiosk that needs attention, in order of urgency: the
/// fleet page puts the kiosks with the most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// Enrolled and not connected: residents there cannot call.
    Offline,
    /// In the published configuration but never enrolled: it cannot connect.
    NotEnrolled,
    /// A camera, microphone, scanner or printer missing or failing.
    DeviceFault,
    /// The kiosk refused a published configuration.
    ConfigRefused,
    /// The kiosk runs another configuration than the published one.
    ConfigBehind,
    /// The kiosk runs an older app than others in the fleet.
    AppBehind,
}

impl Concern {
    pub fn as_str(self) -> &'static str {
        match self {
            Concern::Offline => "offline",
            Concern::NotEnrolled => "not_enrolled",
            Concern::DeviceFault => "device_fault",
            Concern::ConfigRefused => "config_refused",
            Concern::ConfigBehind => "config_behind",
            Concern::AppBehind => "app_behind",
        }
    }
}

/// A configuration a kiosk refused, as it reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRecord {
    pub version: u64,
    pub code: ConfigRefusalCode,
    pub message: String,
    pub at: Timestamp,
}

/// The configuration the hub serves: the answer to `PUT /api/admin/config`
/// and part of the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedConfig {
    pub version: u64,
    pub payload_sha256: String,
    /// The admin key that signed it.
    pub key_id: String,
    pub published_at: Timestamp,
    /// The name of the admin token that uploaded it.
    pub published_by: String,
    /// Size of the bundle in bytes.
    pub size: u64,
    /// Kiosks that were connected and told about it (only in the answer
    /// to the upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_to: Option<u32>,
}

/// The body of every error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// For a person: what was wrong and what to do.
    pub error: String,
    /// For programs, on the admin API: `unauthorized`, `untrusted_key`,
    /// `bad_signature`, `invalid`, `rollback`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}
