//! The real hub on a loopback port with TLS, and real clients for it: kiosks
//! and agents speaking the protocol over WebSocket, agents signing in over
//! HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use visio_config::bundle::{Bundle, SigningKey};
use visio_config::{Catalogue, ConfigSet};
use visio_hub::server::{self, Settings};
use visio_hub::store::Store;
use visio_hub::tls;
use visio_protocol::admin;
use visio_protocol::*;

use crate::wait::{eventually, within};

#[allow(missing_debug_implementations)] // holds the live server task
pub struct TestHub {
    pub addr: SocketAddr,
    pub store: Store,
    pub cert_pem: Vec<u8>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    dir: Option<tempfile::TempDir>,
}

impl TestHub {
    pub async fn start() -> TestHub {
        TestHub::start_with(Catalogue::demo()).await
    }

    pub async fn start_with(catalogue: Catalogue) -> TestHub {
        TestHub::start_in(tempfile::tempdir().unwrap(), Settings::new(Arc::new(catalogue))).await
    }

    /// The demo catalogue with a resume grace of `seconds`.
    pub fn settings_with_grace(seconds: i64) -> Settings {
        let mut settings = Settings::new(Arc::new(Catalogue::demo()));
        settings.resume_grace = jiff::SignedDuration::from_secs(seconds);
        settings
    }

    /// A hub that runs elsewhere (a `visio-hub serve` child) on `data_dir`,
    /// listening on `addr`: the same clients and session-log checks.
    /// Dropping it stops nothing.
    pub fn external(addr: SocketAddr, data_dir: &std::path::Path) -> TestHub {
        let store = Store::open(&data_dir.join("hub.sqlite3")).unwrap();
        let cert_pem = std::fs::read(data_dir.join("tls/cert.pem")).unwrap();
        TestHub { addr, store, cert_pem, stop: None, task: None, dir: None }
    }

