//! The WebSocket connections of kiosks and agents: the upgrade, the hello,
//! then a reader (this task) and a writer (its own task) per connection.

use std::time::Duration;

use axum::extract::{Extension, State};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use visio_protocol::{
    AgentToHub, ErrorBody, ErrorCode, GuestToHub, HostToHub, HubToGuest, HubToAgent, HubToHost, HubToKiosk, HubToSupervisor, KioskId, KioskToHub,
    OLDEST_KIOSK_PROTOCOL, PROTOCOL_VERSION, SupervisorToHub, WireMessage, decode, encode,
};

use crate::shown::shown;
use super::accounts::{current_agent, json_error};
use super::limits::PRE_HELLO_BYTES;
use super::{App, Connection};
use crate::core::PeerId;
use crate::core::rate::TokenBucket;
use crate::driver::{CLOSE_POLICY, Input, PEER_QUEUE};
use crate::link::{Closer, Closing, Outgoing, PeerLink};
use crate::metrics::Limit;
use crate::roles::{Permission, Role};
use crate::store::ConsoleAccount;

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
pub(super) async fn kiosk_ws(State(app): State<App>, Extension(conn): Extension<Connection>, ws: WebSocketUpgrade) -> Response {
    upgrade(conn, ws, move |conn, socket| kiosk_socket(app, conn, socket))
}

pub(super) async fn agent_ws(
    State(app): State<App>,
    Extension(conn): Extension<Connection>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return json_error(StatusCode::FORBIDDEN, "cross-origin WebSocket refused");
    }
    let Some(agent) = current_agent(&app, &headers).await else {
        return json_error(StatusCode::UNAUTHORIZED, "sign in first (POST /api/agent/login)");
    };
    upgrade(conn, ws, move |conn, socket| agent_socket(app, conn, socket, agent))
}

/// The WebSocket upgrade every peer gets: before its hello a connection
/// may send only [`PRE_HELLO_BYTES`], and no frame past [`HARD_FRAME_LIMIT`].
fn upgrade<S>(conn: Connection, ws: WebSocketUpgrade, socket: impl FnOnce(Connection, WebSocket) -> S + Send + 'static) -> Response
where
    S: Future<Output = ()> + Send + 'static,
{
    conn.budget.limit(PRE_HELLO_BYTES);
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |ws| socket(conn, ws))
}

/// Who opens a console page's socket (`/ws/host`, `/ws/supervisor`): a
/// page of this hub, signed in to the admin console, whose role has
/// `permission`; `refusal` says whom the page is for. The answer to
/// anyone else is the error response.
async fn console_socket(app: &App, headers: &HeaderMap, permission: Permission, refusal: &str) -> Result<ConsoleAccount, Response> {
    if !same_origin(headers) {
        return Err(json_error(StatusCode::FORBIDDEN, "cross-origin WebSocket refused"));
    }
    let account = match super::console::signed_in(app, headers).await? {
        Some(account) => account,
        None => return Err(json_error(StatusCode::UNAUTHORIZED, "sign in first (POST /api/admin/login)")),
    };
    if !account.role.may(permission) {
        return Err(json_error(StatusCode::FORBIDDEN, refusal));
    }
    Ok(account)
}

/// `GET /ws/host`: a host's page, signed in to the admin console (role
/// host, with its sites; an admin or supervisor watches every site).
pub(super) async fn host_ws(
    State(app): State<App>,
    Extension(conn): Extension<Connection>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Whoever sees the fleet sees kiosks on this page: a host its sites'.
    let refusal = "the host page is for hosts, supervisors and admins";
    let account = match console_socket(&app, &headers, Permission::Fleet, refusal).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let sites = match account.role {
        Role::Host if account.sites.is_empty() => {
            return json_error(StatusCode::FORBIDDEN, "this host account has no site yet; an admin gives it one (--site)");
        }
        Role::Host => account.sites.clone(),
        // Admins and supervisors watch every site (agents lack Fleet).
        Role::Admin | Role::Supervisor | Role::Agent => Vec::new(),
    };
    upgrade(conn, ws, move |conn, socket| host_socket(app, conn, socket, account, sites))
}

