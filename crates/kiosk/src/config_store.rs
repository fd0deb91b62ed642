//! The kiosk's signed configuration on disk: verify what the hub sends,
//! apply it atomically, and keep the last good one.
//!
//! A bundle is applied only when it verifies against the admin keys the
//! kiosk was installed with (never keys the hub hands out), describes this
//! kiosk, and is not older than the running one
//! ([`Bundle::verify_update`]). It is then written to a temporary file in
//! the same folder, flushed to disk, and renamed over the last good one:
//! a power cut leaves either the old file or the new one, never half of
//! one. A refused bundle changes nothing on disk or in memory. At start,
//! the kiosk runs on the last good file without needing the hub.
//!
//! The highest version ever accepted is also kept in a file of its own
//! ([`HIGH_WATER`]), written before the bundle: when the bundle file is
//! damaged and set aside, an older bundle (replayed, or put on the disk)
//! is still refused.
//!
//! ```no_run
//! # use visio_kiosk::config_store::ConfigStore;
//! # fn fetched_text() -> String { String::new() }
//! # let keys = vec![];
//! let mut store = ConfigStore::open("/var/lib/visio-kiosk".as_ref(), keys, "besse".into()).unwrap();
//! if let Some(problem) = store.load_warning() {
//!     eprintln!("{problem}");
//! }
//! match store.apply(&fetched_text()) {
//!     Ok(applied) => println!("running version {}", applied.version),
//!     Err(e) => eprintln!("{e}"), // report e.to_refusal() to the hub
//! }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use visio_config::bundle::{Bundle, BundleError, VerifyingKey};
use visio_config::{ConfigSet, Kiosk};
use visio_protocol::{ConfigRefusal, ConfigRefusalCode, KioskId};

/// The last good bundle, in the store's folder.
pub const FILE: &str = "config.signed.json";
/// Where a last good file that no longer verifies is moved at start.
pub const SET_ASIDE: &str = "config.signed.json.bad";
/// The highest bundle version this kiosk ever accepted, in decimal: the
/// rollback floor, kept apart from the bundle so it outlives its damage.
pub const HIGH_WATER: &str = "config.version";
/// Longest refusal message sent to the hub (the hub keeps 2000).
const MAX_REFUSAL_CHARS: usize = 2000;

/// A configuration the kiosk verified and runs.
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: u64,
    pub payload_sha256: String,
    pub key_id: String,
    /// The whole region's configuration (the catalogue is shared).
    pub config: ConfigSet,
    kiosk_id: KioskId,
}

impl Applied {
    /// This kiosk's part of the configuration.
    pub fn kiosk(&self) -> &Kiosk {
        // Invariant: checked when the bundle was accepted.
        self.config.kiosk(self.kiosk_id.as_str()).expect("an applied configuration describes this kiosk")
    }
}

/// Why a configuration was not applied, or the store could not work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigStoreError {
    /// The bundle failed verification: signer, signature, content or
    /// version.
    #[error("configuration refused: {0}")]
    Refused(#[from] BundleError),
    #[error("configuration refused: it describes no kiosk {kiosk_id:?} (it has: {known}); check this kiosk's id")]
    NotForThisKiosk { kiosk_id: String, known: String },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}; the previous configuration stays", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// The last good file no longer verifies (damaged, or signed by a key
    /// this kiosk no longer trusts). It was moved aside.
    #[error("the configuration on disk does not verify ({source}); it was moved to {}", set_aside.display())]
    Damaged { set_aside: PathBuf, source: BundleError },
}

