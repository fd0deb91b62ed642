//! Calls that outlive a connection: a side that lost the hub is held for
//! the resume grace ([`Hub::poll_timeout`], [`Hub::handle_timeout`]) and
//! comes back with its token ([`Hub::handle_kiosk_connected`] and
//! [`Hub::handle_agent_connected`] reattach it); calls a stopped process
//! left open are held for both sides ([`Hub::handle_restored`]).
//!
//! Resume tokens: `r1.<session>.<secret>`, the secret 256 random bits in
//! base64url. The session id inside lets the hub answer a token for a call
//! that is over with that call's `call_ended`; only the token's SHA-256 is
//! kept, in memory and in the store.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use visio_protocol::{ResumeToken, SessionId};

use super::*;

/// A call that was in progress when the previous hub process stopped, as
/// the store kept it: the new process holds it for both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredCall {
    pub session: SessionId,
    pub kiosk_id: KioskId,
    pub site: String,
    pub service: ServiceId,
    pub agent: AgentLogin,
    pub agent_name: String,
    pub queued_at: Timestamp,
    pub answered_at: Timestamp,
    pub resume: TokenHash,
}

/// How long a call is held for a side that lost the hub, by default.
pub const DEFAULT_RESUME_GRACE: SignedDuration = SignedDuration::from_secs(60);

const VERSION: &str = "r1";

/// The SHA-256 of a resume token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(TokenHash(bytes))
    }

    /// Compared in constant time: a timing difference must not tell how
    /// much of a guessed token was right.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A fresh token for `session`, and its hash.
pub fn new_token(session: &SessionId) -> (ResumeToken, TokenHash) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = ResumeToken(format!("{VERSION}.{}.{}", session.as_str(), URL_SAFE_NO_PAD.encode(secret)));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &ResumeToken) -> TokenHash {
    TokenHash(Sha256::digest(token.expose().as_bytes()).into())
}

/// The session a token names, if it has the shape of one. Says nothing
/// about whether the token is genuine.
fn session_of(token: &ResumeToken) -> Option<SessionId> {
    let rest = token.expose().strip_prefix(VERSION)?.strip_prefix('.')?;
    let (session, secret) = rest.rsplit_once('.')?;
    (!session.is_empty() && !secret.is_empty() && session.len() <= 64).then(|| SessionId(session.to_owned()))
}