async fn host_socket(app: App, conn: Connection, socket: WebSocket, account: ConsoleAccount, sites: Vec<String>) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToHost::Error(body));
    match first_message::<HostToHub>(&app, &conn, &mut stream).await {
        Ok(HostToHub::Hello { protocol }) if protocol == PROTOCOL_VERSION => {}
        Ok(HostToHub::Hello { protocol }) => return close_with(&mut sink, refuse(unsupported(protocol)), CLOSE_POLICY).await,
        Ok(_) => return close_with(&mut sink, refuse(hello_expected()), CLOSE_POLICY).await,
        Err(refusal) => return close_with(&mut sink, refuse(refusal.body), refusal.code).await,
    }
    authenticated(&conn);
    let peer = app.driver.new_peer_id();
    let (link, rx) = new_link();
    tracing::info!(login = %shown(&account.login), ?peer, "host connected");
    let (login, display_name) = (account.login, account.display_name);
    if !app.driver.send(Input::HostConnected { peer, login, display_name, sites, link: link.clone() }).await {
        return;
    }
    let gate = Gate { is_visit: |_: &HostToHub| false, visits: None };
    pump(app, peer, sink, stream, link, rx, Input::Host, refuse, gate).await;
}

/// `GET /ws/supervisor`: the supervisor's board, signed in to the admin
/// console with a role that may supervise (supervisor, admin).
pub(super) async fn supervisor_ws(
    State(app): State<App>,
    Extension(conn): Extension<Connection>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let refusal = "the supervision page is for supervisors and admins";
    let account = match console_socket(&app, &headers, Permission::Supervise, refusal).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    upgrade(conn, ws, move |conn, socket| supervisor_socket(app, conn, socket, account))
}

async fn supervisor_socket(app: App, conn: Connection, socket: WebSocket, account: ConsoleAccount) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToSupervisor::Error(body));
    match first_message::<SupervisorToHub>(&app, &conn, &mut stream).await {
        Ok(SupervisorToHub::Hello { protocol }) if protocol == PROTOCOL_VERSION => {}
        Ok(SupervisorToHub::Hello { protocol }) => return close_with(&mut sink, refuse(unsupported(protocol)), CLOSE_POLICY).await,
        Err(refusal) => return close_with(&mut sink, refuse(refusal.body), refusal.code).await,
    }
    authenticated(&conn);
    let peer = app.driver.new_peer_id();
    let (link, rx) = new_link();
    tracing::info!(login = %shown(&account.login), ?peer, "supervisor connected");
    let (login, display_name) = (account.login, account.display_name);
    if !app.driver.send(Input::SupervisorConnected { peer, login, display_name, link: link.clone() }).await {
        return;
    }
    let gate = Gate { is_visit: |_: &SupervisorToHub| false, visits: None };
    pump(app, peer, sink, stream, link, rx, Input::Supervisor, refuse, gate).await;
}

/// `GET /ws/guest`: a third party's page (`/guest/`). No account: the
/// token of the hello is the credential, checked by the core.
pub(super) async fn guest_ws(
    State(app): State<App>,
    Extension(conn): Extension<Connection>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return json_error(StatusCode::FORBIDDEN, "cross-origin WebSocket refused");
    }
    upgrade(conn, ws, move |conn, socket| guest_socket(app, conn, socket))
}

