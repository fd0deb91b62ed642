//! Signed configuration bundles: what `visio-admin sign` writes and what a
//! kiosk verifies before applying a configuration. Format in
//! docs/protocol.md, "Configuration bundle".
//!
//! The signature is Ed25519 over the canonical JSON (keys sorted, no
//! whitespace) of the bundle without its `signature` field, so a bundle can
//! be pretty-printed, stored and re-served without breaking it, and any
//! change to a signed field breaks it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, Verifier};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ConfigSet, Diagnostic};

// Re-exported so kiosks and the hub can hold trusted keys without naming
// ed25519-dalek themselves.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// The `format` of bundles this code reads and writes.
pub const FORMAT: &str = "visio-public/config-bundle/1";

/// The largest bundle the hub accepts for publication (`PUT
/// /api/admin/config`), in bytes. Validation refuses a configuration
/// whose bundle would be larger, before anything is signed.
pub const MAX_BUNDLE_BYTES: usize = 8 * 1024 * 1024;

/// The size of the bundle file [`Bundle::sign`] would write for `payload`,
/// at most: the longest version and date, a signature of fixed length.
pub fn bundle_size(payload: &Value) -> usize {
    let bundle = Bundle {
        format: FORMAT.to_owned(),
        version: u64::MAX,
        created_at: Timestamp::MAX,
        key_id: "0".repeat(16),
        payload_sha256: "0".repeat(64),
        payload: payload.clone(),
        signature: "A".repeat(88),
    };
    bundle.to_json().len()
}

/// A signed configuration bundle, as stored in `kiosk-config.signed.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`]; another value is refused.
    pub format: String,
    /// Increases with every published configuration; a kiosk refuses a
    /// version lower than the one it runs (no rollback to an old config).
    pub version: u64,
    pub created_at: Timestamp,
    /// Which admin key signed: [`key_id`] of its public key.
    pub key_id: String,
    /// SHA-256 of the canonical payload, in hex: the configuration's
    /// identity, as kiosks report it in heartbeats.
    pub payload_sha256: String,
    /// [`ConfigSet::to_payload`]: services, hub settings and every kiosk.
    pub payload: Value,
    /// Ed25519 signature, base64, over the canonical JSON of every other
    /// field.
    pub signature: String,
}

/// A bundle whose signature and content have been checked.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    pub version: u64,
    pub created_at: Timestamp,
    pub key_id: String,
    pub payload_sha256: String,
    pub config: ConfigSet,
}

/// Why a bundle or a key was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a configuration bundle: {0}")]
    Malformed(String),
    #[error("unsupported bundle format {found:?}; this version reads {FORMAT:?}")]
    Format { found: String },
    #[error("signed by key {key_id}, which is not a trusted admin key (trusted: {trusted})")]
    UntrustedKey { key_id: String, trusted: String },
    #[error("bad signature: the bundle was changed after it was signed, or signed with another key than {key_id}")]
    BadSignature { key_id: String },
    #[error("payload_sha256 does not match the payload")]
    HashMismatch,
    #[error("version {version} is older than the running version {running}; refusing to roll back")]
    Rollback { version: u64, running: u64 },
    #[error("the signed configuration is invalid:\n{}", list(.0))]
    Invalid(Vec<Diagnostic>),
    #[error("{path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("{0:?} is not a public key; expected \"ed25519:\" followed by 32 bytes in base64")]
    PublicKey(String),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

