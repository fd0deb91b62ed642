//! The network shell: TLS accept loop, HTTP routes, and one WebSocket handler
//! per kiosk or agent connection.
//!
//! Every phase is bounded: the TLS handshake, the HTTP request head, the
//! hello, and a connection's silence. A bad message gets an error reply and
//! the connection stays up; only frames over the hard WebSocket limit, or a
//! peer that stops reading, end a connection.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use visio_config::bundle::{Bundle, BundleError};
use visio_config::{Catalogue, ConfigSet};
use visio_protocol::admin::PublishedConfig;
use visio_protocol::{
    AgentLogin, AgentToHub, ErrorBody, ErrorCode, HubToAgent, HubToKiosk, IceServer, KioskId, KioskToHub,
    PROTOCOL_VERSION, Secret, WireMessage, decode, encode,
};

use crate::core::{Hub, PeerId, Published};
use crate::store::{PublishOutcome, StoredConfig};
use crate::driver::{self, DriverHandle, Input, Outgoing, PEER_QUEUE};
use crate::metrics::Metrics;
use crate::store::Backend;
use crate::throttle::LoginThrottle;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough for a satellite link (600 ms round trips) and a slow kiosk
/// start, short enough that half-open connections do not pile up.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);
const PING_EVERY: Duration = Duration::from_secs(20);
/// A connection silent this long (not even a pong) is considered lost.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// Frames past this end the connection outright. Between
/// [`MAX_MESSAGE_BYTES`] and this, the sender gets an error and stays.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// A WebSocket's read buffer. tungstenite's default (128 KiB) is zeroed
/// on the first read, so it is resident for every connection: 1.3 GB for
/// ten thousand kiosks that send a heartbeat a minute. Larger messages
/// (an SDP) still fit: the buffer grows for them.
const READ_BUFFER: usize = 8 * 1024;
const SESSION_COOKIE: &str = "visio_session";
/// Largest configuration bundle the hub accepts. The demo region's is
/// about 20 KB; a region of a few hundred kiosks with embedded
/// certificates stays well under this.
pub const MAX_BUNDLE_BYTES: usize = 8 * 1024 * 1024;

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
        }
    }
}

/// What the core needs of a stored configuration: it must parse, since
/// the hub verified it before storing it.
pub fn published_from(stored: &StoredConfig) -> Result<Published, String> {
    let value: serde_json::Value = serde_json::from_str(&stored.bundle).map_err(|e| e.to_string())?;
    let set = ConfigSet::from_payload(&value["payload"])
        .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
    Ok(Published {
        version: stored.meta.version,
        sha256: stored.meta.payload_sha256.clone(),
        size: stored.meta.size,
        catalogue: Arc::new(set.catalogue().clone()),
        ice_servers: set.hub().ice_servers.clone(),
    })
}

#[derive(Clone)]
struct App {
    store: Backend,
    driver: DriverHandle,
    metrics: Arc<Metrics>,
    throttle: Arc<Mutex<LoginThrottle>>,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
}

