//! One example of every message, in each direction. `docs/protocol.md` shows
//! exactly these (a test keeps the two in step), and the round-trip tests
//! use them.

use jiff::Timestamp;

use crate::*;

fn ts(s: &str) -> Timestamp {
    // Invariant: the literals below are valid RFC 3339.
    s.parse().expect("valid example timestamp")
}

fn session() -> SessionId {
    SessionId::new("7f3a9c01-000002")
}

fn ice_servers() -> Vec<IceServer> {
    vec![
        IceServer { urls: vec!["stun:turn.visio.example:3478".into()], username: None, credential: None },
        IceServer {
            urls: vec!["turn:turn.visio.example:3478?transport=udp".into()],
            username: Some("1767225600:besse-mairie".into()),
            credential: Some("q1dXbS3H0Zk6mNn2kR9b8XcVtLk=".into()),
        },
    ]
}

fn token() -> ResumeToken {
    ResumeToken("r1.7f3a9c01-000002.Xb3kQ9vT2mN8pL4wR6yZ0aC5dE7fG1hJ".into())
}

fn candidate() -> IceCandidate {
    IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    }
}

fn statuses() -> Vec<ServiceStatus> {
    vec![
        ServiceStatus {
            service: "caf".into(),
            open: true,
            closes_at: Some(ts("2026-11-23T11:00:00Z")),
            next_opening: None,
        },
        ServiceStatus {
            service: "msa".into(),
            open: false,
            closes_at: None,
            next_opening: Some(ts("2026-11-24T08:00:00Z")),
        },
    ]
}

pub fn kiosk_to_hub() -> Vec<KioskToHub> {
    vec![
        KioskToHub::Hello {
            protocol: PROTOCOL_VERSION,
            kiosk_id: "besse-mairie".into(),
            secret: Secret("kq3VbX0p8w2cZ1rT6yHn4mA9sL5dE7fG".into()),
            app_version: Some("0.1.0".into()),
            resume: Some(token()),
        },
        KioskToHub::RequestCall { service: "caf".into() },
        KioskToHub::CancelCall,
        KioskToHub::Signal { session: session(), signal: Signal::Offer { sdp: "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\n...".into() } },
        KioskToHub::HangUp { session: session() },
        KioskToHub::Rate { session: session(), rating: Rating::Happy },
        KioskToHub::Heartbeat {
            seq: 42,
            app_version: "0.1.0".into(),
            config_version: Some(1795392000),
            devices: Some(DeviceHealth {
                camera: DeviceStatus::new(DeviceState::Ok, None),
                microphone: DeviceStatus::new(DeviceState::Ok, None),
                scanner: DeviceStatus::new(DeviceState::Error, Some("Document feeder jammed")),
                printer: DeviceStatus::new(DeviceState::NotInstalled, None),
                speaker: None,
                sound_output: None,
            }),
            rtt_ms: Some(612),
            last_call: Some(CallLink { uplink_kbps: 1850, rtt_ms: Some(640) }),
        },
        KioskToHub::ConfigApplied { version: 1795392000 },
        KioskToHub::ConfigRefused {
            version: 1795478400,
            reason: ConfigRefusal::new(
                ConfigRefusalCode::UntrustedKey,
                "signed by key 9d1e6f0a2b3c4d5e, which is not a trusted admin key (trusted: 3f9a0c21d4e5b6a7)",
            ),
        },
        KioskToHub::HelpRequest { screen: "waiting".into() },
        KioskToHub::HelpCancel,
        KioskToHub::AskCallbackSlots { service: "msa".into() },
        KioskToHub::BookCallback { service: "msa".into(), start: ts("2026-11-24T08:15:00Z") },
    ]
}

