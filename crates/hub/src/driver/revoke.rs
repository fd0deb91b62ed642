//! Revocation reaches live sockets: every process polls the store's
//! revocations (sign-out, disable, removal, re-enrolment, written by the
//! hub's handlers or by `visio-hub agent|kiosk …`) and closes the sockets
//! it holds for them that were opened before the revocation.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use visio_protocol::{AgentLogin, ErrorBody, ErrorCode, KioskId};

use crate::core::{Hub, PeerId};
use crate::driver::{CLOSE_POLICY, DriverHandle, Input};
use crate::link::{Closing, PeerLink};
use crate::shown::shown;
use crate::store::Backend;
use crate::store::revocation::{Kind, Revocation};

/// How often each process reads new revocations: the longest a revoked
/// socket stays open (a sign-out on this process is applied at once).
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Polls `store` for revocations after the ones already there, and hands
/// them to the driver. Ends with the driver.
pub async fn watch(store: Backend, driver: DriverHandle) {
    let mut seen = match store.last_revocation().await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(error = %e, "cannot read revocations; revoked sockets will not be closed");
            return;
        }
    };
    let mut tick = tokio::time::interval(POLL_EVERY);
    loop {
        tick.tick().await;
        match store.revocations_since(seen).await {
            Ok(list) if list.is_empty() => {}
            Ok(list) => {
                seen = list.last().map_or(seen, |r| r.seq);
                if !driver.send(Input::Revoked(list)).await {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read revocations"),
        }
    }
}

/// Closes the connections `list` revokes: those of its agents and kiosks
/// that were opened before the revocation (a kiosk re-enrolled and back
/// with its new secret stays).
pub fn apply(hub: &mut Hub, peers: &mut HashMap<PeerId, PeerLink>, now: Timestamp, list: Vec<Revocation>) {
    for revocation in list {
        let peer = match revocation.kind {
            Kind::Agent => hub.agent_peer_of(&AgentLogin(revocation.name.clone())),
            Kind::Kiosk => hub.kiosk_peer_of(&KioskId(revocation.name.clone())),
        };
        let Some(peer) = peer else { continue };
        let Some(link) = peers.get(&peer) else { continue };
        if link.since > revocation.at {
            continue;
        }
        let message = "these credentials were revoked (signed out, disabled, removed or re-enrolled)";
        link.close(Closing::new(CLOSE_POLICY, "credentials revoked").with_error(ErrorBody::new(ErrorCode::AuthFailed, message)));
        peers.remove(&peer);
        tracing::info!(name = %shown(&revocation.name), ?peer, "closed a connection whose credentials were revoked");
        hub.handle_disconnected(now, peer);
    }
}