#[derive(Clone, Copy, Debug)]
struct ClientAddr(SocketAddr);

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
        hub.set_shared_queue(prefix.clone());
    }
    let bus = match (&settings.bus, &store) {
        (None, _) => None,
        (Some(url), Backend::Postgres(_)) => {
            let bus = crate::bus::Bus::connect(url).await.map_err(std::io::Error::other)?;
            let listener = bus.listen(&prefix).await.map_err(std::io::Error::other)?;
            hub.set_bus();
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
        Ok(Some(stored)) => match published_from(&stored) {
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
    let app = App {
        store,
        driver: driver.clone(),
        metrics,
        throttle: Arc::default(),
        settings: Arc::new(settings),
        shutdown: token.clone(),
    };
    let router = router(app);
    let acceptor = TlsAcceptor::from(tls);
    let limit = Arc::new(Semaphore::new(max_connections));
    let tracker = TaskTracker::new();
    tracing::info!(addr = %listener.local_addr()?, "hub listening");

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
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tracker.spawn(async move {
            let _permit = permit;
            serve_connection(tcp, addr, acceptor, router).await;
        });
    }

    tracing::info!("hub shutting down");
    // The driver first: it closes connections as a restart (1012) before
    // their handlers see the cancellation and report them lost.
    driver.shutdown().await;
    token.cancel();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    driver_task.abort();
    Ok(())
}

async fn serve_connection(tcp: tokio::net::TcpStream, addr: SocketAddr, acceptor: TlsAcceptor, router: Router) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::debug!(%addr, error = %e, "TLS handshake failed"),
        Err(_) => return tracing::debug!(%addr, "TLS handshake timed out after {TLS_HANDSHAKE_TIMEOUT:?}"),
    };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ClientAddr(addr));
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(REQUEST_HEAD_TIMEOUT)
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(%addr, error = %e, "connection ended with an error");
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(crate::console::to_index))
        .route("/agent", get(crate::console::to_index))
        .route("/agent/", get(crate::console::index))
        .route("/agent/console.js", get(crate::console::script))
        .route("/agent/console.css", get(crate::console::style))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/agent/login", post(login))
        .route("/api/agent/logout", post(logout))
        .route("/api/agent/me", get(me))
        .route("/api/kiosk/config", get(kiosk_config))
        .route("/api/admin/config", put(publish))
        .route("/api/fleet", get(fleet))
        .route("/ws/kiosk", get(kiosk_ws))
        .route("/ws/agent", get(agent_ws))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": "no such page"}))) })
        .layer(DefaultBodyLimit::max(16 * 1024))
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

// ---------------------------------------------------------------------------
// Agent accounts over HTTPS
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn login(
    State(app): State<App>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    form: Result<axum::Json<LoginForm>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(form) = match form {
        Ok(form) => form,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("expected {{\"login\", \"password\"}} as JSON: {e}")),
    };
    let ip: IpAddr = addr.ip();
    let now = Timestamp::now();
    let wait = app.throttle.lock().unwrap_or_else(|e| e.into_inner()).retry_after(now, &form.login, ip);
    if let Some(wait) = wait {
        let seconds = wait.as_secs().max(1);
        let mut response = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed attempts; try again in {seconds} s"),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let login = AgentLogin(form.login.clone());
    let password = Secret(form.password);
    let lifetime = app.settings.agent_session_lifetime;
    let checked = async {
        let Some(agent) = app.store.verify_agent(&login, &password).await? else { return Ok(None) };
        let token = app.store.create_agent_session(&agent.login, Timestamp::now(), lifetime).await?;
        Ok::<_, crate::store::StoreError>(Some((agent, token)))
    }
    .await;
    let mut throttle = app.throttle.lock().unwrap_or_else(|e| e.into_inner());
    match checked {
        Ok(Some((agent, token))) => {
            throttle.succeeded(&form.login, ip);
            tracing::info!(login = %agent.login, "agent signed in");
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
                token.expose(),
                lifetime.as_secs()
            );
            let mut response = axum::Json(json!({
                "login": agent.login,
                "display_name": agent.display_name,
                "services": agent.services,
            }))
            .into_response();
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("token is URL-safe"));
            response
        }
        Ok(None) => {
            throttle.failed(now, &form.login, ip);
            // Same answer for an unknown login and a wrong password.
            json_error(StatusCode::UNAUTHORIZED, "login or password not recognised")
        }
        Err(e) => {
            tracing::error!(error = %e, "login failed on the store");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "the hub could not check the password; try again")
        }
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<Secret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{SESSION_COOKIE}=")).map(|v| Secret(v.to_owned())))
}

async fn current_agent(app: &App, headers: &HeaderMap) -> Option<crate::store::AgentRecord> {
    let token = session_cookie(headers)?;
    app.store.agent_for_session(&token, Timestamp::now()).await.ok().flatten()
}