pub fn hub_to_kiosk() -> Vec<HubToKiosk> {
    vec![
        HubToKiosk::Welcome {
            protocol: PROTOCOL_VERSION,
            kiosk_id: "besse-mairie".into(),
            site: "Mairie de Besse-et-Saint-Anastaise".into(),
            services: statuses(),
            heartbeat_seconds: Some(30),
            callbacks: true,
        },
        HubToKiosk::Queued {
            session: session(),
            service: "caf".into(),
            position: 2,
            estimated_wait: Some(WaitEstimate { seconds: 900 }),
        },
        HubToKiosk::QueueUpdate { session: session(), position: 1, estimated_wait: Some(WaitEstimate { seconds: 450 }) },
        HubToKiosk::CallRefused {
            service: "msa".into(),
            reason: RefusalReason::Closed { next_opening: Some(ts("2026-11-24T08:00:00Z")) },
            message: "MSA is closed; it opens on 2026-11-24 at 09:00 (Europe/Paris)".into(),
        },
        HubToKiosk::CallAnswered {
            session: session(),
            agent_name: "Claire (CAF)".into(),
            ice_servers: ice_servers(),
            resume_token: Some(token()),
        },
        HubToKiosk::CallResumed { session: session(), agent_name: "Claire (CAF)".into(), ice_servers: ice_servers() },
        HubToKiosk::PeerAway { session: session() },
        HubToKiosk::PeerBack { session: session() },
        HubToKiosk::Signal { session: session(), signal: Signal::Candidate { candidate: candidate() } },
        HubToKiosk::CallTransferred {
            session: session(),
            to_session: SessionId::new("7f3a9c01-000003"),
            service: "msa".into(),
            position: 1,
            estimated_wait: Some(WaitEstimate { seconds: 300 }),
        },
        HubToKiosk::CallEnded { session: session(), reason: EndReason::AgentHungUp },
        HubToKiosk::HeartbeatAck { seq: 42 },
        HubToKiosk::ConfigAvailable {
            version: 1795392000,
            sha256: "9b1c5e0d8a7f64c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b".into(),
            size: 48213,
            path: "/api/kiosk/config".into(),
        },
        HubToKiosk::HostComing,
        HubToKiosk::CallbackSlots {
            service: "msa".into(),
            slots: vec![ts("2026-11-24T08:00:00Z"), ts("2026-11-24T08:15:00Z"), ts("2026-11-24T08:30:00Z"), ts("2026-11-24T08:45:00Z")],
            minutes: 15,
        },
        HubToKiosk::CallbackBooked { service: "msa".into(), reference: "RDV-000042".into(), start: ts("2026-11-24T08:15:00Z"), minutes: 15 },
        HubToKiosk::CallbackRefused {
            service: "msa".into(),
            message: "2026-11-24T08:15:00Z is taken at kiosk besse-mairie by RDV-000042".into(),
        },
        HubToKiosk::Error(ErrorBody::new(
            ErrorCode::OutOfPlace,
            "answer without a pending offer from the other side",
        )),
    ]
}

pub fn agent_to_hub() -> Vec<AgentToHub> {
    vec![
        AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume: None },
        AgentToHub::SetAvailability { available: true },
        AgentToHub::TakeNext { service: Some("caf".into()) },
        AgentToHub::Signal { session: session(), signal: Signal::Answer { sdp: "v=0\r\no=- 8812 2 IN IP4 127.0.0.1\r\n...".into() } },
        AgentToHub::Signal { session: session(), signal: Signal::Restart },
        AgentToHub::HangUp { session: session() },
        AgentToHub::Transfer { session: session(), to: TransferTarget::Service { service: "msa".into() } },
        AgentToHub::Transfer { session: session(), to: TransferTarget::Agent { login: "bruno".into() } },
        AgentToHub::Invite { session: session(), role: GuestRole::SignInterpreter },
        AgentToHub::GuestSignal { session: session(), signal: Signal::Offer { sdp: "v=0\r\no=- 4471 2 IN IP4 127.0.0.1\r\n...".into() } },
        AgentToHub::DismissGuest { session: session() },
    ]
}

/// A kiosk whose microphone sends silence, as the agent is told of it.
fn kiosk_devices() -> DeviceHealth {
    DeviceHealth {
        camera: DeviceStatus::new(DeviceState::Ok, None),
        microphone: DeviceStatus::new(DeviceState::Error, Some("the microphone sends silence (muted, or unplugged)"))
            .with_code(Some(fault::SILENT)),
        scanner: DeviceStatus::new(DeviceState::Ok, None),
        printer: DeviceStatus::new(DeviceState::NotInstalled, None),
        speaker: Some(DeviceStatus::new(DeviceState::Ok, None)),
        sound_output: Some(SoundOutput::Loudspeaker),
    }
}

