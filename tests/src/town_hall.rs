//! A town hall's network as issue 22 describes it, for the tests over an
//! emulated link: coturn with its TLS listener on 443 (certificate made
//! here) and, when asked, an HTTP proxy on the hub's side; the hub giving
//! short-lived TURN credentials; the kiosk trusting coturn's certificate and
//! knowing its proxy. The firewall itself is the test's choice
//! (`Link::only_tcp_out`), since what it lets out is what a test is about.

use std::sync::Arc;

use visio_linkem::{Link, Side};
use visio_protocol::Secret;
use visio_testkit::proxy::Proxy;
use visio_testkit::turn::Turn;

use crate::World;

pub struct TownHall {
    pub world: World,
    pub turn: Turn,
    pub proxy: Option<Proxy>,
    _certs: tempfile::TempDir,
}

impl std::fmt::Debug for TownHall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TownHall").field("turn_tls_port", &self.turn.tls_port).field("proxy", &self.proxy.as_ref().map(|p| p.port)).finish_non_exhaustive()
    }
}

impl TownHall {
    /// coturn (TURN REST `secret`) and, `through_proxy`, the proxy on the
    /// hub's side of `link`; the hub and the kiosk's configuration set up
    /// to use them.
    pub async fn start(link: &Link, secret: &str, through_proxy: bool) -> TownHall {
        let hub_ip = link.hub_addr();
        let hub_accepts = |port| link.in_namespace(Side::Hub, || std::net::TcpStream::connect((hub_ip, port)).is_ok()).unwrap_or(false);
        let spawn_on_hub_side = |command: &mut std::process::Command| link.spawn_in(Side::Hub, command).map_err(std::io::Error::other);
        let certs = tempfile::tempdir().unwrap();
        let identity = visio_hub::tls::load_or_generate_for(certs.path(), None, &[hub_ip.to_string()]).unwrap();
        let key = identity.cert_path.with_file_name("key.pem");
        let turn = Turn::with_tls(hub_ip.into(), 443, (&identity.cert_path, &key), secret, spawn_on_hub_side, hub_accepts);
        let proxy = through_proxy.then(|| Proxy::start(hub_ip.into(), spawn_on_hub_side, hub_accepts));

        let mut settings = visio_hub::server::Settings::new(Arc::new(visio_config::Catalogue::demo()));
        settings.turn_rest = Some(visio_hub::core::TurnRest {
            urls: vec![format!("turns:{hub_ip}:{}?transport=tcp", turn.tls_port)],
            secret: Secret(secret.into()),
            ttl: jiff::SignedDuration::from_mins(10),
        });
        let world = World::behind_with(link, settings).await;
        // The kiosk trusts the hub's certificate and coturn's (one PEM
        // file), and knows its proxy when there is one.
        let trust = world.dir.path().join("trust.pem");
        std::fs::write(&trust, [world.hub.cert_pem.clone(), std::fs::read(&identity.cert_path).unwrap()].concat()).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&world.config).unwrap()).unwrap();
        config["hub"]["trust"] = serde_json::json!({ "kiosk_file": trust });
        if let Some(proxy) = &proxy {
            config["hub"]["proxy"] = serde_json::json!({
                "url": format!("http://{hub_ip}:{}", proxy.port),
                "username": visio_testkit::proxy::USER,
                "password": visio_testkit::proxy::PASSWORD,
            });
        }
        std::fs::write(&world.config, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        TownHall { world, turn, proxy, _certs: certs }
    }
}
