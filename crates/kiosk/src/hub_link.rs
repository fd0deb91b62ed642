//! The kiosk's connection to the hub: WebSocket over TLS, the hello, then
//! messages both ways. The session core decides when to (re)connect; this
//! task only does what it is told and reports what happened.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use visio_protocol::{HubToKiosk, KioskId, KioskToHub, PROTOCOL_VERSION, ResumeToken, Secret, decode, encode};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the hub is and who this kiosk is.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The hub's addresses, tried in order: `wss://host:port/ws/kiosk`
    /// (a bare `wss://host:port` gets the path `/ws/kiosk`).
    pub hub_urls: Vec<String>,
    /// The hub certificate (or CA) to trust, PEM. `None`: the system's roots.
    pub trust_pem: Option<Vec<u8>>,
    pub kiosk_id: KioskId,
    pub secret: Secret,
    /// The site's HTTP proxy, when the hub is reached through it.
    pub proxy: Option<visio_media::proxy::HttpProxy>,
}

#[derive(Debug)]
pub enum Command {
    /// (Re)connect; `resume` goes in the hello to re-attach to a call.
    Connect { resume: Option<ResumeToken> },
    Send(Box<KioskToHub>),
    /// Close the connection politely once everything before is sent, then
    /// answer.
    Close(tokio::sync::oneshot::Sender<()>),
}

