//! The simulated clients' side of the wire: WebSocket connections to a
//! hub, protocol messages in and out within the step bound, and the short
//! stable names errors are counted by.

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use visio_protocol::*;

use super::Ctx;

pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Small buffers: ten thousand connections in one process, each carrying
/// a few small messages (tungstenite's default is 128 KiB each way).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

pub(super) async fn connect(ctx: &Ctx, hub: usize, path: &str, cookie: Option<&str>) -> Result<Ws, String> {
    let address = &ctx.hubs[hub];
    let mut request = format!("wss://{address}{path}").into_client_request().map_err(|e| e.to_string())?;
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().map_err(|_| "bad cookie".to_owned())?);
    }
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config()), true, Some(ctx.connector.clone()));
    match tokio::time::timeout(ctx.step, connecting).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(connect_error_kind(&e)),
        Err(_) => Err("connect:timeout".into()),
    }
}

/// A short, stable name for why a connection failed.
fn connect_error_kind(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Io(io) => format!("connect:io:{:?}", io.kind()),
        E::Tls(_) => "connect:tls".into(),
        E::Http(response) => format!("connect:http:{}", response.status().as_u16()),
        other => format!("connect:{}", other.to_string().split(':').next().unwrap_or("other")),
    }
}

/// A wire enum's snake_case name (`agent_hung_up`, `out_of_place`).
pub(super) fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map.get("kind").and_then(|k| k.as_str()).unwrap_or("other").to_owned(),
        _ => "other".into(),
    }
}

pub(super) async fn send<T: WireMessage>(ws: &mut Ws, message: &T) -> bool {
    ws.send(Message::Text(encode(message).into())).await.is_ok()
}

/// The next message from the hub, `Err` when the connection ended.
/// Unknown or oversized messages are read as the hub meant them: the
/// 64 KiB limit is on what the hub accepts, not on what it sends.
pub(super) async fn next<T: serde::de::DeserializeOwned>(ws: &mut Ws) -> Result<Option<T>, String> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<T>(text.as_str()) {
            Ok(msg) => Ok(Some(msg)),
            Err(_) => Err("undecodable_message".into()),
        },
        Some(Ok(Message::Close(_))) | None => Err("closed".into()),
        Some(Err(e)) => Err(format!("read:{}", e.to_string().split(':').next().unwrap_or("error"))),
        Some(Ok(_)) => Ok(None),
    }
}

/// Waits for the first message `pick` accepts, within the step bound.
pub(super) async fn expect<T: serde::de::DeserializeOwned, R>(
    ctx: &Ctx,
    ws: &mut Ws,
    what: &str,
    pick: impl Fn(T) -> Option<Result<R, String>>,
) -> Result<R, String> {
    let deadline = tokio::time::Instant::now() + ctx.step;
    loop {
        match tokio::time::timeout_at(deadline, next::<T>(ws)).await {
            Err(_) => return Err(format!("{what}:timeout")),
            Ok(Err(e)) => return Err(format!("{what}:{e}")),
            Ok(Ok(None)) => continue,
            Ok(Ok(Some(msg))) => {
                if let Some(result) = pick(msg) {
                    return result;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_protocols() {
        assert_eq!(wire_name(&EndReason::AgentHungUp), "agent_hung_up");
        assert_eq!(wire_name(&ErrorCode::OutOfPlace), "out_of_place");
    }
}