impl ConfigStoreError {
    /// What to tell the hub (`config_refused`).
    pub fn to_refusal(&self) -> ConfigRefusal {
        let code = match self {
            ConfigStoreError::Refused(e) => match e {
                BundleError::Malformed(_) | BundleError::Key { .. } | BundleError::PublicKey(_) => {
                    ConfigRefusalCode::Malformed
                }
                BundleError::Format { .. } => ConfigRefusalCode::UnsupportedFormat,
                BundleError::UntrustedKey { .. } => ConfigRefusalCode::UntrustedKey,
                BundleError::BadSignature { .. } => ConfigRefusalCode::BadSignature,
                BundleError::HashMismatch => ConfigRefusalCode::HashMismatch,
                BundleError::Invalid(_) => ConfigRefusalCode::Invalid,
                BundleError::Rollback { .. } => ConfigRefusalCode::Rollback,
            },
            ConfigStoreError::NotForThisKiosk { .. } => ConfigRefusalCode::Invalid,
            ConfigStoreError::Read { .. } | ConfigStoreError::Write { .. } | ConfigStoreError::Damaged { .. } => {
                ConfigRefusalCode::Storage
            }
        };
        let mut message = self.to_string();
        if let Some((cut, _)) = message.char_indices().nth(MAX_REFUSAL_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        ConfigRefusal::new(code, message)
    }
}

/// The folder holding the last good configuration, and the keys that may
/// sign a new one.
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    trusted: Vec<VerifyingKey>,
    kiosk_id: KioskId,
    current: Option<Applied>,
    /// The highest version ever accepted ([`HIGH_WATER`]).
    high_water: Option<u64>,
    load_warning: Option<ConfigStoreError>,
}

impl ConfigStore {
    /// Opens (creating it if needed) the folder and loads the last good
    /// configuration, verified again with `trusted`. A file that no longer
    /// verifies is moved aside ([`ConfigStore::load_warning`] says why) and
    /// the kiosk starts without one; only an unusable folder is an error.
    pub fn open(dir: &Path, trusted: Vec<VerifyingKey>, kiosk_id: KioskId) -> Result<ConfigStore, ConfigStoreError> {
        create_private_dir(dir).map_err(|source| ConfigStoreError::Write { path: dir.to_owned(), source })?;
        let high_water = read_high_water(&dir.join(HIGH_WATER));
        let mut store =
            ConfigStore { dir: dir.to_owned(), trusted, kiosk_id, current: None, high_water: None, load_warning: None };
        match high_water {
            Ok(mark) => store.high_water = mark,
            // Only the kiosk writes it, atomically: damage means a failing
            // disk. The bundle's own version is the floor until the next one.
            Err(e) => tracing::warn!(error = %e, "the configuration version mark is unreadable; ignoring it"),
        }
        let path = store.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(source) => return Err(ConfigStoreError::Read { path, source }),
        };
        match store.check(&text, store.high_water) {
            Ok(applied) => store.current = Some(applied),
            Err(e) => {
                let source = match e {
                    ConfigStoreError::Refused(b) => b,
                    ConfigStoreError::NotForThisKiosk { .. } => BundleError::Malformed(e.to_string()),
                    other => return Err(other),
                };
                let set_aside = dir.join(SET_ASIDE);
                std::fs::rename(&path, &set_aside).map_err(|source| ConfigStoreError::Write { path: path.clone(), source })?;
                store.load_warning = Some(ConfigStoreError::Damaged { set_aside, source });
            }
        }
        Ok(store)
    }

    /// The configuration running now, if any.
    pub fn current(&self) -> Option<&Applied> {
        self.current.as_ref()
    }

    pub fn version(&self) -> Option<u64> {
        self.current.as_ref().map(|a| a.version)
    }

    /// The lowest version this kiosk still accepts: the highest it ever
    /// accepted, even if that bundle is gone.
    pub fn floor(&self) -> Option<u64> {
        self.version().max(self.high_water)
    }

    /// Why the last good file found at start was not used.
    pub fn load_warning(&self) -> Option<&ConfigStoreError> {
        self.load_warning.as_ref()
    }

    /// Where the last good configuration lives.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Verifies `text` (a bundle as the hub served it) and, if it is good,
    /// makes it the running configuration, on disk first. On any error
    /// nothing changed.
    pub fn apply(&mut self, text: &str) -> Result<&Applied, ConfigStoreError> {
        let applied = self.check(text, self.floor())?;
        let unchanged = self.current.as_ref().is_some_and(|c| c.payload_sha256 == applied.payload_sha256 && c.version == applied.version);
        if !unchanged {
            // The mark first: a power cut between the two leaves a mark
            // above the file's version, which only refuses older bundles.
            if self.high_water.is_none_or(|mark| applied.version > mark) {
                self.write_file(HIGH_WATER, &format!("{}\n", applied.version))?;
                self.high_water = Some(applied.version);
            }
            self.write_file(FILE, text)?;
        }
        Ok(self.current.insert(applied))
    }

    fn check(&self, text: &str, running: Option<u64>) -> Result<Applied, ConfigStoreError> {
        let verified = Bundle::verify_update(text, &self.trusted, running)?;
        if verified.config.kiosk(self.kiosk_id.as_str()).is_none() {
            return Err(ConfigStoreError::NotForThisKiosk {
                kiosk_id: self.kiosk_id.to_string(),
                known: verified.config.kiosks.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        Ok(Applied {
            version: verified.version,
            payload_sha256: verified.payload_sha256,
            key_id: verified.key_id,
            config: verified.config,
            kiosk_id: self.kiosk_id.clone(),
        })
    }

    /// Temporary file in the same folder (same file system, so the rename
    /// is atomic), flushed, renamed over the last good one, and the folder
    /// flushed so the rename itself survives a power cut.
    fn write_file(&self, name: &str, text: &str) -> Result<(), ConfigStoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let target = self.dir.join(name);
        let temp = self.dir.join(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, &target)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        result.map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            ConfigStoreError::Write { path: target, source }
        })
    }
}

