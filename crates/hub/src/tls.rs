//! The hub's TLS identity: a certificate and key given by the operator, or a
//! self-signed one generated on first start and kept in the data directory
//! (kiosks then pin that certificate; see README).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Names the generated certificate is valid for: the hub's embedded default
/// listens on loopback.
const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the certificate in use lives, and the rustls configuration.
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert_path: PathBuf,
    pub config: Arc<ServerConfig>,
}

/// Uses the given certificate and key, or the self-signed pair in
/// `data_dir/tls/`, generating it on first start.
pub fn load_or_generate(data_dir: &Path, given: Option<(PathBuf, PathBuf)>) -> Result<Identity, TlsError> {
    load_or_generate_for(data_dir, given, &[])
}

/// Like [`load_or_generate`], and a certificate generated now is also valid
/// for `extra_names` (the address the hub listens on, when kiosks reach it
/// by IP). An existing generated pair is kept as it is.
pub fn load_or_generate_for(
    data_dir: &Path,
    given: Option<(PathBuf, PathBuf)>,
    extra_names: &[String],
) -> Result<Identity, TlsError> {
    let (cert_path, key_path) = match given {
        Some(pair) => pair,
        None => {
            let dir = data_dir.join("tls");
            let pair = (dir.join("cert.pem"), dir.join("key.pem"));
            if !pair.0.exists() || !pair.1.exists() {
                generate_into(&dir, &pair.0, &pair.1, extra_names)?;
            }
            pair
        }
    };
    let cert_pem = fs::read(&cert_path).map_err(|source| TlsError::Read { path: cert_path.clone(), source })?;
    let key_pem = fs::read(&key_path).map_err(|source| TlsError::Read { path: key_path.clone(), source })?;
    let config = server_config(&cert_pem, &cert_path, &key_pem, &key_path)?;
    Ok(Identity { cert_path, config })
}

fn generate_into(dir: &Path, cert_path: &Path, key_path: &Path, extra_names: &[String]) -> Result<(), TlsError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(write_err(dir))?;
    let mut names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    names.extend(extra_names.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
    let generated = rcgen::generate_simple_self_signed(names)?;
    // The key is written 0600 from its first byte, never readable by others.
    let mut key = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(key_path)
        .map_err(write_err(key_path))?;
    key.write_all(generated.signing_key.serialize_pem().as_bytes()).map_err(write_err(key_path))?;
    fs::write(cert_path, generated.cert.pem()).map_err(write_err(cert_path))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}

fn server_config(cert_pem: &[u8], cert_path: &Path, key_pem: &[u8], key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_path.to_owned() });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey { path: key_path.to_owned() })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // HTTP/1.1 only: WebSocket upgrades are plain there, and every peer of
    // ours (browsers, tungstenite) speaks it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path(), None).unwrap();
        let pem = fs::read(&first.cert_path).unwrap();
        let second = load_or_generate(dir.path(), None).unwrap();
        assert_eq!(fs::read(&second.cert_path).unwrap(), pem, "the certificate is kept across starts");
        let mode = fs::metadata(dir.path().join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_bad_given_pair_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        fs::write(&cert, "not a certificate").unwrap();
        fs::write(&key, "not a key").unwrap();
        let err = load_or_generate(dir.path(), Some((cert.clone(), key))).unwrap_err();
        assert_eq!(err.to_string(), format!("{} holds no PEM certificate", cert.display()));
    }
}
