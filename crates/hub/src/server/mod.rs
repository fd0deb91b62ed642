//! The network shell: TLS accept loop and HTTP routes. The routes live in
//! `accounts` (agent sign-in), `admin` (configuration and fleet),
//! `console` (the admin console's sign-in and kiosk page) and
//! `sockets` (one WebSocket handler per kiosk or agent connection);
//! [`limits`] holds what an unauthenticated client may hold.
//!
//! Every phase is bounded: the TLS handshake, the HTTP request head and
//! body, the bytes and time before the hello, and a connection's silence
//! (docs/operations.md, "Limits on clients"). A bad message gets an error
//! reply and the connection stays up; only frames that break WebSocket or
//! its hard limit, or a peer that stops reading, end a connection.

mod accounts;
mod admin;
mod appointments;
mod console;
pub mod limits;
mod sockets;
mod usage;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use visio_config::{Catalogue, ConfigSet};
use visio_protocol::{IceServer, PROTOCOL_VERSION};

use crate::core::{Hub, Topology};
use crate::driver::{self, DriverHandle};
use crate::metrics::Metrics;
use crate::store::Backend;
use crate::throttle::LoginThrottle;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const SESSION_COOKIE: &str = "visio_session";
/// Largest configuration bundle the hub accepts: the one limit
/// `visio-admin validate` also checks before anything is signed.
pub use visio_config::bundle::MAX_BUNDLE_BYTES;

/// The hub's settings, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub catalogue: Arc<Catalogue>,
    pub ice_servers: Vec<IceServer>,
    pub max_connections: usize,
    pub agent_session_lifetime: SignedDuration,
    /// How often kiosks send a heartbeat.
    pub heartbeat_seconds: u32,
    /// How long a call is held for a side that lost the hub
    /// (`serve --resume-grace`).
    pub resume_grace: SignedDuration,
    /// TURN servers with a shared secret (`serve --turn-url
    /// --turn-secret-file`): per-peer short-lived credentials.
    pub turn_rest: Option<crate::core::TurnRest>,
    /// NATS between hub processes sharing a PostgreSQL database
    /// (`serve --bus`): an agent on one takes a resident on another.
    pub bus: Option<String>,
    /// Limits on clients (times, bytes and connections before
    /// authentication, rates).
    pub limits: limits::HubLimits,
}

impl Settings {
    pub fn new(catalogue: Arc<Catalogue>) -> Settings {
        Settings {
            catalogue,
            ice_servers: Vec::new(),
            max_connections: 10_000,
            agent_session_lifetime: SignedDuration::from_hours(12),
            heartbeat_seconds: 30,
            resume_grace: crate::core::DEFAULT_RESUME_GRACE,
            turn_rest: None,
            bus: None,
            limits: limits::HubLimits::default(),
        }
    }

    /// The settings of a configuration folder: its catalogue and `hub.json`.
    pub fn from_config(set: &ConfigSet) -> Settings {
        let hub = set.hub();
        Settings {
            catalogue: Arc::new(set.catalogue().clone()),
            ice_servers: hub.ice_servers.clone(),
            max_connections: hub.max_connections as usize,
            agent_session_lifetime: SignedDuration::try_from(hub.agent_session)
                .unwrap_or(SignedDuration::from_hours(12)),
            heartbeat_seconds: hub.heartbeat.as_secs() as u32,
            resume_grace: crate::core::DEFAULT_RESUME_GRACE,
            turn_rest: None,
            bus: None,
            limits: limits::HubLimits::default(),
        }
    }
}


#[derive(Clone)]
struct App {
    store: Backend,
    driver: DriverHandle,
    metrics: Arc<Metrics>,
    throttle: Arc<Mutex<LoginThrottle>>,
    /// The admin console's sign-ins: counted apart from agents'.
    console_throttle: Arc<Mutex<LoginThrottle>>,
    /// Visits started per kiosk, for the visits-per-minute limit.
    visits: Arc<Mutex<std::collections::HashMap<visio_protocol::KioskId, crate::core::rate::TokenBucket>>>,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
}

#[derive(Clone, Copy, Debug)]
struct ClientAddr(SocketAddr);

/// What a request handler knows of its connection besides the request.
#[derive(Clone, Debug)]
struct Connection {
    budget: limits::ReadBudget,
    slot: limits::Slot,
}

