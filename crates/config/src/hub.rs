//! The hub's own settings: `kiosk-config/hub.json`.

use std::net::SocketAddr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use visio_protocol::IceServer;

use crate::Problem;

/// `hub.json` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHubSettings {
    /// Address and port the hub listens on, e.g. "0.0.0.0:8443".
    pub listen: String,
    /// The URL agents open in their browser, e.g.
    /// `"https://hub.visio-public.example.fr"`; kiosks use the `wss://` URLs
    /// of their own file.
    pub public_url: String,
    /// STUN and TURN servers handed to kiosks and agents for WebRTC. Behind
    /// strict firewalls only TURN (ideally "turns:" on 443) gets through.
    #[serde(default)]
    pub ice_servers: Vec<RawIceServer>,
    /// Most simultaneous connections (kiosks and agents) before new ones
    /// are refused (1 to 100000).
    pub max_connections: u32,
    /// How long an agent stays logged in without logging in again, in
    /// hours (1 to 24): one working day by default.
    #[serde(default = "default_agent_session_hours")]
    pub agent_session_hours: u32,
    /// How often kiosks report their health, in seconds (10 to 600); a
    /// kiosk silent for three periods shows as offline.
    #[serde(default = "default_heartbeat_seconds")]
    pub heartbeat_seconds: u32,
    /// Days the session log (metadata only) is kept, for usage reports
    /// (30 to 3650).
    #[serde(default = "default_retention_days")]
    pub session_log_retention_days: u32,
}

fn default_agent_session_hours() -> u32 {
    10
}

fn default_heartbeat_seconds() -> u32 {
    30
}

fn default_retention_days() -> u32 {
    400
}

/// One STUN or TURN server as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIceServer {
    /// "stun:host:port", "turn:host:port?transport=udp" or
    /// "turns:host:443?transport=tcp".
    pub urls: Vec<String>,
    /// TURN user name (required for turn: and turns: URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password (required for turn: and turns: URLs). Kiosks receive
    /// it: use a TURN account limited to relaying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Validated hub settings. Only [`RawHubSettings::validate`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HubSettings {
    pub listen: SocketAddr,
    pub public_url: String,
    /// In the wire's shape, ready to hand to clients.
    pub ice_servers: Vec<IceServer>,
    pub max_connections: u32,
    pub agent_session: Duration,
    pub heartbeat: Duration,
    pub session_log_retention_days: u32,
}

impl RawHubSettings {
    /// A valid `hub.json` with every field, which [`crate::parse_all`]
    /// borrows from to read past a shape error.
    pub(crate) fn template() -> serde_json::Value {
        serde_json::json!({
            "listen": "0.0.0.0:8443", "public_url": "https://hub.example.fr",
            "ice_servers": [{ "urls": ["turn:turn.example.fr:3478"], "username": "u", "credential": "c" }],
            "max_connections": 100, "agent_session_hours": 10, "heartbeat_seconds": 30,
            "session_log_retention_days": 400,
        })
    }

    pub fn validate(&self) -> Result<HubSettings, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| problems.push(Problem::new(path, message));
        let listen = self.listen.parse::<SocketAddr>();
        if listen.is_err() {
            problem("listen", format!("{:?} is not an address and port such as \"0.0.0.0:8443\"", self.listen));
        }
        if !self.public_url.starts_with("https://") || self.public_url.len() <= "https://".len() {
            problem("public_url", format!("{:?} is not an https:// URL", self.public_url));
        }
        for (i, server) in self.ice_servers.iter().enumerate() {
            if server.urls.is_empty() {
                problem(&format!("ice_servers[{i}].urls"), "no URL".into());
            }
            let mut turn = false;
            for (j, url) in server.urls.iter().enumerate() {
                let scheme = url.split(':').next().unwrap_or("");
                let rest = url.split_once(':').map(|(_, r)| r).unwrap_or("");
                match scheme {
                    "stun" | "stuns" if !rest.is_empty() => {}
                    "turn" | "turns" if !rest.is_empty() => turn = true,
                    _ => problem(
                        &format!("ice_servers[{i}].urls[{j}]"),
                        format!("{url:?} is not a stun:, stuns:, turn: or turns: URL with a host"),
                    ),
                }
            }
            if turn && (server.username.is_none() || server.credential.is_none()) {
                problem(&format!("ice_servers[{i}]"), "a TURN server needs \"username\" and \"credential\"".into());
            }
        }
        if !(1..=100_000).contains(&self.max_connections) {
            problem("max_connections", format!("{} is out of range; use 1 to 100000", self.max_connections));
        }
        if !(1..=24).contains(&self.agent_session_hours) {
            problem("agent_session_hours", format!("{} is out of range; use 1 to 24 hours", self.agent_session_hours));
        }
        if !(10..=600).contains(&self.heartbeat_seconds) {
            problem("heartbeat_seconds", format!("{} is out of range; use 10 to 600 seconds", self.heartbeat_seconds));
        }
        if !(30..=3650).contains(&self.session_log_retention_days) {
            problem(
                "session_log_retention_days",
                format!("{} is out of range; use 30 to 3650 days", self.session_log_retention_days),
            );
        }
        match listen {
            Ok(listen) if problems.is_empty() => Ok(HubSettings {
                listen,
                public_url: self.public_url.clone(),
                ice_servers: self
                    .ice_servers
                    .iter()
                    .map(|s| IceServer { urls: s.urls.clone(), username: s.username.clone(), credential: s.credential.clone() })
                    .collect(),
                max_connections: self.max_connections,
                agent_session: Duration::from_secs(u64::from(self.agent_session_hours) * 3600),
                heartbeat: Duration::from_secs(u64::from(self.heartbeat_seconds)),
                session_log_retention_days: self.session_log_retention_days,
            }),
            _ => Err(problems),
        }
    }
}

impl HubSettings {
    pub fn to_raw(&self) -> RawHubSettings {
        RawHubSettings {
            listen: self.listen.to_string(),
            public_url: self.public_url.clone(),
            ice_servers: self
                .ice_servers
                .iter()
                .map(|s| RawIceServer { urls: s.urls.clone(), username: s.username.clone(), credential: s.credential.clone() })
                .collect(),
            max_connections: self.max_connections,
            agent_session_hours: (self.agent_session.as_secs() / 3600) as u32,
            heartbeat_seconds: self.heartbeat.as_secs() as u32,
            session_log_retention_days: self.session_log_retention_days,
        }
    }
}
