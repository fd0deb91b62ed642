//! TURN over TCP and TLS for webrtc-rs, which speaks TURN over UDP only.
//!
//! For each `turns:` URL (or `turn:…?transport=tcp`) a call is given, the
//! bridge opens a UDP socket on 127.0.0.1 and hands webrtc-rs
//! `turn:127.0.0.1:<port>?transport=udp` with the same credentials in its
//! place. Each local socket of webrtc-rs's TURN clients that writes to it gets
//! its own connection to the real server (TURN ties an allocation to its
//! connection), with TLS checked by rustls for `turns:`. Messages cross
//! unchanged, framed by `turn_stream`: the bridge sees TURN's own messages and,
//! inside them, media already encrypted by DTLS-SRTP.
//!
//! ICE gathers the relay candidates of every server, so where UDP gets
//! through its relay (or a direct path) is used, and where only TCP 443 leaves
//! the building the bridged one carries the call. A connection that ends ends
//! its allocation; webrtc-rs's next ICE restart reconnects.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::IceServer;
use crate::error::CallError;
use crate::proxy::{HttpProxy, ProxyError};
use crate::turn_stream::{Deframer, FramingError, SentRequests, StreamServer, frame, stream_server};

/// How long a TCP connection and TLS handshake may take: webrtc-rs gives up
/// on an allocation after about as long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Datagrams waiting for a connection to open or to write; more are dropped,
/// as UDP would (webrtc-rs retransmits what matters).
const QUEUE: usize = 256;
/// ALPN for TURN over TLS (RFC 7443), so a TLS demultiplexer on 443 can route it.
const ALPN_TURN: &[u8] = b"stun.turn";