async fn guest_socket(app: App, conn: Connection, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToGuest::Error(body));
    let token = match first_message::<GuestToHub>(&app, &conn, &mut stream).await {
        Ok(GuestToHub::Hello { protocol, token }) if protocol == PROTOCOL_VERSION => token,
        Ok(GuestToHub::Hello { protocol, .. }) => return close_with(&mut sink, refuse(unsupported(protocol)), CLOSE_POLICY).await,
        Ok(_) => return close_with(&mut sink, refuse(hello_expected()), CLOSE_POLICY).await,
        Err(refusal) => return close_with(&mut sink, refuse(refusal.body), refusal.code).await,
    };
    // Let through to the core, which admits or refuses the token; a
    // refused guest is closed by it.
    authenticated(&conn);
    let peer = app.driver.new_peer_id();
    let (link, rx) = new_link();
    tracing::info!(?peer, "guest connected");
    if !app.driver.send(Input::GuestConnected { peer, token, link: link.clone() }).await {
        return;
    }
    let gate = Gate { is_visit: |_: &GuestToHub| false, visits: None };
    pump(app, peer, sink, stream, link, rx, Input::Guest, refuse, gate).await;
}

/// A page from another site must not ride on a console's cookie. With no
/// Host to compare, an Origin cannot be checked, so it is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| origin.as_bytes() == format!("https://{host}").as_bytes())
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

async fn kiosk_socket(app: App, conn: Connection, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToKiosk::Error(body));
    let hello = match first_message::<KioskToHub>(&app, &conn, &mut stream).await {
        Ok(hello) => hello,
        Err(refusal) => return close_with(&mut sink, refuse(refusal.body), refusal.code).await,
    };
    let KioskToHub::Hello { protocol, kiosk_id, secret, resume, .. } = hello else {
        return close_with(&mut sink, refuse(hello_expected()), CLOSE_POLICY).await;
    };
    if !(OLDEST_KIOSK_PROTOCOL..=PROTOCOL_VERSION).contains(&protocol) {
        return close_with(&mut sink, refuse(unsupported_by_kiosk(protocol)), CLOSE_POLICY).await;
    }
    let shown_id = kiosk_id.clone();
    let kiosk = match app.store.verify_kiosk(&kiosk_id, &secret).await {
        Ok(Some(kiosk)) => kiosk,
        Ok(None) => {
            tracing::info!(kiosk = %shown(shown_id.as_str()), "kiosk refused: wrong id or secret");
            return close_with(&mut sink, refuse(auth_failed()), CLOSE_POLICY).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "kiosk check failed on the store");
            let body = ErrorBody::new(ErrorCode::Internal, "try again later");
            return close_with(&mut sink, refuse(body), CLOSE_INTERNAL).await;
        }
    };
    authenticated(&conn);
    let peer = app.driver.new_peer_id();
    let (link, rx) = new_link();
    tracing::info!(kiosk = %shown(kiosk.id.as_str()), ?peer, "kiosk connected");
    if !app.driver.send(Input::KioskConnected { peer, kiosk, protocol, resume, link: link.clone() }).await {
        return;
    }
    let visits = Some(kiosk_id);
    let gate = Gate { is_visit: |m: &KioskToHub| matches!(m, KioskToHub::RequestCall { .. }), visits };
    pump(app, peer, sink, stream, link, rx, Input::Kiosk, refuse, gate).await;
}

async fn agent_socket(app: App, conn: Connection, socket: WebSocket, agent: crate::store::AgentRecord) {
    let (mut sink, mut stream) = socket.split();
    let refuse = |body: ErrorBody| encode(&HubToAgent::Error(body));
    let resume = match first_message::<AgentToHub>(&app, &conn, &mut stream).await {
        Ok(AgentToHub::Hello { protocol, resume }) if protocol == PROTOCOL_VERSION => resume,
        Ok(AgentToHub::Hello { protocol, .. }) => {
            return close_with(&mut sink, refuse(unsupported(protocol)), CLOSE_POLICY).await;
        }
        Ok(_) => return close_with(&mut sink, refuse(hello_expected()), CLOSE_POLICY).await,
        Err(refusal) => return close_with(&mut sink, refuse(refusal.body), refusal.code).await,
    };
    authenticated(&conn);
    let peer = app.driver.new_peer_id();
    let (link, rx) = new_link();
    tracing::info!(login = %shown(agent.login.as_str()), ?peer, "agent connected");
    if !app.driver.send(Input::AgentConnected { peer, agent, resume, link: link.clone() }).await {
        return;
    }
    let gate = Gate { is_visit: |_: &AgentToHub| false, visits: None };
    pump(app, peer, sink, stream, link, rx, Input::Agent, refuse, gate).await;
}

