//! The host on site: each kiosk's entry on its site's board (link,
//! devices, last screen, alerts), the hosts watching their sites, a
//! resident's help request and a host's acknowledgement.
//!
//! The process holding a kiosk owns its entry; with a bus it sends the
//! entry to every process on each change ([`BusMessage::Desk`]), so a host
//! on any process sees every kiosk of their site. docs/protocol.md, "The
//! host on site".

use visio_protocol::{Alert, AlertKind, DeskKiosk, DeviceStatus, HostToHub, HubToHost, MAX_SCREEN_CHARS};

use super::*;

/// The bus address that reaches every hub process, this one included.
pub const EVERY_PROCESS: &str = "all";

/// A host's page connected here.
pub(super) struct HostPeer {
    display_name: String,
    /// The sites they watch; empty: every site.
    sites: Vec<String>,
}

impl HostPeer {
    fn watches(&self, site: &str) -> bool {
        self.sites.is_empty() || self.sites.iter().any(|s| s == site)
    }
}

/// One kiosk's entry, and the process owning it: this one (`None`; the
/// kiosk is, or was last, connected here) or another.
pub(super) struct BoardEntry {
    owner: Option<String>,
    kiosk: DeskKiosk,
}

impl BoardEntry {
    fn here(&self) -> bool {
        self.owner.is_none()
    }
}