async fn me(State(app): State<App>, headers: HeaderMap) -> Response {
    match current_agent(&app, &headers).await {
        Some(agent) => axum::Json(json!({
            "login": agent.login,
            "display_name": agent.display_name,
            "services": agent.services,
        }))
        .into_response(),
        None => json_error(StatusCode::UNAUTHORIZED, "not signed in"),
    }
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers) {
        let _ = app.store.end_agent_session(&token).await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&expired).expect("static cookie"));
    response
}

// ---------------------------------------------------------------------------
// Configuration for kiosks, and the admin API
// ---------------------------------------------------------------------------

fn coded_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into(), "code": code }))).into_response()
}

fn unauthorized(scheme: &'static str, message: &str) -> Response {
    let mut response = coded_error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    response
}

fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The admin token's name, or the 401 to answer.
async fn admin(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    let refuse = || {
        unauthorized(
            "Bearer realm=\"visio-hub admin\"",
            "an admin token is required: Authorization: Bearer <token> (create one with `visio-hub admin token <name>`)",
        )
    };
    let token = Secret(authorization(headers, "Bearer").ok_or_else(refuse)?.to_owned());
    match app.store.verify_admin_token(&token).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => {
            tracing::info!("admin API refused: unknown token");
            Err(refuse())
        }
        Err(e) => {
            tracing::error!(error = %e, "admin token check failed on the store");
            Err(coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not check the token; try again"))
        }
    }
}

/// `GET /api/kiosk/config`: the published bundle, byte for byte, for an
/// enrolled kiosk (HTTP Basic with its id and secret). Over HTTPS rather
/// than the WebSocket: a whole-region bundle outgrows the 64 KiB message
/// limit, and HTTP gives ETag revalidation for free.
async fn kiosk_config(State(app): State<App>, headers: HeaderMap) -> Response {
    const REALM: &str = "Basic realm=\"visio-hub kiosks\"";
    let credentials = authorization(&headers, "Basic").and_then(|b64| {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some((KioskId(id.to_owned()), Secret(secret.to_owned())))
    });
    let Some((id, secret)) = credentials else {
        return unauthorized(REALM, "kiosk credentials are required: HTTP Basic with the kiosk id and secret");
    };
    let shown = id.clone();
    let result = async {
        let Some(_) = app.store.verify_kiosk(&id, &secret).await? else { return Ok(None) };
        Ok::<_, crate::store::StoreError>(Some(app.store.published_config().await?))
    }
    .await;
    let stored = match result {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            tracing::info!(kiosk = %shown, "configuration fetch refused: wrong id or secret");
            return unauthorized(REALM, "kiosk id or secret not recognised");
        }
        Err(e) => {
            tracing::error!(error = %e, "configuration fetch failed on the store");
            return coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the configuration");
        }
    };
    let Some(stored) = stored else {
        return coded_error(StatusCode::NOT_FOUND, "not_published", "no configuration has been published yet");
    };
    let etag = format!("\"{}\"", stored.meta.payload_sha256);
    let mut response = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        tracing::info!(kiosk = %shown, version = stored.meta.version, "configuration fetched");
        ([(header::CONTENT_TYPE, "application/json")], stored.bundle).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Why an upload was refused, as an HTTP answer.
