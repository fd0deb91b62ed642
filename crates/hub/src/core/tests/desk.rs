//! The host on site: help requests, device faults and lost links raise
//! alerts on the site's board; a host's acknowledgement reaches the kiosk.

use super::*;

impl World {
    fn host(&mut self, login: &str, sites: &[&str]) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        let sites = sites.iter().map(|s| s.to_string()).collect();
        self.hub.handle_host_connected(self.now, peer, login.into(), format!("{login} (accueil)"), sites);
        self.drain();
        peer
    }

    fn host_says(&mut self, peer: PeerId, msg: HostToHub) {
        self.hub.handle_host_message(self.now, peer, msg);
        self.drain();
    }

    fn host_said(&mut self, peer: PeerId) -> Vec<HubToHost> {
        self.host_inbox.remove(&peer).unwrap_or_default()
    }

    /// The alerts of `kiosk` in the last entry this host was sent.
    fn host_sees(&mut self, peer: PeerId, kiosk: &str) -> Option<Vec<(AlertKind, Option<String>)>> {
        let said = self.host_said(peer);
        said.iter().rev().find_map(|m| match m {
            HubToHost::Kiosk { kiosk: k } if k.kiosk_id.as_str() == kiosk => {
                Some(k.alerts.iter().map(|a| (a.kind, a.acknowledged_by.clone())).collect())
            }
            _ => None,
        })
    }
}

fn health(printer: DeviceState) -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth {
        camera: ok.clone(),
        microphone: ok.clone(),
        scanner: ok,
        printer: DeviceStatus::new(printer, Some("Out of paper")),
        speaker: None,
        sound_output: None,
    }
}

fn beat(devices: DeviceHealth) -> KioskToHub {
    KioskToHub::Heartbeat { seq: 1, app_version: "0.1.0".into(), config_version: None, devices: Some(devices), rtt_ms: None, last_call: None }
}

fn ack(kiosk: &str, alert: AlertKind) -> HostToHub {
    HostToHub::Acknowledge { kiosk_id: kiosk.into(), alert }
}

#[test]
fn a_help_request_reaches_the_sites_hosts_and_only_their_acknowledgement_tells_the_kiosk() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let sylvie = w.host("sylvie", &["Mairie de besse"]);
    let paul = w.host("paul", &["Mairie de besse"]);
    let other = w.host("ardes-host", &["Mairie de ardes"]);
    let said = w.host_said(sylvie);
    assert!(matches!(&said[..], [HubToHost::Welcome { .. }, HubToHost::Board { kiosks }] if kiosks.len() == 1 && kiosks[0].online), "{said:?}");
    assert!(matches!(&w.host_said(other)[..], [HubToHost::Welcome { .. }, HubToHost::Board { kiosks }] if kiosks.is_empty()));
    w.host_said(paul);

    w.kiosk_says(besse, KioskToHub::HelpRequest { screen: "waiting".into() });
    assert_eq!(w.kiosk_said(besse), [], "nobody has acknowledged yet");
    assert_eq!(w.host_sees(sylvie, "besse"), Some(vec![(AlertKind::Help, None)]));
    assert_eq!(w.host_sees(paul, "besse"), Some(vec![(AlertKind::Help, None)]));
    assert_eq!(w.host_said(other), []);

    // Another site's host may not acknowledge it.
    w.host_says(other, ack("besse", AlertKind::Help));
    assert!(matches!(&w.host_said(other)[..], [HubToHost::Error(e)] if e.code == ErrorCode::Forbidden));
    assert_eq!(w.kiosk_said(besse), []);

    w.host_says(sylvie, ack("besse", AlertKind::Help));
    assert_eq!(w.kiosk_said(besse), [HubToKiosk::HostComing]);
    let by = Some("sylvie (accueil)".to_string());
    assert_eq!(w.host_sees(paul, "besse"), Some(vec![(AlertKind::Help, by.clone())]));
    // A second acknowledgement changes nothing and tells the kiosk nothing.
    w.host_says(paul, ack("besse", AlertKind::Help));
    assert_eq!(w.kiosk_said(besse), []);
    assert_eq!(w.host_sees(sylvie, "besse"), Some(vec![(AlertKind::Help, by)]));

    // The resident leaves: the alert is gone.
    w.kiosk_says(besse, KioskToHub::HelpCancel);
    assert_eq!(w.host_sees(sylvie, "besse"), Some(vec![]));
}

