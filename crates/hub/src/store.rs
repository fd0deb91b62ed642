//! The hub's records in SQLite: agent accounts and their browser sessions,
//! the kiosk registry, the session log (metadata only, never content),
//! what kiosks report about themselves, the published configuration, and
//! the admin API's tokens and trusted signing keys.
//!
//! Calls are synchronous and short; async code runs them through
//! [`Store::call`] on tokio's blocking pool. The schema is versioned with
//! `PRAGMA user_version` and migrated on open.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use visio_config::bundle::{self, VerifyingKey};
use visio_protocol::admin::{PublishedConfig, RefusalRecord};
use visio_protocol::{AgentLogin, ConfigRefusalCode, DeviceHealth, KioskId, Secret, ServiceId, SessionId};

use crate::core::{HubEvent, RestoredCall, TokenHash};

mod backend;
pub mod postgres;
pub mod revocation;

pub use backend::Backend;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("agent {0:?} already exists")]
    AgentExists(String),
    #[error("the database's schema version {found} is newer than this hub understands ({supported}); upgrade the hub")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the store's worker stopped: {0}")]
    Worker(String),
    #[error("stored value is damaged: {0}")]
    Damaged(String),
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

/// What a kiosk last reported: heartbeat and configuration refusal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KioskStatus {
    pub last_heartbeat_at: Option<Timestamp>,
    pub app_version: Option<String>,
    pub config_version: Option<u64>,
    pub devices: Option<DeviceHealth>,
    pub rtt_ms: Option<u32>,
    pub last_refusal: Option<RefusalRecord>,
}

/// The published configuration: its description and the bundle's exact
/// bytes, as uploaded and as kiosks get them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    pub meta: PublishedConfig,
    pub bundle: String,
}

/// What became of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    Published,
    /// The same version with the same content was already published.
    AlreadyPublished,
    /// The hub serves a newer version, or the same version with other
    /// content: nothing changed.
    Conflict { current: u64, current_sha256: String },
}

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
    // 2: fleet health, the published configuration, the admin API.
    "CREATE TABLE kiosk_status (
        kiosk_id TEXT PRIMARY KEY,
        last_heartbeat_at INTEGER,
        app_version TEXT,
        config_version INTEGER,
        devices TEXT,
        rtt_ms INTEGER,
        refusal_version INTEGER,
        refusal_code TEXT,
        refusal_message TEXT,
        refusal_at INTEGER
     );
     CREATE TABLE published_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL,
        key_id TEXT NOT NULL,
        bundle TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        published_by TEXT NOT NULL
     );
     CREATE TABLE admin_tokens (
        name TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE admin_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        added_at INTEGER NOT NULL
     );",
    // 3: calls outlive a hub restart: the resume token's hash while the
    // call is open, and when the hub last ran or stopped.
    "ALTER TABLE session_log ADD COLUMN resume_sha256 TEXT;
     CREATE TABLE hub_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        alive_at INTEGER,
        stopped_at INTEGER
     );",
    // 4: revocation reaches live sockets (store/revocation.rs).
    "ALTER TABLE agents ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE kiosks ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE revocations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        at INTEGER NOT NULL
     );",
];