impl Hub {
    /// Right after a welcome: puts the new connection back in its held
    /// call if `resume` is that call's token; tells it how a call its token
    /// names ended otherwise; and ends a held call of the same kiosk or
    /// agent that this hello did not resume (its media is gone).
    pub(super) fn reattach(&mut self, now: Timestamp, peer: PeerId, side: Side, resume: Option<ResumeToken>) {
        let held = self.held_call_of(peer, side);
        let resumed = resume.and_then(|token| {
            let named = session_of(&token);
            let hash = token_hash(&token);
            match (named, &held) {
                (Some(named), Some(held)) if &named == held && self.token_matches(held, &hash) => Some(named),
                (Some(session), _)
                    if self.topology.process().is_some()
                        && !self.sessions.contains_key(&session)
                        && !self.ended.contains_key(&session) =>
                {
                    // Perhaps held by another process, or left by one that
                    // died: the shared store knows.
                    let identity = match side {
                        Side::Kiosk => self.kiosks[&peer].kiosk_id.to_string(),
                        Side::Agent => self.agents[&peer].login.to_string(),
                    };
                    self.outputs.push_back(Output::Store(StoreOp::Claim { peer, side, session, identity, resume: hash }));
                    None
                }
                (Some(session), _) => {
                    // The same answer whether the token named another
                    // identity's call, an ended one, or nothing live: a
                    // token tells a stranger nothing.
                    let reason = self.ended_reason(peer, side, &session, &hash);
                    match side {
                        Side::Kiosk => self.tell_kiosk(peer, HubToKiosk::CallEnded { session, reason }),
                        Side::Agent => self.tell_agent(peer, HubToAgent::CallEnded { session, reason }),
                    }
                    None
                }
                (None, _) => {
                    let message = "the resume token is not one this hub issues";
                    match side {
                        Side::Kiosk => self.kiosk_error(peer, ErrorCode::MalformedMessage, message),
                        Side::Agent => self.agent_error(peer, ErrorCode::MalformedMessage, message),
                    }
                    None
                }
            }
        });
        let Some(held) = held else { return };
        if resumed.is_none() {
            // A held call survives only through its token. Ended as of when
            // the side was lost: its media ended with that connection.
            let since = match self.side_of(&held, side) {
                Some(Attached::Away { since, .. }) => since,
                _ => now,
            };
            let reason = match side {
                Side::Kiosk => EndReason::KioskDisconnected,
                Side::Agent => EndReason::AgentDisconnected,
            };
            return self.end_session(since, &held, reason);
        }
        let session = self.sessions.get_mut(&held).expect("held calls exist");
        let SessionState::InCall(call) = &mut session.state else { unreachable!("held calls are in a call") };
        let (was, other) = match side {
            Side::Kiosk => (std::mem::replace(&mut session.kiosk, Attached::Here(peer)), call.agent),
            Side::Agent => (std::mem::replace(&mut call.agent, Attached::Here(peer)), session.kiosk),
        };
        if was == Attached::Remote
            && let Some(previous) = call.remote.take()
        {
            // The side moved here from the process that held it, which
            // forgets it; both sides are here now.
            let me = self.topology.process().unwrap_or_default().to_owned();
            let message = BusMessage::SideMoved { session: held.clone(), side, to: me };
            self.outputs.push_back(Output::Bus { to: previous, message });
        }
        if self.topology.process().is_some() {
            // The store says who holds each side, for a process that must
            // find it (a claim); it may have been a process that died.
            self.outputs.push_back(Output::Store(StoreOp::Hold { session: held.clone(), side }));
        }
        let session = self.sessions.get_mut(&held).expect("held calls exist");
        let SessionState::InCall(call) = &mut session.state else { unreachable!("held calls are in a call") };
        // The call was claimed: a side still missing after a hub restart
        // is that side's own failure to come back, no longer the hub's.
        let other = match other {
            Attached::Away { since, until, reason: EndReason::HubShutdown } => {
                let reason = match side {
                    Side::Kiosk => EndReason::AgentDisconnected,
                    Side::Agent => EndReason::KioskDisconnected,
                };
                let relabelled = Attached::Away { since, until, reason };
                match side {
                    Side::Kiosk => call.agent = relabelled,
                    Side::Agent => session.kiosk = relabelled,
                }
                relabelled
            }
            other => other,
        };
        self.tell_resumed(now, peer, side, &held);
        match (other, side) {
            (Attached::Here(o), Side::Kiosk) => self.tell_agent(o, HubToAgent::PeerBack { session: held }),
            (Attached::Here(o), Side::Agent) => self.tell_kiosk(o, HubToKiosk::PeerBack { session: held }),
            (Attached::Away { .. }, Side::Kiosk) => self.tell_kiosk(peer, HubToKiosk::PeerAway { session: held }),
            (Attached::Away { .. }, Side::Agent) => self.tell_agent(peer, HubToAgent::PeerAway { session: held }),
            // The other side's process tells its peer this side is back.
            (Attached::Remote, _) => {
                let SessionState::InCall(call) = &self.sessions[&held].state else { unreachable!() };
                if let (Some(process), Some(me)) = (call.remote.clone(), self.topology.process().map(str::to_owned)) {
                    let message = BusMessage::SideMoved { session: held, side, to: me };
                    self.outputs.push_back(Output::Bus { to: process, message });
                }
            }
        }
    }