pub fn hub_to_agent() -> Vec<HubToAgent> {
    vec![
        HubToAgent::Welcome {
            protocol: PROTOCOL_VERSION,
            login: "claire".into(),
            display_name: "Claire (CAF)".into(),
            available: false,
            services: statuses()[..1].to_vec(),
            all_services: statuses(),
        },
        HubToAgent::Queues {
            now: ts("2026-11-23T09:12:40Z"),
            queues: vec![QueueView {
                service: "caf".into(),
                waiting: vec![
                    WaitingResident {
                        session: SessionId::new("7f3a9c01-000004"),
                        kiosk_id: "ardes-mairie".into(),
                        site: "Mairie d'Ardes".into(),
                        queued_at: ts("2026-11-23T09:10:05Z"),
                        transferred_from: None,
                        appointment: Some("RDV-000042".into()),
                    },
                    WaitingResident {
                        session: session(),
                        kiosk_id: "besse-mairie".into(),
                        site: "Mairie de Besse-et-Saint-Anastaise".into(),
                        queued_at: ts("2026-11-23T09:05:10Z"),
                        transferred_from: None,
                        appointment: None,
                    },
                ],
            }],
        },
        HubToAgent::Availability { available: true },
        HubToAgent::CallStarted {
            session: session(),
            service: "caf".into(),
            kiosk_id: "besse-mairie".into(),
            site: "Mairie de Besse-et-Saint-Anastaise".into(),
            ice_servers: ice_servers(),
            resume_token: Some(token()),
            transferred_from: None,
            devices: Some(kiosk_devices()),
        },
        HubToAgent::CallStarted {
            session: SessionId::new("7f3a9c01-000003"),
            service: "msa".into(),
            kiosk_id: "besse-mairie".into(),
            site: "Mairie de Besse-et-Saint-Anastaise".into(),
            ice_servers: ice_servers(),
            resume_token: Some(ResumeToken("r1.7f3a9c01-000003.Hq2mW7cP4xN9sL1vB6kT3zR8yD5fJ0gA".into())),
            transferred_from: Some("caf".into()),
            devices: None,
        },
        HubToAgent::CallResumed {
            session: session(),
            service: "caf".into(),
            kiosk_id: "besse-mairie".into(),
            site: "Mairie de Besse-et-Saint-Anastaise".into(),
            ice_servers: ice_servers(),
            devices: None,
        },
        HubToAgent::KioskDevices {
            session: session(),
            devices: DeviceHealth { sound_output: Some(SoundOutput::Handset), ..kiosk_devices() },
        },
        HubToAgent::PeerAway { session: session() },
        HubToAgent::PeerBack { session: session() },
        HubToAgent::QueueEmpty { service: None },
        HubToAgent::Signal { session: session(), signal: Signal::EndOfCandidates },
        HubToAgent::CallEnded { session: session(), reason: EndReason::KioskDisconnected },
        HubToAgent::CallEnded { session: session(), reason: EndReason::Transferred },
        HubToAgent::Invited {
            session: session(),
            role: GuestRole::SignInterpreter,
            token: guest_token(),
            expires_at: ts("2026-11-23T09:29:00Z"),
        },
        HubToAgent::GuestJoined { session: session(), role: GuestRole::SignInterpreter },
        HubToAgent::GuestSignal { session: session(), signal: Signal::Candidate { candidate: candidate() } },
        HubToAgent::GuestLeft { session: session() },
        HubToAgent::Error(ErrorBody::new(ErrorCode::Forbidden, "you do not serve \"caf\"")),
    ]
}

/// `PUT /api/admin/config`'s answer.
pub fn published() -> admin::PublishedConfig {
    admin::PublishedConfig {
        version: 1795392000,
        payload_sha256: "9b1c5e0d8a7f64c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b".into(),
        key_id: "3f9a0c21d4e5b6a7".into(),
        published_at: ts("2026-11-23T08:00:05Z"),
        published_by: "claire".into(),
        size: 48213,
        announced_to: Some(41),
    }
}