/// The hello was accepted: the connection no longer counts against its
/// address, and may send what the protocol allows.
fn authenticated(conn: &Connection) {
    conn.budget.lift();
    conn.slot.release();
}

fn new_link() -> (PeerLink, mpsc::Receiver<Outgoing>) {
    let (queue, rx) = mpsc::channel(PEER_QUEUE);
    (PeerLink { queue, closer: Closer::default(), since: jiff::Timestamp::now() }, rx)
}

/// WebSocket close codes (RFC 6455, section 7.4.1).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;

/// How long a closing connection may take to send its last words.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

fn hello_expected() -> ErrorBody {
    ErrorBody::new(ErrorCode::HelloExpected, "the first message must be a hello")
}

fn unsupported(protocol: u32) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnsupportedProtocol,
        format!("protocol version {protocol} is not supported; this hub speaks version {PROTOCOL_VERSION} (reload the page)"),
    )
}

fn unsupported_by_kiosk(protocol: u32) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnsupportedProtocol,
        format!(
            "protocol version {protocol} is not supported; this hub serves kiosks of versions {OLDEST_KIOSK_PROTOCOL} to {PROTOCOL_VERSION}"
        ),
    )
}

fn auth_failed() -> ErrorBody {
    ErrorBody::new(ErrorCode::AuthFailed, "kiosk id or secret not recognised")
}

/// Why a connection is refused before its hello: the error and the close
/// code.
struct Refusal {
    body: ErrorBody,
    code: u16,
}

/// Waits for the hello, bounded in time and in bytes.
async fn first_message<T: WireMessage>(app: &App, conn: &Connection, stream: &mut Stream) -> Result<T, Refusal> {
    let limit = app.settings.limits.hello_timeout;
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let policy = |code, message: String| Refusal { body: ErrorBody::new(code, message), code: CLOSE_POLICY };
    loop {
        let frame = tokio::select! {
            _ = &mut deadline => {
                tracing::info!(limit = "hello_timeout", seconds = limit.as_secs_f32(), "connection closed: no hello in time");
                app.metrics.refused(Limit::HelloTimeout);
                return Err(policy(ErrorCode::HelloExpected, format!("no hello within {} s", limit.as_secs_f32())));
            }
            frame = stream.next() => frame,
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                return decode::<T>(text.as_str()).map_err(|e| Refusal { body: e.to_error_body(), code: CLOSE_POLICY });
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_)) => return Err(policy(ErrorCode::MalformedMessage, "expected a JSON text frame".into())),
            Some(Err(_)) if conn.budget.exceeded() => {
                tracing::info!(limit = "pre_hello_bytes", max = PRE_HELLO_BYTES, "connection closed: too many bytes before the hello");
                app.metrics.refused(Limit::PreHelloBytes);
                let body = ErrorBody::new(
                    ErrorCode::MessageTooLarge,
                    format!("at most {PRE_HELLO_BYTES} bytes may come before the hello is accepted"),
                );
                return Err(Refusal { body, code: CLOSE_TOO_BIG });
            }
            Some(Err(e)) => return Err(bad_frame(app, e)),
            None => return Err(policy(ErrorCode::HelloExpected, "connection closed before hello".into())),
        }
    }
}