impl Hub {
    /// A host's page proved who it is (the console cookie): it gets the
    /// board of its sites. With a bus, the first host here has every
    /// process send its kiosks' entries again, so a process started after
    /// them knows them (later, their broadcasts keep it up to date).
    pub fn handle_host_connected(&mut self, now: Timestamp, peer: PeerId, login: String, display_name: String, sites: Vec<String>) {
        let host = HostPeer { display_name: display_name.clone(), sites: sites.clone() };
        let kiosks = self.board.values().filter(|e| host.watches(&e.kiosk.site)).map(|e| e.kiosk.clone()).collect();
        self.hosts.insert(peer, host);
        self.outputs.push_back(Output::ToHost(peer, HubToHost::Welcome { protocol: PROTOCOL_VERSION, login, display_name, sites }));
        self.outputs.push_back(Output::ToHost(peer, HubToHost::Board { kiosks }));
        if matches!(self.topology, Topology::Bus { .. }) && !self.board_asked {
            self.board_asked = true;
            self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message: BusMessage::DeskRollCall });
        }
        self.flush(now);
    }

    pub fn handle_host_message(&mut self, now: Timestamp, peer: PeerId, msg: HostToHub) {
        let Some(host) = self.hosts.get(&peer) else { return };
        match msg {
            HostToHub::Hello { .. } => self.host_error(peer, ErrorCode::OutOfPlace, "hello was already accepted"),
            HostToHub::Acknowledge { kiosk_id, alert } => {
                let by = host.display_name.clone();
                match self.board.get(&kiosk_id) {
                    Some(entry) if host.watches(&entry.kiosk.site) => {
                        if entry.here() {
                            self.acknowledge(now, &kiosk_id, alert, by);
                        } else if matches!(self.topology, Topology::Bus { .. }) {
                            let message = BusMessage::DeskAcknowledge { kiosk_id, alert, by };
                            self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message });
                        }
                    }
                    _ => self.host_error(peer, ErrorCode::Forbidden, format!("kiosk {kiosk_id} is not at one of your sites")),
                }
            }
        }
        self.flush(now);
    }

    /// The host's page closed; nothing of theirs outlives it.
    pub(super) fn host_disconnected(&mut self, peer: PeerId) {
        self.hosts.remove(&peer);
    }

    fn host_error(&mut self, peer: PeerId, code: ErrorCode, message: impl Into<String>) {
        self.outputs.push_back(Output::ToHost(peer, HubToHost::Error(ErrorBody::new(code, message))));
    }

    /// A kiosk connected here: online, its link alert gone.
    pub(super) fn desk_online(&mut self, now: Timestamp, kiosk_id: &KioskId, site: &str) {
        let entry = self.board.entry(kiosk_id.clone()).or_insert_with(|| BoardEntry {
            owner: None,
            kiosk: DeskKiosk {
                kiosk_id: kiosk_id.clone(),
                site: site.to_owned(),
                online: true,
                screen: None,
                devices: None,
                alerts: Vec::new(),
                updated: now,
            },
        });
        entry.owner = None;
        entry.kiosk.site = site.to_owned();
        entry.kiosk.online = true;
        entry.kiosk.screen = None;
        entry.kiosk.alerts.retain(|a| a.kind != AlertKind::Link);
        self.desk_changed(now, kiosk_id);
    }

    /// A kiosk's connection here ended: its help request with it (the
    /// kiosk asks again when it is back), and the link alert is raised.
    pub(super) fn desk_offline(&mut self, now: Timestamp, kiosk_id: &KioskId) {
        let Some(entry) = self.board.get_mut(kiosk_id).filter(|e| e.here()) else { return };
        entry.kiosk.online = false;
        entry.kiosk.alerts.retain(|a| a.kind != AlertKind::Help);
        entry.kiosk.alerts.push(Alert { kind: AlertKind::Link, since: now, code: None, detail: None, acknowledged_by: None });
        self.desk_changed(now, kiosk_id);
    }

    /// A heartbeat's devices: an alert per failing device, kept (with its
    /// acknowledgement) while it fails, gone when it works again.
    pub(super) fn desk_devices(&mut self, now: Timestamp, kiosk_id: &KioskId, devices: Option<&DeviceHealth>) {
        let Some(entry) = self.board.get_mut(kiosk_id).filter(|e| e.here()) else { return };
        let Some(devices) = devices else { return };
        if entry.kiosk.devices.as_ref() == Some(devices) {
            return;
        }
        let faults: [(AlertKind, Option<&DeviceStatus>); 5] = [
            (AlertKind::Camera, Some(&devices.camera)),
            (AlertKind::Microphone, Some(&devices.microphone)),
            // Absent from kiosks that do not check it: no alert, none kept.
            (AlertKind::Speaker, devices.speaker.as_ref()),
            (AlertKind::Scanner, Some(&devices.scanner)),
            (AlertKind::Printer, Some(&devices.printer)),
        ];
        let ok = DeviceStatus::new(visio_protocol::DeviceState::Ok, None);
        let alerts = &mut entry.kiosk.alerts;
        for (kind, status) in faults {
            let status = status.unwrap_or(&ok);
            let raised = alerts.iter().position(|a| a.kind == kind);
            match (status.state.is_unhealthy(), raised) {
                (true, Some(i)) => {
                    alerts[i].code = status.code;
                    alerts[i].detail.clone_from(&status.detail);
                }
                (true, None) => alerts.push(Alert { kind, since: now, code: status.code, detail: status.detail.clone(), acknowledged_by: None }),
                (false, Some(i)) => {
                    alerts.remove(i);
                }
                (false, None) => {}
            }
        }
        entry.kiosk.devices = Some(devices.clone());
        self.desk_changed(now, kiosk_id);
        self.tell_agents_devices(kiosk_id);
    }

    /// A kiosk's devices as its last heartbeat said, here or (through the
    /// board's broadcasts) on another process.
    pub(super) fn kiosk_devices(&self, kiosk_id: &KioskId) -> Option<DeviceHealth> {
        self.board.get(kiosk_id).and_then(|e| e.kiosk.devices.clone())
    }

    /// The agents here in a call with this kiosk see its devices change
    /// (a handset picked up, a microphone gone silent).
    fn tell_agents_devices(&mut self, kiosk_id: &KioskId) {
        let Some(devices) = self.kiosk_devices(kiosk_id) else { return };
        let calls: Vec<(PeerId, SessionId)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.kiosk_id == *kiosk_id)
            .filter_map(|(id, s)| match &s.state {
                SessionState::InCall(call) => call.agent.peer().map(|p| (p, id.clone())),
                SessionState::Waiting => None,
            })
            .collect();
        for (peer, session) in calls {
            self.tell_agent(peer, HubToAgent::KioskDevices { session, devices: devices.clone() });
        }
    }

    /// The resident asked for the host; asking again updates the screen.
    pub(super) fn help_request(&mut self, now: Timestamp, peer: PeerId, screen: String) {
        let screen_ok = !screen.is_empty()
            && screen.len() <= MAX_SCREEN_CHARS
            && screen.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !screen_ok {
            let message = format!("help_request: screen must be 1 to {MAX_SCREEN_CHARS} of a-z, 0-9 and _");
            return self.kiosk_error(peer, ErrorCode::MalformedMessage, message);
        }
        let kiosk_id = self.kiosks[&peer].kiosk_id.clone();
        let Some(entry) = self.board.get_mut(&kiosk_id) else { return };
        entry.kiosk.screen = Some(screen);
        if !entry.kiosk.alerts.iter().any(|a| a.kind == AlertKind::Help) {
            entry.kiosk.alerts.push(Alert { kind: AlertKind::Help, since: now, code: None, detail: None, acknowledged_by: None });
        }
        self.desk_changed(now, &kiosk_id);
    }

    pub(super) fn help_cancel(&mut self, now: Timestamp, peer: PeerId) {
        let kiosk_id = self.kiosks[&peer].kiosk_id.clone();
        let Some(entry) = self.board.get_mut(&kiosk_id) else { return };
        let before = entry.kiosk.alerts.len();
        entry.kiosk.alerts.retain(|a| a.kind != AlertKind::Help);
        if entry.kiosk.alerts.len() != before {
            self.desk_changed(now, &kiosk_id);
        }
    }

    /// A host acknowledged `alert` of a kiosk this process owns. For a
    /// help request the kiosk hears that someone is coming, once.
    fn acknowledge(&mut self, now: Timestamp, kiosk_id: &KioskId, alert: AlertKind, by: String) {
        let Some(entry) = self.board.get_mut(kiosk_id).filter(|e| e.here()) else { return };
        let Some(raised) = entry.kiosk.alerts.iter_mut().find(|a| a.kind == alert && a.acknowledged_by.is_none()) else { return };
        raised.acknowledged_by = Some(by);
        if alert == AlertKind::Help
            && let Some(&peer) = self.kiosk_peer.get(kiosk_id)
        {
            self.tell_kiosk(peer, HubToKiosk::HostComing);
        }
        self.desk_changed(now, kiosk_id);
    }

    /// What another process says of its kiosks, or asks of ours.
    pub(super) fn handle_desk_bus(&mut self, now: Timestamp, message: BusMessage) {
        match message {
            BusMessage::Desk { kiosk, from } => {
                if self.kiosk_peer.contains_key(&kiosk.kiosk_id) {
                    return; // ours now: the sender's copy is older
                }
                let known = self.board.get(&kiosk.kiosk_id);
                let newer = known.is_none_or(|e| e.kiosk.updated <= kiosk.updated);
                if newer {
                    let devices_changed = known.map(|e| &e.kiosk.devices) != Some(&kiosk.devices);
                    let kiosk_id = kiosk.kiosk_id.clone();
                    self.board.insert(kiosk_id.clone(), BoardEntry { owner: Some(from), kiosk });
                    self.tell_hosts(&kiosk_id);
                    if devices_changed {
                        self.tell_agents_devices(&kiosk_id);
                    }
                }
            }
            BusMessage::DeskAcknowledge { kiosk_id, alert, by } => self.acknowledge(now, &kiosk_id, alert, by),
            BusMessage::DeskRollCall => {
                let ours: Vec<DeskKiosk> = self.board.values().filter(|e| e.here()).map(|e| e.kiosk.clone()).collect();
                let from = self.topology.process().unwrap_or_default().to_owned();
                for kiosk in ours {
                    let message = BusMessage::Desk { kiosk, from: from.clone() };
                    self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message });
                }
            }
            _ => {}
        }
    }

    /// An entry owned here changed: stamp it, tell the hosts here and the
    /// other processes.
    fn desk_changed(&mut self, now: Timestamp, kiosk_id: &KioskId) {
        let Some(entry) = self.board.get_mut(kiosk_id) else { return };
        entry.kiosk.updated = now;
        entry.kiosk.alerts.sort_by_key(|a| (a.since, a.kind));
        if let Topology::Bus { process } = &self.topology {
            let message = BusMessage::Desk { kiosk: entry.kiosk.clone(), from: process.clone() };
            self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message });
        }
        self.tell_hosts(kiosk_id);
    }

    /// Kiosks of a process that stopped (its liveness lock lapsed) lost
    /// their hub with it: offline, with the link alert, until they
    /// connect elsewhere.
    pub(super) fn desk_alive(&mut self, now: Timestamp, alive: &BTreeSet<String>) {
        let lost: Vec<KioskId> = self
            .board
            .iter()
            .filter(|(_, e)| e.kiosk.online && e.owner.as_ref().is_some_and(|p| !alive.contains(p)))
            .map(|(id, _)| id.clone())
            .collect();
        for kiosk_id in lost {
            let entry = self.board.get_mut(&kiosk_id).expect("listed above");
            entry.kiosk.online = false;
            entry.kiosk.alerts.retain(|a| a.kind != AlertKind::Help);
            entry.kiosk.alerts.push(Alert { kind: AlertKind::Link, since: now, code: None, detail: None, acknowledged_by: None });
            entry.kiosk.updated = now;
            self.tell_hosts(&kiosk_id);
        }
    }

    fn tell_hosts(&mut self, kiosk_id: &KioskId) {
        let Some(entry) = self.board.get(kiosk_id) else { return };
        let mut watching: Vec<PeerId> = self.hosts.iter().filter(|(_, h)| h.watches(&entry.kiosk.site)).map(|(p, _)| *p).collect();
        watching.sort();
        for peer in watching {
            self.outputs.push_back(Output::ToHost(peer, HubToHost::Kiosk { kiosk: Box::new(entry.kiosk.clone()) }));
        }
    }
}
