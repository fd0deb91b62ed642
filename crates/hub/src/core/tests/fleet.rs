//! Heartbeats, published configurations and what kiosks report of them.

use super::*;

fn health(scanner: DeviceState, detail: Option<&str>) -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth {
        camera: ok.clone(),
        microphone: ok,
        scanner: DeviceStatus::new(scanner, detail),
        printer: DeviceStatus::new(DeviceState::NotInstalled, None),
        speaker: None,
        sound_output: None,
    }
}

fn heartbeat(seq: u64, config_version: Option<u64>, devices: Option<DeviceHealth>) -> KioskToHub {
    KioskToHub::Heartbeat { seq, app_version: "0.1.0".into(), config_version, devices, rtt_ms: Some(120), last_call: None }
}

fn published(version: u64) -> Published {
    Published {
        version,
        sha256: format!("sha-{version}"),
        size: 1234,
        catalogue: Arc::new(Catalogue::demo()),
        ice_servers: vec![IceServer { urls: vec!["stun:stun.example.fr:3478".into()], username: None, credential: None }],
    }
}

#[test]
fn a_heartbeat_is_acked_recorded_and_counted_in_the_snapshot() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let ardes = w.kiosk("ardes");
    let jammed = health(DeviceState::Error, Some("Document feeder jammed"));
    w.kiosk_says(besse, heartbeat(7, None, Some(jammed.clone())));
    assert_eq!(w.kiosk_said(besse), [HubToKiosk::HeartbeatAck { seq: 7 }]);
    assert!(w.kiosk_said(ardes).is_empty());
    let report = HeartbeatReport { app_version: "0.1.0".into(), config_version: None, devices: Some(jammed), rtt_ms: Some(120), last_call: None };
    assert!(matches!(w.events.last(), Some(HubEvent::Heartbeat { kiosk_id, report: r, .. }) if kiosk_id.as_str() == "besse" && *r == report));
    w.kiosk_says(ardes, heartbeat(1, None, Some(health(DeviceState::Missing, None))));
    let snapshot = w.hub.snapshot();
    assert_eq!(snapshot.devices_unhealthy, [("camera", 0), ("microphone", 0), ("speaker", 0), ("scanner", 2), ("printer", 0)]);
    // Once besse's scanner is fixed, and ardes is gone, nothing is unhealthy.
    w.kiosk_says(besse, heartbeat(8, None, Some(health(DeviceState::Ok, None))));
    w.disconnect(ardes);
    assert_eq!(w.hub.snapshot().devices_unhealthy[3], ("scanner", 0));
}

#[test]
fn long_details_and_refusal_messages_are_cut() {
    let mut w = World::new();
    let k = w.kiosk("besse");
    w.kiosk_says(k, heartbeat(1, None, Some(health(DeviceState::Error, Some(&"é".repeat(5000))))));
    let Some(HubEvent::Heartbeat { report, .. }) = w.events.last() else { panic!("{:?}", w.events) };
    let detail = report.devices.as_ref().unwrap().scanner.detail.clone().unwrap();
    assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1, "cut, with an ellipsis");
    assert!(detail.ends_with('…'));
    // The optional speaker too: a kiosk cannot make the hub keep a long text there.
    let long = DeviceStatus::new(DeviceState::Error, Some(&"x".repeat(50_000)));
    w.kiosk_says(k, heartbeat(2, None, Some(DeviceHealth { speaker: Some(long), ..health(DeviceState::Ok, None) })));
    let Some(HubEvent::Heartbeat { report, .. }) = w.events.last() else { panic!("{:?}", w.events) };
    let speaker = report.devices.as_ref().unwrap().speaker.clone().unwrap();
    assert_eq!(speaker.detail.unwrap().chars().count(), MAX_DETAIL_CHARS + 1);
    let reason = ConfigRefusal::new(ConfigRefusalCode::Invalid, "x".repeat(10_000));
    w.kiosk_says(k, KioskToHub::ConfigRefused { version: 3, reason });
    let Some(HubEvent::ConfigRefused { reason, version: 3, .. }) = w.events.last() else { panic!("{:?}", w.events) };
    assert_eq!(reason.message.chars().count(), MAX_REFUSAL_CHARS + 1);
}

#[test]
fn a_publication_is_announced_to_connected_kiosks_and_in_every_welcome() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let told = w.hub.handle_config_published(w.now, published(5));
    w.drain();
    assert_eq!(told, 1);
    let announcement =
        HubToKiosk::ConfigAvailable { version: 5, sha256: "sha-5".into(), size: 1234, path: CONFIG_PATH.into() };
    assert_eq!(w.kiosk_said(besse), std::slice::from_ref(&announcement));

    // A kiosk connecting later hears of it right after its welcome.
    w.next_peer += 1;
    let ardes = PeerId(w.next_peer);
    w.hub.handle_kiosk_connected(w.now, ardes, "ardes".into(), "Mairie d'Ardes".into(), PROTOCOL_VERSION, None);
    w.drain();
    let said = w.kiosk_said(ardes);
    assert!(matches!(&said[..], [HubToKiosk::Welcome { heartbeat_seconds: Some(30), .. }, a] if *a == announcement), "{said:?}");

    // The hub hands out the published ICE servers from now on.
    let claire = w.available_agent("claire", &["caf"]);
    w.queue(besse, "caf");
    w.take(claire);
    let said = w.kiosk_said(besse);
    let Some(HubToKiosk::CallAnswered { ice_servers, .. }) = said.iter().find(|m| matches!(m, HubToKiosk::CallAnswered { .. })) else {
        panic!("{said:?}")
    };
    assert_eq!(ice_servers[0].urls, ["stun:stun.example.fr:3478"]);
}

#[test]
fn applied_and_refused_configurations_become_events_and_outdated_kiosks_are_counted() {
    let mut w = World::new();
    w.hub.handle_config_published(w.now, published(5));
    let besse = w.kiosk("besse");
    let ardes = w.kiosk("ardes");
    w.kiosk_said(besse);
    w.kiosk_said(ardes);
    w.kiosk_says(besse, heartbeat(1, Some(4), None));
    w.kiosk_says(ardes, heartbeat(1, Some(4), None));
    w.kiosk_said(besse);
    w.kiosk_said(ardes);
    assert_eq!(w.hub.snapshot().kiosks_config_outdated, 2);
    assert_eq!(w.hub.snapshot().config_version, Some(5));

    w.kiosk_says(besse, KioskToHub::ConfigApplied { version: 5 });
    assert!(matches!(w.events.last(), Some(HubEvent::ConfigApplied { kiosk_id, version: 5, .. }) if kiosk_id.as_str() == "besse"));
    let refusal = ConfigRefusal::new(ConfigRefusalCode::UntrustedKey, "signed by key 00, which is not a trusted admin key");
    w.kiosk_says(ardes, KioskToHub::ConfigRefused { version: 5, reason: refusal.clone() });
    assert!(matches!(w.events.last(), Some(HubEvent::ConfigRefused { kiosk_id, version: 5, reason, .. })
        if kiosk_id.as_str() == "ardes" && *reason == refusal));
    assert_eq!(w.hub.snapshot().kiosks_config_outdated, 1, "ardes still runs version 4");
    // Reports need no answer.
    assert!(w.kiosk_said(besse).is_empty() && w.kiosk_said(ardes).is_empty());
}