/// Serves the hub on `listener` until `shutdown` completes. Tests bind
/// `127.0.0.1:0` and call this; `visio-hub serve` passes Ctrl-C/SIGTERM.
pub async fn run(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    store: impl Into<Backend>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let store: Backend = store.into();
    let metrics = Arc::new(Metrics::default());
    // Session ids must not repeat those of earlier processes on this store:
    // the log and resume tokens name calls by them.
    let prefix = loop {
        let prefix = format!("{:08x}", rand::random::<u32>());
        match store.session_prefix_used(&prefix).await {
            Ok(false) => break prefix,
            Ok(true) => continue,
            Err(e) => return Err(std::io::Error::other(format!("cannot read the session log: {e}"))),
        }
    };
    let mut hub = Hub::new(settings.catalogue.clone(), settings.ice_servers.clone(), prefix.clone());
    if matches!(store, Backend::Postgres(_)) {
        // The process's session prefix names it in the shared queue and
        // on the bus.
        hub.set_topology(Topology::SharedQueue { process: prefix.clone() });
    }
    let bus = match (&settings.bus, &store) {
        (None, _) => None,
        (Some(url), Backend::Postgres(_)) => {
            let bus = crate::bus::Bus::connect(url).await.map_err(std::io::Error::other)?;
            let listener = bus.listen(&prefix).await.map_err(std::io::Error::other)?;
            hub.set_topology(Topology::Bus { process: prefix.clone() });
            Some((bus, listener))
        }
        (Some(_), Backend::Sqlite(_)) => {
            return Err(std::io::Error::other("a bus needs --database: hub processes share their queue in PostgreSQL"));
        }
    };
    hub.set_heartbeat_seconds(settings.heartbeat_seconds);
    hub.set_resume_grace(settings.resume_grace);
    hub.set_turn_rest(settings.turn_rest.clone());
    // The last published configuration outlives restarts: the hub serves
    // it again and runs on its catalogue and ICE servers.
    match store.published_config().await {
        Ok(None) => {}
        Ok(Some(stored)) => match crate::published::published_from(&stored) {
            Ok(published) => {
                tracing::info!(
                    version = published.version,
                    "serving the published configuration; its catalogue and ICE servers replace the local ones"
                );
                hub.handle_config_published(Timestamp::now(), published);
            }
            Err(e) => tracing::error!(error = %e, "the stored configuration does not parse; not serving it"),
        },
        Err(e) => tracing::error!(error = %e, "cannot read the published configuration"),
    }
    // Calls the previous process left in progress are held for both sides.
    let now = Timestamp::now();
    let recovered = store
        .recover(now)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot take over the previous process's calls: {e}")))?;
    if let Some(recovered) = recovered {
        if !recovered.calls.is_empty() || recovered.closed > 0 {
            tracing::info!(
                held = recovered.calls.len(),
                closed = recovered.closed,
                stopped_at = ?recovered.stopped_at,
                "holding the calls the previous hub process left in progress"
            );
        }
        hub.handle_restored(now, recovered.stopped_at.unwrap_or(now), recovered.calls);
    }
    // With a shared database, this process says it runs for as long as
    // it holds its liveness lock; losing it means others take over its
    // clients, so it stops.
    let mut liveness = match &store {
        Backend::Postgres(pg) => Some(
            pg.register_process(&prefix, now)
                .await
                .map_err(|e| std::io::Error::other(format!("cannot register this hub process: {e}")))?,
        ),
        Backend::Sqlite(_) => None,
    };
    let (driver, driver_task) = driver::spawn(hub, store.clone(), metrics.clone(), bus);
    tokio::spawn(crate::driver::revoke::watch(store.clone(), driver.clone()));
    if let Backend::Postgres(pg) = &store {
        crate::driver::watch_processes(pg.clone(), driver.clone(), settings.resume_grace);
    }
    let shutdown = async move {
        let lost = async {
            match &mut liveness {
                Some(l) => l.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown => {}
            _ = lost => tracing::error!("this hub process lost its registration in the database; stopping so others take over"),
        }
    };
    let token = CancellationToken::new();
    let max_connections = settings.max_connections;
    let per_address = settings.limits.unauthenticated_per_address;
    let app = App {
        store,
        driver: driver.clone(),
        metrics: metrics.clone(),
        throttle: Arc::default(),
        console_throttle: Arc::default(),
        visits: Arc::default(),
        settings: Arc::new(settings),
        shutdown: token.clone(),
    };
    let router = router(app);
    let acceptor = TlsAcceptor::from(tls);
    let slots = limits::AddressSlots::default();
    let limit = Arc::new(Semaphore::new(max_connections));
    let tracker = TaskTracker::new();
    tracing::info!(addr = %listener.local_addr()?, "hub listening");
    crate::systemd::ready();
    if let Some(every) = crate::systemd::ping_every() {
        tokio::spawn(crate::systemd::watch(driver.clone(), every));
    }

    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = limit.clone().acquire_owned() => permit.expect("semaphore never closed"),
        };
        let (tcp, addr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(slot) = slots.take(addr.ip(), per_address) else {
            // Dropping the socket refuses it; the permit goes back at once.
            tracing::warn!(limit = "connections_per_address", max = per_address, "connection refused: too many unauthenticated connections from one address");
            metrics.refused(crate::metrics::Limit::ConnectionsPerAddress);
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        let metrics = metrics.clone();
        tracker.spawn(async move {
            let _permit = permit;
            serve_connection(tcp, addr, slot, acceptor, router, &metrics).await;
        });
    }

    tracing::info!("hub shutting down");
    crate::systemd::stopping();
    // The driver first: it closes connections as a restart (1012) before
    // their handlers see the cancellation and report them lost.
    driver.shutdown().await;
    token.cancel();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    driver_task.abort();
    Ok(())
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    slot: limits::Slot,
    acceptor: TlsAcceptor,
    router: Router,
    metrics: &Metrics,
) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::debug!(%addr, error = %e, "TLS handshake failed"),
        Err(_) => {
            metrics.refused(crate::metrics::Limit::TlsHandshake);
            return tracing::info!(limit = "tls_handshake", "connection closed: no TLS handshake within {TLS_HANDSHAKE_TIMEOUT:?}");
        }
    };
    let budget = limits::ReadBudget::default();
    let connection = Connection { budget: budget.clone(), slot };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ClientAddr(addr));
        req.extensions_mut().insert(connection.clone());
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(REQUEST_HEAD_TIMEOUT)
        .serve_connection(hyper_util::rt::TokioIo::new(limits::Budgeted::new(tls, budget)), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        if e.is_timeout() {
            // Idle keep-alive connections end here too: debug, not info.
            metrics.refused(crate::metrics::Limit::RequestHead);
            tracing::debug!(limit = "request_head", "connection closed: no request head within {REQUEST_HEAD_TIMEOUT:?}");
        } else {
            tracing::debug!(%addr, error = %e, "connection ended with an error");
        }
    }
}

