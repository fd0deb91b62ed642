//! The host on site: the town hall's staff watch their site's kiosks from
//! the host page (`/host/`) and answer a resident's call for help.
//!
//! A kiosk asks with `help_request` (in [`crate::KioskToHub`]); the hub
//! raises an alert on the pages of its site's hosts, with device faults and
//! a lost hub link; a host acknowledges an alert, and for a help request
//! the kiosk hears `host_coming` (in [`crate::HubToKiosk`]).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::KioskId;
use crate::devices::DeviceHealth;
use crate::messages::ErrorBody;

/// Longest `screen` name a kiosk may send; the hub refuses longer ones.
pub const MAX_SCREEN_CHARS: usize = 40;

/// What the host page sends to the hub. The host is authenticated by the
/// admin console's session cookie of the WebSocket upgrade (role `host`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostToHub {
    Hello { protocol: u32 },
    /// "I have seen it" (and for `help`: "I am coming"). The alert stays
    /// on the board, acknowledged, until its cause goes away.
    Acknowledge { kiosk_id: KioskId, alert: AlertKind },
}

/// What the hub sends to the host page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToHost {
    Welcome {
        protocol: u32,
        login: String,
        display_name: String,
        /// The sites this host watches; empty: every site (an admin or a
        /// supervisor).
        sites: Vec<String>,
    },
    /// Every kiosk of the host's sites; sent after the welcome.
    Board { kiosks: Vec<DeskKiosk> },
    /// One kiosk changed (its link, devices, screen or alerts); replaces
    /// the page's copy of it.
    Kiosk { kiosk: Box<DeskKiosk> },
    Error(ErrorBody),
}

/// One kiosk as its site's hosts see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskKiosk {
    pub kiosk_id: KioskId,
    pub site: String,
    /// Connected to the hub now.
    pub online: bool,
    /// The screen the kiosk showed when it last said (a help request);
    /// absent if it never did on this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<String>,
    /// The devices as the last heartbeat said; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<DeviceHealth>,
    /// What needs a host now, oldest first.
    pub alerts: Vec<Alert>,
    /// When this entry last changed (the newest wins across hub processes).
    pub updated: Timestamp,
}

/// Something at a kiosk that needs a person on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub since: Timestamp,
    /// The device's fault code, which pages translate; `detail` is the
    /// fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<crate::FaultCode>,
    /// For a person: the device's own words ("Document feeder jammed").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The display name of the host who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The resident pressed "Appeler l'accueil".
    Help,
    Camera,
    /// The microphone (or its signal) is missing or failing.
    Microphone,
    /// The sound output (loudspeaker or handset): nobody hears the agent.
    Speaker,
    Scanner,
    Printer,
    /// The kiosk lost its connection to the hub.
    Link,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Help => "help",
            AlertKind::Camera => "camera",
            AlertKind::Microphone => "microphone",
            AlertKind::Speaker => "speaker",
            AlertKind::Scanner => "scanner",
            AlertKind::Printer => "printer",
            AlertKind::Link => "link",
        }
    }
}
