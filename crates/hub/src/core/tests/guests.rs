//! A third party: a one-time link minted for the agent's call, a guest
//! let in once, signaling relayed between guest and agent only, and the
//! guest let go when the call ends; across processes over the bus.

use super::cluster::{carry_bus, cross_process_call};
use super::*;

impl World {
    fn invite(&mut self, agent: PeerId, session: &SessionId) -> GuestToken {
        self.agent_says(agent, AgentToHub::Invite { session: session.clone(), role: GuestRole::SignInterpreter });
        match self.agent_said(agent).as_slice() {
            [HubToAgent::Invited { session: s, token, expires_at, .. }] if s == session => {
                assert_eq!(*expires_at, self.now + crate::core::guests::INVITE_TTL);
                token.clone()
            }
            other => panic!("expected invited, got {other:?}"),
        }
    }

    fn guest(&mut self, token: &GuestToken) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_guest_connected(self.now, peer, token.clone());
        self.drain();
        peer
    }

    fn guest_says(&mut self, peer: PeerId, msg: GuestToHub) {
        self.hub.handle_guest_message(self.now, peer, msg);
        self.drain();
    }

    fn guest_said(&mut self, peer: PeerId) -> Vec<HubToGuest> {
        self.guest_inbox.remove(&peer).unwrap_or_default()
    }

    /// The guest was refused with `code` and closed.
    fn guest_refused(&mut self, peer: PeerId, code: ErrorCode) {
        match self.guest_said(peer).as_slice() {
            [HubToGuest::Error(e)] => assert_eq!(e.code, code, "{e:?}"),
            other => panic!("expected one error, got {other:?}"),
        }
        assert!(self.closed.contains(&peer), "a refused guest is closed");
    }
}

fn in_call() -> (World, PeerId, PeerId, SessionId) {
    let mut w = World::new();
    let kiosk = w.kiosk("besse");
    let marie = w.available_agent("marie", &["caf"]);
    let session = w.queue(kiosk, "caf");
    assert_eq!(w.take(marie), session);
    w.kiosk_said(kiosk);
    (w, kiosk, marie, session)
}

#[test]
fn a_guest_joins_once_with_the_link_and_signals_pass_between_guest_and_agent_only() {
    let (mut w, kiosk, marie, session) = in_call();
    let token = w.invite(marie, &session);
    assert!(token.expose().starts_with("g1.local."), "{}", token.expose());

    let guest = w.guest(&token);
    match w.guest_said(guest).as_slice() {
        [HubToGuest::Welcome { role: GuestRole::SignInterpreter, agent_name, .. }] => assert_eq!(agent_name, "marie (test)"),
        other => panic!("expected welcome, got {other:?}"),
    }
    assert_eq!(w.agent_told(marie), [HubToAgent::GuestJoined { session: session.clone(), role: GuestRole::SignInterpreter }]);

    w.agent_says(marie, AgentToHub::GuestSignal { session: session.clone(), signal: offer() });
    assert_eq!(w.guest_said(guest), [HubToGuest::Signal { signal: offer() }]);
    w.guest_says(guest, GuestToHub::Signal { signal: answer() });
    assert_eq!(w.agent_said(marie), [HubToAgent::GuestSignal { session: session.clone(), signal: answer() }]);
    assert!(w.kiosk_said(kiosk).is_empty(), "the kiosk hears nothing of the guest");

    // The same link a second time: refused, the first guest stays.
    let again = w.guest(&token);
    w.guest_refused(again, ErrorCode::InviteUsed);
    // One guest at a time.
    w.agent_says(marie, AgentToHub::Invite { session: session.clone(), role: GuestRole::Agent });
    assert_eq!(w.error_code_of_agent(marie), ErrorCode::OutOfPlace);

    // The call ends: the guest is told and closed.
    w.agent_says(marie, AgentToHub::HangUp { session: session.clone() });
    assert_eq!(w.guest_said(guest), [HubToGuest::Ended]);
    assert!(w.closed.contains(&guest));
    let late = w.guest(&token);
    w.guest_refused(late, ErrorCode::InviteUsed);
}

