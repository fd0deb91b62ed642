//! A third party in a call: the agent mints a one-time link, a guest
//! (interpreter, colleague) opens it, and the hub relays signaling between
//! the guest and the agent's browser, which mixes the media. The kiosk
//! never hears of the guest.
//!
//! The invite lives on the agent's process. A guest whose socket lands on
//! another process is passed there over the bus: the token names the
//! process that minted it (`g1.<process>.<secret>`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use visio_protocol::{GuestRole, GuestToHub, GuestToken, HubToGuest};

use super::*;

/// How long a link may wait for its guest.
pub const INVITE_TTL: SignedDuration = SignedDuration::from_secs(15 * 60);
/// How many used or dead links the hub remembers, to say why one is refused.
const SPENT_MEMORY: usize = 1024;
/// The token's shape: `g1.<process>.<secret>`; `local` when alone.
const VERSION: &str = "g1";
const ALONE: &str = "local";

/// The invites minted here, the guests connected here, and links spent.
#[derive(Default)]
pub(super) struct Guests {
    invites: HashMap<TokenHash, Invite>,
    /// Guests connected to this process, and which invite they came with
    /// (held here, or on `process`).
    peers: HashMap<PeerId, GuestPeer>,
    spent: HashMap<TokenHash, Spent>,
    spent_order: VecDeque<TokenHash>,
}

struct Invite {
    session: SessionId,
    agent: PeerId,
    role: GuestRole,
    expires: Timestamp,
    guest: Option<GuestAt>,
}

/// Where an invite's guest is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GuestAt {
    Here(PeerId),
    /// On process `process`, as its connection `peer`.
    Remote { process: String, peer: u64 },
}

struct GuestPeer {
    invite: TokenHash,
    /// The process holding the invite; `None`: this one.
    process: Option<String>,
    /// Admitted (the welcome was sent): its signals may pass.
    admitted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spent {
    Used,
    /// Past its time, its call over, or replaced by a newer link.
    Dead,
}

/// What a guest's bus messages carry: a guest's hello passed on, the
/// answer, and signals either way (see [`BusMessage`]).
fn hash(token: &GuestToken) -> TokenHash {
    TokenHash(Sha256::digest(token.expose().as_bytes()).into())
}

/// The process a token names; `None` for a token of a lone hub or one
/// not of our shape.
fn process_of(token: &GuestToken) -> Option<&str> {
    let rest = token.expose().strip_prefix(VERSION)?.strip_prefix('.')?;
    let (process, secret) = rest.split_once('.')?;
    (!secret.is_empty() && process != ALONE && !process.is_empty()).then_some(process)
}

impl Hub {
    fn new_guest_token(&self) -> (GuestToken, TokenHash) {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let process = self.topology.process().unwrap_or(ALONE);
        let token = GuestToken(format!("{VERSION}.{process}.{}", URL_SAFE_NO_PAD.encode(secret)));
        let hash = hash(&token);
        (token, hash)
    }

    fn tell_guest(&mut self, peer: PeerId, msg: HubToGuest) {
        self.outputs.push_back(Output::ToGuest(peer, msg));
    }

    /// Refuses a guest's hello: the error, then the close.
    fn refuse_guest(&mut self, peer: PeerId, body: ErrorBody) {
        self.guests.peers.remove(&peer);
        self.tell_guest(peer, HubToGuest::Error(body));
        self.outputs.push_back(Output::Close(peer));
    }

    fn spend(&mut self, hash: TokenHash, how: Spent) {
        if self.guests.spent.insert(hash, how).is_none() {
            self.guests.spent_order.push_back(hash);
        }
        while self.guests.spent_order.len() > SPENT_MEMORY {
            if let Some(old) = self.guests.spent_order.pop_front() {
                self.guests.spent.remove(&old);
            }
        }
    }

    fn invite_of(&self, session: &SessionId) -> Option<TokenHash> {
        self.guests.invites.iter().find(|(_, i)| &i.session == session).map(|(h, _)| *h)
    }

    /// `invite`: a new link for the agent's current call.
    pub(super) fn invite(&mut self, now: Timestamp, peer: PeerId, session: SessionId, role: GuestRole) {
        if self.agents[&peer].call.as_ref() != Some(&session) {
            return self.agent_error(peer, ErrorCode::NotYourSession, format!("invite for session {session}, which is not your current call"));
        }
        if let Some(old) = self.invite_of(&session) {
            if self.guests.invites[&old].guest.is_some() {
                return self.agent_error(peer, ErrorCode::OutOfPlace, "a third party is already in this call; let them go first");
            }
            self.guests.invites.remove(&old);
            self.spend(old, Spent::Dead);
        }
        let (token, hash) = self.new_guest_token();
        let expires = now + INVITE_TTL;
        self.guests.invites.insert(hash, Invite { session: session.clone(), agent: peer, role, expires, guest: None });
        self.tell_agent(peer, HubToAgent::Invited { session, role, token, expires_at: expires });
    }