fn bundle_refusal(e: &BundleError) -> Response {
    let (status, code) = match e {
        BundleError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
        BundleError::Format { .. } => (StatusCode::BAD_REQUEST, "unsupported_format"),
        BundleError::UntrustedKey { .. } => (StatusCode::FORBIDDEN, "untrusted_key"),
        BundleError::BadSignature { .. } => (StatusCode::FORBIDDEN, "bad_signature"),
        BundleError::HashMismatch => (StatusCode::FORBIDDEN, "hash_mismatch"),
        BundleError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        BundleError::Rollback { .. } => (StatusCode::CONFLICT, "rollback"),
        BundleError::Key { .. } | BundleError::PublicKey(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    coded_error(status, code, format!("configuration refused: {e}"))
}

enum Upload {
    Refused(BundleError),
    NoTrustedKey,
    Stored(PublishOutcome, StoredConfig, Box<Published>),
}

/// `PUT /api/admin/config`: an admin token, and a bundle signed by one of
/// the admin keys this hub trusts. Verified like a kiosk would, stored
/// (last good only, in one transaction), then announced.
async fn publish(State(app): State<App>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    // Authenticate before reading megabytes from anyone.
    let admin = match admin(&app, &parts.headers).await {
        Ok(name) => name,
        Err(response) => return response,
    };
    // Past the limit the rest is read and dropped (up to a bound), so the
    // admin's client gets the answer instead of a reset connection; only
    // an authenticated admin gets this far.
    let mut bytes = Vec::new();
    let mut total = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return coded_error(StatusCode::BAD_REQUEST, "malformed", "the upload was cut off; try again");
        };
        total += chunk.len();
        if total <= MAX_BUNDLE_BYTES {
            bytes.extend_from_slice(&chunk);
        } else if total > 8 * MAX_BUNDLE_BYTES {
            break;
        }
    }
    if total > MAX_BUNDLE_BYTES {
        return coded_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a configuration bundle is at most {} MiB", MAX_BUNDLE_BYTES / (1024 * 1024)),
        );
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return coded_error(StatusCode::BAD_REQUEST, "malformed", "the bundle is not UTF-8 text; send the JSON file `visio-admin sign` wrote");
    };
    let by = admin.clone();
    let upload = async {
        let s = &app.store;
        {
            let keys = s.admin_keys().await?;
            if keys.is_empty() {
                return Ok(Upload::NoTrustedKey);
            }
            // Read, verified, then stored under the store's own re-check
            // of the version: two admins (or processes) racing cannot
            // both replace it.
            let current = s.published_config().await?.map(|c| c.meta.version);
            // The same version is let through: the store tells a repeated
            // upload from a different bundle under the same version.
            let verified = match Bundle::verify_update(&text, &keys, current) {
                Ok(v) => v,
                Err(e) => return Ok(Upload::Refused(e)),
            };
            let stored = StoredConfig {
                meta: PublishedConfig {
                    version: verified.version,
                    payload_sha256: verified.payload_sha256.clone(),
                    key_id: verified.key_id.clone(),
                    published_at: Timestamp::now(),
                    published_by: by,
                    size: text.len() as u64,
                    announced_to: None,
                },
                bundle: text,
            };
            let published = Box::new(Published {
                version: verified.version,
                sha256: verified.payload_sha256,
                size: stored.meta.size,
                catalogue: Arc::new(verified.config.catalogue().clone()),
                ice_servers: verified.config.hub().ice_servers.clone(),
            });
            let outcome = s.publish_config(&stored).await?;
            Ok::<_, crate::store::StoreError>(Upload::Stored(outcome, stored, published))
        }
    }
    .await;
    match upload {
        Err(e) => {
            tracing::error!(error = %e, "storing a configuration failed");
            coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not store the configuration; the previous one stays")
        }
        Ok(Upload::NoTrustedKey) => coded_error(
            StatusCode::FORBIDDEN,
            "no_trusted_key",
            "this hub trusts no admin key yet: run `visio-hub admin trust-key ed25519:…` on the hub first",
        ),
        Ok(Upload::Refused(e)) => {
            tracing::warn!(admin = %admin, error = %e, "configuration upload refused");
            bundle_refusal(&e)
        }
        Ok(Upload::Stored(PublishOutcome::Conflict { current, current_sha256 }, stored, _)) => coded_error(
            StatusCode::CONFLICT,
            if current > stored.meta.version { "rollback" } else { "version_conflict" },
            format!(
                "configuration refused: the hub already serves version {current} (payload sha256 {current_sha256}); \
                 sign the new configuration with a higher --version"
            ),
        ),
        Ok(Upload::Stored(PublishOutcome::AlreadyPublished, stored, _)) => {
            (StatusCode::OK, axum::Json(stored.meta)).into_response()
        }
        Ok(Upload::Stored(PublishOutcome::Published, mut stored, published)) => {
            tracing::info!(admin = %admin, version = stored.meta.version, key = %stored.meta.key_id, "configuration published");
            let told = app.driver.config_published(*published).await.unwrap_or(0);
            stored.meta.announced_to = Some(told as u32);
            (StatusCode::CREATED, axum::Json(stored.meta)).into_response()
        }
    }
}

