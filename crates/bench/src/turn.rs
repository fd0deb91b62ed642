//! `--relay`: coturn on the hub's side of the link (TLS on 443 with a
//! certificate made by the run, plain TCP on a free port), the kiosk side
//! firewalled so that only TCP to it leaves, and the hub's short-lived
//! credentials for both senders. As `call_and_scan_through_a_firewall` in
//! crates/media/tests/links.rs does, with visio-testkit's coturn.

use std::net::{IpAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use visio_bench::relay::{Relay, TLS_PORT};
use visio_linkem::{Link, Side};
use visio_testkit::turn::Turn;

/// coturn's shared secret (TURN REST scheme), as a hub's `turn_rest` holds it.
const SECRET: &str = "bench-town-hall";

/// The running relay; dropping it stops coturn.
pub struct RelayServer {
    pub relay: Relay,
    /// The URL and short-lived credentials both senders are given.
    pub server: visio_media::IceServer,
    /// coturn's certificate, which our kiosk trusts (`turn_trust_pem`).
    pub cert_pem: String,
    /// Chromium's flag that accepts this certificate (by its public key's
    /// hash) in its network service's certificate verifier, which its
    /// TURN/TLS connections go through too.
    pub chromium_flag: String,
    _turn: Turn,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for RelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer").field("relay", &self.relay).field("urls", &self.server.urls).finish_non_exhaustive()
    }
}

impl RelayServer {
    /// Starts coturn on the hub's side of `link`, then firewalls the kiosk
    /// side and checks that UDP no longer leaves it while TCP to the relay does.
    pub fn start(link: &Link, relay: Relay) -> Result<RelayServer> {
        let hub: IpAddr = link.hub_addr().into();
        let dir = tempfile::tempdir()?;
        let identity = visio_hub::tls::load_or_generate_for(dir.path(), None, &[hub.to_string()]).context("making coturn's certificate")?;
        let key = identity.cert_path.with_file_name("key.pem");
        let hub_accepts = |port| link.in_namespace(Side::Hub, || TcpStream::connect((hub, port)).is_ok()).unwrap_or(false);
        let spawn_on_hub_side = |command: &mut Command| link.spawn_in(Side::Hub, command).map_err(std::io::Error::other);
        // visio-testkit's helper waits with std's sleep and panics on failure:
        // a blocking section, and a panic turned into this run's error.
        let turn = tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Turn::with_tls(hub, TLS_PORT, (&identity.cert_path, &key), SECRET, spawn_on_hub_side, hub_accepts)
            }))
        })
        .map_err(|_| anyhow::anyhow!("coturn did not start on the hub's side (is coturn installed? scripts/setup.sh)"))?;

        let port = relay.port(turn.port);
        link.only_tcp_out(Side::Kiosk, &[port]).context("firewalling the kiosk side")?;
        let tcp_out = link.in_namespace(Side::Kiosk, || TcpStream::connect_timeout(&(hub, port).into(), Duration::from_secs(2)).is_ok())?;
        if !tcp_out {
            bail!("the kiosk side's firewall does not let TCP to {hub}:{port} out");
        }

        let rest = visio_hub::core::TurnRest {
            urls: vec![relay.url(hub, turn.port)],
            secret: visio_protocol::Secret(SECRET.into()),
            ttl: jiff::SignedDuration::from_mins(30),
        };
        let issued = rest.credentials(jiff::Timestamp::now(), "bench");
        let server = visio_media::IceServer {
            urls: issued.urls,
            username: issued.username.unwrap_or_default(),
            credential: issued.credential.unwrap_or_default(),
        };
        let cert_pem = std::fs::read_to_string(&identity.cert_path)?;
        let chromium_flag = format!("--ignore-certificate-errors-spki-list={}", spki_sha256(&identity.cert_path)?);
        Ok(RelayServer { relay, server, cert_pem, chromium_flag, _turn: turn, _dir: dir })
    }

    /// The page's `RTCPeerConnection` configuration.
    pub fn page_config(&self) -> Value {
        json!({ "iceServers": [{ "urls": self.server.urls, "username": self.server.username, "credential": self.server.credential }] })
    }
}

/// Base64 of the SHA-256 of the certificate's public key (what Chromium's
/// `--ignore-certificate-errors-spki-list` takes), by the openssl tool.
fn spki_sha256(cert: &std::path::Path) -> Result<String> {
    let script = "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64";
    let out = Command::new("sh").args(["-c", script, "sh"]).arg(cert).output().context("running openssl")?;
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || hash.len() != 44 {
        bail!("openssl could not hash {}'s public key: {}", cert.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(hash)
}