#[test]
fn failing_devices_and_a_lost_link_are_alerts_until_they_are_fixed() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let host = w.host("sylvie", &[]);
    w.host_said(host);
    w.kiosk_says(besse, beat(health(DeviceState::Error)));
    assert_eq!(w.host_sees(host, "besse"), Some(vec![(AlertKind::Printer, None)]));
    w.host_says(host, ack("besse", AlertKind::Printer));
    let acked = Some(vec![(AlertKind::Printer, Some("sylvie (accueil)".to_string()))]);
    assert_eq!(w.host_sees(host, "besse"), acked);
    // Still failing: the same heartbeat changes nothing; the acknowledgement stays.
    w.kiosk_says(besse, beat(health(DeviceState::Error)));
    assert_eq!(w.host_said(host), []);
    w.kiosk_says(besse, beat(health(DeviceState::Ok)));
    assert_eq!(w.host_sees(host, "besse"), Some(vec![]));
    // Nobody can hear the kiosk: the sound output's fault is an alert too.
    let silent = DeviceHealth { speaker: Some(DeviceStatus::new(DeviceState::Missing, Some("no sound output"))), ..health(DeviceState::Ok) };
    w.kiosk_says(besse, beat(silent));
    assert_eq!(w.host_sees(host, "besse"), Some(vec![(AlertKind::Speaker, None)]));
    w.kiosk_says(besse, beat(health(DeviceState::Ok)));
    assert_eq!(w.host_sees(host, "besse"), Some(vec![]), "no longer reported: no alert kept");

    // A pending help request goes with the link; the link alert comes.
    w.kiosk_says(besse, KioskToHub::HelpRequest { screen: "home".into() });
    w.host_said(host);
    w.disconnect(besse);
    assert_eq!(w.host_sees(host, "besse"), Some(vec![(AlertKind::Link, None)]));
    let besse = w.kiosk("besse");
    assert_eq!(w.host_sees(host, "besse"), Some(vec![]));
    // A screen name that is not one is refused, and raises nothing.
    w.kiosk_says(besse, KioskToHub::HelpRequest { screen: "<script>".into() });
    assert!(matches!(&w.kiosk_said(besse)[..], [HubToKiosk::Error(e)] if e.code == ErrorCode::MalformedMessage));
    assert_eq!(w.host_said(host), []);
}

#[test]
fn across_processes_the_kiosks_process_owns_its_entry_and_carries_out_acknowledgements() {
    let mut p1 = World::on_bus("p1");
    let mut p2 = World::on_bus("p2");
    let besse = p1.kiosk("besse");
    p1.desk_bus.clear();
    let host = p2.host("sylvie", &["Mairie de besse"]);
    assert_eq!(std::mem::take(&mut p2.desk_bus), [(EVERY_PROCESS.to_string(), BusMessage::DeskRollCall)]);
    p2.host_said(host);
    // A second host asks nobody again: the broadcasts keep p2's board.
    let second = p2.host("paul", &["Mairie de besse"]);
    assert_eq!(p2.desk_bus, []);
    p2.host_said(second);
    // p1 answers the roll call with its kiosk's entry; p2's host sees it.
    p1.hub.handle_bus(p1.now, BusMessage::DeskRollCall);
    p1.drain();
    p1.kiosk_says(besse, KioskToHub::HelpRequest { screen: "call".into() });
    for (to, message) in std::mem::take(&mut p1.desk_bus) {
        assert_eq!(to, EVERY_PROCESS);
        p2.hub.handle_bus(p2.now, message);
        p2.drain();
    }
    assert_eq!(p2.host_sees(host, "besse"), Some(vec![(AlertKind::Help, None)]));

    p2.host_says(host, ack("besse", AlertKind::Help));
    let sent = std::mem::take(&mut p2.desk_bus);
    assert!(matches!(&sent[..], [(to, BusMessage::DeskAcknowledge { alert: AlertKind::Help, .. })] if to == EVERY_PROCESS), "{sent:?}");
    for (_, message) in sent {
        p1.hub.handle_bus(p1.now, message);
        p1.drain();
    }
    assert_eq!(p1.kiosk_said(besse), [HubToKiosk::HostComing]);
    // p1's new entry, acknowledged, reaches p2's host.
    for (_, message) in std::mem::take(&mut p1.desk_bus) {
        p2.hub.handle_bus(p2.now, message);
        p2.drain();
    }
    assert_eq!(p2.host_sees(host, "besse"), Some(vec![(AlertKind::Help, Some("sylvie (accueil)".to_string()))]));

    // p1 stops (its liveness lock lapses): its kiosk lost the hub with it.
    p2.hub.handle_shared(p2.now, SharedView { alive: ["p2".to_string()].into(), ..SharedView::default() });
    p2.drain();
    assert_eq!(p2.host_sees(host, "besse"), Some(vec![(AlertKind::Link, None)]));
}