/// `GET /api/fleet`'s answer: one kiosk reporting, one offline that
/// refused the published configuration.
pub fn fleet() -> admin::FleetView {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    admin::FleetView {
        now: ts("2026-11-23T09:12:40Z"),
        heartbeat_seconds: 30,
        published: Some(admin::PublishedConfig { announced_to: None, ..published() }),
        kiosks: vec![
            admin::FleetKiosk {
                kiosk_id: "ardes".into(),
                site: "Mairie d'Ardes".into(),
                enrolled: true,
                online: false,
                last_heartbeat_at: Some(ts("2026-11-22T17:40:00Z")),
                app_version: Some("0.1.0".into()),
                config_version: Some(1795305600),
                devices: None,
                rtt_ms: None,
                last_call: None,
                last_refusal: Some(admin::RefusalRecord {
                    version: 1795392000,
                    code: ConfigRefusalCode::UntrustedKey,
                    message: "signed by key 3f9a0c21d4e5b6a7, which is not a trusted admin key (trusted: 9d1e6f0a2b3c4d5e)"
                        .into(),
                    at: ts("2026-11-23T08:00:07Z"),
                }),
                attention: vec![admin::Concern::Offline, admin::Concern::ConfigRefused, admin::Concern::ConfigBehind],
            },
            admin::FleetKiosk {
                kiosk_id: "besse-mairie".into(),
                site: "Mairie de Besse-et-Saint-Anastaise".into(),
                enrolled: true,
                online: true,
                last_heartbeat_at: Some(ts("2026-11-23T09:12:31Z")),
                app_version: Some("0.1.0".into()),
                config_version: Some(1795392000),
                devices: Some(DeviceHealth {
                    camera: ok.clone(),
                    microphone: ok,
                    scanner: DeviceStatus::new(DeviceState::Error, Some("Document feeder jammed")),
                    printer: DeviceStatus::new(DeviceState::NotInstalled, None),
                    speaker: None,
                    sound_output: None,
                }),
                rtt_ms: Some(612),
                last_call: Some(CallLink { uplink_kbps: 1850, rtt_ms: Some(640) }),
                last_refusal: None,
                attention: vec![admin::Concern::DeviceFault],
            },
        ],
    }
}

pub fn host_to_hub() -> Vec<HostToHub> {
    vec![
        HostToHub::Hello { protocol: PROTOCOL_VERSION },
        HostToHub::Acknowledge { kiosk_id: "besse-mairie".into(), alert: AlertKind::Help },
    ]
}

fn desk_kiosk() -> DeskKiosk {
    DeskKiosk {
        kiosk_id: "besse-mairie".into(),
        site: "Mairie de Besse-et-Saint-Anastaise".into(),
        online: true,
        screen: Some("waiting".into()),
        devices: Some(DeviceHealth {
            camera: DeviceStatus::new(DeviceState::Ok, None),
            microphone: DeviceStatus::new(DeviceState::Ok, None),
            scanner: DeviceStatus::new(DeviceState::Ok, None),
            printer: DeviceStatus::new(DeviceState::Error, Some("Out of paper")),
            speaker: None,
            sound_output: None,
        }),
        alerts: vec![
            Alert {
                kind: AlertKind::Printer,
                code: None,
                since: ts("2026-11-23T08:52:10Z"),
                detail: Some("Out of paper".into()),
                acknowledged_by: Some("Sylvie (accueil)".into()),
            },
            Alert { kind: AlertKind::Help, since: ts("2026-11-23T09:14:03Z"), code: None, detail: None, acknowledged_by: None },
        ],
        updated: ts("2026-11-23T09:14:03Z"),
    }
}

pub fn hub_to_host() -> Vec<HubToHost> {
    vec![
        HubToHost::Welcome {
            protocol: PROTOCOL_VERSION,
            login: "accueil-besse".into(),
            display_name: "Sylvie (accueil)".into(),
            sites: vec!["Mairie de Besse-et-Saint-Anastaise".into()],
        },
        HubToHost::Board { kiosks: vec![desk_kiosk()] },
        HubToHost::Kiosk { kiosk: Box::new(desk_kiosk()) },
        HubToHost::Error(ErrorBody::new(ErrorCode::Forbidden, "kiosk ardes-mairie is not at one of your sites")),
    ]
}

pub fn supervisor_to_hub() -> Vec<SupervisorToHub> {
    vec![SupervisorToHub::Hello { protocol: PROTOCOL_VERSION }]
}

fn caf_line() -> ServiceLine {
    ServiceLine { service: "caf".into(), name: "CAF".into(), waiting: 2, oldest_queued_at: Some(ts("2026-11-23T09:02:41Z")) }
}

fn board_agent() -> BoardAgent {
    BoardAgent {
        login: "m.durand".into(),
        display_name: "Marie D. (CAF)".into(),
        services: vec!["caf".into()],
        state: AgentState::InCall,
        service: Some("caf".into()),
        since: ts("2026-11-23T09:05:12Z"),
        updated: ts("2026-11-23T09:05:12Z"),
    }
}