    /// A hub on the data directory of a stopped one ([`TestHub::stop_keeping_data`]).
    pub async fn start_in(dir: tempfile::TempDir, settings: Settings) -> TestHub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        TestHub::start_on(dir, settings, listener, &[]).await
    }

    /// A hub accepting on `listener`, which may belong to another network
    /// namespace (the link emulator's hub side); its certificate is also
    /// valid for `extra_names` (that side's address).
    pub async fn start_on(dir: tempfile::TempDir, settings: Settings, listener: std::net::TcpListener, extra_names: &[String]) -> TestHub {
        let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
        let identity = tls::load_or_generate_for(dir.path(), None, extra_names).unwrap();
        let cert_pem = std::fs::read(&identity.cert_path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let store = store.clone();
            async move {
                server::run(listener, identity.config, store, settings, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            }
        });
        TestHub { addr, store, cert_pem, stop: Some(stop), task: Some(task), dir: Some(dir) }
    }

    pub fn enroll(&self, kiosk: &str) -> Secret {
        self.store.enroll_kiosk(&kiosk.into(), &format!("Mairie de {kiosk}"), Timestamp::now()).unwrap()
    }

    pub fn add_agent(&self, login: &str, password: &str, services: &[&str]) {
        let services: Vec<ServiceId> = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.store
            .add_agent(&login.into(), &format!("{login} (test)"), &Secret(password.into()), &services, Timestamp::now())
            .unwrap();
    }

    /// An admin console account (`/admin/`) with `role`, seeing every kiosk.
    pub fn add_console_account(&self, login: &str, password: &str, role: visio_hub::roles::Role) {
        self.add_console_account_for(login, password, role, &[]);
    }

    /// An admin console account that sees only `kiosks` in the fleet.
    pub fn add_console_account_for(&self, login: &str, password: &str, role: visio_hub::roles::Role, kiosks: &[&str]) {
        self.add_console_account_scoped(login, password, role, kiosks, &[]);
    }

    /// An admin console account limited to `kiosks` and `services` (empty: all).
    pub fn add_console_account_scoped(&self, login: &str, password: &str, role: visio_hub::roles::Role, kiosks: &[&str], services: &[&str]) {
        let name = format!("{login} (test)");
        let kiosks: Vec<KioskId> = kiosks.iter().map(|k| KioskId::from(*k)).collect();
        let services: Vec<ServiceId> = services.iter().map(|s| ServiceId::from(*s)).collect();
        let password = Secret(password.into());
        self.store.add_console_account(login, &name, &password, role, (&kiosks, &services), Timestamp::now()).unwrap();
    }

    /// A host account (the host page, `/host/`) watching `sites`.
    pub fn add_host(&self, login: &str, password: &str, sites: &[&str]) {
        let (name, password) = (format!("{login} (accueil)"), Secret(password.into()));
        let role = visio_hub::roles::Role::Host;
        self.store.add_console_account(login, &name, &password, role, (&[], &[]), Timestamp::now()).unwrap();
        let sites: Vec<String> = sites.iter().map(|s| s.to_string()).collect();
        assert!(self.store.set_console_sites(login, &sites).unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for cert in CertificateDer::pem_slice_iter(&self.cert_pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// An HTTPS client that trusts this hub's certificate and keeps cookies.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert_pem).unwrap())
            .cookie_store(true)
            .build()
            .unwrap()
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.http().get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// An agent's appointments of `date` (`GET /api/agent/appointments`),
    /// signed in with `cookie`.
    pub async fn agent_day(&self, cookie: &str, date: jiff::civil::Date) -> serde_json::Value {
        let url = self.url(&format!("/api/agent/appointments?date={date}"));
        self.http().get(url).header("cookie", cookie).send().await.unwrap().json().await.unwrap()
    }

    /// The same day as iCalendar, its folded lines joined again.
    pub async fn agent_calendar(&self, cookie: &str, date: jiff::civil::Date) -> String {
        let url = self.url(&format!("/api/agent/appointments.ics?date={date}"));
        let ics = self.http().get(url).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
        ics.replace("\r\n ", "")
    }

    /// Polls the session log until `check` accepts it.
    pub async fn wait_for_log<T>(&self, what: &str, check: impl Fn(&[visio_hub::store::SessionRecord]) -> Option<T>) -> T {
        eventually(what, || async { check(&self.store.session_log().unwrap()) }).await
    }

    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("hub stops", task).await.unwrap();
        }
    }

    /// Stops the hub gracefully and starts a new one on the same data
    /// directory and port, as an operator restarting the service would.
    pub async fn restart(&mut self, settings: Settings) {
        self.shut_down().await;
        let dir = self.dir.take().expect("a running hub has its data directory");
        let listener = std::net::TcpListener::bind(self.addr).expect("the hub's port is free again");
        *self = TestHub::start_on(dir, settings, listener, &[]).await;
    }

    /// Stops the hub and hands back its data directory, to start another
    /// hub on it.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let dir = self.dir.take().unwrap();
        self.stop().await;
        dir
    }

    /// Trusts an admin signing key and returns a fresh admin token.
    pub fn admin(&self, key: &SigningKey) -> Secret {
        self.store.trust_admin_key(&key.verifying_key(), Timestamp::now()).unwrap();
        self.store.create_admin_token("tester", Timestamp::now()).unwrap()
    }

    /// `PUT /api/admin/config`: the status and the JSON answer.
    pub async fn publish(&self, token: Option<&Secret>, bundle: &str) -> (u16, serde_json::Value) {
        let mut request = self.http().put(self.url("/api/admin/config")).body(bundle.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `GET /api/fleet` with an admin token.
    pub async fn fleet(&self, token: &Secret) -> admin::FleetView {
        let response = self.http().get(self.url("/api/fleet")).bearer_auth(token.expose()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET /api/kiosk/config` as a kiosk: status, ETag and body.
    pub async fn fetch_config(&self, kiosk: &str, secret: &Secret, if_none_match: Option<&str>) -> (u16, Option<String>, String) {
        let mut request = self.http().get(self.url("/api/kiosk/config")).basic_auth(kiosk, Some(secret.expose()));
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
        (status, etag, response.text().await.unwrap())
    }
}

/// An admin signing key from a seed: the same seed, the same key.
pub fn admin_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The committed demo region, signed.
pub fn signed_demo(key: &SigningKey, version: u64) -> Bundle {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config");
    Bundle::sign(&ConfigSet::load(&dir).unwrap(), key, version, Timestamp::now())
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket speaking one side of the protocol.
pub struct Client<In, Out> {
    ws: Ws,
    pub name: String,
    _types: std::marker::PhantomData<(In, Out)>,
}

impl<In, Out> std::fmt::Debug for Client<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.name)
    }
}

pub type Kiosk = Client<HubToKiosk, KioskToHub>;
pub type Agent = Client<HubToAgent, AgentToHub>;

impl<In: WireMessage + std::fmt::Debug, Out: WireMessage> Client<In, Out> {
    pub async fn open(hub: &TestHub, path: &str, cookie: Option<&str>, name: &str) -> Result<Self, String> {
        let mut request = format!("wss://localhost:{}{path}", hub.addr.port()).into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        let connector = Connector::Rustls(hub.tls_client_config());
        let (ws, _) = within(
            "websocket connect",
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector)),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Client { ws, name: name.to_owned(), _types: std::marker::PhantomData })
    }

    pub async fn send(&mut self, msg: Out) {
        self.send_raw(encode(&msg)).await;
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    /// The next protocol message, or `None` when the hub closed.
    pub async fn next_or_closed(&mut self) -> Option<In> {
        loop {
            let frame = within(&format!("{}: next message", self.name), self.ws.next()).await;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(decode::<In>(text.as_str()).unwrap_or_else(|e| panic!("{}: bad message from hub: {e}", self.name)));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn next(&mut self) -> In {
        let name = self.name.clone();
        self.next_or_closed().await.unwrap_or_else(|| panic!("{name}: connection closed unexpectedly"))
    }

    /// Skips messages until one matches; returns it.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&In) -> bool) -> In {
        loop {
            let msg = self.next().await;
            if pred(&msg) {
                return msg;
            }
            eprintln!("{}: skipping {msg:?} while waiting for {what}", self.name);
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Skips messages until the hub closes; the close frame's code, if
    /// it sent one.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let frame = within(&format!("{}: the hub closes", self.name), self.ws.next()).await;
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(other)) => eprintln!("{}: skipping {other:?} while waiting for the close", self.name),
            }
        }
    }
}

impl Kiosk {
    /// Connects and says hello; returns the kiosk after the welcome.
    pub async fn connect(hub: &TestHub, id: &str, secret: &Secret) -> Kiosk {
        Kiosk::connect_resuming(hub, id, secret, None).await
    }

    /// Connects with `resume` in the hello; returns the kiosk after the
    /// welcome (what follows is the test's to read).
    pub async fn connect_resuming(hub: &TestHub, id: &str, secret: &Secret, resume: Option<ResumeToken>) -> Kiosk {
        let mut k = Kiosk::open(hub, "/ws/kiosk", None, id).await.unwrap();
        k.send(KioskToHub::Hello {
            protocol: PROTOCOL_VERSION,
            kiosk_id: id.into(),
            secret: secret.clone(),
            app_version: Some("test".into()),
            resume,
        })
        .await;
        match k.next().await {
            HubToKiosk::Welcome { .. } => k,
            other => panic!("{id}: expected welcome, got {other:?}"),
        }
    }

    pub async fn queue(&mut self, service: &str) -> (SessionId, u32) {
        self.send(KioskToHub::RequestCall { service: service.into() }).await;
        match self.next().await {
            HubToKiosk::Queued { session, position, .. } => (session, position),
            other => panic!("{}: expected queued, got {other:?}", self.name),
        }
    }

    pub async fn error(&mut self) -> ErrorBody {
        match self.next().await {
            HubToKiosk::Error(e) => e,
            other => panic!("{}: expected an error, got {other:?}", self.name),
        }
    }

    /// Sends a heartbeat and checks that its ack is the next message:
    /// nothing else was queued for this kiosk before it.
    pub async fn heartbeat(&mut self, seq: u64, config_version: Option<u64>, devices: Option<DeviceHealth>) {
        self.heartbeat_after_call(seq, config_version, devices, None).await;
    }

    /// [`Kiosk::heartbeat`] carrying what the kiosk's last call measured.
    pub async fn heartbeat_after_call(
        &mut self,
        seq: u64,
        config_version: Option<u64>,
        devices: Option<DeviceHealth>,
        last_call: Option<CallLink>,
    ) {
        self.send(KioskToHub::Heartbeat { seq, app_version: "test".into(), config_version, devices, rtt_ms: Some(25), last_call })
            .await;
        assert_eq!(self.next().await, HubToKiosk::HeartbeatAck { seq }, "{}: the ack comes next", self.name);
    }
}

impl Agent {
    /// Signs in over HTTPS and returns the `Cookie` header value.
    pub async fn sign_in(hub: &TestHub, login: &str, password: &str) -> Result<String, reqwest::StatusCode> {
        let response = hub
            .http()
            .post(hub.url("/api/agent/login"))
            .json(&serde_json::json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap();
        if !response.status().is_success() {
            return Err(response.status());
        }
        let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        Ok(set_cookie.split(';').next().unwrap().to_owned())
    }

    /// Signs in, connects, says hello, and sets itself available.
    pub async fn connect(hub: &TestHub, login: &str, password: &str) -> Agent {
        let cookie = Agent::sign_in(hub, login, password).await.unwrap();
        let mut a = Agent::open(hub, "/ws/agent", Some(&cookie), login).await.unwrap();
        a.send(AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume: None }).await;
        assert!(matches!(a.next().await, HubToAgent::Welcome { .. }));
        assert!(matches!(a.next().await, HubToAgent::Queues { .. }));
        a.send(AgentToHub::SetAvailability { available: true }).await;
        a.wait_for("availability", |m| matches!(m, HubToAgent::Availability { available: true })).await;
        a
    }

    /// Connects with an existing sign-in cookie and `resume` in the hello;
    /// returns the agent after the welcome (what follows is the test's to
    /// read: `call_resumed` or `call_ended` for a token, then `queues`).
    pub async fn connect_resuming(hub: &TestHub, cookie: &str, login: &str, resume: Option<ResumeToken>) -> Agent {
        let mut a = Agent::open(hub, "/ws/agent", Some(cookie), login).await.unwrap();
        a.send(AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume }).await;
        match a.next().await {
            HubToAgent::Welcome { .. } => a,
            other => panic!("{login}: expected welcome, got {other:?}"),
        }
    }

    /// Takes the next resident; the call and its resume token.
    pub async fn take_next_with_token(&mut self) -> (SessionId, ResumeToken) {
        self.send(AgentToHub::TakeNext { service: None }).await;
        match self.wait_for("call_started", |m| matches!(m, HubToAgent::CallStarted { .. } | HubToAgent::Error(_))).await {
            HubToAgent::CallStarted { session, resume_token: Some(token), .. } => (session, token),
            other => panic!("{}: expected call_started with a token, got {other:?}", self.name),
        }
    }

    pub async fn take_next(&mut self) -> SessionId {
        self.send(AgentToHub::TakeNext { service: None }).await;
        match self.wait_for("call_started", |m| matches!(m, HubToAgent::CallStarted { .. } | HubToAgent::Error(_))).await {
            HubToAgent::CallStarted { session, .. } => session,
            other => panic!("{}: expected call_started, got {other:?}", self.name),
        }
    }

    pub async fn error(&mut self) -> ErrorBody {
        match self.wait_for("an error", |m| matches!(m, HubToAgent::Error(_))).await {
            HubToAgent::Error(e) => e,
            _ => unreachable!(),
        }
    }
}

/// The kiosks waiting for `service` in a `queues` message.
pub fn waiting(msg: &HubToAgent, service: &str) -> Option<Vec<String>> {
    match msg {
        HubToAgent::Queues { queues, .. } => queues
            .iter()
            .find(|q| q.service.as_str() == service)
            .map(|q| q.waiting.iter().map(|w| w.kiosk_id.to_string()).collect()),
        _ => None,
    }
}

pub fn offer() -> Signal {
    Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }
}

pub fn answer() -> Signal {
    Signal::Answer { sdp: "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n".into() }
}

pub fn candidate(n: u16) -> Signal {
    Signal::Candidate {
        candidate: IceCandidate {
            candidate: format!("candidate:{n} 1 udp 2130706431 127.0.0.1 {} typ host", 50000 + n),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        },
    }
}

/// A kiosk's devices in a heartbeat: all fine but the printer, out of
/// paper.
pub fn printer_out_of_paper() -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth {
        camera: ok.clone(),
        microphone: ok.clone(),
        scanner: ok,
        printer: DeviceStatus::new(DeviceState::Error, Some("media-empty: plus de papier")),
        speaker: None,
        sound_output: None,
    }
}
