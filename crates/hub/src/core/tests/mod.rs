//! The hub core driven by inputs, with simulated time: whole visits in
//! microseconds, asserting exactly what each peer is told. The `World`
//! harness is here; the tests are grouped as the handlers are.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{Timestamp, ToSpan};
use visio_config::Catalogue;
use visio_protocol::*;

use super::*;

mod appointments;
mod cluster;
mod desk;
mod fleet;
mod guests;
mod resume;
mod supervision;
mod transfer;
mod visits;

/// A hub plus everything it said to each peer, drained after every input.
struct World {
    hub: Hub,
    now: Timestamp,
    next_peer: u64,
    kiosk_inbox: HashMap<PeerId, Vec<HubToKiosk>>,
    agent_inbox: HashMap<PeerId, Vec<HubToAgent>>,
    host_inbox: HashMap<PeerId, Vec<HubToHost>>,
    closed: Vec<PeerId>,
    events: Vec<HubEvent>,
    store_ops: Vec<StoreOp>,
    bus_out: Vec<(String, BusMessage)>,
    /// The hosts' board on the bus (`desk`), apart from the calls' traffic
    /// the other tests assert exactly.
    desk_bus: Vec<(String, BusMessage)>,
    supervisor_inbox: HashMap<PeerId, Vec<HubToSupervisor>>,
    /// The supervisors' board on the bus and the figures' refreshes
    /// (`supervision`), apart too.
    supervision_bus: Vec<(String, BusMessage)>,
    /// The callback store work the core asked for (`callback`).
    callback_work: Vec<Output>,
    refreshes: Vec<bool>,
    guest_inbox: HashMap<PeerId, Vec<HubToGuest>>,
}

impl World {
    /// Monday 2026-11-23 10:00 in Paris: every weekday service is open.
    fn new() -> World {
        World::at("2026-11-23T09:00:00Z")
    }

    fn at(now: &str) -> World {
        World {
            hub: Hub::new(Arc::new(Catalogue::demo()), vec![], "test".into()),
            now: now.parse().unwrap(),
            next_peer: 0,
            kiosk_inbox: HashMap::new(),
            agent_inbox: HashMap::new(),
            host_inbox: HashMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
            store_ops: Vec::new(),
            bus_out: Vec::new(),
            desk_bus: Vec::new(),
            supervisor_inbox: HashMap::new(),
            supervision_bus: Vec::new(),
            refreshes: Vec::new(),
            guest_inbox: HashMap::new(),
            callback_work: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.hub.poll_output() {
            match out {
                Output::ToKiosk(p, m) => self.kiosk_inbox.entry(p).or_default().push(m),
                Output::ToAgent(p, m) => self.agent_inbox.entry(p).or_default().push(m),
                Output::ToHost(p, m) => self.host_inbox.entry(p).or_default().push(m),
                Output::Close(p) => self.closed.push(p),
                Output::Event(e) => self.events.push(e),
                Output::Store(op) => self.store_ops.push(op),
                Output::Bus { to, message: m @ (BusMessage::Desk { .. } | BusMessage::DeskAcknowledge { .. } | BusMessage::DeskRollCall) } => {
                    self.desk_bus.push((to, m));
                }
                Output::Bus {
                    to,
                    message: m @ (BusMessage::SupervisorAgent { .. } | BusMessage::SupervisorRollCall | BusMessage::SessionLogged { .. }),
                } => self.supervision_bus.push((to, m)),
                Output::Bus { to, message } => self.bus_out.push((to, message)),
                Output::ToSupervisor(p, m) => self.supervisor_inbox.entry(p).or_default().push(m),
                Output::RefreshToday { logged, .. } => self.refreshes.push(logged),
                Output::ToGuest(p, m) => self.guest_inbox.entry(p).or_default().push(m),
                o @ (Output::ReadCallbackSlots { .. } | Output::BookCallback { .. }) => self.callback_work.push(o),
            }
        }
    }

    fn advance(&mut self, minutes: i64) {
        self.now = self.now.checked_add(minutes.minutes()).unwrap();
    }

    fn kiosk(&mut self, id: &str) -> PeerId {
        self.kiosk_speaking(id, PROTOCOL_VERSION)
    }

    /// A kiosk whose hello carries protocol version `protocol`.
    fn kiosk_speaking(&mut self, id: &str, protocol: u32) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_kiosk_connected(self.now, peer, id.into(), format!("Mairie de {id}"), protocol, None);
        self.drain();
        let said = self.kiosk_said(peer);
        assert!(matches!(said.as_slice(), [HubToKiosk::Welcome { .. }] | [HubToKiosk::Welcome { .. }, HubToKiosk::ConfigAvailable { .. }]), "{said:?}");
        peer
    }

