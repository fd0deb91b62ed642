//! Talking to the hub's admin API over HTTPS: upload a signed configuration
//! (`PUT /api/admin/config`) and read the fleet (`GET /api/fleet`).
//!
//! A blocking client (`ureq` over rustls with the ring provider): the tool
//! makes one request and exits, so an async runtime would add nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use visio_protocol::admin::{ApiError, FleetView, PublishedConfig};

/// Generous for a hub at the end of a slow link; a request never hangs.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{url:?} is not a hub address; write it like https://hub.example.fr:8443")]
    BadUrl { url: String },
    #[error("{}: {message}", path.display())]
    Trust { path: PathBuf, message: String },
    #[error("cannot read the admin token from {}: {message}", path.display())]
    Token { path: PathBuf, message: String },
    #[error("cannot reach the hub at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The hub understood the request and said no (4xx).
    #[error("the hub refused ({status}{}): {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Refused { status: u16, code: Option<String>, message: String },
    /// A 5xx, or an answer this tool does not understand.
    #[error("the hub failed ({status}): {message}")]
    Failed { status: u16, message: String },
}

impl HubError {
    /// The hub looked at the input and refused it: exit code 1 rather
    /// than 2 ("could not run").
    pub fn is_refusal(&self) -> bool {
        matches!(self, HubError::Refused { .. })
    }
}

/// What became of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publication {
    /// Stored and announced to the connected kiosks.
    Published(PublishedConfig),
    /// The hub already served this exact configuration: nothing changed.
    AlreadyPublished(PublishedConfig),
}

/// A hub and the admin token to show it.
#[derive(Debug)]
pub struct HubClient {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl HubClient {
    /// `url`: `https://host:port`. `trust`: a PEM certificate (or CA) for a
    /// hub with a self-signed certificate; without it, the system's roots.
    pub fn new(url: &str, trust: Option<&Path>, token_file: &Path) -> Result<HubClient, HubError> {
        let base = url.trim_end_matches('/');
        if !base.starts_with("https://") || base.len() <= "https://".len() {
            return Err(HubError::BadUrl { url: url.to_owned() });
        }
        let roots = match trust {
            Some(path) => pem_roots(path)?,
            None => rustls_native_certs::load_native_certs()
                .certs
                .into_iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .new_agent();
        Ok(HubClient { agent, base: base.to_owned(), token: read_token(token_file)? })
    }

    /// Uploads a signed bundle.
    pub fn publish(&self, bundle: &str) -> Result<Publication, HubError> {
        let url = format!("{}/api/admin/config", self.base);
        let response = self
            .agent
            .put(&url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .send(bundle)
            .map_err(|e| self.unreachable(e))?;
        let (status, body) = read(response, &url)?;
        let config = || {
            serde_json::from_str::<PublishedConfig>(&body)
                .map_err(|e| HubError::Failed { status, message: format!("unexpected answer ({e}): {body}") })
        };
        match status {
            201 => Ok(Publication::Published(config()?)),
            200 => Ok(Publication::AlreadyPublished(config()?)),
            _ => Err(error(status, &body)),
        }
    }

    pub fn fleet(&self) -> Result<FleetView, HubError> {
        let url = format!("{}/api/fleet", self.base);
        let response = self
            .agent
            .get(&url)
            .header("authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| self.unreachable(e))?;
        match read(response, &url)? {
            (200, body) => serde_json::from_str(&body)
                .map_err(|e| HubError::Failed { status: 200, message: format!("unexpected fleet view ({e})") }),
            (status, body) => Err(error(status, &body)),
        }
    }

    fn unreachable(&self, e: ureq::Error) -> HubError {
        let detail = match &e {
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        HubError::Unreachable { url: self.base.clone(), detail }
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>, url: &str) -> Result<(u16, String), HubError> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| HubError::Unreachable { url: url.to_owned(), detail: format!("the answer was cut off: {e}") })?;
    Ok((status, body))
}

/// The hub's error answer, `{"error", "code"}`, as a typed error.
fn error(status: u16, body: &str) -> HubError {
    let (code, message) = match serde_json::from_str::<ApiError>(body) {
        Ok(e) => (e.code, e.error),
        Err(_) => (None, if body.trim().is_empty() { "(no details)".to_owned() } else { body.trim().to_owned() }),
    };
    if (400..500).contains(&status) {
        HubError::Refused { status, code, message }
    } else {
        HubError::Failed { status, message }
    }
}

fn pem_roots(path: &Path) -> Result<Vec<Certificate<'static>>, HubError> {
    let err = |message: String| HubError::Trust { path: path.to_owned(), message };
    let pem = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(err("no PEM certificate in it (expected \"-----BEGIN CERTIFICATE-----\")".into()));
    }
    Ok(certs)
}

/// The token is the file's first line. A file others can read is worth a
/// warning: the token publishes configurations to the whole fleet.
fn read_token(path: &Path) -> Result<String, HubError> {
    let err = |message: String| HubError::Token { path: path.to_owned(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(err("the file is empty; put the token `visio-hub admin token <name>` printed in it".into()));
    }
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!("warning: {} can be read by other users; chmod 600 it", path.display());
        }
    }
    Ok(token)
}