/// A short, stable name for a public key: the first 8 bytes of its
/// SHA-256, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// `ed25519:<base64>`: how public keys are printed and configured.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("ed25519:{}", BASE64.encode(key.as_bytes()))
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, BundleError> {
    let bad = || BundleError::PublicKey(text.to_owned());
    let b64 = text.trim().strip_prefix("ed25519:").ok_or_else(bad)?;
    let bytes: [u8; 32] = BASE64.decode(b64).map_err(|_| bad())?.try_into().map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// An admin signing key on disk: PKCS#8 PEM (what `openssl pkey` reads),
/// readable by its owner only.
#[derive(Debug, Clone, Copy)]
pub struct SigningKeyFile;

impl SigningKeyFile {
    /// Generates a key and writes it to `path` with mode 0600; refuses to
    /// overwrite an existing file.
    pub fn generate(path: &Path) -> Result<SigningKey, BundleError> {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        let key = SigningKey::from_bytes(&seed);
        let err = |message: String| BundleError::Key { path: path.to_owned(), message };
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                err("already exists; keys are never overwritten, choose another file".into())
            } else {
                err(format!("cannot create: {e}"))
            }
        })?;
        file.write_all(pem.as_bytes()).map_err(|e| err(format!("cannot write: {e}")))?;
        Ok(key)
    }

    pub fn read(path: &Path) -> Result<SigningKey, BundleError> {
        let err = |message: String| BundleError::Key { path: path.to_owned(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        SigningKey::from_pkcs8_pem(&text)
            .map_err(|e| err(format!("not an Ed25519 private key in PKCS#8 PEM ({e}); make one with `visio-admin keygen`")))
    }
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings and numbers as serde_json writes them. Independent of whether
/// serde_json keeps insertion order in this build.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// The bytes the signature covers: the bundle without `signature`.
fn signed_bytes(bundle: &Value) -> Vec<u8> {
    let mut unsigned = bundle.clone();
    if let Value::Object(map) = &mut unsigned {
        map.remove("signature");
    }
    canonical_json(&unsigned).into_bytes()
}

fn payload_hash(payload: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(payload).as_bytes()))
}

impl Bundle {
    /// Signs a validated configuration.
    pub fn sign(config: &ConfigSet, key: &SigningKey, version: u64, created_at: Timestamp) -> Bundle {
        Bundle::sign_payload(config.to_payload(), key, version, created_at)
    }

    /// Signs any payload; [`Bundle::sign`] is the way to sign a checked
    /// configuration. Tests use this to make validly signed nonsense.
    pub fn sign_payload(payload: Value, key: &SigningKey, version: u64, created_at: Timestamp) -> Bundle {
        let mut bundle = Bundle {
            format: FORMAT.to_owned(),
            version,
            created_at,
            key_id: key_id(&key.verifying_key()),
            payload_sha256: payload_hash(&payload),
            payload,
            signature: String::new(),
        };
        let value = serde_json::to_value(&bundle).unwrap_or(Value::Null);
        bundle.signature = BASE64.encode(key.sign(&signed_bytes(&value)).to_bytes());
        bundle
    }

    /// Pretty JSON for the file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// What a kiosk does with a bundle from the hub: [`Bundle::verify`],
    /// then refuse a version older than the one it runs (`running`), so a
    /// replayed old bundle cannot roll the fleet back. The same version is
    /// accepted: re-applying it is harmless.
    pub fn verify_update(text: &str, trusted: &[VerifyingKey], running: Option<u64>) -> Result<VerifiedBundle, BundleError> {
        let verified = Bundle::verify(text, trusted)?;
        match running {
            Some(running) if verified.version < running => {
                Err(BundleError::Rollback { version: verified.version, running })
            }
            _ => Ok(verified),
        }
    }