/// A frame that is not valid WebSocket: invalid UTF-8 in a text frame
/// (1007), too large (1009), or anything else the protocol forbids (1002).
fn bad_frame(app: &App, e: axum::Error) -> Refusal {
    let inner = e.into_inner();
    let (code, what) = match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Utf8(_)) => (CLOSE_INVALID_DATA, "a text frame that is not valid UTF-8"),
        Some(tungstenite::Error::Capacity(_)) => (CLOSE_TOO_BIG, "a frame over the 1 MiB limit"),
        Some(tungstenite::Error::Io(_) | tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) | None => {
            return Refusal { body: ErrorBody::new(ErrorCode::MalformedMessage, "connection lost"), code: CLOSE_PROTOCOL_ERROR };
        }
        Some(_) => (CLOSE_PROTOCOL_ERROR, "a frame that breaks the WebSocket protocol"),
    };
    tracing::info!(limit = "bad_frame", close = code, "connection closed: {what}");
    app.metrics.refused(Limit::BadFrame);
    Refusal { body: ErrorBody::new(ErrorCode::MalformedMessage, format!("the hub closed this connection: {what}")), code }
}

async fn close_with(sink: &mut Sink, error_json: String, code: u16) {
    let last_words = async {
        sink.send(Message::Text(error_json.into())).await?;
        sink.send(Message::Close(Some(CloseFrame { code, reason: "refused".into() }))).await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, last_words).await;
}

/// What a connection's messages must pass besides their rate: a kiosk's
/// visits per minute.
struct Gate<In> {
    is_visit: fn(&In) -> bool,
    /// The kiosk whose visits are counted (none for an agent).
    visits: Option<KioskId>,
}

/// Whether `kiosk` may start another visit now (and counts it).
fn visit_allowed(app: &App, kiosk: Option<&KioskId>) -> bool {
    let Some(kiosk) = kiosk else { return true };
    let per_minute = app.settings.limits.visits_per_minute;
    let mut visits = app.visits.lock().unwrap_or_else(|e| e.into_inner());
    let now = jiff::Timestamp::now();
    if visits.len() > 100_000 {
        // Buckets full again after a minute say nothing: forget them all.
        visits.clear();
    }
    visits
        .entry(kiosk.clone())
        .or_insert_with(|| TokenBucket::new(per_minute, f64::from(per_minute) / 60.0))
        .take(now)
}