pub fn hub_to_supervisor() -> Vec<HubToSupervisor> {
    vec![
        HubToSupervisor::Welcome { protocol: PROTOCOL_VERSION, login: "chef-reseau".into(), display_name: "Hélène (réseau)".into() },
        HubToSupervisor::Board { now: ts("2026-11-23T09:14:03Z"), services: vec![caf_line()], agents: vec![board_agent()] },
        HubToSupervisor::Line { line: caf_line() },
        HubToSupervisor::Agent { agent: board_agent() },
        HubToSupervisor::AgentGone { login: "m.durand".into() },
        HubToSupervisor::Today {
            today: DayFigures {
                date: jiff::civil::date(2026, 11, 23),
                services: vec![ServiceDay {
                    service: "caf".into(),
                    answered: 7,
                    abandoned: 1,
                    median_wait_seconds: Some(185.0),
                    happy: 5,
                    neutral: 1,
                    unhappy: 0,
                }],
                agents: vec![AgentDay { login: "m.durand".into(), calls: 4 }],
            },
        },
        HubToSupervisor::Error(ErrorBody::new(ErrorCode::OutOfPlace, "hello was already accepted")),
    ]
}

fn guest_token() -> GuestToken {
    GuestToken("g1.7f3a9c01.Hq2mX8vT4nR6pL0wK9yZ3aC5dE7fG1hJ".into())
}

pub fn guest_to_hub() -> Vec<GuestToHub> {
    vec![
        GuestToHub::Hello { protocol: PROTOCOL_VERSION, token: guest_token() },
        GuestToHub::Signal { signal: Signal::Answer { sdp: "v=0\r\no=- 9120 2 IN IP4 127.0.0.1\r\n...".into() } },
        GuestToHub::Leave,
    ]
}

pub fn hub_to_guest() -> Vec<HubToGuest> {
    vec![
        HubToGuest::Welcome {
            protocol: PROTOCOL_VERSION,
            role: GuestRole::SignInterpreter,
            agent_name: "Marie (CAF)".into(),
            ice_servers: ice_servers(),
        },
        HubToGuest::Signal { signal: Signal::EndOfCandidates },
        HubToGuest::Ended,
        HubToGuest::Error(ErrorBody::new(ErrorCode::InviteUsed, "this link was already used; ask the agent for a new one")),
    ]
}

/// Every example, encoded, with the direction it belongs to.
pub fn all() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    out.push(("PUT /api/admin/config", serde_json::to_string(&published()).unwrap_or_default()));
    out.push(("GET /api/fleet", serde_json::to_string(&fleet()).unwrap_or_default()));
    out.extend(kiosk_to_hub().iter().map(|m| ("kiosk → hub", encode(m))));
    out.extend(hub_to_kiosk().iter().map(|m| ("hub → kiosk", encode(m))));
    out.extend(agent_to_hub().iter().map(|m| ("agent → hub", encode(m))));
    out.extend(hub_to_agent().iter().map(|m| ("hub → agent", encode(m))));
    out.extend(host_to_hub().iter().map(|m| ("host → hub", encode(m))));
    out.extend(hub_to_host().iter().map(|m| ("hub → host", encode(m))));
    out.extend(supervisor_to_hub().iter().map(|m| ("supervisor → hub", encode(m))));
    out.extend(hub_to_supervisor().iter().map(|m| ("hub → supervisor", encode(m))));
    out.extend(guest_to_hub().iter().map(|m| ("guest → hub", encode(m))));
    out.extend(hub_to_guest().iter().map(|m| ("hub → guest", encode(m))));
    out
}

#[cfg(test)]
mod tests {
    /// `docs/protocol.md` must show every example exactly as it is encoded,
    /// so the document cannot drift from the code. Run with
    /// `PRINT_PROTOCOL_EXAMPLES=1 cargo test -p visio-protocol docs -- --nocapture`
    /// to print them.
    #[test]
    fn docs_show_every_message() {
        let doc = include_str!("../../../docs/protocol.md");
        let mut missing = Vec::new();
        for (direction, json) in super::all() {
            if std::env::var_os("PRINT_PROTOCOL_EXAMPLES").is_some() {
                println!("{direction}\n{json}\n");
            }
            if !doc.contains(&json) {
                missing.push(format!("{direction}: {json}"));
            }
        }
        assert!(missing.is_empty(), "docs/protocol.md lacks these examples:\n{}", missing.join("\n"));
    }
}