#[test]
fn the_agent_in_a_call_sees_the_kiosks_devices_here_and_across_processes() {
    let kiosk_devices = |said: Vec<HubToAgent>| -> Vec<(SessionId, DeviceHealth)> {
        said.into_iter()
            .filter_map(|m| match m {
                HubToAgent::KioskDevices { session, devices } => Some((session, devices)),
                _ => None,
            })
            .collect()
    };
    let handset = DeviceHealth { sound_output: Some(visio_protocol::SoundOutput::Handset), ..health(DeviceState::Ok) };

    // One process: the call starts with the last heartbeat's devices; a
    // change during the call is told at once, the same heartbeat again is not.
    let mut w = World::new();
    let besse = w.kiosk("besse");
    w.kiosk_says(besse, beat(health(DeviceState::Ok)));
    w.kiosk_said(besse);
    let claire = w.available_agent("claire", &["caf"]);
    let session = w.queue(besse, "caf");
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    let said = w.agent_said(claire);
    let started = said.iter().find_map(|m| match m {
        HubToAgent::CallStarted { devices, .. } => Some(devices.clone()),
        _ => None,
    });
    assert_eq!(started, Some(Some(health(DeviceState::Ok))), "{said:?}");
    w.kiosk_says(besse, beat(handset.clone()));
    assert_eq!(kiosk_devices(w.agent_said(claire)), [(session.clone(), handset.clone())]);
    w.kiosk_says(besse, beat(handset.clone()));
    assert_eq!(kiosk_devices(w.agent_said(claire)), []);

    // Across processes: the kiosk on p1, its agent on p2, told through
    // the board's broadcasts.
    let mut p1 = World::on_bus("p1");
    let mut p2 = World::on_bus("p2");
    let besse = p1.kiosk("besse");
    let session = p1.queue(besse, "caf");
    let bruno = p2.available_agent("bruno", &["caf"]);
    p2.agent_says(bruno, AgentToHub::TakeNext { service: None });
    let entry = QueueEntry {
        session: session.clone(),
        service: "caf".into(),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        queued_at: p1.now,
        process: "p1".into(),
        transferred_from: None,
        appointment: None,
    };
    p2.taken(bruno, &["caf"], Some(entry));
    assert!(p2.agent_said(bruno).iter().any(|m| matches!(m, HubToAgent::CallStarted { .. })));
    p1.desk_bus.clear();
    p1.kiosk_says(besse, beat(handset.clone()));
    let broadcasts = std::mem::take(&mut p1.desk_bus);
    assert!(!broadcasts.is_empty(), "p1 tells the other processes of its kiosk");
    for (_, message) in broadcasts {
        p2.hub.handle_bus(p2.now, message);
        p2.drain();
    }
    assert_eq!(kiosk_devices(p2.agent_said(bruno)), [(session, handset)]);
}