#[test]
fn an_expired_unknown_or_replaced_link_is_refused_and_saying_why() {
    let (mut w, _kiosk, marie, session) = in_call();
    let token = w.invite(marie, &session);
    w.advance(16);
    let guest = w.guest(&token);
    w.guest_refused(guest, ErrorCode::InviteExpired);
    assert!(w.agent_told(marie).is_empty(), "the agent is not disturbed");

    let forged = w.guest(&GuestToken("g1.local.AAAA".into()));
    w.guest_refused(forged, ErrorCode::AuthFailed);

    // A new link replaces one not used yet.
    let first = w.invite(marie, &session);
    let second = w.invite(marie, &session);
    let guest = w.guest(&first);
    w.guest_refused(guest, ErrorCode::InviteExpired);
    let guest = w.guest(&second);
    assert!(matches!(w.guest_said(guest).as_slice(), [HubToGuest::Welcome { .. }]));
    w.agent_told(marie);

    // Dismissed: the guest goes, the call stays.
    w.agent_says(marie, AgentToHub::DismissGuest { session: session.clone() });
    assert_eq!(w.guest_said(guest), [HubToGuest::Ended]);
    w.agent_says(marie, AgentToHub::GuestSignal { session: session.clone(), signal: offer() });
    assert_eq!(w.error_code_of_agent(marie), ErrorCode::OutOfPlace);
}

#[test]
fn an_agent_may_invite_only_into_their_own_call_and_a_guest_leaving_is_told() {
    let (mut w, _kiosk, marie, session) = in_call();
    let other = w.available_agent("bruno", &["caf"]);
    w.agent_says(other, AgentToHub::Invite { session: session.clone(), role: GuestRole::Interpreter });
    assert_eq!(w.error_code_of_agent(other), ErrorCode::NotYourSession);

    let token = w.invite(marie, &session);
    let guest = w.guest(&token);
    w.guest_said(guest);
    w.agent_told(marie);
    w.disconnect(guest);
    assert_eq!(w.agent_told(marie), [HubToAgent::GuestLeft { session: session.clone() }]);
    // The link is spent; a new one may be minted.
    let again = w.guest(&token);
    w.guest_refused(again, ErrorCode::InviteUsed);
    w.invite(marie, &session);
}

#[test]
fn a_guest_on_another_process_is_let_in_by_the_agents_process_and_signals_cross_the_bus() {
    // Process a holds the kiosk, b the agent (and the invite).
    let (mut a, mut b, kiosk, claire, session, _) = cross_process_call();
    let token = b.invite(claire, &session);
    assert!(token.expose().starts_with("g1.b."), "the link names the agent's process");

    let guest = a.guest(&token);
    assert!(a.guest_said(guest).is_empty(), "process a asks b first");
    carry_bus(&mut a, &mut b, "b");
    assert_eq!(b.agent_told(claire), [HubToAgent::GuestJoined { session: session.clone(), role: GuestRole::SignInterpreter }]);
    carry_bus(&mut b, &mut a, "a");
    assert!(matches!(a.guest_said(guest).as_slice(), [HubToGuest::Welcome { .. }]));

    b.agent_says(claire, AgentToHub::GuestSignal { session: session.clone(), signal: offer() });
    carry_bus(&mut b, &mut a, "a");
    assert_eq!(a.guest_said(guest), [HubToGuest::Signal { signal: offer() }]);
    a.guest_says(guest, GuestToHub::Signal { signal: answer() });
    carry_bus(&mut a, &mut b, "b");
    assert_eq!(b.agent_said(claire), [HubToAgent::GuestSignal { session: session.clone(), signal: answer() }]);
    assert!(a.kiosk_said(kiosk).is_empty());

    // A second use through a: refused by b, said by a.
    let again = a.guest(&token);
    carry_bus(&mut a, &mut b, "b");
    carry_bus(&mut b, &mut a, "a");
    a.guest_refused(again, ErrorCode::InviteUsed);

    // The agent hangs up: the guest on a is told and closed.
    b.agent_says(claire, AgentToHub::HangUp { session: session.clone() });
    let to_a: Vec<BusMessage> = std::mem::take(&mut b.bus_out).into_iter().map(|(to, m)| {
        assert_eq!(to, "a");
        m
    }).collect();
    for m in to_a {
        a.hub.handle_bus(a.now, m);
        a.drain();
    }
    assert_eq!(a.guest_said(guest), [HubToGuest::Ended]);
    assert!(a.closed.contains(&guest));
}
