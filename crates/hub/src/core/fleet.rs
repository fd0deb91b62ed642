//! Configuration and fleet: what the hub serves to kiosks (the published
//! configuration), what it keeps of their heartbeats, and the counts for
//! `/metrics` and `/healthz`.

use super::*;

/// What a kiosk's last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReport {
    pub app_version: String,
    pub config_version: Option<u64>,
    pub devices: Option<DeviceHealth>,
    pub rtt_ms: Option<u32>,
    /// What the kiosk's last call measured; absent before its first call
    /// (the store then keeps the previous one).
    pub last_call: Option<CallLink>,
}

impl HeartbeatReport {
    /// What the hub keeps of a heartbeat: texts cut to a bounded length.
    pub(super) fn kept(
        app_version: String,
        config_version: Option<u64>,
        devices: Option<DeviceHealth>,
        rtt_ms: Option<u32>,
        last_call: Option<CallLink>,
    ) -> Self {
        HeartbeatReport {
            app_version: truncate(app_version, 64),
            config_version,
            devices: devices.map(|mut d| {
                let speaker = d.speaker.as_mut();
                for s in [&mut d.camera, &mut d.microphone, &mut d.scanner, &mut d.printer].into_iter().chain(speaker) {
                    s.detail = s.detail.take().map(|t| truncate(t, MAX_DETAIL_CHARS));
                }
                d
            }),
            rtt_ms,
            last_call,
        }
    }
}

/// A configuration an admin published, as the core needs it: what to
/// announce to kiosks, and the catalogue and ICE servers the hub itself
/// adopts from it (opening hours decide what the hub accepts).
#[derive(Debug, Clone)]
pub struct Published {
    pub version: u64,
    pub sha256: String,
    pub size: u64,
    pub catalogue: Arc<Catalogue>,
    pub ice_servers: Vec<IceServer>,
}

/// Where kiosks fetch the published configuration.
pub const CONFIG_PATH: &str = "/api/kiosk/config";

/// Longest device detail or refusal message kept from a kiosk: enough for
/// a sentence, and a misbehaving kiosk cannot fill the store.
pub const MAX_DETAIL_CHARS: usize = 200;

pub const MAX_REFUSAL_CHARS: usize = 2000;

/// Counts for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub kiosks: usize,
    pub agents: usize,
    pub agents_available: usize,
    pub calls_in_progress: usize,
    /// Every service of the catalogue, with its number of waiting residents.
    pub queue_lengths: Vec<(ServiceId, usize)>,
    /// Per device (camera, microphone, scanner, printer): connected kiosks
    /// whose last heartbeat says it is missing or failing.
    pub devices_unhealthy: Vec<(&'static str, usize)>,
    /// The published configuration's version, if any.
    pub config_version: Option<u64>,
    /// Connected kiosks whose last heartbeat reports another configuration
    /// version than the published one (or none): a rollout in progress, or
    /// kiosks refusing it.
    pub kiosks_config_outdated: usize,
    /// Per connected kiosk that sent a heartbeat: its round trip to the
    /// hub and what its last call measured, by id.
    pub links: Vec<(KioskId, Option<u32>, Option<CallLink>)>,
}

/// At most `max` characters, cut on a character boundary, with "…" when cut.
fn truncate(mut text: String, max: usize) -> String {
    if let Some((i, _)) = text.char_indices().nth(max) {
        text.truncate(i);
        text.push('…');
    }
    text
}

impl Hub {
    /// A kiosk's heartbeat: kept for the fleet view, acknowledged (the
    /// kiosk times the round trip), logged.
    pub(super) fn heartbeat(&mut self, now: Timestamp, peer: PeerId, seq: u64, report: HeartbeatReport) {
        let kiosk = self.kiosks.get_mut(&peer).expect("checked by caller");
        kiosk.heartbeat = Some(report.clone());
        let kiosk_id = kiosk.kiosk_id.clone();
        self.tell_kiosk(peer, HubToKiosk::HeartbeatAck { seq });
        self.desk_devices(now, &kiosk_id, report.devices.as_ref());
        self.event(HubEvent::Heartbeat { kiosk_id, at: now, report });
    }