    /// The call held for the kiosk or agent behind `peer`, whose side of
    /// it is away.
    fn held_call_of(&self, peer: PeerId, side: Side) -> Option<SessionId> {
        let (kiosk_id, login) = match side {
            Side::Kiosk => (Some(&self.kiosks.get(&peer)?.kiosk_id), None),
            Side::Agent => (None, Some(&self.agents.get(&peer)?.login)),
        };
        let mut held: Vec<&SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| match &s.state {
                SessionState::Waiting => false,
                // Away from here, or connected to another process: a side
                // that comes here with its token moves here.
                SessionState::InCall(call) => match side {
                    Side::Kiosk => Some(&s.kiosk_id) == kiosk_id && s.kiosk.is_elsewhere(),
                    Side::Agent => Some(&call.agent_login) == login && call.agent.is_elsewhere(),
                },
            })
            .map(|(id, _)| id)
            .collect();
        // At most one in practice; the oldest if a bug ever made two.
        held.sort();
        held.first().map(|s| (*s).clone())
    }

    fn side_of(&self, session: &SessionId, side: Side) -> Option<Attached> {
        let s = self.sessions.get(session)?;
        match (&s.state, side) {
            (_, Side::Kiosk) => Some(s.kiosk),
            (SessionState::InCall(call), Side::Agent) => Some(call.agent),
            (SessionState::Waiting, Side::Agent) => None,
        }
    }

    fn token_matches(&self, session: &SessionId, hash: &TokenHash) -> bool {
        match self.sessions.get(session).map(|s| &s.state) {
            Some(SessionState::InCall(call)) => call.resume.matches(hash),
            _ => false,
        }
    }

    /// Why the call a token names ended, for its own side: the remembered
    /// reason when the token is genuine and names a call of this kiosk or
    /// agent; otherwise what the client would have seen had it stayed
    /// away, its own disconnection. A kiosk may then rate its call.
    fn ended_reason(&mut self, peer: PeerId, side: Side, session: &SessionId, hash: &TokenHash) -> EndReason {
        let fallback = match side {
            Side::Kiosk => EndReason::KioskDisconnected,
            Side::Agent => EndReason::AgentDisconnected,
        };
        let Some(ended) = self.ended.get(session) else { return fallback };
        let same_identity = match side {
            Side::Kiosk => self.kiosks.get(&peer).is_some_and(|k| k.kiosk_id == ended.kiosk_id),
            Side::Agent => self.agents.get(&peer).is_some_and(|a| Some(&a.login) == ended.agent.as_ref()),
        };
        if !(same_identity && ended.resume.is_some_and(|r| r.matches(hash))) {
            return fallback;
        }
        let reason = ended.reason;
        if side == Side::Kiosk
            && let Some(k) = self.kiosks.get_mut(&peer)
        {
            k.rateable = Some(session.clone());
        }
        reason
    }

    /// Calls that were in progress when the previous hub process stopped
    /// (at `stopped_at`): held for both sides until `now` plus the grace.
    /// Nobody claiming one ends it with `hub_shutdown` at `stopped_at`.
    pub fn handle_restored(&mut self, now: Timestamp, stopped_at: Timestamp, calls: Vec<RestoredCall>) {
        let away = Attached::Away { since: stopped_at, until: now + self.resume_grace, reason: EndReason::HubShutdown };
        for c in calls {
            self.sessions.insert(c.session, Session {
                kiosk: away,
                kiosk_id: c.kiosk_id,
                site: c.site,
                service: c.service,
                queued_at: c.queued_at,
                transferred_from: None,
                precedence: None,
                state: SessionState::InCall(Box::new(Call {
                    agent: away,
                    agent_login: c.agent,
                    agent_name: c.agent_name,
                    answered_at: c.answered_at,
                    // Media was up; either side may restart ICE.
                    negotiation: Negotiation::Stable,
                    resume: c.resume,
                    remote: None,
                })),
            });
        }
    }

    /// When [`Hub::handle_timeout`] must run next: the end of the earliest
    /// resume grace, or of an availability change held back.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let grace = self
            .sessions
            .values()
            .filter_map(|s| match &s.state {
                SessionState::Waiting => None,
                SessionState::InCall(call) => [s.kiosk, call.agent]
                    .into_iter()
                    .filter_map(|a| match a {
                        Attached::Away { until, .. } => Some(until),
                        Attached::Here(_) | Attached::Remote => None,
                    })
                    .min(),
            })
            .min();
        grace.into_iter().chain(self.availability.next_due()).min()
    }

    /// Ends the held calls whose grace ran out by `now`, as of when their
    /// side was lost; tells the availability changes held until now.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let mut expired: Vec<(Timestamp, SessionId, EndReason)> = self
            .sessions
            .iter()
            .filter_map(|(id, s)| match &s.state {
                SessionState::Waiting => None,
                SessionState::InCall(call) => [s.kiosk, call.agent]
                    .into_iter()
                    .filter_map(|a| match a {
                        Attached::Away { since, until, reason } if until <= now => Some((since, id.clone(), reason)),
                        _ => None,
                    })
                    .min_by_key(|(since, ..)| *since),
            })
            .collect();
        expired.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (since, session, reason) in expired {
            self.end_session(since, &session, reason);
        }
        self.dirty.extend(self.availability.due(now));
        self.flush(now);
    }

    /// Tells `peer`, back in `session`, that its call goes on.
    pub(super) fn tell_resumed(&mut self, now: Timestamp, peer: PeerId, side: Side, session: &SessionId) {
        let s = &self.sessions[session];
        let SessionState::InCall(call) = &s.state else { return };
        let (agent_name, service, kiosk_id, site) =
            (call.agent_name.clone(), s.service.clone(), s.kiosk_id.clone(), s.site.clone());
        let who = match side {
            Side::Kiosk => kiosk_id.to_string(),
            Side::Agent => call.agent_login.to_string(),
        };
        let ice_servers = self.ice_servers_for(now, &who);
        match side {
            Side::Kiosk => {
                if let Some(k) = self.kiosks.get_mut(&peer) {
                    k.session = Some(session.clone());
                }
                self.tell_kiosk(peer, HubToKiosk::CallResumed { session: session.clone(), agent_name, ice_servers });
            }
            Side::Agent => {
                if let Some(a) = self.agents.get_mut(&peer) {
                    a.call = Some(session.clone());
                }
                let devices = self.kiosk_devices(&kiosk_id);
                self.tell_agent(peer, HubToAgent::CallResumed {
                    session: session.clone(),
                    service,
                    kiosk_id,
                    site,
                    ice_servers,
                    devices,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_session_and_carries_256_random_bits() {
        let session = SessionId("7f3a9c01-000002".into());
        let (a, hash) = new_token(&session);
        let (b, _) = new_token(&session);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(session_of(&a), Some(session));
        assert_eq!(a.expose().rsplit_once('.').unwrap().1.len(), 43, "32 bytes in base64url");
        assert!(hash.matches(&token_hash(&a)));
        assert!(!hash.matches(&token_hash(&b)));
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(session_of(&ResumeToken("r1.x".into())), None);
        assert_eq!(session_of(&ResumeToken("garbage".into())), None);
    }
}