fn router(app: App) -> Router {
    crate::pages::routes(Router::new())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/agent/login", post(accounts::login))
        .route("/api/agent/logout", post(accounts::logout))
        .route("/api/agent/me", get(accounts::me))
        .route("/api/agent/appointments", get(appointments::list).post(appointments::book))
        .route("/api/agent/appointments.ics", get(appointments::ics))
        .route("/api/agent/appointments/{number}/cancel", post(appointments::cancel))
        .route("/api/kiosk/config", get(admin::kiosk_config))
        .route("/api/admin/config", put(admin::publish).get(console::config))
        .route("/api/fleet", get(admin::fleet))
        .route("/api/admin/login", post(console::login))
        .route("/api/admin/logout", post(console::logout))
        .route("/api/admin/me", get(console::me))
        .route("/api/admin/kiosks/{id}", get(console::kiosk))
        .route("/api/admin/usage", get(usage::json))
        .route("/api/admin/usage.csv", get(usage::csv))
        .route("/api/admin/charts/{name}", get(usage::chart))
        .route("/ws/kiosk", get(sockets::kiosk_ws))
        .route("/ws/agent", get(sockets::agent_ws))
        .route("/ws/host", get(sockets::host_ws))
        .route("/ws/supervisor", get(sockets::supervisor_ws))
        .route("/ws/guest", get(sockets::guest_ws))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": "no such page"}))) })
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn_with_state(app.clone(), request_deadline))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        // Scans are previewed and downloaded from blob: URLs made in the page.
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// A request's body and answer must come within the request timeout (the
/// head has its own, in hyper): a client trickling a body cannot hold a
/// connection slot. The connection is closed with the answer, since the
/// rest of the body is unread.
async fn request_deadline(State(app): State<App>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = if request.uri().path() == "/api/admin/config" {
        app.settings.limits.upload_timeout
    } else {
        app.settings.limits.request_timeout
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit = "request_timeout", seconds = limit.as_secs_f32(), "request refused: its body did not arrive in time");
            app.metrics.refused(crate::metrics::Limit::RequestTimeout);
            let mut response = (
                StatusCode::REQUEST_TIMEOUT,
                axum::Json(json!({"error": format!("the request did not arrive within {} s", limit.as_secs())})),
            )
                .into_response();
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

async fn healthz(State(app): State<App>) -> Response {
    match app.driver.snapshot().await {
        Some(s) => axum::Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": PROTOCOL_VERSION,
            "kiosks": s.kiosks,
            "agents": s.agents,
        }))
        .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "stopping"}))).into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let Some(snapshot) = app.driver.snapshot().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let enrolled = match app.store.count_kiosks().await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "cannot count kiosks for /metrics");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        app.metrics.render(&snapshot, enrolled),
    )
        .into_response()
}

