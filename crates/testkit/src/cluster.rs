//! Several hub processes on one real PostgreSQL and one real NATS, as a
//! national deployment runs them, for tests whose clients must fail over.
//!
//! Each "process" is the real server on a tokio runtime of its own, with
//! its own database pool, liveness lock, bus connection and sockets:
//! [`Cluster::kill`] drops that runtime at once, which closes every socket
//! and connection it had, as when a process is killed. (The hub's own tests
//! run `visio-hub serve` children; other crates cannot name that binary.)
//! All processes share one certificate, as behind one name in production.

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::Timestamp;
use visio_config::Catalogue;
use visio_hub::server::{self, Settings};
use visio_hub::store::postgres::PgStore;
use visio_hub::tls;
use visio_protocol::{Secret, ServiceId};

use crate::hub::TestHub;
use crate::nats::Nats;
use crate::postgres::Postgres;

/// One hub process: its address, and its runtime until killed.
pub struct HubProcess {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

pub struct Cluster {
    pub store: PgStore,
    pub processes: Vec<HubProcess>,
    /// The certificate every process presents.
    pub cert_pem: Vec<u8>,
    dir: tempfile::TempDir,
    _nats: Nats,
    _pg: Postgres,
}

impl Cluster {
    /// `n` processes on the demo catalogue, sharing PostgreSQL and NATS.
    pub async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, Catalogue::demo()).await
    }

    /// [`Cluster::start`] on another catalogue.
    pub async fn start_with(n: usize, catalogue: Catalogue) -> Cluster {
        let catalogue = Arc::new(catalogue);
        let (pg, nats) = (Postgres::start().await, Nats::start().await);
        let store = PgStore::connect(&pg.url(), 4).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let identity = tls::load_or_generate(dir.path(), None).unwrap();
        let cert_pem = std::fs::read(&identity.cert_path).unwrap();
        let mut processes = Vec::new();
        for _ in 0..n {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            let (url, config) = (pg.url(), identity.config.clone());
            let mut settings = Settings::new(catalogue.clone());
            settings.bus = Some(nats.url());
            runtime.spawn(async move {
                let store = PgStore::connect(&url, 4).await.unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                server::run(listener, config, store, settings, std::future::pending()).await.unwrap();
            });
            processes.push(HubProcess { addr, runtime: Some(runtime) });
        }
        for p in &processes {
            crate::wait::eventually("a hub process listening", || async {
                tokio::net::TcpStream::connect(p.addr).await.ok().map(drop)
            })
            .await;
        }
        Cluster { store, processes, cert_pem, dir, _nats: nats, _pg: pg }
    }

    /// Process `n` as a [`TestHub`] for the test kit's clients.
    pub fn hub(&self, n: usize) -> TestHub {
        TestHub::external(self.processes[n].addr, self.dir.path())
    }

    /// Process `n`'s WebSocket address for kiosks.
    pub fn kiosk_url(&self, n: usize) -> String {
        format!("wss://localhost:{}/ws/kiosk", self.processes[n].addr.port())
    }

    /// Process `n` stops at once: no goodbye to anyone.
    pub fn kill(&mut self, n: usize) {
        if let Some(runtime) = self.processes[n].runtime.take() {
            runtime.shutdown_background();
        }
    }

    pub async fn enroll(&self, kiosk: &str) -> Secret {
        self.store.enroll_kiosk(&kiosk.into(), &format!("Mairie de {kiosk}"), Timestamp::now()).await.unwrap()
    }

    pub async fn add_agent(&self, login: &str, password: &str, services: &[&str]) {
        let services: Vec<ServiceId> = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.store
            .add_agent(&login.into(), &format!("{login} (test)"), &Secret(password.into()), &services, Timestamp::now())
            .await
            .unwrap();
    }

    /// A host account (the host page, `/host/`) watching `sites`.
    pub async fn add_host(&self, login: &str, password: &str, sites: &[&str]) {
        let (name, password) = (format!("{login} (accueil)"), Secret(password.into()));
        let role = visio_hub::roles::Role::Host;
        self.store.add_console_account(login, &name, &password, role, (&[], &[]), Timestamp::now()).await.unwrap();
        let sites: Vec<String> = sites.iter().map(|s| s.to_string()).collect();
        assert!(self.store.set_console_sites(login, &sites).await.unwrap());
    }

    /// An admin console account (`/admin/`, `/supervision/`) of `role`.
    pub async fn add_console_account(&self, login: &str, password: &str, role: visio_hub::roles::Role) {
        let (name, password) = (format!("{login} ({role})"), Secret(password.into()));
        self.store.add_console_account(login, &name, &password, role, (&[], &[]), Timestamp::now()).await.unwrap();
    }

    /// The visit's record, from PostgreSQL.
    pub async fn record(&self, session: &visio_protocol::SessionId) -> Option<visio_hub::store::SessionRecord> {
        self.store.session_log().await.unwrap().into_iter().find(|r| r.session == session.as_str())
    }
}

impl std::fmt::Debug for HubProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubProcess").field("addr", &self.addr).field("running", &self.runtime.is_some()).finish()
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("processes", &self.processes).finish_non_exhaustive()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in 0..self.processes.len() {
            self.kill(n);
        }
    }
}
