//! Out through an HTTP proxy with `CONNECT`, as browsers do where a town
//! hall's network lets nothing out but its proxy. The kiosk's hub link and
//! its TURN connections (`turn_bridge`) both use it.
//!
//! The protocol part is pure ([`connect_request`], [`ProxyReply`]); [`connect`]
//! is the thin socket shell. What goes through the tunnel is the kiosk's own
//! TLS (hub, `turns:`), so the proxy sees host names, never content.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Longest proxy answer header read before giving up on it.
const MAX_REPLY: usize = 8 * 1024;

/// An HTTP proxy and the credentials it asks for, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpProxy {
    /// Host name or address of the proxy.
    pub host: String,
    /// Its port (3128 for most).
    pub port: u16,
    /// Basic credentials (`Proxy-Authorization`), when the proxy wants them.
    #[serde(default)]
    pub credentials: Option<ProxyCredentials>,
}

/// A proxy's user name and password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Why the proxy did not open the tunnel.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The far end could not be reached (no proxy).
    #[error("cannot connect to {target}: {source}")]
    Direct {
        /// `host:port`.
        target: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The proxy could not be reached.
    #[error("cannot reach the HTTP proxy {proxy}: {source}")]
    Unreachable {
        /// `host:port` of the proxy.
        proxy: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The proxy wants credentials, or refused the ones given.
    #[error("the HTTP proxy {0} refused the credentials (407); check the proxy user name and password in the kiosk configuration")]
    Credentials(String),
    /// The proxy refused the tunnel.
    #[error("the HTTP proxy {proxy} refused a tunnel to {target}: {status}")]
    Refused {
        /// `host:port` of the proxy.
        proxy: String,
        /// Where the tunnel was to go.
        target: String,
        /// Its status line.
        status: String,
    },
    /// The proxy answered something that is not HTTP.
    #[error("the HTTP proxy {0} answered something that is not HTTP")]
    NotHttp(String),
}

/// The `CONNECT` request for a tunnel to `host:port`.
pub fn connect_request(proxy: &HttpProxy, host: &str, port: u16) -> Vec<u8> {
    let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(c) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// What the proxy's answer says so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyReply {
    /// The header is not complete yet.
    Incomplete,
    /// The tunnel is open; the header was this many bytes (what follows is
    /// the far end's).
    Open(usize),
    /// `407`: credentials missing or wrong.
    Credentials,
    /// Another status: its status line.
    Refused(String),
    /// Not an HTTP answer.
    NotHttp,
}

impl ProxyReply {
    /// Reads the answer's header from the bytes received so far.
    pub fn parse(received: &[u8]) -> ProxyReply {
        let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            let could_be_http = received.len() < 5 || received.starts_with(b"HTTP/");
            return if could_be_http && received.len() <= MAX_REPLY { ProxyReply::Incomplete } else { ProxyReply::NotHttp };
        };
        let header = String::from_utf8_lossy(&received[..end]);
        let status_line = header.lines().next().unwrap_or_default();
        let mut words = status_line.split_whitespace();
        let (Some(version), Some(code)) = (words.next(), words.next()) else { return ProxyReply::NotHttp };
        if !version.starts_with("HTTP/1.") {
            return ProxyReply::NotHttp;
        }
        match code.parse::<u16>() {
            Ok(200..=299) => ProxyReply::Open(end + 4),
            Ok(407) => ProxyReply::Credentials,
            Ok(_) => ProxyReply::Refused(status_line.to_owned()),
            Err(_) => ProxyReply::NotHttp,
        }
    }
}

/// A TCP connection to `host:port`: direct, or a tunnel through `proxy`.
pub async fn connect(proxy: Option<&HttpProxy>, host: &str, port: u16) -> Result<TcpStream, ProxyError> {
    let Some(proxy) = proxy else {
        let target = format!("{host}:{port}");
        return TcpStream::connect((host, port)).await.map_err(|source| ProxyError::Direct { target, source });
    };
    let name = format!("{}:{}", proxy.host, proxy.port);
    let io = |source| ProxyError::Unreachable { proxy: name.clone(), source };
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port)).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.write_all(&connect_request(proxy, host, port)).await.map_err(io)?;
    // Byte by byte: nothing past the header may be taken from the tunnel.
    let mut received = Vec::with_capacity(256);
    loop {
        let byte = stream.read_u8().await.map_err(io)?;
        received.push(byte);
        match ProxyReply::parse(&received) {
            ProxyReply::Incomplete => {}
            ProxyReply::Open(_) => return Ok(stream),
            ProxyReply::Credentials => return Err(ProxyError::Credentials(name)),
            ProxyReply::Refused(status) => return Err(ProxyError::Refused { proxy: name, target: format!("{host}:{port}"), status }),
            ProxyReply::NotHttp => return Err(ProxyError::NotHttp(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(credentials: Option<(&str, &str)>) -> HttpProxy {
        HttpProxy {
            host: "proxy.mairie.fr".into(),
            port: 3128,
            credentials: credentials.map(|(u, p)| ProxyCredentials { username: u.into(), password: p.into() }),
        }
    }

    #[test]
    fn the_request_names_the_target_and_carries_basic_credentials() {
        let plain = String::from_utf8(connect_request(&proxy(None), "turn.example.fr", 443)).unwrap();
        assert_eq!(plain, "CONNECT turn.example.fr:443 HTTP/1.1\r\nHost: turn.example.fr:443\r\n\r\n");
        let with = String::from_utf8(connect_request(&proxy(Some(("Aladdin", "open sesame"))), "10.0.0.1", 8443)).unwrap();
        assert!(with.contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), "{with}");
        assert!(with.ends_with("\r\n\r\n"));
        let v6 = String::from_utf8(connect_request(&proxy(None), "2001:db8::1", 443)).unwrap();
        assert!(v6.starts_with("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"), "{v6}");
    }

    #[test]
    fn answers_are_read_once_their_header_is_complete() {
        assert_eq!(ProxyReply::parse(b""), ProxyReply::Incomplete);
        assert_eq!(ProxyReply::parse(b"HTTP/1.1 200 Connection established\r\n"), ProxyReply::Incomplete);
        let open = b"HTTP/1.1 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
        assert_eq!(ProxyReply::parse(open), ProxyReply::Open(open.len()));
        assert_eq!(ProxyReply::parse(b"HTTP/1.0 200 OK\r\n\r\n\x16\x03"), ProxyReply::Open(19));
        assert_eq!(ProxyReply::parse(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"), ProxyReply::Credentials);
        assert_eq!(ProxyReply::parse(b"HTTP/1.1 403 Access violation\r\nX: y\r\n\r\n"), ProxyReply::Refused("HTTP/1.1 403 Access violation".into()));
        assert_eq!(ProxyReply::parse(b"SSH-2.0-OpenSSH\r\n\r\n"), ProxyReply::NotHttp);
        assert_eq!(ProxyReply::parse(b"\x16\x03\x01\x02\x00\x01"), ProxyReply::NotHttp);
        assert_eq!(ProxyReply::parse(&[b'H'; 5]), ProxyReply::NotHttp);
    }

    #[test]
    fn an_endless_header_is_not_waited_for() {
        let mut long = b"HTTP/1.1 200 OK\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_REPLY));
        assert_eq!(ProxyReply::parse(&long), ProxyReply::NotHttp);
    }

    #[test]
    fn the_password_stays_out_of_logs() {
        let shown = format!("{:?}", proxy(Some(("mairie", "hunter2"))));
        assert!(shown.contains("mairie") && !shown.contains("hunter2"), "{shown}");
    }
}
