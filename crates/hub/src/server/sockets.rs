//! The WebSocket connections of kiosks and agents: the upgrade, the hello,
//! then a reader (this task) and a writer (its own task) per connection.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use visio_protocol::{
    AgentToHub, ErrorBody, ErrorCode, HubToAgent, HubToKiosk, KioskToHub, PROTOCOL_VERSION, WireMessage, decode, encode,
};

use super::App;
use super::accounts::{current_agent, json_error};
use crate::core::PeerId;
use crate::driver::{Input, Outgoing, PEER_QUEUE};

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

// ---------------------------------------------------------------------------
// WebSocket connections
// ---------------------------------------------------------------------------

pub(super) async fn kiosk_ws(State(app): State<App>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| kiosk_socket(app, socket))
}

pub(super) async fn agent_ws(State(app): State<App>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
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
