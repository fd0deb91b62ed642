//! The hub's records in SQLite: agent accounts and their browser sessions,
//! the kiosk registry, and the session log (metadata only, never content).
//!
//! Calls are synchronous and short; async code runs them through
//! [`Store::call`] on tokio's blocking pool. The schema is versioned with
//! `PRAGMA user_version` and migrated on open.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use visio_protocol::{AgentLogin, KioskId, Secret, ServiceId};

use crate::core::HubEvent;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("agent {0:?} already exists")]
    AgentExists(String),
    #[error("the database's schema version {found} is newer than this hub understands ({supported}); upgrade the hub")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the store's worker stopped: {0}")]
    Worker(String),
}

/// An enrolled kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskRecord {
    pub id: KioskId,
    pub site: String,
}

/// An agent account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub login: AgentLogin,
    pub display_name: String,
    pub services: Vec<ServiceId>,
}

/// One line of the session log (shared with `visio-admin stats`).
pub use visio_protocol::SessionRecord;

const MIGRATIONS: &[&str] = &[
    // 1: first schema.
    "CREATE TABLE kiosks (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL
     );
     CREATE TABLE agents (
        login TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        services TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE agent_sessions (
        token_sha256 TEXT PRIMARY KEY,
        login TEXT NOT NULL REFERENCES agents(login) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE session_log (
        id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        service TEXT NOT NULL,
        agent_login TEXT,
        queued_at INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at INTEGER,
        end_reason TEXT,
        rating TEXT
     );
     CREATE INDEX session_log_queued_at ON session_log(queued_at);",
];

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::init(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        Ok(Store { conn: Arc::new(Mutex::new(conn)) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // write is one statement or transaction), so a poisoned lock is
        // still safe to use.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on tokio's blocking pool: for async callers.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(|e| StoreError::Worker(e.to_string()))?
    }

    // -- kiosks -------------------------------------------------------------

    /// Enrolls a kiosk, or re-enrolls it with a new secret (the old one
    /// stops working). Returns the secret: it is shown once and only its
    /// hash is kept.
    pub fn enroll_kiosk(&self, id: &KioskId, site: &str, now: Timestamp) -> Result<Secret, StoreError> {
        let secret = random_token();
        self.lock().execute(
            "INSERT INTO kiosks (id, site, secret_sha256, enrolled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET site = excluded.site, secret_sha256 = excluded.secret_sha256,
                                           enrolled_at = excluded.enrolled_at",
            params![id.as_str(), site, sha256_hex(secret.expose()), now.as_millisecond()],
        )?;
        Ok(secret)
    }

    pub fn verify_kiosk(&self, id: &KioskId, secret: &Secret) -> Result<Option<KioskRecord>, StoreError> {
        let row: Option<(String, String)> = self
            .lock()
            .query_row("SELECT site, secret_sha256 FROM kiosks WHERE id = ?1", [id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.and_then(|(site, stored)| {
            constant_time_eq(stored.as_bytes(), sha256_hex(secret.expose()).as_bytes())
                .then(|| KioskRecord { id: id.clone(), site })
        }))
    }

    // -- agents -------------------------------------------------------------

    pub fn add_agent(
        &self,
        login: &AgentLogin,
        display_name: &str,
        password: &Secret,
        services: &[ServiceId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        let services = services.iter().map(ServiceId::as_str).collect::<Vec<_>>().join(",");
        let inserted = self.lock().execute(
            "INSERT INTO agents (login, display_name, password_hash, services, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(login) DO NOTHING",
            params![login.as_str(), display_name, hash, services, now.as_millisecond()],
        )?;
        if inserted == 0 {
            return Err(StoreError::AgentExists(login.to_string()));
        }
        Ok(())
    }

    /// Checks a login and password. An unknown login costs the same hashing
    /// work as a wrong password, so timing does not tell them apart.
    pub fn verify_agent(&self, login: &AgentLogin, password: &Secret) -> Result<Option<AgentRecord>, StoreError> {
        let row: Option<(String, String, String)> = self
            .lock()
            .query_row(
                "SELECT display_name, password_hash, services FROM agents WHERE login = ?1",
                [login.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((display_name, hash, services)) = row else {
            let _ = verify_password(password, dummy_hash());
            return Ok(None);
        };
        Ok(verify_password(password, &hash).then(|| AgentRecord {
            login: login.clone(),
            display_name,
            services: split_services(&services),
        }))
    }

    /// Opens a browser session for an agent; returns the cookie value.
    pub fn create_agent_session(
        &self,
        login: &AgentLogin,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Secret, StoreError> {
        let token = random_token();
        let conn = self.lock();
        conn.execute("DELETE FROM agent_sessions WHERE expires_at <= ?1", [now.as_millisecond()])?;
        conn.execute(
            "INSERT INTO agent_sessions (token_sha256, login, expires_at) VALUES (?1, ?2, ?3)",
            params![sha256_hex(token.expose()), login.as_str(), (now + lifetime).as_millisecond()],
        )?;
        Ok(token)
    }

    pub fn agent_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT a.login, a.display_name, a.services FROM agent_sessions s
                 JOIN agents a ON a.login = s.login
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
                params![sha256_hex(token.expose()), now.as_millisecond()],
                |r| {
                    Ok(AgentRecord {
                        login: AgentLogin(r.get(0)?),
                        display_name: r.get(1)?,
                        services: split_services(&r.get::<_, String>(2)?),
                    })
                },
            )
            .optional()?)
    }

    pub fn end_agent_session(&self, token: &Secret) -> Result<(), StoreError> {
        self.lock().execute("DELETE FROM agent_sessions WHERE token_sha256 = ?1", [sha256_hex(token.expose())])?;
        Ok(())
    }

    // -- session log --------------------------------------------------------

    pub fn record(&self, event: &HubEvent) -> Result<(), StoreError> {
        let conn = self.lock();
        match event {
            HubEvent::Queued { session, kiosk_id, service, at } => conn.execute(
                "INSERT INTO session_log (id, kiosk_id, service, queued_at) VALUES (?1, ?2, ?3, ?4)",
                params![session.as_str(), kiosk_id.as_str(), service.as_str(), at.as_millisecond()],
            )?,
            HubEvent::Answered { session, agent, at } => conn.execute(
                "UPDATE session_log SET agent_login = ?2, answered_at = ?3 WHERE id = ?1",
                params![session.as_str(), agent.as_str(), at.as_millisecond()],
            )?,
            HubEvent::Ended { session, reason, at } => conn.execute(
                "UPDATE session_log SET ended_at = ?2, end_reason = ?3 WHERE id = ?1",
                params![session.as_str(), at.as_millisecond(), reason.as_str()],
            )?,
            HubEvent::Rated { session, rating } => conn.execute(
                "UPDATE session_log SET rating = ?2 WHERE id = ?1",
                params![session.as_str(), rating.as_str()],
            )?,
        };
        Ok(())
    }

    /// The whole session log, oldest first.
    pub fn session_log(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, kiosk_id, service, agent_login, queued_at, answered_at, ended_at, end_reason, rating
             FROM session_log ORDER BY queued_at, id",
        )?;
        let ts = |ms: Option<i64>| ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
        let rows = stmt.query_map([], |r| {
            Ok(SessionRecord {
                session: r.get(0)?,
                kiosk_id: r.get(1)?,
                service: r.get(2)?,
                agent: r.get(3)?,
                queued_at: ts(r.get(4)?).unwrap_or(Timestamp::UNIX_EPOCH),
                answered_at: ts(r.get(5)?),
                ended_at: ts(r.get(6)?),
                end_reason: r.get(7)?,
                rating: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew { found: version, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
    }
    Ok(())
}

/// 256 random bits, URL-safe: kiosk secrets and session cookies.
fn random_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn split_services(s: &str) -> Vec<ServiceId> {
    s.split(',').filter(|s| !s.is_empty()).map(ServiceId::from).collect()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes): OWASP's minimum.
fn hash_password(password: &Secret) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

fn verify_password(password: &Secret, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn kiosk_secret_is_checked_and_re_enrolment_rotates_it() {
        let store = Store::open_in_memory().unwrap();
        let id = KioskId::from("besse");
        let first = store.enroll_kiosk(&id, "Mairie de Besse", now()).unwrap();
        assert_eq!(store.verify_kiosk(&id, &first).unwrap().unwrap().site, "Mairie de Besse");
        assert!(store.verify_kiosk(&id, &Secret("wrong".into())).unwrap().is_none());
        assert!(store.verify_kiosk(&"other".into(), &first).unwrap().is_none());
        let second = store.enroll_kiosk(&id, "Mairie de Besse", now()).unwrap();
        assert!(store.verify_kiosk(&id, &first).unwrap().is_none(), "old secret revoked");
        assert!(store.verify_kiosk(&id, &second).unwrap().is_some());
    }

    #[test]
    fn agent_password_and_sessions() {
        let store = Store::open_in_memory().unwrap();
        let login = AgentLogin::from("claire");
        let pw = Secret("correct horse".into());
        store.add_agent(&login, "Claire", &pw, &["caf".into(), "msa".into()], now()).unwrap();
        assert!(matches!(store.add_agent(&login, "x", &pw, &[], now()), Err(StoreError::AgentExists(_))));
        let agent = store.verify_agent(&login, &pw).unwrap().unwrap();
        assert_eq!(agent.services, vec![ServiceId::from("caf"), ServiceId::from("msa")]);
        assert!(store.verify_agent(&login, &Secret("nope".into())).unwrap().is_none());
        assert!(store.verify_agent(&"ghost".into(), &pw).unwrap().is_none());

        let token = store.create_agent_session(&login, now(), SignedDuration::from_hours(1)).unwrap();
        assert_eq!(store.agent_for_session(&token, now()).unwrap(), Some(agent));
        let later = now() + SignedDuration::from_hours(2);
        assert!(store.agent_for_session(&token, later).unwrap().is_none(), "expired");
        store.end_agent_session(&token).unwrap();
        assert!(store.agent_for_session(&token, now()).unwrap().is_none(), "logged out");
    }

    #[test]
    fn the_password_hash_is_argon2id() {
        let store = Store::open_in_memory().unwrap();
        store.add_agent(&"a".into(), "A", &Secret("pw".into()), &[], now()).unwrap();
        let hash: String =
            store.lock().query_row("SELECT password_hash FROM agents", [], |r| r.get(0)).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
    }

    #[test]
    fn reopening_keeps_data_and_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        let secret = Store::open(&path).unwrap().enroll_kiosk(&"k".into(), "S", now()).unwrap();
        let store = Store::open(&path).unwrap();
        assert!(store.verify_kiosk(&"k".into(), &secret).unwrap().is_some());
    }
}
