//! The hub's records on either backend: SQLite on one box (the default)
//! or PostgreSQL shared by several hub processes (docs/decisions.md,
//! "Several hub processes"). The same calls and the same behaviours;
//! SQLite's synchronous calls run on tokio's blocking pool.

use jiff::{SignedDuration, Timestamp};
use visio_config::bundle::VerifyingKey;
use visio_protocol::{AgentLogin, KioskId, Secret, ServiceId};

use super::postgres::PgStore;
use super::{
    AgentRecord, KioskRecord, KioskStatus, PublishOutcome, Recovered, SessionRecord, Store, StoreError, StoredConfig,
};
use crate::core::HubEvent;

/// Where the hub keeps its records. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(Store),
    Postgres(PgStore),
}

impl From<Store> for Backend {
    fn from(store: Store) -> Backend {
        Backend::Sqlite(store)
    }
}

impl From<PgStore> for Backend {
    fn from(store: PgStore) -> Backend {
        Backend::Postgres(store)
    }
}

impl Backend {
    pub async fn enroll_kiosk(&self, id: &KioskId, site: &str, now: Timestamp) -> Result<Secret, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let id = id.to_owned();
                let site = site.to_owned();
                store.call(move |s| s.enroll_kiosk(&id, &site, now)).await
            }
            Backend::Postgres(store) => store.enroll_kiosk(id, site, now).await,
        }
    }

    pub async fn verify_kiosk(&self, id: &KioskId, secret: &Secret) -> Result<Option<KioskRecord>, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let id = id.to_owned();
                let secret = secret.to_owned();
                store.call(move |s| s.verify_kiosk(&id, &secret)).await
            }
            Backend::Postgres(store) => store.verify_kiosk(id, secret).await,
        }
    }

    pub async fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.kiosks()).await,
            Backend::Postgres(store) => store.kiosks().await,
        }
    }

    pub async fn count_kiosks(&self) -> Result<usize, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.count_kiosks()).await,
            Backend::Postgres(store) => store.count_kiosks().await,
        }
    }

    pub async fn kiosk_statuses(&self) -> Result<Vec<(KioskId, KioskStatus)>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.kiosk_statuses()).await,
            Backend::Postgres(store) => store.kiosk_statuses().await,
        }
    }

    pub async fn create_admin_token(&self, name: &str, now: Timestamp) -> Result<Secret, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let name = name.to_owned();
                store.call(move |s| s.create_admin_token(&name, now)).await
            }
            Backend::Postgres(store) => store.create_admin_token(name, now).await,
        }
    }

    pub async fn verify_admin_token(&self, token: &Secret) -> Result<Option<String>, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let token = token.to_owned();
                store.call(move |s| s.verify_admin_token(&token)).await
            }
            Backend::Postgres(store) => store.verify_admin_token(token).await,
        }
    }

    pub async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let name = name.to_owned();
                store.call(move |s| s.revoke_admin_token(&name)).await
            }
            Backend::Postgres(store) => store.revoke_admin_token(name).await,
        }
    }

    pub async fn trust_admin_key(&self, key: &VerifyingKey, now: Timestamp) -> Result<String, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let key = key.to_owned();
                store.call(move |s| s.trust_admin_key(&key, now)).await
            }
            Backend::Postgres(store) => store.trust_admin_key(key, now).await,
        }
    }

    pub async fn distrust_admin_key(&self, key_id: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let key_id = key_id.to_owned();
                store.call(move |s| s.distrust_admin_key(&key_id)).await
            }
            Backend::Postgres(store) => store.distrust_admin_key(key_id).await,
        }
    }

    pub async fn admin_keys(&self) -> Result<Vec<VerifyingKey>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.admin_keys()).await,
            Backend::Postgres(store) => store.admin_keys().await,
        }
    }

    pub async fn publish_config(&self, config: &StoredConfig) -> Result<PublishOutcome, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let config = config.to_owned();
                store.call(move |s| s.publish_config(&config)).await
            }
            Backend::Postgres(store) => store.publish_config(config).await,
        }
    }

    pub async fn published_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.published_config()).await,
            Backend::Postgres(store) => store.published_config().await,
        }
    }

    pub async fn add_agent(
        &self,
        login: &AgentLogin,
        display_name: &str,
        password: &Secret,
        services: &[ServiceId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let login = login.to_owned();
                let display_name = display_name.to_owned();
                let password = password.to_owned();
                let services = services.to_vec();
                store.call(move |s| s.add_agent(&login, &display_name, &password, &services, now)).await
            }
            Backend::Postgres(store) => store.add_agent(login, display_name, password, services, now).await,
        }
    }

    /// Checks an agent's password. At most one Argon2 check per core runs
    /// at once: each takes 19 MiB and a core for tens of milliseconds, and
    /// a morning's burst of sign-ins would otherwise take the hub's memory
    /// and every core from the calls already running.
    pub async fn verify_agent(&self, login: &AgentLogin, password: &Secret) -> Result<Option<AgentRecord>, StoreError> {
        let _permit = password_checks().acquire().await.map_err(|e| StoreError::Worker(e.to_string()))?;
        match self {
            Backend::Sqlite(store) => {
                let login = login.to_owned();
                let password = password.to_owned();
                store.call(move |s| s.verify_agent(&login, &password)).await
            }
            Backend::Postgres(store) => store.verify_agent(login, password).await,
        }
    }

    pub async fn create_agent_session(
        &self,
        login: &AgentLogin,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Secret, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let login = login.to_owned();
                store.call(move |s| s.create_agent_session(&login, now, lifetime)).await
            }
            Backend::Postgres(store) => store.create_agent_session(login, now, lifetime).await,
        }
    }

    pub async fn agent_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<AgentRecord>, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let token = token.to_owned();
                store.call(move |s| s.agent_for_session(&token, now)).await
            }
            Backend::Postgres(store) => store.agent_for_session(token, now).await,
        }
    }

    pub async fn end_agent_session(&self, token: &Secret) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let token = token.to_owned();
                store.call(move |s| s.end_agent_session(&token)).await
            }
            Backend::Postgres(store) => store.end_agent_session(token).await,
        }
    }

    pub async fn record(&self, event: &HubEvent) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let event = event.to_owned();
                store.call(move |s| s.record(&event)).await
            }
            Backend::Postgres(store) => store.record(event).await,
        }
    }

    /// Writes `events` in order in one transaction (see [`Store::record_all`]).
    pub async fn record_all(&self, events: Vec<HubEvent>) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.record_all(&events)).await,
            Backend::Postgres(store) => store.record_all(&events).await,
        }
    }

    pub async fn mark_alive(&self, at: Timestamp) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.mark_alive(at)).await,
            Backend::Postgres(store) => store.mark_alive(at).await,
        }
    }

    pub async fn mark_stopped(&self, at: Timestamp) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.mark_stopped(at)).await,
            Backend::Postgres(store) => store.mark_stopped(at).await,
        }
    }

    /// One process on SQLite: the calls the previous process left open.
    /// `None` on PostgreSQL, where several processes share the database
    /// and each side of a call is claimed where its client comes back
    /// (`PgStore::claim`), and dead processes are swept (`PgStore::sweep_dead`).
    pub async fn recover(&self, now: Timestamp) -> Result<Option<Recovered>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.recover(now)).await.map(Some),
            Backend::Postgres(_) => Ok(None),
        }
    }

    pub async fn session_prefix_used(&self, prefix: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let prefix = prefix.to_owned();
                store.call(move |s| s.session_prefix_used(&prefix)).await
            }
            Backend::Postgres(store) => store.session_prefix_used(prefix).await,
        }
    }

    pub async fn session_log(&self) -> Result<Vec<SessionRecord>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.session_log()).await,
            Backend::Postgres(store) => store.session_log().await,
        }
    }
}

/// Bounds the password checks running at once to the cores available.
fn password_checks() -> &'static tokio::sync::Semaphore {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    CHECKS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}