    /// A guest's socket said hello with `token`.
    pub fn handle_guest_connected(&mut self, now: Timestamp, peer: PeerId, token: GuestToken) {
        let hash = hash(&token);
        match (process_of(&token).map(str::to_owned), self.topology.clone()) {
            (Some(process), Topology::Bus { process: me }) if process != me => {
                self.guests.peers.insert(peer, GuestPeer { invite: hash, process: Some(process.clone()), admitted: false });
                let message = BusMessage::GuestHello { token, guest: peer.0, from: me };
                self.outputs.push_back(Output::Bus { to: process, message });
            }
            _ => {
                self.guests.peers.insert(peer, GuestPeer { invite: hash, process: None, admitted: false });
                match self.admit(now, hash, GuestAt::Here(peer)) {
                    Ok(welcome) => {
                        self.guests.peers.get_mut(&peer).expect("inserted above").admitted = true;
                        self.tell_guest(peer, welcome);
                    }
                    Err(body) => self.refuse_guest(peer, body),
                }
            }
        }
    }

    /// Lets a guest in with the invite `hash`, if it is good: the agent is
    /// told, and the guest's welcome returned.
    fn admit(&mut self, now: Timestamp, hash: TokenHash, at: GuestAt) -> Result<HubToGuest, ErrorBody> {
        let dead = || ErrorBody::new(ErrorCode::InviteExpired, "this link has expired or its call is over; ask the agent for a new one");
        let used = || ErrorBody::new(ErrorCode::InviteUsed, "this link was already used; ask the agent for a new one");
        let Some(invite) = self.guests.invites.get_mut(&hash) else {
            return Err(match self.guests.spent.get(&hash) {
                Some(Spent::Used) => used(),
                Some(Spent::Dead) => dead(),
                None => ErrorBody::new(ErrorCode::AuthFailed, "this link is not a valid invitation"),
            });
        };
        if invite.guest.is_some() {
            return Err(used());
        }
        if now > invite.expires {
            self.guests.invites.remove(&hash);
            self.spend(hash, Spent::Dead);
            return Err(dead());
        }
        invite.guest = Some(at);
        let (session, agent, role) = (invite.session.clone(), invite.agent, invite.role);
        self.spend(hash, Spent::Used);
        self.tell_agent(agent, HubToAgent::GuestJoined { session, role });
        Ok(HubToGuest::Welcome {
            protocol: PROTOCOL_VERSION,
            role,
            agent_name: self.agent_display_name(agent),
            ice_servers: self.ice_servers_for(now, "guest"),
        })
    }

    pub fn handle_guest_message(&mut self, now: Timestamp, peer: PeerId, msg: GuestToHub) {
        let Some(guest) = self.guests.peers.get(&peer) else { return };
        let (invite, process, admitted) = (guest.invite, guest.process.clone(), guest.admitted);
        match msg {
            GuestToHub::Hello { .. } => self.tell_guest(peer, HubToGuest::Error(ErrorBody::new(ErrorCode::OutOfPlace, "hello was already accepted"))),
            GuestToHub::Signal { .. } if !admitted => {
                self.tell_guest(peer, HubToGuest::Error(ErrorBody::new(ErrorCode::OutOfPlace, "signal before the welcome")));
            }
            GuestToHub::Signal { signal } => match process {
                None => self.guest_signal_here(invite, signal),
                Some(to) => {
                    let message = BusMessage::FromGuest { invite: invite.to_hex(), signal };
                    self.outputs.push_back(Output::Bus { to, message });
                }
            },
            GuestToHub::Leave => {
                self.guest_gone(peer);
                self.outputs.push_back(Output::Close(peer));
            }
        }
        self.flush(now);
    }

    /// A guest's signal for the agent of invite `hash` (held here).
    fn guest_signal_here(&mut self, hash: TokenHash, signal: Signal) {
        if let Some(invite) = self.guests.invites.get(&hash) {
            let (agent, session) = (invite.agent, invite.session.clone());
            self.tell_agent(agent, HubToAgent::GuestSignal { session, signal });
        }
    }

    /// `guest_signal` from the agent: to the call's guest, here or there.
    pub(super) fn agent_guest_signal(&mut self, peer: PeerId, session: SessionId, signal: Signal) {
        let guest = self.invite_of(&session).filter(|h| self.guests.invites[h].agent == peer).and_then(|h| self.guests.invites[&h].guest.clone());
        match guest {
            Some(GuestAt::Here(guest)) => self.tell_guest(guest, HubToGuest::Signal { signal }),
            Some(GuestAt::Remote { process, peer }) => {
                self.outputs.push_back(Output::Bus { to: process, message: BusMessage::ToGuest { guest: peer, signal } });
            }
            None => self.agent_error(peer, ErrorCode::OutOfPlace, format!("guest_signal for session {session}, which has no guest")),
        }
    }

    /// `dismiss_guest`: the guest (or the unused link) goes; the call stays.
    pub(super) fn dismiss_guest(&mut self, peer: PeerId, session: SessionId) {
        if let Some(hash) = self.invite_of(&session).filter(|h| self.guests.invites[h].agent == peer) {
            self.end_invite(hash);
        }
    }

