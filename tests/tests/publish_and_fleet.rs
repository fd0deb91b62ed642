//! `visio-admin publish` and `visio-admin fleet`, run as an admin runs them,
//! against a real hub over TLS on loopback with a real kiosk connected over
//! WebSocket.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use tempfile::TempDir;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use visio_config::Catalogue;
use visio_hub::server::{self, Settings};
use visio_hub::store::Store;
use visio_protocol::admin::FleetView;
use visio_protocol::*;

/// Reached only when something is wrong; a loaded CI machine is slow.
const DEADLINE: Duration = Duration::from_secs(30);

struct Hub {
    port: u16,
    store: Store,
    dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Hub {
    async fn start() -> Hub {
        let dir = TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
        let identity = visio_hub::tls::load_or_generate(dir.path(), None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = Settings::new(Arc::new(Catalogue::demo()));
        tokio::spawn({
            let store = store.clone();
            async move {
                let _ = server::run(listener, identity.config, store, settings, async {
                    let _ = stopped.await;
                })
                .await;
            }
        });
        Hub { port, store, dir, stop: Some(stop) }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("tls/cert.pem")
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The admin's side: a scratch folder with keys and the token file.
struct Admin {
    tmp: TempDir,
}

impl Admin {
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Runs visio-admin in the admin's folder, off the async runtime.
    async fn run(&self, args: &[&str]) -> Output {
        let (dir, args): (PathBuf, Vec<String>) = (self.tmp.path().to_owned(), args.iter().map(|a| a.to_string()).collect());
        let run = tokio::task::spawn_blocking(move || {
            std::process::Command::new(visio_testkit::bin::path("visio-admin"))
                .args(&args)
                .current_dir(dir)
                .env_remove("VISIO_HUB_URL")
                .env_remove("VISIO_HUB_TRUST")
                .env_remove("VISIO_ADMIN_TOKEN_FILE")
                .output()
                .unwrap()
        });
        tokio::time::timeout(DEADLINE, run).await.expect("visio-admin finishes").unwrap()
    }

    /// `--hub`, `--trust` and `--token-file` for `hub`.
    fn hub_args(&self, hub: &Hub) -> Vec<String> {
        let cert = hub.cert();
        vec![
            "--hub".into(),
            hub.url(),
            "--trust".into(),
            cert.display().to_string(),
            "--token-file".into(),
            self.path("token").display().to_string(),
        ]
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kiosk-config")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A kiosk speaking the protocol: hello, then the welcome.
async fn kiosk(hub: &Hub, id: &str, secret: &Secret) -> Ws {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    for cert in CertificateDer::pem_file_iter(hub.cert()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let request = format!("wss://localhost:{}/ws/kiosk", hub.port).into_client_request().unwrap();
    let connector = tokio_tungstenite::Connector::Rustls(Arc::new(tls));
    let (mut ws, _) = tokio::time::timeout(
        DEADLINE,
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector)),
    )
    .await
    .unwrap()
    .unwrap();
    let hello = KioskToHub::Hello { protocol: PROTOCOL_VERSION, kiosk_id: id.into(), secret: secret.clone(), app_version: None, resume: None };
    send(&mut ws, hello).await;
    assert!(matches!(next(&mut ws).await, HubToKiosk::Welcome { .. }));
    ws
}

async fn send(ws: &mut Ws, msg: KioskToHub) {
    ws.send(Message::Text(encode(&msg).into())).await.unwrap();
}

async fn next(ws: &mut Ws) -> HubToKiosk {
    loop {
        match tokio::time::timeout(DEADLINE, ws.next()).await.expect("a message from the hub") {
            Some(Ok(Message::Text(t))) => return decode(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("kiosk: expected a message, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_watch_the_fleet() {
    let hub = Hub::start().await;
    let admin = Admin { tmp: TempDir::new().unwrap() };
    assert!(admin.run(&["keygen", "--out", "admin.key"]).await.status.success());
    assert!(admin.run(&["keygen", "--out", "other.key"]).await.status.success());
    let public = std::fs::read_to_string(admin.path("admin.key.pub")).unwrap();
    let key = visio_config::bundle::parse_public_key(&public).unwrap();
    let key_id = hub.store.trust_admin_key(&key, Timestamp::now()).unwrap();
    let token = hub.store.create_admin_token("claire", Timestamp::now()).unwrap();
    std::fs::write(admin.path("token"), format!("{}\n", token.expose())).unwrap();
    // Only its owner reads it, or visio-admin warns.
    std::fs::set_permissions(admin.path("token"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let secret = hub.store.enroll_kiosk(&"besse".into(), "Mairie de Besse", Timestamp::now()).unwrap();
    let mut besse = kiosk(&hub, "besse", &secret).await;
    let hub_args = admin.hub_args(&hub);
    let with_hub = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.splice(1..1, hub_args.iter().cloned());
        all
    };
    let config = demo_config().display().to_string();

    // Validate, sign and upload a folder in one command.
    let args = with_hub(&["publish", &config, "--key", "admin.key", "--version", "100"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let HubToKiosk::ConfigAvailable { version: 100, sha256, .. } = next(&mut besse).await else {
        panic!("the connected kiosk is told")
    };
    assert_eq!(
        stdout,
        format!(
            "{}: published version 100 (signed by key {key_id}, payload sha256 {sha256}); 1 kiosk(s) online were told\n",
            hub.url()
        )
    );
    assert_eq!(text(&out.stderr), "");

    // The same configuration signed again into a file: nothing changes.
    let sign = admin.run(&["sign", &config, "--key", "admin.key", "--version", "100", "--out", "bundle.json"]).await;
    assert!(sign.status.success(), "{}", text(&sign.stderr));
    let args = with_hub(&["publish", "bundle.json"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(text(&out.stdout), format!("{}: version 100 was already published; nothing changed\n", hub.url()));
    assert_eq!(out.status.code(), Some(0));

    // A tampered bundle and another key's are refused by the hub: exit 1,
    // and the hub's reason on stderr.
    let signed = std::fs::read_to_string(admin.path("bundle.json")).unwrap();
    let tampered = signed.replace("\"version\": 100", "\"version\": 101");
    assert_ne!(tampered, signed);
    std::fs::write(admin.path("tampered.json"), tampered).unwrap();
    let args = with_hub(&["publish", "tampered.json"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "visio-admin: the hub refused (403 bad_signature): configuration refused: bad signature: the bundle was \
             changed after it was signed, or signed with another key than {key_id}\n"
        )
    );
    let args = with_hub(&["publish", &config, "--key", "other.key", "--version", "102"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("visio-admin: the hub refused (403 untrusted_key): configuration refused: signed by key ")
            && stderr.ends_with(&format!(", which is not a trusted admin key (trusted: {key_id})\n")),
        "{stderr}"
    );

    // The kiosk reports its health; then the fleet, as a table and as JSON.
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    let devices = DeviceHealth {
        camera: ok.clone(),
        microphone: ok.clone(),
        scanner: DeviceStatus::new(DeviceState::Error, Some("Document feeder jammed")),
        printer: ok,
        speaker: None,
        sound_output: None,
    };
    send(&mut besse, KioskToHub::ConfigApplied { version: 100 }).await;
    let heartbeat = KioskToHub::Heartbeat {
        seq: 1,
        app_version: "0.1.0".into(),
        config_version: Some(100),
        devices: Some(devices.clone()),
        rtt_ms: Some(48),
        last_call: Some(CallLink { uplink_kbps: 2400, rtt_ms: Some(52) }),
    };
    send(&mut besse, heartbeat).await;
    assert_eq!(next(&mut besse).await, HubToKiosk::HeartbeatAck { seq: 1 });
    let args = with_hub(&["fleet", "--format", "json"]);
    let view: FleetView = {
        let start = std::time::Instant::now();
        loop {
            let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let view: FleetView = serde_json::from_slice(&out.stdout).unwrap();
            if view.kiosks.iter().any(|k| k.kiosk_id.as_str() == "besse" && k.devices.is_some()) {
                break view;
            }
            assert!(start.elapsed() < DEADLINE, "the heartbeat never reached the fleet view");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let besse_row = view.kiosks.iter().find(|k| k.kiosk_id.as_str() == "besse").unwrap();
    assert!(besse_row.online);
    assert_eq!((besse_row.config_version, besse_row.rtt_ms, besse_row.devices.as_ref()), (Some(100), Some(48), Some(&devices)));
    assert_eq!(besse_row.last_call, Some(CallLink { uplink_kbps: 2400, rtt_ms: Some(52) }));

    let args = with_hub(&["fleet"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["KIOSK", "SITE", "ONLINE", "HEARTBEAT", "APP", "CONFIG", "DEVICES", "RTT", "UPLINK", "REFUSED"]
    );
    let row = lines.iter().find(|l| l.starts_with("besse ")).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cells[1..3], ["Mairie de Besse-et-Saint-Anastaise", "yes"], "{table}");
    assert!(cells[3].ends_with(" s ago"), "{table}");
    assert_eq!(cells[4..], ["0.1.0", "100", "scanner error: Document feeder jammed", "48 ms", "2.4 Mbit/s (52 ms)", "-"], "{table}");
    let demo = lines.iter().find(|l| l.starts_with("demo-kiosk ")).unwrap_or_else(|| panic!("{table}"));
    assert!(demo.contains("  not enrolled  never  "), "{table}");
    let summary = lines.last().unwrap();
    let expected = format!(
        "1 of 1 enrolled kiosks online; heartbeat every 30 s; published configuration: version 100 (key {key_id}, by claire, "
    );
    assert!(summary.starts_with(&expected) && summary.ends_with(" ago), 0 kiosk(s) not on it"), "{table}");

    // A wrong token is the hub's refusal (1); no hub at all cannot run (2).
    std::fs::write(admin.path("token"), "forged\n").unwrap();
    let args = with_hub(&["fleet"]);
    let out = admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "visio-admin: the hub refused (401 unauthorized): an admin token is required: Authorization: Bearer <token> \
         (create one with `visio-hub admin token <name>`)\n"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = admin
        .run(&["fleet", "--hub", &format!("https://localhost:{closed}"), "--trust", &hub.cert().display().to_string(), "--token-file", "token"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with(&format!("visio-admin: cannot reach the hub at https://localhost:{closed}: ")), "{stderr}");
    let out = admin.run(&["fleet", "--hub", "http://localhost:1", "--token-file", "token"]).await;
    assert_eq!(
        text(&out.stderr),
        "visio-admin: \"http://localhost:1\" is not a hub address; write it like https://hub.example.fr:8443\n"
    );
}
