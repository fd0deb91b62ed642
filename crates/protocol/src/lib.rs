//! Wire messages between the kiosk, the hub and the agent console.
//!
//! Every message is one JSON object in one WebSocket text frame, tagged by
//! its `"type"` field. Each direction has its own enum, so a message that one
//! side may never send (an agent asking to queue, a kiosk taking a resident)
//! does not even parse:
//!
//! | from → to     | enum           |
//! |---------------|----------------|
//! | kiosk → hub   | [`KioskToHub`] |
//! | hub → kiosk   | [`HubToKiosk`] |
//! | agent → hub   | [`AgentToHub`] |
//! | hub → agent   | [`HubToAgent`] |
//! | host → hub    | [`HostToHub`]  |
//! | hub → host    | [`HubToHost`]  |
//! | supervisor → hub | [`SupervisorToHub`] |
//! | hub → supervisor | [`HubToSupervisor`] |
//! | guest → hub   | [`GuestToHub`] |
//! | hub → guest   | [`HubToGuest`] |
//!
//! The first message on a connection is a hello carrying [`PROTOCOL_VERSION`];
//! the hub refuses versions it does not speak (kiosks back to
//! [`OLDEST_KIOSK_PROTOCOL`]). Every message is documented
//! with an example in `docs/protocol.md`.
//!
//! Decoding goes through [`decode`], which checks the size before parsing and
//! tells a person what was wrong: too large, not JSON, an unknown type, or a
//! known type with bad fields.

#![forbid(unsafe_code)]

pub mod admin;
mod decode;
mod devices;
pub mod examples;
mod guest;
mod host;
mod ids;
mod log;
mod messages;
mod supervision;

pub use decode::{DecodeError, WireMessage, decode, encode};
pub use devices::{CallLink, DeviceHealth, DeviceState, DeviceStatus, FaultCode, SoundOutput, fault};
pub use log::SessionRecord;
pub use ids::{AgentLogin, GuestRole, GuestToken, KioskId, ResumeToken, Secret, ServiceId, SessionId};
pub use messages::*;
pub use supervision::{AgentDay, AgentState, BoardAgent, DayFigures, HubToSupervisor, ServiceDay, ServiceLine, SupervisorToHub};
pub use guest::{GuestToHub, HubToGuest};
pub use host::{Alert, AlertKind, DeskKiosk, HostToHub, HubToHost, MAX_SCREEN_CHARS};

/// The protocol version this build speaks. Bumped on any change that an
/// older peer would misread; additive optional fields do not bump it.
pub const PROTOCOL_VERSION: u32 = 2;

/// The oldest kiosk protocol the hub still serves, so a hub can be upgraded
/// before its fleet. A kiosk of version 1 never hears of transfers (version
/// 2): the hub refuses to transfer its resident, and the call goes on.
/// Consoles are served by the hub itself and must speak its version.
pub const OLDEST_KIOSK_PROTOCOL: u32 = 1;

/// Largest message the hub accepts, in bytes. An SDP offer with video, audio
/// and a data channel is about 5–10 KB; 64 KiB leaves room for many
/// candidates and still bounds what one peer can make the hub parse.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
