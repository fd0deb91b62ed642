//! `/metrics` in the Prometheus/OpenMetrics text format. Gauges are read from
//! a snapshot of the core at scrape time; counters follow the core's events.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::core::{HubEvent, Snapshot};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KioskLabel {
    kiosk: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// A limit the hub enforces on clients; each refusal is counted under its
/// name in `visio_hub_limit_refusals_total{limit=…}` (see the limits table
/// in docs/operations.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A peer that left more than `PEER_QUEUE` messages unread.
    PeerQueue,
    /// A frame that is not valid WebSocket (invalid UTF-8 in a text frame,
    /// a protocol error).
    BadFrame,
    /// A frame over the limit before the hello was accepted.
    PreHelloBytes,
    /// No hello in time.
    HelloTimeout,
    /// Too many connections open from one address.
    ConnectionsPerAddress,
    /// No TLS handshake in time.
    TlsHandshake,
    /// A request head not received in time.
    RequestHead,
    /// A request body (and its answer) not done in time.
    RequestTimeout,
    /// A connection silent (not even a pong) for too long.
    Silence,
    /// Sign-in tries from one address.
    SignInAddress,
    /// Sign-in tries for one account.
    SignInAccount,
    /// Messages per second on one connection.
    MessageRate,
    /// Visits a kiosk may start per minute.
    VisitsPerMinute,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::PeerQueue => "peer_queue",
            Limit::BadFrame => "bad_frame",
            Limit::PreHelloBytes => "pre_hello_bytes",
            Limit::HelloTimeout => "hello_timeout",
            Limit::ConnectionsPerAddress => "connections_per_address",
            Limit::TlsHandshake => "tls_handshake",
            Limit::RequestHead => "request_head",
            Limit::RequestTimeout => "request_timeout",
            Limit::Silence => "silence",
            Limit::SignInAddress => "sign_in_address",
            Limit::SignInAccount => "sign_in_account",
            Limit::MessageRate => "message_rate",
            Limit::VisitsPerMinute => "visits_per_minute",
        }
    }
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    kiosks: Gauge,
    agents: Gauge,
    agents_available: Gauge,
    calls_in_progress: Gauge,
    queue_length: Family<ServiceLabel, Gauge>,
    calls: Counter,
    visits_ended: Family<ReasonLabel, Counter>,
    kiosks_enrolled: Gauge,
    devices_unhealthy: Family<DeviceLabel, Gauge>,
    config_version: Gauge,
    kiosks_config_outdated: Gauge,
    config_refusals: Family<CodeLabel, Counter>,
    heartbeats: Counter,
    limit_refusals: Family<LimitLabel, Counter>,
    kiosk_rtt_ms: Family<KioskLabel, Gauge>,
    last_call_uplink_kbps: Family<KioskLabel, Gauge>,
    last_call_rtt_ms: Family<KioskLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("visio_hub");
        let m = Metrics {
            kiosks: Gauge::default(),
            agents: Gauge::default(),
            agents_available: Gauge::default(),
            calls_in_progress: Gauge::default(),
            queue_length: Family::default(),
            calls: Counter::default(),
            visits_ended: Family::default(),
            kiosks_enrolled: Gauge::default(),
            devices_unhealthy: Family::default(),
            config_version: Gauge::default(),
            kiosks_config_outdated: Gauge::default(),
            config_refusals: Family::default(),
            heartbeats: Counter::default(),
            limit_refusals: Family::default(),
            kiosk_rtt_ms: Family::default(),
            last_call_uplink_kbps: Family::default(),
            last_call_rtt_ms: Family::default(),
            registry: Registry::default(),
        };
        // Kiosks online; with `kiosks_enrolled`, the offline ones.
        registry.register("connected_kiosks", "Kiosks connected to this hub", m.kiosks.clone());
        registry.register("connected_agents", "Agents connected to this hub", m.agents.clone());
        registry.register("available_agents", "Connected agents who are available", m.agents_available.clone());
        registry.register("calls_in_progress", "Calls answered and not yet ended", m.calls_in_progress.clone());
        registry.register("queue_length", "Residents waiting, per service", m.queue_length.clone());
        registry.register("calls", "Calls answered since the hub started", m.calls.clone());
        registry.register("visits_ended", "Visits ended since the hub started, per reason", m.visits_ended.clone());
        registry.register("kiosks_enrolled", "Kiosks enrolled at this hub", m.kiosks_enrolled.clone());
        registry.register(
            "devices_unhealthy",
            "Connected kiosks whose last heartbeat reports this device missing or failing",
            m.devices_unhealthy.clone(),
        );
        registry.register(
            "config_version",
            "Version of the published configuration (0: none published)",
            m.config_version.clone(),
        );
        registry.register(
            "kiosks_config_outdated",
            "Connected kiosks not running the published configuration",
            m.kiosks_config_outdated.clone(),
        );
        registry.register(
            "config_refusals",
            "Configurations refused by kiosks since the hub started, per reason",
            m.config_refusals.clone(),
        );
        registry.register("heartbeats", "Kiosk heartbeats received since the hub started", m.heartbeats.clone());
        registry.register(
            "limit_refusals",
            "Clients refused or disconnected by one of the hub's limits, per limit",
            m.limit_refusals.clone(),
        );
        // One series per connected kiosk: a fleet is hundreds of kiosks,
        // and which town hall's line is slow is the question asked.
        registry.register("kiosk_rtt_ms", "Round trip of a connected kiosk's last heartbeat, in ms", m.kiosk_rtt_ms.clone());
        registry.register(
            "kiosk_last_call_uplink_kbps",
            "Uplink a connected kiosk's last call estimated (median), in kbit/s",
            m.last_call_uplink_kbps.clone(),
        );
        registry.register(
            "kiosk_last_call_rtt_ms",
            "Media round trip to the agent in a connected kiosk's last call (median), in ms",
            m.last_call_rtt_ms.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts one refusal by `limit`.
    pub fn refused(&self, limit: Limit) {
        self.limit_refusals.get_or_create(&LimitLabel { limit: limit.as_str() }).inc();
    }

    pub fn observe(&self, event: &HubEvent) {
        match event {
            HubEvent::Answered { .. } => {
                self.calls.inc();
            }
            HubEvent::Ended { reason, .. } => {
                self.visits_ended.get_or_create(&ReasonLabel { reason: reason.as_str().into() }).inc();
            }
            HubEvent::Heartbeat { .. } => {
                self.heartbeats.inc();
            }
            HubEvent::ConfigRefused { reason, .. } => {
                self.config_refusals.get_or_create(&CodeLabel { code: reason.code.as_str().into() }).inc();
            }
            HubEvent::Queued { .. } | HubEvent::Transferred { .. } | HubEvent::Rated { .. } | HubEvent::ConfigApplied { .. } => {}
        }
    }

    /// `enrolled`: the store's count of enrolled kiosks.
    pub fn render(&self, snapshot: &Snapshot, enrolled: usize) -> String {
        self.kiosks_enrolled.set(enrolled as i64);
        for (device, n) in &snapshot.devices_unhealthy {
            self.devices_unhealthy.get_or_create(&DeviceLabel { device: (*device).into() }).set(*n as i64);
        }
        self.config_version.set(snapshot.config_version.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX)));
        self.kiosks_config_outdated.set(snapshot.kiosks_config_outdated as i64);
        self.kiosks.set(snapshot.kiosks as i64);
        self.agents.set(snapshot.agents as i64);
        self.agents_available.set(snapshot.agents_available as i64);
        self.calls_in_progress.set(snapshot.calls_in_progress as i64);
        for (service, n) in &snapshot.queue_lengths {
            self.queue_length.get_or_create(&ServiceLabel { service: service.to_string() }).set(*n as i64);
        }
        // Kiosks that left take their series with them.
        for family in [&self.kiosk_rtt_ms, &self.last_call_uplink_kbps, &self.last_call_rtt_ms] {
            family.clear();
        }
        for (kiosk, rtt_ms, last_call) in &snapshot.links {
            let label = KioskLabel { kiosk: kiosk.to_string() };
            if let Some(ms) = rtt_ms {
                self.kiosk_rtt_ms.get_or_create(&label).set(i64::from(*ms));
            }
            if let Some(link) = last_call {
                self.last_call_uplink_kbps.get_or_create(&label).set(i64::from(link.uplink_kbps));
                if let Some(ms) = link.rtt_ms {
                    self.last_call_rtt_ms.get_or_create(&label).set(i64::from(ms));
                }
            }
        }
        let mut out = String::new();
        // Invariant: writing to a String cannot fail.
        encode(&mut out, &self.registry).expect("encoding metrics into a String");
        out
    }
}