    fn agent(&mut self, login: &str, services: &[&str]) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        let services = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.hub.handle_agent_connected(self.now, peer, login.into(), format!("{login} (test)"), services, None);
        self.drain();
        let said = self.agent_said(peer);
        assert!(matches!(said.as_slice(), [HubToAgent::Welcome { .. }, HubToAgent::Queues { .. }]), "{said:?}");
        peer
    }

    fn available_agent(&mut self, login: &str, services: &[&str]) -> PeerId {
        let peer = self.agent(login, services);
        self.agent_says(peer, AgentToHub::SetAvailability { available: true });
        self.agent_said(peer);
        peer
    }

    fn kiosk_says(&mut self, peer: PeerId, msg: KioskToHub) {
        self.hub.handle_kiosk_message(self.now, peer, msg);
        self.drain();
    }

    fn agent_says(&mut self, peer: PeerId, msg: AgentToHub) {
        self.hub.handle_agent_message(self.now, peer, msg);
        self.drain();
    }

    fn disconnect(&mut self, peer: PeerId) {
        self.hub.handle_disconnected(self.now, peer);
        self.drain();
    }

    /// What the hub told this agent, without queue refreshes.
    fn agent_told(&mut self, peer: PeerId) -> Vec<HubToAgent> {
        self.agent_said(peer).into_iter().filter(|m| !matches!(m, HubToAgent::Queues { .. })).collect()
    }

    fn tick(&mut self) {
        self.hub.handle_timeout(self.now);
        self.drain();
    }

    /// A kiosk connection whose hello carries `resume`; returns the peer
    /// and everything the hub told it.
    fn kiosk_resuming(&mut self, id: &str, resume: Option<ResumeToken>) -> (PeerId, Vec<HubToKiosk>) {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_kiosk_connected(self.now, peer, id.into(), format!("Mairie de {id}"), PROTOCOL_VERSION, resume);
        self.drain();
        let said = self.kiosk_said(peer);
        assert!(matches!(said.first(), Some(HubToKiosk::Welcome { .. })), "{said:?}");
        (peer, said[1..].to_vec())
    }

    fn agent_resuming(&mut self, login: &str, services: &[&str], resume: Option<ResumeToken>) -> (PeerId, Vec<HubToAgent>) {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        let services = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.hub.handle_agent_connected(self.now, peer, login.into(), format!("{login} (test)"), services, resume);
        self.drain();
        let said = self.agent_said(peer);
        assert!(matches!(said.first(), Some(HubToAgent::Welcome { .. })), "{said:?}");
        // Queues come last; the resumption is what matters here.
        let said: Vec<HubToAgent> = said[1..].iter().filter(|m| !matches!(m, HubToAgent::Queues { .. })).cloned().collect();
        (peer, said)
    }

    /// The token's hash from the session log's `answered` event.
    fn resume_hash(&self, session: &SessionId) -> TokenHash {
        self.events
            .iter()
            .find_map(|e| match e {
                HubEvent::Answered { session: s, resume, .. } if s == session => Some(*resume),
                _ => None,
            })
            .expect("the call was answered")
    }

    /// Takes what the hub said to this kiosk since the last call.
    fn kiosk_said(&mut self, peer: PeerId) -> Vec<HubToKiosk> {
        self.kiosk_inbox.remove(&peer).unwrap_or_default()
    }

    fn agent_said(&mut self, peer: PeerId) -> Vec<HubToAgent> {
        self.agent_inbox.remove(&peer).unwrap_or_default()
    }

    /// Queues for `service` and returns the session id.
    fn queue(&mut self, kiosk: PeerId, service: &str) -> SessionId {
        self.kiosk_says(kiosk, KioskToHub::RequestCall { service: service.into() });
        match self.kiosk_said(kiosk).as_slice() {
            [HubToKiosk::Queued { session, .. }, ..] => session.clone(),
            other => panic!("expected queued, got {other:?}"),
        }
    }

    /// Agent takes the next resident; returns the call's session id.
    fn take(&mut self, agent: PeerId) -> SessionId {
        self.take_with_token(agent).0
    }

    /// Agent takes the next resident; returns the call and its resume token.
    fn take_with_token(&mut self, agent: PeerId) -> (SessionId, ResumeToken) {
        self.agent_says(agent, AgentToHub::TakeNext { service: None });
        let said = self.agent_said(agent);
        match said.iter().find(|m| matches!(m, HubToAgent::CallStarted { .. })) {
            Some(HubToAgent::CallStarted { session, resume_token: Some(token), .. }) => (session.clone(), token.clone()),
            _ => panic!("expected call_started with a token, got {said:?}"),
        }
    }

    fn error_code_of_kiosk(&mut self, peer: PeerId) -> ErrorCode {
        match self.kiosk_said(peer).as_slice() {
            [HubToKiosk::Error(e)] => e.code,
            other => panic!("expected one error, got {other:?}"),
        }
    }

    fn error_code_of_agent(&mut self, peer: PeerId) -> ErrorCode {
        match self.agent_said(peer).as_slice() {
            [HubToAgent::Error(e)] => e.code,
            other => panic!("expected one error, got {other:?}"),
        }
    }
}

fn waiting_in(msgs: &[HubToAgent], service: &str) -> Option<Vec<KioskId>> {
    msgs.iter().rev().find_map(|m| match m {
        HubToAgent::Queues { queues, .. } => queues
            .iter()
            .find(|q| q.service.as_str() == service)
            .map(|q| q.waiting.iter().map(|w| w.kiosk_id.clone()).collect()),
        _ => None,
    })
}

fn offer() -> Signal {
    Signal::Offer { sdp: "v=0 offer".into() }
}

fn answer() -> Signal {
    Signal::Answer { sdp: "v=0 answer".into() }
}

fn candidate() -> Signal {
    Signal::Candidate {
        candidate: IceCandidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        },
    }
}