/// The bridges of one call; dropping it closes their sockets and connections.
#[derive(Debug, Default)]
pub(crate) struct TurnBridges {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TurnBridges {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Why a bridged connection ended (logged; webrtc-rs sees its TURN
/// transactions time out).
#[derive(Debug, thiserror::Error)]
enum BridgeError {
    #[error("could not connect within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Proxy(#[from] ProxyError),
    #[error("{0:?} is not a name a TLS certificate can be checked against")]
    BadName(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("{0}")]
    Framing(#[from] FramingError),
}

/// Replaces the URLs of `servers` that need a stream by local bridges, which
/// are kept running as long as the returned [`TurnBridges`] lives.
/// `turns:` certificates are checked against `trust_pem` and the system's
/// authorities; connections go through `proxy` when there is one.
pub(crate) async fn bridge_stream_servers(
    servers: &[IceServer],
    trust_pem: Option<&str>,
    proxy: Option<&HttpProxy>,
) -> Result<(Vec<IceServer>, TurnBridges), CallError> {
    let mut bridges = TurnBridges::default();
    let mut out = Vec::with_capacity(servers.len());
    for server in servers {
        let mut urls = Vec::with_capacity(server.urls.len());
        for url in &server.urls {
            let Some(target) = stream_server(url) else {
                urls.push(url.clone());
                continue;
            };
            let tls = if target.tls { Some(tls_config(trust_pem)?) } else { None };
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(|e| CallError::Transport(format!("a local socket for {target}: {e}")))?;
            let port = socket.local_addr().map_err(|e| CallError::Transport(e.to_string()))?.port();
            tracing::debug!(%target, port, "TURN over a stream, bridged for webrtc-rs");
            bridges.tasks.push(tokio::spawn(run(Arc::new(socket), target, tls, proxy.cloned())));
            urls.push(format!("turn:127.0.0.1:{port}?transport=udp"));
        }
        out.push(IceServer { urls, ..server.clone() });
    }
    Ok((out, bridges))
}

/// The one rustls configuration for these authorities, shared by every call
/// of the process: its session cache lets the next call's connection resume
/// the TLS session (one round trip instead of two with coturn, which speaks
/// TLS 1.2 at most: 0.6 s less before the relay candidate on satellite).
fn tls_config(trust_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, CallError> {
    static CONFIGS: std::sync::Mutex<Vec<(Option<String>, Arc<rustls::ClientConfig>)>> = std::sync::Mutex::new(Vec::new());
    let mut configs = CONFIGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, config)) = configs.iter().find(|(pem, _)| pem.as_deref() == trust_pem) {
        return Ok(Arc::clone(config));
    }
    let config = new_tls_config(trust_pem)?;
    // A kiosk's trust changes only with a new signed configuration: a few
    // entries in a process's life, and never more than these.
    if configs.len() >= 4 {
        configs.remove(0);
    }
    configs.push((trust_pem.map(str::to_owned), Arc::clone(&config)));
    Ok(config)
}

/// rustls with the given authorities and the system's.
fn new_tls_config(trust_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, CallError> {
    let bad = |why: String| CallError::Transport(format!("the certificates trusted for TURN over TLS: {why}"));
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = trust_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok).collect();
        if certs.is_empty() {
            return Err(bad("no PEM certificate in them".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    // The system's too: a site's TURN server may have a public certificate
    // while its hub has a private one. Media security does not rest on this
    // TLS (DTLS fingerprints come through the hub), it only keeps a relay
    // from being impersonated.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_TURN.to_vec()];
    Ok(Arc::new(config))
}

/// One bridge: datagrams from webrtc-rs's local sockets, each to its own
/// connection to `server`.
async fn run(socket: Arc<UdpSocket>, server: StreamServer, tls: Option<Arc<rustls::ClientConfig>>, proxy: Option<HttpProxy>) {
    let mut clients: HashMap<SocketAddr, (mpsc::Sender<Vec<u8>>, SentRequests)> = HashMap::new();
    // Dropped with this task, which aborts every connection.
    let mut connections = JoinSet::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!(%server, "TURN bridge socket: {e}");
                continue;
            }
        };
        let framed = match frame(&buf[..n]) {
            Ok(framed) => framed,
            Err(e) => {
                tracing::debug!(%server, "dropped a datagram from webrtc-rs: {e}");
                continue;
            }
        };
        let open = clients.get_mut(&from).filter(|(tx, _)| !tx.is_closed());
        let (tx, sent) = match open {
            Some(client) => client,
            None => {
                clients.retain(|_, (tx, _)| !tx.is_closed());
                while connections.try_join_next().is_some() {}
                let (tx, rx) = mpsc::channel(QUEUE);
                let (socket, server, tls, proxy) = (Arc::clone(&socket), server.clone(), tls.clone(), proxy.clone());
                connections.spawn(async move {
                    if let Err(e) = carry(&server, tls, proxy.as_ref(), &socket, from, rx).await {
                        tracing::warn!(%server, "TURN connection ended: {e}");
                    }
                });
                clients.entry(from).insert_entry((tx, SentRequests::default())).into_mut()
            }
        };
        if sent.is_copy(&framed) {
            continue;
        }
        if tx.try_send(framed.clone()).is_ok() {
            sent.sent(&framed);
        }
    }
}

/// Opens the connection for the webrtc-rs socket `client` and carries its
/// messages both ways until either side ends.
async fn carry(
    server: &StreamServer,
    tls: Option<Arc<rustls::ClientConfig>>,
    proxy: Option<&HttpProxy>,
    socket: &UdpSocket,
    client: SocketAddr,
    outgoing: mpsc::Receiver<Vec<u8>>,
) -> Result<(), BridgeError> {
    let connect = async {
        let tcp = crate::proxy::connect(proxy, &server.host, server.port).await?;
        tcp.set_nodelay(true)?;
        Ok::<_, BridgeError>(tcp)
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect).await.map_err(|_| BridgeError::Timeout(CONNECT_TIMEOUT))??;
    match tls {
        None => pump(tcp, socket, client, outgoing).await,
        Some(config) => {
            let name = ServerName::try_from(server.host.clone()).map_err(|_| BridgeError::BadName(server.host.clone()))?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, handshake).await.map_err(|_| BridgeError::Timeout(CONNECT_TIMEOUT))??;
            let kind = stream.get_ref().1.handshake_kind();
            tracing::debug!(%server, ?kind, "TURN over TLS connected");
            pump(stream, socket, client, outgoing).await
        }
    }
}

/// Carries messages both ways at once: the way up may wait on a full TCP
/// window (an uplink the call fills) while the way down goes on, as two
/// UDP flows would. One loop doing both stopped reading while a write
/// waited, so the server's queue towards the kiosk overflowed and dropped
/// the peer's media and feedback (decisions.md #372).
async fn pump(
    stream: impl AsyncRead + AsyncWrite + Unpin,
    socket: &UdpSocket,
    client: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
) -> Result<(), BridgeError> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let up = async {
        while let Some(message) = outgoing.recv().await {
            writer.write_all(&message).await?;
            // Whatever else is queued goes in the same flush.
            while let Ok(more) = outgoing.try_recv() {
                writer.write_all(&more).await?;
            }
            writer.flush().await?;
        }
        Ok(())
    };
    let down = async {
        let mut deframer = Deframer::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Err(BridgeError::Closed);
            }
            deframer.push(&buf[..n]);
            while let Some(message) = deframer.next_message()? {
                socket.send_to(&message, client).await?;
            }
        }
    };
    tokio::select! {
        ended = up => ended,
        ended = down => ended,
    }
}

