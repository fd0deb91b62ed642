//! The hub's records in SQLite, on one box: one connection behind a
//! mutex; calls are synchronous and short, and async code runs them
//! through [`Store::call`] on tokio's blocking pool. The schema is
//! versioned with `PRAGMA user_version` and migrated on open.

use std::path::Path;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use visio_config::bundle::{self, VerifyingKey};
use visio_protocol::admin::{PublishedConfig, RefusalRecord};
use visio_protocol::{AgentLogin, ConfigRefusalCode, KioskId, Secret, ServiceId};

use super::records::{ms, split_services};
use super::secrets::{constant_time_eq, dummy_hash, hash_password, random_token, sha256_hex, verify_password};
use super::{AgentRecord, KioskRecord, KioskStatus, PublishOutcome, SessionRecord, StoreError, StoredConfig};
use crate::core::HubEvent;

mod appointments;
mod console;
mod restarts;
mod revocation;

/// The migrations, in order; `PRAGMA user_version` is how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_schema.sql"),
    include_str!("../../../migrations/sqlite/0002_fleet_and_admin.sql"),
    include_str!("../../../migrations/sqlite/0003_resume.sql"),
    include_str!("../../../migrations/sqlite/0004_revocations.sql"),
    include_str!("../../../migrations/sqlite/0005_admin_console.sql"),
    include_str!("../../../migrations/sqlite/0006_transfer.sql"),
    include_str!("../../../migrations/sqlite/0007_host_sites.sql"),
    include_str!("../../../migrations/sqlite/0008_last_call.sql"),
    include_str!("../../../migrations/sqlite/0009_appointments.sql"),
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
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
        revocation::record(&tx, crate::store::revocation::Kind::Kiosk, id.as_str(), now)?;
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
                    refusal_version, refusal_code, refusal_message, refusal_at, last_call
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
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, heartbeat_at, app_version, config_version, devices, rtt_ms, r_version, r_code, r_message, r_at, last_call) = row?;
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
                last_call: last_call.and_then(|l| serde_json::from_str(&l).ok()),
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
        // The one it replaces is kept, for the console to show what changed.
        tx.execute(
            "INSERT OR REPLACE INTO previous_config (id, version, payload_sha256, key_id, bundle, published_at, published_by)
             SELECT id, version, payload_sha256, key_id, bundle, published_at, published_by FROM published_config WHERE id = 1",
            [],
        )?;
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
        self.stored_config("published_config")
    }

    /// The configuration kept in `table`, one of the two single-row tables
    /// with the same columns (`published_config`, `previous_config`).
    fn stored_config(&self, table: &'static str) -> Result<Option<StoredConfig>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT version, payload_sha256, key_id, bundle, published_at, published_by FROM {table} WHERE id = 1"),
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
            "SELECT id, kiosk_id, service, agent_login, queued_at, answered_at, ended_at, end_reason, rating, previous_leg
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
                previous_leg: r.get(9)?,
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

/// One session-log event or kiosk report, on a connection or in a
/// One session-log event or kiosk report, on a connection or in a
/// transaction.
fn record_on(conn: &Connection, event: &HubEvent) -> Result<(), StoreError> {
    match event {
        HubEvent::Queued { session, kiosk_id, service, at } => conn.execute(
            "INSERT INTO session_log (id, kiosk_id, service, queued_at) VALUES (?1, ?2, ?3, ?4)",
            params![session.as_str(), kiosk_id.as_str(), service.as_str(), at.as_millisecond()],
        )?,
        HubEvent::Transferred { session, previous, kiosk_id, service, at } => conn.execute(
            "INSERT INTO session_log (id, kiosk_id, service, queued_at, previous_leg) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session.as_str(), kiosk_id.as_str(), service.as_str(), at.as_millisecond(), previous.as_str()],
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
            let last_call = report.last_call.as_ref().map(|l| serde_json::to_string(l).unwrap_or_default());
            // A kiosk that restarted has had no call yet: its last one stays.
            conn.execute(
                "INSERT INTO kiosk_status (kiosk_id, last_heartbeat_at, app_version, config_version, devices, rtt_ms, last_call)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(kiosk_id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at,
                     app_version = excluded.app_version, config_version = excluded.config_version,
                     devices = excluded.devices, rtt_ms = excluded.rtt_ms,
                     last_call = COALESCE(excluded.last_call, kiosk_status.last_call)",
                params![
                    kiosk_id.as_str(),
                    at.as_millisecond(),
                    report.app_version,
                    report.config_version.map(|v| v as i64),
                    devices,
                    report.rtt_ms,
                    last_call
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


#[cfg(test)]
mod tests;