    /// A kiosk applied a published configuration.
    pub(super) fn config_applied(&mut self, now: Timestamp, peer: PeerId, version: u64) {
        let kiosk = self.kiosks.get_mut(&peer).expect("checked by caller");
        // The next heartbeat would say so; the fleet view should not wait
        // for it.
        if let Some(h) = &mut kiosk.heartbeat {
            h.config_version = Some(version);
        }
        let kiosk_id = kiosk.kiosk_id.clone();
        self.event(HubEvent::ConfigApplied { kiosk_id, version, at: now });
    }

    /// A kiosk refused a published configuration, and says why.
    pub(super) fn config_refused(&mut self, now: Timestamp, peer: PeerId, version: u64, mut reason: ConfigRefusal) {
        reason.message = truncate(reason.message, MAX_REFUSAL_CHARS);
        let kiosk_id = self.kiosks[&peer].kiosk_id.clone();
        self.event(HubEvent::ConfigRefused { kiosk_id, version, reason, at: now });
    }

    /// An admin published a configuration (already verified and stored by
    /// the shell). The hub adopts its catalogue and ICE servers, and every
    /// connected kiosk is told. Returns how many kiosks were told.
    pub fn handle_config_published(&mut self, now: Timestamp, published: Published) -> usize {
        self.catalogue = published.catalogue.clone();
        for s in self.catalogue.services() {
            self.call_seconds.entry(s.id.clone()).or_insert(f64::from(s.typical_call_minutes) * 60.0);
        }
        self.ice_servers = published.ice_servers.clone();
        self.published = Some(published);
        let mut peers: Vec<PeerId> = self.kiosks.keys().copied().collect();
        peers.sort();
        if let Some(announcement) = self.announcement() {
            for &peer in &peers {
                self.tell_kiosk(peer, announcement.clone());
            }
        }
        self.flush(now);
        peers.len()
    }

    pub(super) fn announcement(&self) -> Option<HubToKiosk> {
        self.published.as_ref().map(|p| HubToKiosk::ConfigAvailable {
            version: p.version,
            sha256: p.sha256.clone(),
            size: p.size,
            path: CONFIG_PATH.to_owned(),
        })
    }

    /// The configuration the hub serves, if one was published.
    pub fn published_version(&self) -> Option<u64> {
        self.published.as_ref().map(|p| p.version)
    }

    /// The kiosks connected now.
    pub fn online_kiosks(&self) -> Vec<KioskId> {
        let mut ids: Vec<KioskId> = self.kiosk_peer.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            kiosks: self.kiosks.len(),
            agents: self.agents.len(),
            agents_available: self.agents.values().filter(|a| a.available).count(),
            calls_in_progress: self.sessions.values().filter(|s| matches!(s.state, SessionState::InCall(_))).count(),
            queue_lengths: self
                .catalogue
                .services()
                .iter()
                .map(|s| (s.id.clone(), self.queues.len(&s.id)))
                .collect(),
            devices_unhealthy: DeviceHealth::NAMES
                .into_iter()
                .map(|device| {
                    let n = self
                        .kiosks
                        .values()
                        .filter_map(|k| k.heartbeat.as_ref()?.devices.as_ref())
                        .filter(|d| d.by_name().iter().any(|(name, s)| *name == device && s.state.is_unhealthy()))
                        .count();
                    (device, n)
                })
                .collect(),
            config_version: self.published_version(),
            kiosks_config_outdated: match self.published_version() {
                None => 0,
                Some(v) => self
                    .kiosks
                    .values()
                    .filter(|k| k.heartbeat.as_ref().is_some_and(|h| h.config_version != Some(v)))
                    .count(),
            },
            links: {
                let mut links: Vec<_> = self
                    .kiosks
                    .values()
                    .filter_map(|k| k.heartbeat.as_ref().map(|h| (k.kiosk_id.clone(), h.rtt_ms, h.last_call)))
                    .collect();
                links.sort_by(|a, b| a.0.cmp(&b.0));
                links
            },
        }
    }
}