    /// An invite ends: its guest is told and let go, the link is spent.
    fn end_invite(&mut self, hash: TokenHash) {
        let Some(invite) = self.guests.invites.remove(&hash) else { return };
        if invite.guest.is_none() {
            self.spend(hash, Spent::Dead);
        }
        match invite.guest {
            Some(GuestAt::Here(guest)) => {
                self.guests.peers.remove(&guest);
                self.tell_guest(guest, HubToGuest::Ended);
                self.outputs.push_back(Output::Close(guest));
            }
            Some(GuestAt::Remote { process, peer }) => {
                self.outputs.push_back(Output::Bus { to: process, message: BusMessage::GuestEnded { guest: peer } });
            }
            None => {}
        }
    }

    /// Invites whose call is no longer their agent's (ended, transferred,
    /// the agent gone) end; and links past their time are forgotten.
    pub(super) fn guests_follow_calls(&mut self, now: Timestamp) {
        let over: Vec<TokenHash> = self
            .guests
            .invites
            .iter()
            .filter(|(_, i)| {
                let in_call = self.agents.get(&i.agent).and_then(|a| a.call.as_ref()) == Some(&i.session);
                !in_call || (i.guest.is_none() && now > i.expires)
            })
            .map(|(h, _)| *h)
            .collect();
        for hash in over {
            self.end_invite(hash);
        }
    }

    /// A guest's connection here ended (or it left).
    pub(super) fn guest_gone(&mut self, peer: PeerId) -> bool {
        let Some(guest) = self.guests.peers.remove(&peer) else { return false };
        match guest.process {
            None => self.guest_left(guest.invite),
            Some(to) if guest.admitted => {
                self.outputs.push_back(Output::Bus { to, message: BusMessage::GuestGone { invite: guest.invite.to_hex() } });
            }
            Some(_) => {}
        }
        true
    }

    /// The guest of invite `hash` (held here) left: the agent is told.
    fn guest_left(&mut self, hash: TokenHash) {
        let Some(invite) = self.guests.invites.get(&hash) else { return };
        if invite.guest.is_none() {
            return;
        }
        let invite = self.guests.invites.remove(&hash).expect("checked above");
        self.tell_agent(invite.agent, HubToAgent::GuestLeft { session: invite.session });
    }

    /// A guest's bus message from another process.
    pub(super) fn handle_guest_bus(&mut self, now: Timestamp, message: BusMessage) {
        match message {
            BusMessage::GuestHello { token, guest, from } => {
                let at = GuestAt::Remote { process: from.clone(), peer: guest };
                let answer = match self.admit(now, hash(&token), at) {
                    Ok(welcome) => BusMessage::GuestAnswer { guest, welcome: Some(Box::new(welcome)), error: None },
                    Err(body) => BusMessage::GuestAnswer { guest, welcome: None, error: Some(body) },
                };
                self.outputs.push_back(Output::Bus { to: from, message: answer });
            }
            BusMessage::GuestAnswer { guest, welcome, error } => {
                let peer = PeerId(guest);
                let Some(g) = self.guests.peers.get_mut(&peer) else { return };
                match (welcome, error) {
                    (Some(welcome), _) => {
                        g.admitted = true;
                        self.tell_guest(peer, *welcome);
                    }
                    (None, error) => {
                        let body = error.unwrap_or_else(|| ErrorBody::new(ErrorCode::Internal, "the invitation could not be checked"));
                        self.refuse_guest(peer, body);
                    }
                }
            }
            BusMessage::FromGuest { invite, signal } => {
                if let Some(hash) = TokenHash::from_hex(&invite) {
                    self.guest_signal_here(hash, signal);
                }
            }
            BusMessage::ToGuest { guest, signal } if self.guests.peers.get(&PeerId(guest)).is_some_and(|g| g.admitted) => {
                self.tell_guest(PeerId(guest), HubToGuest::Signal { signal });
            }
            BusMessage::GuestGone { invite } => {
                if let Some(hash) = TokenHash::from_hex(&invite) {
                    self.guest_left(hash);
                }
            }
            BusMessage::GuestEnded { guest } => {
                let peer = PeerId(guest);
                if self.guests.peers.remove(&peer).is_some() {
                    self.tell_guest(peer, HubToGuest::Ended);
                    self.outputs.push_back(Output::Close(peer));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_process_and_carries_256_random_bits() {
        let token = GuestToken(format!("g1.7f3a9c01.{}", URL_SAFE_NO_PAD.encode([7u8; 32])));
        assert_eq!(process_of(&token), Some("7f3a9c01"));
        assert_eq!(process_of(&GuestToken("g1.local.abc".into())), None);
        assert_eq!(process_of(&GuestToken("nonsense".into())), None);
        assert_eq!(process_of(&GuestToken("g1.7f3a9c01.".into())), None);
    }
}
