//! The hub's records in PostgreSQL, for several hub processes sharing one
//! database: the same tables and behaviours as the SQLite store, plus the
//! queue of waiting residents, whose "take next" is one atomic statement.
//!
//! Natively async (tokio-postgres over a small deadpool pool); password
//! hashing still runs on the blocking pool, as it is CPU work.
//! Migrations are `crates/hub/migrations/postgres/*.sql`, applied in order
//! under an advisory lock, so processes starting together migrate once.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::NoTls;
use visio_config::bundle::{self, VerifyingKey};
use visio_protocol::admin::{PublishedConfig, RefusalRecord};
use visio_protocol::{AgentLogin, ConfigRefusalCode, KioskId, Secret, ServiceId};

use super::records::{ms, split_services};
use super::secrets::{constant_time_eq, dummy_hash, hash_password, random_token, sha256_hex, verify_password};
use super::{AgentRecord, KioskRecord, KioskStatus, PublishOutcome, StoreError, StoredConfig};
pub use crate::core::QueueEntry;

mod appointments;
mod cluster;
mod console;
mod revocation;
mod session_log;

pub use cluster::Liveness;

/// The migrations, in order; the schema's version is how many have run.
/// Any constant, as long as nothing else in the database uses it: the
/// advisory lock that makes concurrent migrations run one at a time.
const MIGRATION_LOCK: i64 = 0x7669_7369_6f00_0001;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_schema.sql"),
    include_str!("../../../migrations/postgres/0002_processes.sql"),
    include_str!("../../../migrations/postgres/0003_revocations.sql"),
    include_str!("../../../migrations/postgres/0004_admin_console.sql"),
    include_str!("../../../migrations/postgres/0005_transfer.sql"),
    include_str!("../../../migrations/postgres/0006_host_sites.sql"),
    include_str!("../../../migrations/postgres/0007_last_call.sql"),
    include_str!("../../../migrations/postgres/0008_appointments.sql"),
    include_str!("../../../migrations/postgres/0009_queue_appointments.sql"),
];

/// A pool of connections to one database; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pub(super) pool: Pool,
    /// This hub process's name once registered ([`PgStore::register_process`]):
    /// written into the session log as the holder of the sides it serves.
    process: Arc<OnceLock<String>>,
    url: Arc<str>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish()
    }
}