/// What a starting hub takes over from the previous process on the same
/// store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// When the previous process stopped: its recorded stop time after a
    /// graceful shutdown; after a hard kill, the latest sign of life it
    /// left (its last "alive" stamp or session-log write). `None` on a
    /// fresh store.
    pub stopped_at: Option<Timestamp>,
    /// Calls answered and not ended, with their resume token's hash.
    pub calls: Vec<RestoredCall>,
    /// Waits and token-less calls left open by a hard kill, now ended
    /// (`hub_shutdown` at `stopped_at`).
    pub closed: usize,
}

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
    /// Enrols a kiosk, or re-enrols it: a new secret, enabled again, and
    /// the connections made with the old one closed.
    pub fn enroll_kiosk(&self, id: &KioskId, site: &str, now: Timestamp) -> Result<Secret, StoreError> {
        let secret = random_token();
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO kiosks (id, site, secret_sha256, enrolled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET site = excluded.site, secret_sha256 = excluded.secret_sha256,
                                           enrolled_at = excluded.enrolled_at, disabled = 0",
            params![id.as_str(), site, sha256_hex(secret.expose()), now.as_millisecond()],
        )?;
        revocation::record(&tx, revocation::Kind::Kiosk, id.as_str(), now)?;
        tx.commit()?;
        Ok(secret)
    }

    pub fn verify_kiosk(&self, id: &KioskId, secret: &Secret) -> Result<Option<KioskRecord>, StoreError> {
        let row: Option<(String, String)> = self
            .lock()
            .query_row("SELECT site, secret_sha256 FROM kiosks WHERE id = ?1 AND disabled = 0", [id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.and_then(|(site, stored)| {
            constant_time_eq(stored.as_bytes(), sha256_hex(secret.expose()).as_bytes())
                .then(|| KioskRecord { id: id.clone(), site })
        }))
    }

    /// Every enrolled kiosk, by id.
    pub fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, site FROM kiosks ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok(KioskRecord { id: KioskId(r.get(0)?), site: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count_kiosks(&self) -> Result<usize, StoreError> {
        Ok(self.lock().query_row("SELECT COUNT(*) FROM kiosks", [], |r| r.get::<_, i64>(0))? as usize)
    }

    /// What each kiosk last reported, by id.
    pub fn kiosk_statuses(&self) -> Result<Vec<(KioskId, KioskStatus)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT kiosk_id, last_heartbeat_at, app_version, config_version, devices, rtt_ms,
                    refusal_version, refusal_code, refusal_message, refusal_at
             FROM kiosk_status ORDER BY kiosk_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, heartbeat_at, app_version, config_version, devices, rtt_ms, r_version, r_code, r_message, r_at) = row?;
            // A row this hub wrote always parses; a damaged one shows as
            // "not reported" rather than failing the whole fleet view.
            let devices = devices.and_then(|d| serde_json::from_str(&d).ok());
            let code = r_code.and_then(|c| serde_json::from_value::<ConfigRefusalCode>(serde_json::Value::String(c)).ok());
            let last_refusal = match (r_version, code, r_message, r_at.and_then(ms)) {
                (Some(version), Some(code), Some(message), Some(at)) => {
                    Some(RefusalRecord { version: version as u64, code, message, at })
                }
                _ => None,
            };
            out.push((KioskId(id), KioskStatus {
                last_heartbeat_at: heartbeat_at.and_then(ms),
                app_version,
                config_version: config_version.map(|v| v as u64),
                devices,
                rtt_ms: rtt_ms.and_then(|v| u32::try_from(v).ok()),
                last_refusal,
            }));
        }
        Ok(out)
    }

    // -- the admin API ------------------------------------------------------

    /// Creates (or replaces, revoking the old one) the admin token `name`
    /// and returns it: shown once, only its hash is kept.
    pub fn create_admin_token(&self, name: &str, now: Timestamp) -> Result<Secret, StoreError> {
        let token = random_token();
        self.lock().execute(
            "INSERT INTO admin_tokens (name, token_sha256, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET token_sha256 = excluded.token_sha256, created_at = excluded.created_at",
            params![name, sha256_hex(token.expose()), now.as_millisecond()],
        )?;
        Ok(token)
    }

    /// The name of the admin token, if `token` is one.
    pub fn verify_admin_token(&self, token: &Secret) -> Result<Option<String>, StoreError> {
        // Looked up by hash: equal hashes of a 256-bit random token leak
        // nothing useful through timing.
        Ok(self
            .lock()
            .query_row("SELECT name FROM admin_tokens WHERE token_sha256 = ?1", [sha256_hex(token.expose())], |r| r.get(0))
            .optional()?)
    }

    pub fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.lock().execute("DELETE FROM admin_tokens WHERE name = ?1", [name])? > 0)
    }

    /// Trusts an admin signing key for uploads; returns its key id.
    pub fn trust_admin_key(&self, key: &VerifyingKey, now: Timestamp) -> Result<String, StoreError> {
        let id = bundle::key_id(key);
        self.lock().execute(
            "INSERT INTO admin_keys (key_id, public_key, added_at) VALUES (?1, ?2, ?3) ON CONFLICT(key_id) DO NOTHING",
            params![id, bundle::public_key_text(key), now.as_millisecond()],
        )?;
        Ok(id)
    }

    pub fn distrust_admin_key(&self, key_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().execute("DELETE FROM admin_keys WHERE key_id = ?1", [key_id])? > 0)
    }

    /// The admin public keys uploads must be signed with.
    pub fn admin_keys(&self) -> Result<Vec<VerifyingKey>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT public_key FROM admin_keys ORDER BY key_id")?;
        let texts = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        texts.iter().map(|t| bundle::parse_public_key(t).map_err(|e| StoreError::Damaged(e.to_string()))).collect()
    }

    /// Makes `config` the published configuration, unless the hub already
    /// serves a newer version or the same version with other content.
    /// One transaction: the previous configuration stays whole until the
    /// new one is in.
    pub fn publish_config(&self, config: &StoredConfig) -> Result<PublishOutcome, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<(i64, String)> = tx
            .query_row("SELECT version, payload_sha256 FROM published_config WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let meta = &config.meta;
        let version = i64::try_from(meta.version).map_err(|_| StoreError::Damaged("version out of range".into()))?;
        match current {
            Some((v, sha)) if v == version && sha == meta.payload_sha256 => return Ok(PublishOutcome::AlreadyPublished),
            Some((v, sha)) if v >= version => {
                return Ok(PublishOutcome::Conflict { current: v as u64, current_sha256: sha });
            }
            _ => {}
        }
        tx.execute(
            "INSERT INTO published_config (id, version, payload_sha256, key_id, bundle, published_at, published_by)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET version = excluded.version, payload_sha256 = excluded.payload_sha256,
                 key_id = excluded.key_id, bundle = excluded.bundle, published_at = excluded.published_at,
                 published_by = excluded.published_by",
            params![
                version,
                meta.payload_sha256,
                meta.key_id,
                config.bundle,
                meta.published_at.as_millisecond(),
                meta.published_by
            ],
        )?;
        tx.commit()?;
        Ok(PublishOutcome::Published)
    }

    /// The published configuration, if any.
    pub fn published_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT version, payload_sha256, key_id, bundle, published_at, published_by FROM published_config WHERE id = 1",
                [],
                |r| {
                    let bundle: String = r.get(3)?;
                    Ok(StoredConfig {
                        meta: PublishedConfig {
                            version: r.get::<_, i64>(0)? as u64,
                            payload_sha256: r.get(1)?,
                            key_id: r.get(2)?,
                            published_at: ms(r.get(4)?).unwrap_or(Timestamp::UNIX_EPOCH),
                            published_by: r.get(5)?,
                            size: bundle.len() as u64,
                            announced_to: None,
                        },
                        bundle,
                    })
                },
            )
            .optional()?)
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
                "SELECT display_name, password_hash, services FROM agents WHERE login = ?1 AND disabled = 0",
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
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2 AND a.disabled = 0",
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
        record_on(&self.lock(), event)
    }

    /// Writes `events` in order, all or none, with one commit: a burst of
    /// heartbeats costs one fsync instead of one each.
    pub fn record_all(&self, events: &[HubEvent]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for event in events {
            record_on(&tx, event)?;
        }
        tx.commit()?;
        Ok(())
    }

    // -- hub restarts -------------------------------------------------------

    /// The hub still runs at `at`.
    pub fn mark_alive(&self, at: Timestamp) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO hub_state (id, alive_at) VALUES (1, ?1)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at",
            [at.as_millisecond()],
        )?;
        Ok(())
    }

    /// The hub stops at `at` (graceful shutdown).
    pub fn mark_stopped(&self, at: Timestamp) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO hub_state (id, alive_at, stopped_at) VALUES (1, ?1, ?1)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at, stopped_at = excluded.stopped_at",
            [at.as_millisecond()],
        )?;
        Ok(())
    }

    /// At start: what the previous process left open. Open calls with a
    /// token are returned for the core to hold; waits and token-less calls
    /// are ended (`hub_shutdown`, when the previous process stopped).
    /// Marks this process as running. One transaction.
    pub fn recover(&self, now: Timestamp) -> Result<Recovered, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (alive, stopped): (Option<i64>, Option<i64>) = tx
            .query_row("SELECT alive_at, stopped_at FROM hub_state WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((None, None));
        let last_write: Option<i64> = tx.query_row(
            "SELECT MAX(t) FROM (
                 SELECT MAX(MAX(queued_at, COALESCE(answered_at, 0), COALESCE(ended_at, 0))) AS t FROM session_log
                 UNION ALL SELECT MAX(last_heartbeat_at) FROM kiosk_status)",
            [],
            |r| r.get(0),
        )?;
        // After a hard kill there is no stop time: the latest sign of life
        // stands for it (at most ALIVE_EVERY early, never before a record
        // the process wrote).
        let stopped_ms = stopped.or(match (alive, last_write) {
            (Some(a), Some(w)) => Some(a.max(w)),
            (a, w) => a.or(w),
        });
        let calls = {
            let mut stmt = tx.prepare(
                "SELECT s.id, s.kiosk_id, COALESCE(k.site, s.kiosk_id), s.service, s.agent_login,
                        COALESCE(a.display_name, s.agent_login), s.queued_at, s.answered_at, s.resume_sha256
                 FROM session_log s
                 LEFT JOIN kiosks k ON k.id = s.kiosk_id
                 LEFT JOIN agents a ON a.login = s.agent_login
                 WHERE s.ended_at IS NULL AND s.answered_at IS NOT NULL AND s.agent_login IS NOT NULL
                   AND s.resume_sha256 IS NOT NULL
                 ORDER BY s.queued_at, s.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })?;
            let mut calls = Vec::new();
            for row in rows {
                let (session, kiosk_id, site, service, agent, agent_name, queued, answered, hash) = row?;
                let (Some(queued_at), Some(answered_at), Some(resume)) =
                    (ms(queued), ms(answered), TokenHash::from_hex(&hash))
                else {
                    return Err(StoreError::Damaged(format!("session {session} has unreadable times or token hash")));
                };
                calls.push(RestoredCall {
                    session: SessionId(session),
                    kiosk_id: KioskId(kiosk_id),
                    site,
                    service: ServiceId(service),
                    agent: AgentLogin(agent),
                    agent_name,
                    queued_at,
                    answered_at,
                    resume,
                });
            }
            calls
        };
        let end_ms = stopped_ms.unwrap_or(now.as_millisecond());
        let closed = tx.execute(
            "UPDATE session_log
             SET ended_at = MAX(?1, queued_at, COALESCE(answered_at, 0)), end_reason = 'hub_shutdown', resume_sha256 = NULL
             WHERE ended_at IS NULL AND (answered_at IS NULL OR agent_login IS NULL OR resume_sha256 IS NULL)",
            [end_ms],
        )?;
        tx.execute(
            "INSERT INTO hub_state (id, alive_at, stopped_at) VALUES (1, ?1, NULL)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at, stopped_at = NULL",
            [now.as_millisecond()],
        )?;
        tx.commit()?;
        Ok(Recovered { stopped_at: stopped_ms.and_then(ms), calls, closed })
    }

    /// Whether a session id of the log starts with `prefix-`: a new
    /// process must pick a prefix no earlier one used.
    pub fn session_prefix_used(&self, prefix: &str) -> Result<bool, StoreError> {
        let pattern = format!("{prefix}-");
        Ok(self.lock().query_row(
            "SELECT EXISTS (SELECT 1 FROM session_log WHERE substr(id, 1, length(?1)) = ?1)",
            [pattern],
            |r| r.get::<_, bool>(0),
        )?)
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

fn ms(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// 256 random bits, URL-safe: kiosk secrets, session cookies, admin tokens.
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

/// One session-log event or kiosk report, on a connection or in a
/// transaction.
fn record_on(conn: &Connection, event: &HubEvent) -> Result<(), StoreError> {
    match event {
        HubEvent::Queued { session, kiosk_id, service, at } => conn.execute(
            "INSERT INTO session_log (id, kiosk_id, service, queued_at) VALUES (?1, ?2, ?3, ?4)",
            params![session.as_str(), kiosk_id.as_str(), service.as_str(), at.as_millisecond()],
        )?,
        HubEvent::Answered { session, agent, at, resume } => conn.execute(
            "UPDATE session_log SET agent_login = ?2, answered_at = ?3, resume_sha256 = ?4 WHERE id = ?1",
            params![session.as_str(), agent.as_str(), at.as_millisecond(), resume.to_hex()],
        )?,
        // Ended once: a later end (a bug, or two processes) never
        // rewrites the first. The token is worthless from now on.
        HubEvent::Ended { session, reason, at } => conn.execute(
            "UPDATE session_log SET ended_at = ?2, end_reason = ?3, resume_sha256 = NULL
             WHERE id = ?1 AND ended_at IS NULL",
            params![session.as_str(), at.as_millisecond(), reason.as_str()],
        )?,
        HubEvent::Rated { session, rating } => conn.execute(
            "UPDATE session_log SET rating = ?2 WHERE id = ?1",
            params![session.as_str(), rating.as_str()],
        )?,
        HubEvent::Heartbeat { kiosk_id, at, report } => {
            let devices = report.devices.as_ref().map(|d| serde_json::to_string(d).unwrap_or_default());
            conn.execute(
                "INSERT INTO kiosk_status (kiosk_id, last_heartbeat_at, app_version, config_version, devices, rtt_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(kiosk_id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at,
                     app_version = excluded.app_version, config_version = excluded.config_version,
                     devices = excluded.devices, rtt_ms = excluded.rtt_ms",
                params![
                    kiosk_id.as_str(),
                    at.as_millisecond(),
                    report.app_version,
                    report.config_version.map(|v| v as i64),
                    devices,
                    report.rtt_ms
                ],
            )?
        }
        // Applying the refused version or a newer one clears the
        // refusal: the problem it reported is over.
        HubEvent::ConfigApplied { kiosk_id, version, .. } => conn.execute(
            "INSERT INTO kiosk_status (kiosk_id, config_version) VALUES (?1, ?2)
             ON CONFLICT(kiosk_id) DO UPDATE SET config_version = excluded.config_version,
                 refusal_version = CASE WHEN refusal_version <= excluded.config_version THEN NULL ELSE refusal_version END,
                 refusal_code = CASE WHEN refusal_version <= excluded.config_version THEN NULL ELSE refusal_code END,
                 refusal_message = CASE WHEN refusal_version <= excluded.config_version THEN NULL ELSE refusal_message END,
                 refusal_at = CASE WHEN refusal_version <= excluded.config_version THEN NULL ELSE refusal_at END",
            params![kiosk_id.as_str(), *version as i64],
        )?,
        HubEvent::ConfigRefused { kiosk_id, version, reason, at } => conn.execute(
            "INSERT INTO kiosk_status (kiosk_id, refusal_version, refusal_code, refusal_message, refusal_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(kiosk_id) DO UPDATE SET refusal_version = excluded.refusal_version,
                 refusal_code = excluded.refusal_code, refusal_message = excluded.refusal_message,
                 refusal_at = excluded.refusal_at",
            params![kiosk_id.as_str(), *version as i64, reason.code.as_str(), reason.message, at.as_millisecond()],
        )?,
    };
    Ok(())
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

/// Argon2's working memory (19 MiB a check), kept for the next check.
/// Freed, glibc's malloc keeps such a block in the arena of the thread
/// that used it, so every blocking thread that once checked a password
/// held its own: 9–16 MiB of hub per agent signed in, in the load figures.
/// Kept here there are as many as checks ever ran at once (one per core,
/// `Backend::verify_agent`).
static ARGON2_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn verify_password(password: &Secret, hash: &str) -> bool {
    let pool = || ARGON2_MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    let mut memory = pool().pop().unwrap_or_default();
    let ok = verify_with_memory(password, hash, &mut memory).unwrap_or(false);
    // What the check left there derives from the password.
    memory.fill(Block::new());
    pool().push(memory);
    ok
}

/// What `Argon2::verify_password` does, in `memory`; `None` when the
/// stored hash cannot be read.
fn verify_with_memory(password: &Secret, hash: &str, memory: &mut Vec<Block>) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
    let params = Params::try_from(&parsed).ok()?;
    let expected = parsed.hash?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.expose().as_bytes(), salt, &mut out, &mut memory[..])
        .ok()?;
    Some(constant_time_eq(&out, expected.as_bytes()))
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
    fn passwords_are_checked_as_argon2_does_in_memory_kept_for_the_next_check() {
        use argon2::PasswordVerifier;
        let hash = hash_password(&Secret("right".into())).unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        for (password, expected) in [("right", true), ("wrong", false), ("", false), ("right ", false)] {
            assert_eq!(verify_password(&Secret(password.into()), &hash), expected, "{password:?}");
            assert_eq!(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(), expected);
        }
        // Another hash's parameters (m=8 MiB, t=1) are read from the hash.
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap())
            .hash_password(b"right", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_password(&Secret("right".into()), &other));
        assert!(!verify_password(&Secret("wrong".into()), &other));
        // A stored hash that cannot be read never matches.
        assert!(!verify_password(&Secret("right".into()), "$argon2id$v=19$garbage"));
        // Checks one after the other reuse one working memory, wiped.
        let pool = ARGON2_MEMORY.lock().unwrap();
        assert!(pool.iter().all(|m| m.len() >= Params::DEFAULT.block_count()));
        assert!(pool.iter().all(|m| m.iter().all(|b| b.as_ref().iter().all(|w| *w == 0))));
    }

    #[test]
    fn reopening_keeps_data_and_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        let secret = Store::open(&path).unwrap().enroll_kiosk(&"k".into(), "S", now()).unwrap();
        let store = Store::open(&path).unwrap();
        assert!(store.verify_kiosk(&"k".into(), &secret).unwrap().is_some());
    }

    fn stored(version: u64, sha: &str) -> StoredConfig {
        StoredConfig {
            meta: PublishedConfig {
                version,
                payload_sha256: sha.into(),
                key_id: "k".into(),
                published_at: now(),
                published_by: "ops".into(),
                size: 7,
                announced_to: None,
            },
            bundle: format!("bundle {version}"),
        }
    }

    #[test]
    fn only_a_newer_configuration_replaces_the_published_one() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.published_config().unwrap(), None);
        assert_eq!(store.publish_config(&stored(5, "a")).unwrap(), PublishOutcome::Published);
        assert_eq!(store.publish_config(&stored(5, "a")).unwrap(), PublishOutcome::AlreadyPublished);
        let conflict = PublishOutcome::Conflict { current: 5, current_sha256: "a".into() };
        assert_eq!(store.publish_config(&stored(5, "b")).unwrap(), conflict);
        assert_eq!(store.publish_config(&stored(4, "c")).unwrap(), conflict);
        assert_eq!(store.published_config().unwrap().unwrap().bundle, "bundle 5", "refusals change nothing");
        assert_eq!(store.publish_config(&stored(6, "d")).unwrap(), PublishOutcome::Published);
        let current = store.published_config().unwrap().unwrap();
        assert_eq!((current.meta.version, current.bundle.as_str(), current.meta.size), (6, "bundle 6", 8));
    }

    #[test]
    fn admin_tokens_are_checked_by_hash_and_replaced_or_revoked() {
        let store = Store::open_in_memory().unwrap();
        let first = store.create_admin_token("ops", now()).unwrap();
        assert_eq!(store.verify_admin_token(&first).unwrap().as_deref(), Some("ops"));
        assert_eq!(store.verify_admin_token(&Secret("guess".into())).unwrap(), None);
        let second = store.create_admin_token("ops", now()).unwrap();
        assert_eq!(store.verify_admin_token(&first).unwrap(), None, "replaced");
        assert!(store.revoke_admin_token("ops").unwrap());
        assert_eq!(store.verify_admin_token(&second).unwrap(), None, "revoked");
        let stored: i64 = store.lock().query_row("SELECT COUNT(*) FROM admin_tokens", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, 0);
    }

    #[test]
    fn admin_keys_round_trip() {
        let store = Store::open_in_memory().unwrap();
        let key = visio_config::bundle::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let id = store.trust_admin_key(&key, now()).unwrap();
        assert_eq!(store.admin_keys().unwrap(), vec![key]);
        assert!(store.distrust_admin_key(&id).unwrap());
        assert!(store.admin_keys().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_stays_until_that_version_or_a_newer_one_is_applied() {
        use crate::core::HeartbeatReport;
        use visio_protocol::ConfigRefusal;
        let store = Store::open_in_memory().unwrap();
        let kiosk = KioskId::from("besse");
        let refused = |version| HubEvent::ConfigRefused {
            kiosk_id: kiosk.clone(),
            version,
            reason: ConfigRefusal::new(ConfigRefusalCode::BadSignature, "bad signature"),
            at: now(),
        };
        let applied = |version| HubEvent::ConfigApplied { kiosk_id: kiosk.clone(), version, at: now() };
        let status = || store.kiosk_statuses().unwrap().pop().unwrap().1;
        store.record(&refused(7)).unwrap();
        let report = HeartbeatReport { app_version: "0.1.0".into(), config_version: Some(5), devices: None, rtt_ms: Some(30) };
        store.record(&HubEvent::Heartbeat { kiosk_id: kiosk.clone(), at: now(), report }).unwrap();
        let s = status();
        assert_eq!((s.config_version, s.rtt_ms, s.last_heartbeat_at), (Some(5), Some(30), Some(now())));
        assert_eq!(s.last_refusal.as_ref().map(|r| (r.version, r.code)), Some((7, ConfigRefusalCode::BadSignature)));
        store.record(&applied(6)).unwrap();
        assert!(status().last_refusal.is_some(), "6 is older than the refused 7");
        store.record(&applied(7)).unwrap();
        assert_eq!(status().last_refusal, None);
        assert_eq!(status().config_version, Some(7));
    }

    #[test]
    fn a_batch_of_the_session_log_lands_in_order_or_not_at_all() {
        use visio_protocol::EndReason;
        let store = Store::open_in_memory().unwrap();
        let at = |s: i64| now() + SignedDuration::from_secs(s);
        let queued = |id: &str| HubEvent::Queued { session: id.into(), kiosk_id: "besse".into(), service: "caf".into(), at: at(0) };
        // The end refers to the row queued earlier in the same batch.
        store
            .record_all(&[queued("s1"), HubEvent::Ended { session: "s1".into(), reason: EndReason::Cancelled, at: at(5) }])
            .unwrap();
        let log = store.session_log().unwrap();
        assert_eq!(
            log.iter().map(|r| (r.session.as_str(), r.ended_at, r.end_reason.as_deref())).collect::<Vec<_>>(),
            [("s1", Some(at(5)), Some("cancelled"))]
        );
        // The same session queued twice is refused, and the whole batch
        // with it: s2 is not half written.
        assert!(store.record_all(&[queued("s2"), queued("s1")]).is_err());
        assert_eq!(store.session_log().unwrap().len(), 1);
    }

    #[test]
    fn recovery_hands_back_open_calls_and_closes_what_a_dead_hub_left_waiting() {
        use crate::core::new_token;
        use visio_protocol::EndReason;
        let store = Store::open_in_memory().unwrap();
        store.enroll_kiosk(&"besse".into(), "Mairie de Besse", now()).unwrap();
        store.add_agent(&"claire".into(), "Claire (CAF)", &Secret("pw".into()), &["caf".into()], now()).unwrap();
        let at = |min: i64| now() + SignedDuration::from_mins(min);
        let queued = |id: &str, kiosk: &str, t| HubEvent::Queued { session: id.into(), kiosk_id: kiosk.into(), service: "caf".into(), at: t };
        let (_, hash) = new_token(&"a-000001".into());
        for e in [
            queued("a-000001", "besse", at(0)),
            HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
            queued("a-000002", "ardes", at(2)),
            queued("a-000003", "tauves", at(0)),
            HubEvent::Ended { session: "a-000003".into(), reason: EndReason::Cancelled, at: at(1) },
        ] {
            store.record(&e).unwrap();
        }
        assert!(store.session_prefix_used("a").unwrap());
        assert!(!store.session_prefix_used("b").unwrap());

        // A hard kill: no stop time; the last write (a-000002 queued) and
        // the alive stamp stand for it, whichever is later.
        store.mark_alive(at(1)).unwrap();
        let r = store.recover(at(10)).unwrap();
        assert_eq!(r.stopped_at, Some(at(2)));
        assert_eq!(r.closed, 1, "the wait is over");
        assert_eq!(r.calls.len(), 1);
        let call = &r.calls[0];
        assert_eq!((call.session.as_str(), call.site.as_str(), call.agent_name.as_str()), ("a-000001", "Mairie de Besse", "Claire (CAF)"));
        assert!(call.resume.matches(&hash));
        let log = store.session_log().unwrap();
        let wait = log.iter().find(|r| r.session == "a-000002").unwrap();
        assert_eq!((wait.ended_at, wait.end_reason.as_deref()), (Some(at(2)), Some("hub_shutdown")));

        // A graceful stop records its time; the call is still open.
        store.mark_stopped(at(20)).unwrap();
        let r = store.recover(at(21)).unwrap();
        assert_eq!((r.stopped_at, r.calls.len(), r.closed), (Some(at(20)), 1, 0));

        // Ended once: the first end stays, and the token hash goes.
        store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::AgentHungUp, at: at(30) }).unwrap();
        store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::HubShutdown, at: at(31) }).unwrap();
        let r = store.recover(at(40)).unwrap();
        assert!(r.calls.is_empty());
        let call = store.session_log().unwrap().into_iter().find(|r| r.session == "a-000001").unwrap();
        assert_eq!((call.ended_at, call.end_reason.as_deref()), (Some(at(30)), Some("agent_hung_up")));
    }
}