/// The rollback floor on disk; `None` when there is none yet.
fn read_high_water(path: &Path) -> Result<Option<u64>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| format!("{}: {:?} is not a version", path.display(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The folder, readable by the kiosk's user only: it holds TURN
/// credentials.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use visio_config::bundle::SigningKey;

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn demo() -> ConfigSet {
        ConfigSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config")).unwrap()
    }

    fn signed(seed: u8, version: u64) -> String {
        Bundle::sign(&demo(), &key(seed), version, Timestamp::now()).to_json()
    }

    fn store(dir: &Path) -> ConfigStore {
        ConfigStore::open(dir, vec![key(1).verifying_key()], "besse".into()).unwrap()
    }

    /// Everything in the folder, for "nothing else was left behind".
    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_good_bundle_is_applied_written_whole_and_found_again_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let mut s = store(&dir);
        assert!(s.current().is_none() && s.load_warning().is_none());
        let text = signed(1, 100);
        let applied = s.apply(&text).unwrap();
        assert_eq!(applied.version, 100);
        assert_eq!(applied.kiosk().site, "Mairie de Besse-et-Saint-Anastaise");
        assert_eq!(std::fs::read_to_string(dir.join(FILE)).unwrap(), text);
        assert_eq!(files(&dir), [FILE, HIGH_WATER], "no temporary file left behind");
        assert_eq!(std::fs::read_to_string(dir.join(HIGH_WATER)).unwrap(), "100\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(dir.join(FILE)).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // A restart without the hub runs on it.
        let again = store(&dir);
        assert_eq!(again.version(), Some(100));
        assert_eq!(again.current().unwrap().kiosk().id.as_str(), "besse");
        // A newer one replaces it.
        let mut again = again;
        assert_eq!(again.apply(&signed(1, 101)).unwrap().version, 101);
        assert_eq!(store(&dir).version(), Some(101));
    }

    #[test]
    fn bad_bundles_are_refused_with_their_reason_and_change_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = store(tmp.path());
        let good = signed(1, 100);
        s.apply(&good).unwrap();
        let invalid = {
            let mut payload = demo().to_payload();
            payload["kiosks"]["besse"]["services"] = serde_json::json!(["caf", "cpam2"]);
            Bundle::sign_payload(payload, &key(1), 102, Timestamp::now()).to_json()
        };
        let not_for_us = {
            let mut payload = demo().to_payload();
            payload["kiosks"].as_object_mut().unwrap().remove("besse");
            Bundle::sign_payload(payload, &key(1), 103, Timestamp::now()).to_json()
        };
        let unsigned = {
            let mut value: serde_json::Value = serde_json::from_str(&signed(1, 104)).unwrap();
            value.as_object_mut().unwrap().remove("signature");
            value.to_string()
        };
        let cases: Vec<(&str, String, ConfigRefusalCode, &str)> = vec![
            ("tampered", signed(1, 101).replacen("\"version\": 101", "\"version\": 105", 1), ConfigRefusalCode::BadSignature,
             "configuration refused: bad signature: the bundle was changed after it was signed"),
            ("other key", signed(2, 101), ConfigRefusalCode::UntrustedKey, "which is not a trusted admin key (trusted: "),
            ("invalid", invalid, ConfigRefusalCode::Invalid, "kiosks/besse.json services[1]: unknown service \"cpam2\""),
            ("not for this kiosk", not_for_us, ConfigRefusalCode::Invalid, "it describes no kiosk \"besse\" (it has: ardes, demo-kiosk,"),
            ("older", signed(1, 99), ConfigRefusalCode::Rollback, "version 99 is older than the running version 100; refusing to roll back"),
            ("unsigned", unsigned, ConfigRefusalCode::Malformed, "missing field `signature`"),
            ("not JSON", "<html>502 Bad Gateway</html>".into(), ConfigRefusalCode::Malformed, "not a configuration bundle"),
        ];
        for (what, text, code, says) in cases {
            let err = s.apply(&text).unwrap_err();
            let refusal = err.to_refusal();
            assert_eq!(refusal.code, code, "{what}: {err}");
            assert!(refusal.message.contains(says), "{what}: {}", refusal.message);
            assert_eq!(s.version(), Some(100), "{what}: the running configuration stays");
            assert_eq!(std::fs::read_to_string(s.path()).unwrap(), good, "{what}: the file stays");
        }
        assert_eq!(files(tmp.path()), [FILE, HIGH_WATER]);
    }

    #[test]
    fn a_disk_that_refuses_the_write_keeps_the_running_configuration() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let mut s = store(&dir);
        s.apply(&signed(1, 100)).unwrap();
        // The folder is gone and a file stands in its place: no temporary
        // file can be created (permissions would not stop root).
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "not a folder").unwrap();
        let err = s.apply(&signed(1, 101)).unwrap_err();
        assert!(matches!(err, ConfigStoreError::Write { .. }), "{err}");
        assert_eq!(err.to_refusal().code, ConfigRefusalCode::Storage);
        assert!(err.to_string().ends_with("; the previous configuration stays"), "{err}");
        assert_eq!(s.version(), Some(100));
    }

    #[test]
    fn a_last_good_file_that_no_longer_verifies_is_set_aside_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(FILE), signed(2, 100)).unwrap();
        let s = store(tmp.path());
        assert_eq!(s.version(), None, "not run: signed by a key this kiosk does not trust");
        let warning = s.load_warning().unwrap().to_string();
        assert!(warning.starts_with("the configuration on disk does not verify (signed by key "), "{warning}");
        assert!(warning.ends_with(&format!("it was moved to {}", tmp.path().join(SET_ASIDE).display())), "{warning}");
        assert_eq!(files(tmp.path()), [SET_ASIDE]);
        // The next good bundle from the hub is applied normally.
        let mut s = s;
        assert_eq!(s.apply(&signed(1, 50)).unwrap().version, 50);
    }

    /// Issue 21: setting a damaged file aside used to lower the floor to
    /// nothing, and the next (older) bundle was taken.
    #[test]
    fn an_older_bundle_is_refused_even_after_the_state_file_was_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = store(tmp.path());
        s.apply(&signed(1, 100)).unwrap();
        std::fs::write(tmp.path().join(FILE), "{ half a bundle").unwrap();
        let mut s = store(tmp.path());
        assert_eq!(s.version(), None);
        assert!(s.load_warning().is_some());
        assert_eq!(s.floor(), Some(100));
        let err = s.apply(&signed(1, 99)).unwrap_err();
        assert_eq!(err.to_refusal().code, ConfigRefusalCode::Rollback, "{err}");
        assert_eq!(s.apply(&signed(1, 100)).unwrap().version, 100, "the same version comes back");

        // An older, validly signed bundle put on the disk is set aside at start.
        std::fs::write(tmp.path().join(FILE), signed(1, 90)).unwrap();
        let s = store(tmp.path());
        assert_eq!(s.version(), None);
        let warning = s.load_warning().unwrap().to_string();
        assert!(warning.contains("version 90 is older than the running version 100"), "{warning}");
    }

    #[test]
    fn applying_the_running_version_again_is_harmless() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = store(tmp.path());
        let text = signed(1, 100);
        s.apply(&text).unwrap();
        let before = std::fs::metadata(s.path()).unwrap().modified().unwrap();
        assert_eq!(s.apply(&text).unwrap().version, 100);
        assert_eq!(std::fs::metadata(s.path()).unwrap().modified().unwrap(), before, "not rewritten");
    }
}