impl PgStore {
    /// Connects (`postgres://user@host:port/db`, or libpq's `key=value`
    /// form) with at most `max_connections`, and migrates.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStore, StoreError> {
        let config = tokio_postgres::Config::from_str(url)?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = PgStore { pool, process: Arc::default(), url: url.into() };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)").await?;
        let version: i64 = match tx.query_opt("SELECT version FROM schema_version", &[]).await? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[]).await?;
                0
            }
        };
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::SchemaTooNew { found: version, supported });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).await?;
            tx.execute("UPDATE schema_version SET version = $1", &[&(i as i64 + 1)]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // -- kiosks -------------------------------------------------------------

    /// Enrolls a kiosk, or re-enrolls it with a new secret (the old one
    /// stops working). Returns the secret, shown once.
    /// Enrols a kiosk, or re-enrols it: a new secret, enabled again, and
    /// the connections made with the old one closed.
    pub async fn enroll_kiosk(&self, id: &KioskId, site: &str, now: Timestamp) -> Result<Secret, StoreError> {
        let secret = random_token();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO kiosks (id, site, secret_sha256, enrolled_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET site = excluded.site, secret_sha256 = excluded.secret_sha256,
                                            enrolled_at = excluded.enrolled_at, disabled = FALSE",
            &[&id.as_str(), &site, &sha256_hex(secret.expose()), &now.as_millisecond()],
        )
        .await?;
        tx.execute("INSERT INTO revocations (kind, name, at) VALUES ('kiosk', $1, $2)", &[&id.as_str(), &now.as_millisecond()])
            .await?;
        tx.commit().await?;
        Ok(secret)
    }

    pub async fn verify_kiosk(&self, id: &KioskId, secret: &Secret) -> Result<Option<KioskRecord>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt("SELECT site, secret_sha256 FROM kiosks WHERE id = $1 AND NOT disabled", &[&id.as_str()])
            .await?;
        Ok(row.and_then(|r| {
            let (site, stored): (String, String) = (r.get(0), r.get(1));
            constant_time_eq(stored.as_bytes(), sha256_hex(secret.expose()).as_bytes())
                .then(|| KioskRecord { id: id.clone(), site })
        }))
    }

    pub async fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let rows = self.pool.get().await?.query("SELECT id, site FROM kiosks ORDER BY id", &[]).await?;
        Ok(rows.iter().map(|r| KioskRecord { id: KioskId(r.get(0)), site: r.get(1) }).collect())
    }

    pub async fn count_kiosks(&self) -> Result<usize, StoreError> {
        let row = self.pool.get().await?.query_one("SELECT COUNT(*) FROM kiosks", &[]).await?;
        Ok(row.get::<_, i64>(0) as usize)
    }

    pub async fn kiosk_statuses(&self) -> Result<Vec<(KioskId, KioskStatus)>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                "SELECT kiosk_id, last_heartbeat_at, app_version, config_version, devices, rtt_ms,
                        refusal_version, refusal_code, refusal_message, refusal_at, last_call
                 FROM kiosk_status ORDER BY kiosk_id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                // As in SQLite: a damaged row shows as "not reported".
                let devices = r.get::<_, Option<String>>(4).and_then(|d| serde_json::from_str(&d).ok());
                let code = r
                    .get::<_, Option<String>>(7)
                    .and_then(|c| serde_json::from_value::<ConfigRefusalCode>(serde_json::Value::String(c)).ok());
                let refusal =
                    (r.get::<_, Option<i64>>(6), code, r.get::<_, Option<String>>(8), r.get::<_, Option<i64>>(9));
                let last_refusal = match refusal {
                    (Some(version), Some(code), Some(message), Some(at)) => {
                        ms(at).map(|at| RefusalRecord { version: version as u64, code, message, at })
                    }
                    _ => None,
                };
                (
                    KioskId(r.get(0)),
                    KioskStatus {
                        last_heartbeat_at: r.get::<_, Option<i64>>(1).and_then(ms),
                        app_version: r.get(2),
                        config_version: r.get::<_, Option<i64>>(3).map(|v| v as u64),
                        devices,
                        rtt_ms: r.get::<_, Option<i64>>(5).and_then(|v| u32::try_from(v).ok()),
                        last_call: r.get::<_, Option<String>>(10).and_then(|l| serde_json::from_str(&l).ok()),
                        last_refusal,
                    },
                )
            })
            .collect())
    }

    // -- the admin API ------------------------------------------------------

    pub async fn create_admin_token(&self, name: &str, now: Timestamp) -> Result<Secret, StoreError> {
        let token = random_token();
        self.pool
            .get()
            .await?
            .execute(
                "INSERT INTO admin_tokens (name, token_sha256, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, created_at = excluded.created_at",
                &[&name, &sha256_hex(token.expose()), &now.as_millisecond()],
            )
            .await?;
        Ok(token)
    }

    pub async fn verify_admin_token(&self, token: &Secret) -> Result<Option<String>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt("SELECT name FROM admin_tokens WHERE token_sha256 = $1", &[&sha256_hex(token.expose())])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.pool.get().await?.execute("DELETE FROM admin_tokens WHERE name = $1", &[&name]).await? > 0)
    }

    pub async fn trust_admin_key(&self, key: &VerifyingKey, now: Timestamp) -> Result<String, StoreError> {
        let id = bundle::key_id(key);
        self.pool
            .get()
            .await?
            .execute(
                "INSERT INTO admin_keys (key_id, public_key, added_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                &[&id, &bundle::public_key_text(key), &now.as_millisecond()],
            )
            .await?;
        Ok(id)
    }

    pub async fn distrust_admin_key(&self, key_id: &str) -> Result<bool, StoreError> {
        Ok(self.pool.get().await?.execute("DELETE FROM admin_keys WHERE key_id = $1", &[&key_id]).await? > 0)
    }

    pub async fn admin_keys(&self) -> Result<Vec<VerifyingKey>, StoreError> {
        let rows = self.pool.get().await?.query("SELECT public_key FROM admin_keys ORDER BY key_id", &[]).await?;
        rows.iter()
            .map(|r| bundle::parse_public_key(r.get(0)).map_err(|e| StoreError::Damaged(e.to_string())))
            .collect()
    }

    /// As [`super::Store::publish_config`]; the table lock makes two
    /// processes publishing at once take turns.
    pub async fn publish_config(&self, config: &StoredConfig) -> Result<PublishOutcome, StoreError> {
        let meta = &config.meta;
        let version = i64::try_from(meta.version).map_err(|_| StoreError::Damaged("version out of range".into()))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("LOCK TABLE published_config IN SHARE ROW EXCLUSIVE MODE").await?;
        let current = tx.query_opt("SELECT version, payload_sha256 FROM published_config WHERE id = 1", &[]).await?;
        match current.map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))) {
            Some((v, sha)) if v == version && sha == meta.payload_sha256 => {
                return Ok(PublishOutcome::AlreadyPublished);
            }
            Some((v, sha)) if v >= version => {
                return Ok(PublishOutcome::Conflict { current: v as u64, current_sha256: sha });
            }
            _ => {}
        }
        // The one it replaces is kept, for the console to show what changed.
        tx.execute(
            "INSERT INTO previous_config (id, version, payload_sha256, key_id, bundle, published_at, published_by)
             SELECT id, version, payload_sha256, key_id, bundle, published_at, published_by FROM published_config WHERE id = 1
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, payload_sha256 = excluded.payload_sha256,
                 key_id = excluded.key_id, bundle = excluded.bundle, published_at = excluded.published_at,
                 published_by = excluded.published_by",
            &[],
        )
        .await?;
        tx.execute(
            "INSERT INTO published_config (id, version, payload_sha256, key_id, bundle, published_at, published_by)
             VALUES (1, $1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, payload_sha256 = excluded.payload_sha256,
                 key_id = excluded.key_id, bundle = excluded.bundle, published_at = excluded.published_at,
                 published_by = excluded.published_by",
            &[
                &version,
                &meta.payload_sha256,
                &meta.key_id,
                &config.bundle,
                &meta.published_at.as_millisecond(),
                &meta.published_by,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(PublishOutcome::Published)
    }

    pub async fn published_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        self.stored_config("published_config").await
    }

    /// The configuration kept in `table`, one of the two single-row tables
    /// with the same columns (`published_config`, `previous_config`).
    async fn stored_config(&self, table: &'static str) -> Result<Option<StoredConfig>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                &format!("SELECT version, payload_sha256, key_id, bundle, published_at, published_by FROM {table} WHERE id = 1"),
                &[],
            )
            .await?;
        Ok(row.map(|r| {
            let bundle: String = r.get(3);
            StoredConfig {
                meta: PublishedConfig {
                    version: r.get::<_, i64>(0) as u64,
                    payload_sha256: r.get(1),
                    key_id: r.get(2),
                    published_at: ms(r.get(4)).unwrap_or(Timestamp::UNIX_EPOCH),
                    published_by: r.get(5),
                    size: bundle.len() as u64,
                    announced_to: None,
                },
                bundle,
            }
        }))
    }

    // -- agents -------------------------------------------------------------

    pub async fn add_agent(
        &self,
        login: &AgentLogin,
        display_name: &str,
        password: &Secret,
        services: &[ServiceId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = blocking(|p: Secret| hash_password(&p), password.clone()).await??;
        let services = services.iter().map(ServiceId::as_str).collect::<Vec<_>>().join(",");
        let inserted = self
            .pool
            .get()
            .await?
            .execute(
                "INSERT INTO agents (login, display_name, password_hash, services, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (login) DO NOTHING",
                &[&login.as_str(), &display_name, &hash, &services, &now.as_millisecond()],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::AgentExists(login.to_string()));
        }
        Ok(())
    }

    /// Checks a login and password; an unknown login costs the same work.
    pub async fn verify_agent(&self, login: &AgentLogin, password: &Secret) -> Result<Option<AgentRecord>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT display_name, password_hash, services FROM agents WHERE login = $1 AND NOT disabled",
                &[&login.as_str()],
            )
            .await?;
        let password = password.clone();
        let Some(row) = row else {
            blocking(move |p: Secret| verify_password(&p, dummy_hash()), password).await?;
            return Ok(None);
        };
        let (display_name, hash, services): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let ok = blocking(move |p: Secret| verify_password(&p, &hash), password).await?;
        Ok(ok.then(|| AgentRecord { login: login.clone(), display_name, services: split_services(&services) }))
    }

    pub async fn create_agent_session(
        &self,
        login: &AgentLogin,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Secret, StoreError> {
        let token = random_token();
        let client = self.pool.get().await?;
        client.execute("DELETE FROM agent_sessions WHERE expires_at <= $1", &[&now.as_millisecond()]).await?;
        client
            .execute(
                "INSERT INTO agent_sessions (token_sha256, login, expires_at) VALUES ($1, $2, $3)",
                &[&sha256_hex(token.expose()), &login.as_str(), &(now + lifetime).as_millisecond()],
            )
            .await?;
        Ok(token)
    }

    pub async fn agent_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<AgentRecord>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT a.login, a.display_name, a.services FROM agent_sessions s
                 JOIN agents a ON a.login = s.login
                 WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND NOT a.disabled",
                &[&sha256_hex(token.expose()), &now.as_millisecond()],
            )
            .await?;
        Ok(row.map(|r| AgentRecord {
            login: AgentLogin(r.get(0)),
            display_name: r.get(1),
            services: split_services(r.get(2)),
        }))
    }

    pub async fn end_agent_session(&self, token: &Secret) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute("DELETE FROM agent_sessions WHERE token_sha256 = $1", &[&sha256_hex(token.expose())])
            .await?;
        Ok(())
    }
}

/// CPU-heavy work (argon2) off the async threads.
async fn blocking<A, T>(f: impl FnOnce(A) -> T + Send + 'static, arg: A) -> Result<T, StoreError>
where
    A: Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || f(arg)).await.map_err(|e| StoreError::Worker(e.to_string()))
}
