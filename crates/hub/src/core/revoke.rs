//! Which connection serves an agent or a kiosk now, for closing it when
//! its credentials are revoked (the shell decides when; see
//! `crate::driver::revoke`).

use visio_protocol::{AgentLogin, KioskId};

use super::{Hub, PeerId};

impl Hub {
    /// The connection of the agent signed in as `login` here, if any.
    pub fn agent_peer_of(&self, login: &AgentLogin) -> Option<PeerId> {
        self.agent_peer.get(login).copied()
    }

    /// The connection of kiosk `id` here, if any.
    pub fn kiosk_peer_of(&self, id: &KioskId) -> Option<PeerId> {
        self.kiosk_peer.get(id).copied()
    }
}