#[cfg(test)]
mod tests {
    //! The bridge against a real coturn on loopback: a STUN Binding request
    //! from a UDP socket comes back answered over TLS and over TCP, and a
    //! server whose certificate is not the trusted one is refused.

    use super::*;
    use visio_testkit::browser::free_port;
    use visio_testkit::turn::Turn;

    const SECRET: &str = "bridge-test";

    /// A certificate for 127.0.0.1 in `dir` (cert, key).
    fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let identity = visio_hub::tls::load_or_generate_for(dir, None, &["127.0.0.1".to_owned()]).unwrap();
        let key = identity.cert_path.with_file_name("key.pem");
        (identity.cert_path, key)
    }

    fn coturn(cert: &(std::path::PathBuf, std::path::PathBuf)) -> Turn {
        Turn::with_tls(
            Ipv4Addr::LOCALHOST.into(),
            free_port(),
            (&cert.0, &cert.1),
            SECRET,
            |command| command.spawn(),
            |port| std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok(),
        )
    }

    fn binding_request(id: u8) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&[id; 12]);
        m
    }

    /// The local port of the bridge webrtc-rs is given as `url`.
    fn bridge_port(url: &str) -> u16 {
        url.trim_start_matches("turn:127.0.0.1:").trim_end_matches("?transport=udp").parse().unwrap()
    }

    /// Sends a Binding request through the bridge at `url` and returns the answer.
    async fn ask_through(url: &str, id: u8) -> Vec<u8> {
        let port = bridge_port(url);
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        socket.send_to(&binding_request(id), (Ipv4Addr::LOCALHOST, port)).await.unwrap();
        let mut buf = vec![0; 2048];
        let n = tokio::time::timeout(visio_testkit::wait::DEADLINE, socket.recv(&mut buf)).await.expect("an answer through the bridge").unwrap();
        buf.truncate(n);
        buf
    }

    #[tokio::test]
    async fn a_binding_request_crosses_to_coturn_over_tls_and_over_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let cert = certificate(dir.path());
        let turn = coturn(&cert);
        let trust = std::fs::read_to_string(&cert.0).unwrap();
        let servers = [IceServer {
            urls: vec![
                format!("turns:127.0.0.1:{}?transport=tcp", turn.tls_port),
                format!("turn:127.0.0.1:{}?transport=tcp", turn.port),
                format!("turn:127.0.0.1:{}?transport=udp", turn.port),
            ],
            username: "u".into(),
            credential: "p".into(),
        }];
        let (bridged, _bridges) = bridge_stream_servers(&servers, Some(&trust), None).await.unwrap();
        let urls = &bridged[0].urls;
        assert_eq!(urls[2], servers[0].urls[2], "UDP stays with webrtc-rs");
        assert_eq!((bridged[0].username.as_str(), bridged[0].credential.as_str()), ("u", "p"));
        for (i, url) in urls[..2].iter().enumerate() {
            assert!(url.starts_with("turn:127.0.0.1:") && url.ends_with("?transport=udp"), "{url}");
            let answer = ask_through(url, i as u8 + 1).await;
            assert_eq!(&answer[..2], &[0x01, 0x01], "a Binding success response from {}", servers[0].urls[i]);
            assert_eq!(&answer[8..20], &[i as u8 + 1; 12], "for our transaction");
        }
    }

    #[tokio::test]
    async fn a_server_with_another_certificate_is_refused() {
        let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let turn = coturn(&certificate(dir.path()));
        let trusted = std::fs::read_to_string(certificate(other.path()).0).unwrap();
        let server = stream_server(&format!("turns:127.0.0.1:{}", turn.tls_port)).unwrap();
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let (_tx, rx) = mpsc::channel(1);
        let client = socket.local_addr().unwrap();
        let ended = carry(&server, Some(tls_config(Some(&trusted)).unwrap()), None, &socket, client, rx).await;
        let Err(BridgeError::Io(e)) = ended else { panic!("expected a refused certificate, got {ended:?}") };
        assert!(e.to_string().contains("certificate"), "{e}");
    }

    /// A server that stops reading (a full uplink) must not stop what it
    /// sends from reaching webrtc-rs: the peer's media and feedback.
    #[tokio::test]
    async fn what_the_server_sends_arrives_while_the_way_up_is_blocked() {
        let (ours, mut server) = tokio::io::duplex(4096);
        let bridge = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let webrtc = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let (tx, rx) = mpsc::channel(QUEUE);
        for _ in 0..64 {
            tx.try_send(vec![0x40; 1024]).unwrap(); // 64 KiB the server never reads
        }
        let client = webrtc.local_addr().unwrap();
        let pump = tokio::spawn(async move { pump(ours, &bridge, client, rx).await });
        // Once it has taken more than the 4 KiB pipe holds, its write waits.
        tokio::time::timeout(visio_testkit::wait::DEADLINE, async {
            while tx.capacity() < QUEUE - 64 + 5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the bridge writes up until the pipe is full");
        server.write_all(&binding_request(7)).await.unwrap();
        let mut buf = vec![0; 2048];
        let n = tokio::time::timeout(visio_testkit::wait::DEADLINE, webrtc.recv(&mut buf))
            .await
            .expect("the server's message crosses while the way up waits")
            .unwrap();
        assert_eq!(&buf[..n], &binding_request(7)[..]);
        assert!(!pump.is_finished(), "the bridge still carries both ways");
        pump.abort();
        drop(tx);
    }

    /// webrtc-rs repeats a request it has no answer to yet, as over UDP:
    /// over the stream the copy is not sent, so coturn answers once.
    #[tokio::test]
    async fn a_repeated_request_crosses_once() {
        let dir = tempfile::tempdir().unwrap();
        let turn = coturn(&certificate(dir.path()));
        let servers = [IceServer { urls: vec![format!("turn:127.0.0.1:{}?transport=tcp", turn.port)], ..IceServer::default() }];
        let (bridged, _bridges) = bridge_stream_servers(&servers, None, None).await.unwrap();
        let port = bridge_port(&bridged[0].urls[0]);
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        for id in [1, 1, 1, 2] {
            socket.send_to(&binding_request(id), (Ipv4Addr::LOCALHOST, port)).await.unwrap();
        }
        let mut answers = Vec::new();
        let mut buf = vec![0; 2048];
        while answers.len() < 2 {
            let n = tokio::time::timeout(visio_testkit::wait::DEADLINE, socket.recv(&mut buf)).await.expect("answers through the bridge").unwrap();
            answers.push(buf[8..n.min(20)].to_vec());
        }
        assert_eq!(answers, [vec![1u8; 12], vec![2u8; 12]], "transaction 1 answered once, then 2");
    }

    /// coturn speaks TLS 1.2 at most: a full handshake is two round trips,
    /// a resumed one (the next call's, within the ticket's two hours) one.
    #[tokio::test]
    async fn the_next_calls_tls_connection_resumes_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let cert = certificate(dir.path());
        let turn = coturn(&cert);
        let trust = std::fs::read_to_string(&cert.0).unwrap();
        let servers = [IceServer {
            urls: vec![format!("turns:127.0.0.1:{}?transport=tcp", turn.tls_port)],
            username: "u".into(),
            credential: "p".into(),
        }];
        // A first call's bridge makes the first connection…
        let (bridged, first_call) = bridge_stream_servers(&servers, Some(&trust), None).await.unwrap();
        let answer = ask_through(&bridged[0].urls[0], 9).await;
        assert_eq!(&answer[..2], &[0x01, 0x01], "a Binding success response through the first call's bridge");
        drop(first_call);
        // …and the next one, with the configuration calls share, resumes it.
        let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, turn.tls_port)).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let stream = tokio_rustls::TlsConnector::from(tls_config(Some(&trust)).unwrap()).connect(name, tcp).await.unwrap();
        assert_eq!(stream.get_ref().1.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
    }

    #[tokio::test]
    async fn trust_without_a_certificate_is_an_error_at_the_start() {
        let servers = [IceServer { urls: vec!["turns:turn.example.org:443".into()], ..IceServer::default() }];
        let err = bridge_stream_servers(&servers, Some("not PEM"), None).await.unwrap_err();
        assert!(err.to_string().contains("TURN over TLS"), "{err}");
    }
}