#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected and the hello sent; the welcome follows as a message.
    Connected,
    Message(HubToKiosk),
    Lost { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the hub certificate to trust is not valid PEM")]
    BadTrust,
    #[error("{0}")]
    Tls(#[from] rustls::Error),
}

/// Builds the TLS client configuration once, so a bad certificate is an
/// error at start-up rather than at every reconnection.
pub fn tls_config(trust_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, LinkError> {
    let mut roots = rustls::RootCertStore::empty();
    match trust_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect();
            if certs.is_empty() {
                return Err(LinkError::BadTrust);
            }
            for cert in certs {
                roots.add(cert).map_err(|_| LinkError::BadTrust)?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs the link until the command channel closes. Commands come
/// unbounded: the shells send from code that cannot wait, and a command
/// dropped for a full channel could be a hang-up; the kiosk core sends a
/// few a minute.
pub async fn run(
    endpoint: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut ws: Option<Ws> = None;
    loop {
        let command = match &mut ws {
            None => commands.recv().await,
            Some(socket) => tokio::select! {
                command = commands.recv() => command,
                frame = socket.next() => {
                    match frame {
                        Some(Ok(Message::Text(text))) => match decode::<HubToKiosk>(text.as_str()) {
                            Ok(msg) => { let _ = events.send(LinkEvent::Message(msg)).await; }
                            Err(e) => tracing::warn!(error = %e, "ignoring a message from the hub"),
                        },
                        Some(Ok(Message::Close(frame))) => {
                            let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                            ws = None;
                            let _ = events.send(LinkEvent::Lost { reason: format!("the hub closed the connection {reason}") }).await;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            ws = None;
                            let _ = events.send(LinkEvent::Lost { reason: e.to_string() }).await;
                        }
                        None => {
                            ws = None;
                            let _ = events.send(LinkEvent::Lost { reason: "connection closed".into() }).await;
                        }
                    }
                    continue;
                }
            },
        };
        match command {
            None => return,
            Some(Command::Connect { resume }) => {
                ws = None;
                // Every address gets its own chance.
                let budget = CONNECT_TIMEOUT.max(ADDRESS_TIMEOUT * endpoint.hub_urls.len() as u32);
                match tokio::time::timeout(budget, connect(&endpoint, tls.clone(), resume)).await {
                    Ok(Ok(socket)) => {
                        ws = Some(socket);
                        let _ = events.send(LinkEvent::Connected).await;
                    }
                    Ok(Err(reason)) => {
                        let _ = events.send(LinkEvent::Lost { reason }).await;
                    }
                    Err(_) => {
                        let reason = format!("no connection to the hub within {} s", budget.as_secs());
                        let _ = events.send(LinkEvent::Lost { reason }).await;
                    }
                }
            }
            Some(Command::Close(done)) => {
                if let Some(mut socket) = ws.take() {
                    let _ = tokio::time::timeout(CONNECT_TIMEOUT, socket.close(None)).await;
                }
                let _ = done.send(());
            }
            Some(Command::Send(msg)) => {
                let Some(socket) = &mut ws else {
                    tracing::debug!(?msg, "not connected; message dropped");
                    continue;
                };
                if let Err(e) = socket.send(Message::Text(encode(&*msg).into())).await {
                    ws = None;
                    let _ = events.send(LinkEvent::Lost { reason: e.to_string() }).await;
                }
            }
        }
    }
}

/// `host:port` of a configured hub address (`wss://host:port/path`).
fn authority(hub_url: &str) -> &str {
    let rest = hub_url.split_once("://").map_or(hub_url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// The WebSocket address of a configured hub URL.
pub fn websocket_url(hub_url: &str) -> String {
    let after_scheme = hub_url.split_once("://").map_or(hub_url, |(_, rest)| rest);
    if after_scheme.trim_end_matches('/').contains('/') {
        hub_url.to_owned()
    } else {
        format!("{}/ws/kiosk", hub_url.trim_end_matches('/'))
    }
}

/// The hub's HTTPS origin, for its API: `wss://hub:8443/ws/kiosk` →
/// `https://hub:8443`.
pub fn https_origin(hub_url: &str) -> String {
    format!("https://{}", authority(hub_url))
}

/// Whether the hub is on this machine.
pub fn is_loopback(hub_url: &str) -> bool {
    let host = authority(hub_url);
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// How long one hub address may take to accept a connection (TCP, TLS and
/// WebSocket handshakes) before the next is tried: a hub machine that died
/// silently answers nothing.
const ADDRESS_TIMEOUT: Duration = Duration::from_secs(10);

/// Tries each hub address in turn; the error names every failure.
async fn connect(endpoint: &Endpoint, tls: Arc<rustls::ClientConfig>, resume: Option<ResumeToken>) -> Result<Ws, String> {
    let mut failures = Vec::new();
    for hub_url in &endpoint.hub_urls {
        match connect_to(&websocket_url(hub_url), endpoint, tls.clone(), resume.clone()).await {
            Ok(ws) => return Ok(ws),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        failures.push("no hub address configured".into());
    }
    Err(failures.join("; "))
}

async fn connect_to(
    url: &str,
    endpoint: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    resume: Option<ResumeToken>,
) -> Result<Ws, String> {
    let request = url.into_client_request().map_err(|e| format!("bad hub address {url:?}: {e}"))?;
    let host = request.uri().host().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = request.uri().port_u16().unwrap_or(443);
    let connecting = async {
        // Direct, or through the site's proxy (`CONNECT`): the TLS inside is ours either way.
        let tcp = visio_media::proxy::connect(endpoint.proxy.as_ref(), &host, port).await.map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(Connector::Rustls(tls)))
            .await
            .map_err(|e| format!("cannot reach the hub at {url}: {e}"))
    };
    let (mut ws, _) = tokio::time::timeout(ADDRESS_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("no answer from the hub at {url} within {} s", ADDRESS_TIMEOUT.as_secs()))??;
    let hello = KioskToHub::Hello {
        protocol: PROTOCOL_VERSION,
        kiosk_id: endpoint.kiosk_id.clone(),
        secret: endpoint.secret.clone(),
        app_version: Some(env!("CARGO_PKG_VERSION").into()),
        resume,
    };
    ws.send(Message::Text(encode(&hello).into())).await.map_err(|e| e.to_string())?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::{https_origin, is_loopback, websocket_url};

    #[test]
    fn the_hub_origin_comes_from_its_websocket_address() {
        assert_eq!(https_origin("wss://hub.example.fr:8443/ws/kiosk"), "https://hub.example.fr:8443");
        assert_eq!(https_origin("wss://127.0.0.1:8443"), "https://127.0.0.1:8443");
    }

    #[test]
    fn loopback_hubs_are_recognised() {
        assert!(is_loopback("wss://127.0.0.1:8443/ws/kiosk"));
        assert!(is_loopback("wss://localhost:8443"));
        assert!(!is_loopback("wss://hub.example.fr:8443/ws/kiosk"));
    }

    #[test]
    fn bare_hub_addresses_get_the_kiosk_path() {
        assert_eq!(websocket_url("wss://127.0.0.1:8443"), "wss://127.0.0.1:8443/ws/kiosk");
        assert_eq!(websocket_url("wss://hub.example.fr/"), "wss://hub.example.fr/ws/kiosk");
        assert_eq!(websocket_url("wss://hub.example.fr:8443/ws/kiosk"), "wss://hub.example.fr:8443/ws/kiosk");
    }
}

#[derive(Clone, Debug)]
pub struct HubSettings {
    pub endpoint: Endpoint,
    pub tls: Arc<rustls::ClientConfig>,
}

/// The hub link's identity for iced: one subscription per kiosk and hub.
impl Hash for HubSettings {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.endpoint.hub_urls.hash(state);
        self.endpoint.kiosk_id.hash(state);
    }
}