/// Runs an authenticated connection: a writer task drains the peer's queue
/// onto the socket (with pings); this task reads, decodes, and forwards.
/// Either side, or the driver, closes it through the link's closer.
#[allow(clippy::too_many_arguments)]
async fn pump<In: WireMessage + Send + 'static>(
    app: App,
    peer: PeerId,
    sink: Sink,
    mut stream: Stream,
    link: PeerLink,
    rx: mpsc::Receiver<Outgoing>,
    to_input: fn(PeerId, In) -> Input,
    error_json: fn(ErrorBody) -> String,
    gate: Gate<In>,
) {
    let closer = link.closer.clone();
    let limits = &app.settings.limits;
    let mut messages = TokenBucket::new(limits.message_burst, limits.messages_per_second);
    // Error replies go through the same queue as everything else; the
    // driver holds the other sender, and the writer ends on the closer.
    let queue = link.queue;
    let writer = tokio::spawn(write(sink, rx, closer.clone(), error_json));

    loop {
        let frame = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            _ = closer.closed() => break,
            frame = tokio::time::timeout(SILENCE_LIMIT, stream.next()) => frame,
        };
        let text = match frame {
            Err(_) => {
                tracing::info!(?peer, limit = "silence", "no message or pong for {} s; disconnecting", SILENCE_LIMIT.as_secs());
                app.metrics.refused(Limit::Silence);
                closer.close(Closing::new(CLOSE_GOING_AWAY, "no message or pong in time"));
                break;
            }
            Ok(None | Some(Ok(Message::Close(_)))) => {
                closer.close(Closing::new(CLOSE_NORMAL, ""));
                break;
            }
            Ok(Some(Err(e))) => {
                let refusal = bad_frame(&app, e);
                closer.close(Closing::new(refusal.code, refusal.body.message.clone()).with_error(refusal.body));
                break;
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => {
                let body = ErrorBody::new(ErrorCode::MalformedMessage, "binary frames are not part of this protocol; send JSON text");
                let _ = queue.try_send(Outgoing::Text(error_json(body)));
                continue;
            }
            Ok(Some(Ok(Message::Text(text)))) => text,
        };
        if !messages.take(jiff::Timestamp::now()) {
            tracing::warn!(?peer, limit = "message_rate", "connection closed: more messages than {} per second", limits.messages_per_second);
            app.metrics.refused(Limit::MessageRate);
            let reason = format!("more than {} messages per second", limits.messages_per_second);
            closer.close(Closing::new(CLOSE_POLICY, reason.clone()).with_error(ErrorBody::new(ErrorCode::Forbidden, reason)));
            break;
        }
        match decode::<In>(text.as_str()) {
            Ok(msg) if (gate.is_visit)(&msg) && !visit_allowed(&app, gate.visits.as_ref()) => {
                tracing::info!(?peer, limit = "visits_per_minute", "visit refused: too many from one kiosk");
                app.metrics.refused(Limit::VisitsPerMinute);
                let body = ErrorBody::new(
                    ErrorCode::Forbidden,
                    format!("this kiosk started {} visits in the last minute; try again in a moment", limits.visits_per_minute),
                );
                let _ = queue.try_send(Outgoing::Text(error_json(body)));
            }
            Ok(msg) => {
                if !app.driver.send(to_input(peer, msg)).await {
                    break;
                }
            }
            Err(e) => {
                let _ = queue.try_send(Outgoing::Text(error_json(e.to_error_body())));
            }
        }
    }
    closer.close(Closing::new(CLOSE_GOING_AWAY, "the hub is stopping"));
    drop(queue);
    app.driver.send(Input::Disconnected(peer)).await;
    // Keep reading (and dropping) until the peer answers the close: a
    // socket dropped with unread input is reset, and a reset makes the
    // peer's system discard what it had not read yet, the hub's last
    // words included. The writer is bounded by CLOSE_GRACE too.
    let drain = async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, futures_util::future::join(writer, drain)).await;
}

const CLOSE_GOING_AWAY: u16 = crate::driver::CLOSE_GOING_AWAY;

/// Drains the queue onto the socket, with pings, until the closer fires;
/// then the last words (what is queued, if the closing says so, an error,
/// the close frame), bounded by [`CLOSE_GRACE`]. Dropping the socket's
/// halves closes the connection even if a stuck peer never read them.
async fn write(mut sink: Sink, mut rx: mpsc::Receiver<Outgoing>, closer: Closer, error_json: fn(ErrorBody) -> String) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let sent = tokio::select! {
            biased;
            _ = closer.closed() => break,
            item = rx.recv() => match item {
                Some(Outgoing::Text(text)) => sink.send(Message::Text(text.into())),
                None => break,
            },
            _ = ping.tick() => sink.send(Message::Ping(Default::default())),
        };
        // A peer that stopped reading blocks here; the closer cuts it short.
        let ok = tokio::select! {
            result = sent => result.is_ok(),
            _ = closer.closed() => break,
        };
        if !ok {
            return;
        }
    }
    let why = closer.why().cloned().unwrap_or_else(|| Closing::new(CLOSE_GOING_AWAY, ""));
    let last_words = async {
        if why.drain {
            while let Ok(Outgoing::Text(text)) = rx.try_recv() {
                sink.send(Message::Text(text.into())).await?;
            }
        }
        if let Some(error) = why.error {
            sink.send(Message::Text(error_json(error).into())).await?;
        }
        let reason = truncate(&why.reason, 123);
        sink.send(Message::Close(Some(CloseFrame { code: why.code, reason: reason.into() }))).await?;
        sink.close().await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, last_words).await;
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