    /// Checks a bundle's format, signer, signature, hash and content, in
    /// that order. `trusted` are the admin public keys the kiosk accepts.
    pub fn verify(text: &str, trusted: &[VerifyingKey]) -> Result<VerifiedBundle, BundleError> {
        let value: Value = serde_json::from_str(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
        if let Some(found) = value.get("format").and_then(Value::as_str)
            && found != FORMAT
        {
            return Err(BundleError::Format { found: found.to_owned() });
        }
        let bundle: Bundle = serde_json::from_value(value.clone()).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let key = trusted.iter().find(|k| key_id(k) == bundle.key_id).ok_or_else(|| BundleError::UntrustedKey {
            key_id: bundle.key_id.clone(),
            trusted: trusted.iter().map(key_id).collect::<Vec<_>>().join(", "),
        })?;
        let bad_signature = || BundleError::BadSignature { key_id: bundle.key_id.clone() };
        let signature: [u8; 64] =
            BASE64.decode(&bundle.signature).map_err(|_| bad_signature())?.try_into().map_err(|_| bad_signature())?;
        key.verify(&signed_bytes(&value), &Signature::from_bytes(&signature)).map_err(|_| bad_signature())?;
        if payload_hash(&bundle.payload) != bundle.payload_sha256 {
            return Err(BundleError::HashMismatch);
        }
        let config = ConfigSet::from_payload(&bundle.payload).map_err(BundleError::Invalid)?;
        Ok(VerifiedBundle {
            version: bundle.version,
            created_at: bundle.created_at,
            key_id: bundle.key_id,
            payload_sha256: bundle.payload_sha256,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::Sources;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn t0() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    fn demo_set() -> ConfigSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config");
        ConfigSet::load(&dir).unwrap()
    }

    #[test]
    fn a_signed_bundle_verifies_and_gives_back_the_same_configuration() {
        let set = demo_set();
        let bundle = Bundle::sign(&set, &key(1), 3, t0());
        let v = Bundle::verify(&bundle.to_json(), &[key(2).verifying_key(), key(1).verifying_key()]).unwrap();
        assert_eq!(v.version, 3);
        assert_eq!(v.key_id, key_id(&key(1).verifying_key()));
        assert_eq!(v.config.kiosks, set.kiosks);
        assert_eq!(v.config.to_payload(), set.to_payload());
        // Whitespace does not matter: the signature covers canonical JSON.
        let compact = serde_json::to_string(&bundle).unwrap();
        assert!(Bundle::verify(&compact, &[key(1).verifying_key()]).is_ok());
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let text = Bundle::sign(&demo_set(), &key(1), 3, t0()).to_json();
        let trusted = [key(1).verifying_key()];
        for (from, to) in [("\"version\": 3", "\"version\": 4"), ("\"max_video_kbps\": 800", "\"max_video_kbps\": 8000")] {
            let tampered = text.replacen(from, to, 1);
            assert_ne!(tampered, text, "{from} not found");
            let err = Bundle::verify(&tampered, &trusted).unwrap_err();
            assert!(matches!(err, BundleError::BadSignature { .. }), "{err}");
        }
    }

    #[test]
    fn another_key_is_refused_even_when_it_claims_a_trusted_key_id() {
        let set = demo_set();
        let trusted = [key(1).verifying_key()];
        let foreign = Bundle::sign(&set, &key(9), 3, t0());
        let err = Bundle::verify(&foreign.to_json(), &trusted).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "signed by key {}, which is not a trusted admin key (trusted: {})",
                key_id(&key(9).verifying_key()),
                key_id(&key(1).verifying_key())
            )
        );
        let mut impostor = foreign.clone();
        impostor.key_id = key_id(&key(1).verifying_key());
        let err = Bundle::verify(&impostor.to_json(), &trusted).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn a_validly_signed_but_invalid_configuration_is_refused() {
        let mut payload = demo_set().to_payload();
        payload["kiosks"]["besse"]["services"] = serde_json::json!(["caf", "cpam2"]);
        let bundle = Bundle::sign_payload(payload, &key(1), 3, t0());
        let err = Bundle::verify(&bundle.to_json(), &[key(1).verifying_key()]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the signed configuration is invalid:\n  kiosks/besse.json services[1]: unknown service \"cpam2\""
            ),
            "{err}"
        );
    }

    #[test]
    fn wrong_format_garbage_and_rollback_are_refused() {
        let trusted = [key(1).verifying_key()];
        let bundle = Bundle::sign(&demo_set(), &key(1), 3, t0());
        let mut other = bundle.clone();
        other.format = "visio-public/config-bundle/2".into();
        let err = Bundle::verify(&other.to_json(), &trusted).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported bundle format \"visio-public/config-bundle/2\"; this version reads \"visio-public/config-bundle/1\""
        );
        assert!(matches!(Bundle::verify("{", &trusted), Err(BundleError::Malformed(_))));
        assert!(Bundle::verify_update(&bundle.to_json(), &trusted, Some(3)).is_ok());
        let err = Bundle::verify_update(&bundle.to_json(), &trusted, Some(4)).unwrap_err();
        assert_eq!(err.to_string(), "version 3 is older than the running version 4; refusing to roll back");
    }

    #[test]
    fn certificates_from_files_are_embedded_in_the_bundle() {
        let dir = tempfile::TempDir::new().unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("hub.pem"), pem).unwrap();
        let mut sources = Sources::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config")).unwrap();
        for (stem, text) in &mut sources.kiosks {
            if stem == "besse" {
                *text = text.replace("\"trust\": \"system\"", "\"trust\": { \"pem_file\": \"hub.pem\" }");
            }
        }
        let set = ConfigSet::from_sources(&sources, Some(dir.path())).unwrap();
        let payload = set.to_payload();
        assert_eq!(payload["kiosks"]["besse"]["hub"]["trust"], serde_json::json!({ "pem": pem }));
        // Without the folder, a file reference cannot be resolved.
        let errors = ConfigSet::from_sources(&sources, None).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["kiosks/besse.json:29:28 hub.trust.pem_file: a signed bundle must embed the certificate (\"pem\")"]
        );
    }
}