/// `GET /api/fleet`: every kiosk, online or not, with what it last said.
async fn fleet(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(response) = admin(&app, &headers).await {
        return response;
    }
    let Some(online) = app.driver.online().await else {
        return coded_error(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the hub is stopping");
    };
    let rows = async {
        Ok::<_, crate::store::StoreError>((
            app.store.kiosks().await?,
            app.store.kiosk_statuses().await?,
            app.store.published_config().await?,
        ))
    }
    .await;
    match rows {
        Ok((enrolled, statuses, published)) => axum::Json(crate::fleet::view(crate::fleet::Inputs {
            now: Timestamp::now(),
            heartbeat_seconds: app.settings.heartbeat_seconds,
            enrolled,
            statuses,
            published,
            online,
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "fleet view failed on the store");
            coded_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not read the fleet")
        }
    }
}

// ---------------------------------------------------------------------------
// WebSocket connections
// ---------------------------------------------------------------------------

async fn kiosk_ws(State(app): State<App>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| kiosk_socket(app, socket))
}

async fn agent_ws(State(app): State<App>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    // A page from another site must not ride on the agent's cookie.
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
        && origin.as_bytes() != format!("https://{}", host.to_str().unwrap_or_default()).as_bytes()
    {
        return json_error(StatusCode::FORBIDDEN, "cross-origin WebSocket refused");
    }
    let Some(agent) = current_agent(&app, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "sign in first (POST /api/agent/login)");
    };
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| agent_socket(app, socket, agent))
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

async fn kiosk_socket(app: App, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToKiosk::Error(body));
    let hello = match first_message::<KioskToHub>(&mut stream).await {
        Ok(hello) => hello,
        Err(body) => return close_with(&mut sink, refuse(body)).await,
    };
    let KioskToHub::Hello { protocol, kiosk_id, secret, resume, .. } = hello else {
        return close_with(&mut sink, refuse(hello_expected())).await;
    };
    if protocol != PROTOCOL_VERSION {
        return close_with(&mut sink, refuse(unsupported(protocol))).await;
    }
    let shown_id = kiosk_id.clone();
    let kiosk = match app.store.verify_kiosk(&kiosk_id, &secret).await {
        Ok(Some(kiosk)) => kiosk,
        Ok(None) => {
            tracing::info!(kiosk = %shown_id, "kiosk refused: wrong id or secret");
            return close_with(&mut sink, refuse(auth_failed())).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "kiosk check failed on the store");
            return close_with(&mut sink, refuse(ErrorBody::new(ErrorCode::Internal, "try again later"))).await;
        }
    };
    let peer = app.driver.new_peer_id();
    let (tx, rx) = mpsc::channel(PEER_QUEUE);
    tracing::info!(kiosk = %kiosk.id, ?peer, "kiosk connected");
    if !app.driver.send(Input::KioskConnected { peer, kiosk, resume, tx: tx.clone() }).await {
        return;
    }
    pump(app, peer, sink, stream, tx, rx, Input::Kiosk, refuse).await;
}

async fn agent_socket(app: App, socket: WebSocket, agent: crate::store::AgentRecord) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToAgent::Error(body));
    let resume = match first_message::<AgentToHub>(&mut stream).await {
        Ok(AgentToHub::Hello { protocol, resume }) if protocol == PROTOCOL_VERSION => resume,
        Ok(AgentToHub::Hello { protocol, .. }) => return close_with(&mut sink, refuse(unsupported(protocol))).await,
        Ok(_) => return close_with(&mut sink, refuse(hello_expected())).await,
        Err(body) => return close_with(&mut sink, refuse(body)).await,
    };
    let peer = app.driver.new_peer_id();
    let (tx, rx) = mpsc::channel(PEER_QUEUE);
    tracing::info!(login = %agent.login, ?peer, "agent connected");
    if !app.driver.send(Input::AgentConnected { peer, agent, resume, tx: tx.clone() }).await {
        return;
    }
    pump(app, peer, sink, stream, tx, rx, Input::Agent, refuse).await;
}

