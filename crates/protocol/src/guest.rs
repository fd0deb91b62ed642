//! A third party in a call: the agent invites an interpreter (spoken or
//! sign language) or a second agent with a one-time link; the guest opens
//! it in a browser (`/guest/`) and speaks over `/ws/guest`.
//!
//! The hub only relays: the guest's media go to the agent's browser, which
//! passes the kiosk's picture and sound on to the guest and sends the kiosk
//! its own camera with the guest's inset, and the voices mixed, on the
//! tracks it already sends (docs/protocol.md, "A third party"). The kiosk
//! hears of no guest.

use serde::{Deserialize, Serialize};

use crate::ids::{GuestRole, GuestToken};
use crate::messages::{ErrorBody, IceServer, Signal};

/// What the guest's page sends to the hub. The hello's token is the only
/// credential: no account, no cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum GuestToHub {
    Hello { protocol: u32, token: GuestToken },
    /// WebRTC negotiation with the agent's browser (the agent offers).
    Signal { signal: Signal },
    /// The guest leaves the call (closing the page does the same).
    Leave,
}

/// What the hub sends to the guest's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToGuest {
    /// The link was good: the agent's offer follows.
    Welcome { protocol: u32, role: GuestRole, agent_name: String, ice_servers: Vec<IceServer> },
    Signal { signal: Signal },
    /// The call is over, or the agent let the guest go.
    Ended,
    /// `invite_expired`, `invite_used` or `auth_failed` (an unknown link)
    /// refuse the hello; the connection then closes.
    Error(ErrorBody),
}