fn hello_expected() -> ErrorBody {
    ErrorBody::new(ErrorCode::HelloExpected, "the first message must be a hello")
}

fn unsupported(protocol: u32) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnsupportedProtocol,
        format!("protocol version {protocol} is not supported; this hub speaks version {PROTOCOL_VERSION}"),
    )
}

fn auth_failed() -> ErrorBody {
    ErrorBody::new(ErrorCode::AuthFailed, "kiosk id or secret not recognised")
}

/// Waits for the hello, bounded in time.
async fn first_message<T: WireMessage>(stream: &mut Stream) -> Result<T, ErrorBody> {
    let deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let frame = tokio::select! {
            _ = &mut deadline => return Err(ErrorBody::new(ErrorCode::HelloExpected, format!("no hello within {} s", HELLO_TIMEOUT.as_secs()))),
            frame = stream.next() => frame,
        };
        match frame {
            Some(Ok(Message::Text(text))) => return decode::<T>(text.as_str()).map_err(|e| e.to_error_body()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_)) => return Err(ErrorBody::new(ErrorCode::MalformedMessage, "expected a JSON text frame")),
            Some(Err(_)) | None => return Err(ErrorBody::new(ErrorCode::HelloExpected, "connection closed before hello")),
        }
    }
}

async fn close_with(sink: &mut Sink, error_json: String) {
    let _ = sink.send(Message::Text(error_json.into())).await;
    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1008, reason: "refused".into() }))).await;
}

/// Runs an authenticated connection: a writer task drains the peer's queue
/// onto the socket (with pings); this task reads, decodes, and forwards.
#[allow(clippy::too_many_arguments)]
async fn pump<In: WireMessage + Send + 'static>(
    app: App,
    peer: PeerId,
    mut sink: Sink,
    mut stream: Stream,
    tx: mpsc::Sender<Outgoing>,
    mut rx: mpsc::Receiver<Outgoing>,
    to_input: fn(PeerId, In) -> Input,
    error_json: impl Fn(ErrorBody) -> String,
) {
    // Only the driver keeps the queue alive: when it lets go (the peer is
    // too slow, or replaced), the writer sees the end and closes the socket.
    let tx = tx.downgrade();
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            let item = tokio::select! {
                item = rx.recv() => item,
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() { break }
                    continue;
                }
            };
            match item {
                Some(Outgoing::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close { code, reason }) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                // The driver let go of this peer.
                None => {
                    let frame = CloseFrame { code: 1008, reason: "closed by the hub (replaced, or too slow to read)".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
        let _ = sink.close().await;
    });

    loop {
        let frame = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            frame = tokio::time::timeout(SILENCE_LIMIT, stream.next()) => frame,
        };
        let text = match frame {
            Err(_) => {
                tracing::info!(?peer, "no message or pong for {} s; disconnecting", SILENCE_LIMIT.as_secs());
                break;
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => {
                let body = ErrorBody::new(ErrorCode::MalformedMessage, "binary frames are not part of this protocol; send JSON text");
                reply(&tx, error_json(body));
                continue;
            }
            Ok(Some(Ok(Message::Text(text)))) => text,
        };
        match decode::<In>(text.as_str()) {
            Ok(msg) => {
                if !app.driver.send(to_input(peer, msg)).await {
                    break;
                }
            }
            Err(e) => reply(&tx, error_json(e.to_error_body())),
        }
    }
    app.driver.send(Input::Disconnected(peer)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// Sends an error reply through the peer's queue, if the driver still holds
/// it (a peer dropped as too slow gets nothing more).
fn reply(tx: &mpsc::WeakSender<Outgoing>, text: String) {
    if let Some(tx) = tx.upgrade() {
        let _ = tx.try_send(Outgoing::Text(text));
    }
}
