//! The hub's records on either backend: SQLite on one box (the default)
//! or PostgreSQL shared by several hub processes (docs/decisions.md
//! #178, #261). The same calls and the same behaviours
//! (`tests/store_conformance.rs`); each call reaches its store through
//! `on_store!`, where SQLite's synchronous calls go to tokio's blocking pool.

use jiff::{SignedDuration, Timestamp};
use visio_config::bundle::VerifyingKey;
use visio_protocol::{AgentLogin, KioskId, Secret, ServiceId};

use super::postgres::PgStore;
use super::{
    AgentRecord, ConsoleAccount, KioskRecord, KioskStatus, PublishOutcome, Recovered, SessionRecord, Store, StoreError, StoredConfig,
};
use crate::core::HubEvent;
use crate::core::appointments::{Appointment, NewAppointment, Reference};

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
        on_store!(self, [id, site] => enroll_kiosk(&id, &site, now))
    }

    pub async fn verify_kiosk(&self, id: &KioskId, secret: &Secret) -> Result<Option<KioskRecord>, StoreError> {
        on_store!(self, [id, secret] => verify_kiosk(&id, &secret))
    }

    pub async fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        on_store!(self, [] => kiosks())
    }

    pub async fn count_kiosks(&self) -> Result<usize, StoreError> {
        on_store!(self, [] => count_kiosks())
    }

    pub async fn kiosk_statuses(&self) -> Result<Vec<(KioskId, KioskStatus)>, StoreError> {
        on_store!(self, [] => kiosk_statuses())
    }

    pub async fn create_admin_token(&self, name: &str, now: Timestamp) -> Result<Secret, StoreError> {
        on_store!(self, [name] => create_admin_token(&name, now))
    }

    pub async fn verify_admin_token(&self, token: &Secret) -> Result<Option<String>, StoreError> {
        on_store!(self, [token] => verify_admin_token(&token))
    }

    pub async fn revoke_admin_token(&self, name: &str) -> Result<bool, StoreError> {
        on_store!(self, [name] => revoke_admin_token(&name))
    }

    pub async fn trust_admin_key(&self, key: &VerifyingKey, now: Timestamp) -> Result<String, StoreError> {
        on_store!(self, [key] => trust_admin_key(&key, now))
    }

    pub async fn distrust_admin_key(&self, key_id: &str) -> Result<bool, StoreError> {
        on_store!(self, [key_id] => distrust_admin_key(&key_id))
    }

    pub async fn admin_keys(&self) -> Result<Vec<VerifyingKey>, StoreError> {
        on_store!(self, [] => admin_keys())
    }

    pub async fn publish_config(&self, config: &StoredConfig) -> Result<PublishOutcome, StoreError> {
        on_store!(self, [config] => publish_config(&config))
    }

    pub async fn published_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        on_store!(self, [] => published_config())
    }

    pub async fn add_agent(
        &self,
        login: &AgentLogin,
        display_name: &str,
        password: &Secret,
        services: &[ServiceId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_store!(self, [login, display_name, password, services] => add_agent(&login, &display_name, &password, &services, now))
    }

    /// Checks an agent's password. At most one Argon2 check per core runs
    /// at once: each takes 19 MiB and a core for tens of milliseconds, and
    /// a morning's burst of sign-ins would otherwise take the hub's memory
    /// and every core from the calls already running.
    pub async fn verify_agent(&self, login: &AgentLogin, password: &Secret) -> Result<Option<AgentRecord>, StoreError> {
        let _permit = password_checks().acquire().await.map_err(|e| StoreError::Worker(e.to_string()))?;
        on_store!(self, [login, password] => verify_agent(&login, &password))
    }

    pub async fn create_agent_session(
        &self,
        login: &AgentLogin,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Secret, StoreError> {
        on_store!(self, [login] => create_agent_session(&login, now, lifetime))
    }

    pub async fn agent_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<AgentRecord>, StoreError> {
        on_store!(self, [token] => agent_for_session(&token, now))
    }

    pub async fn end_agent_session(&self, token: &Secret) -> Result<(), StoreError> {
        on_store!(self, [token] => end_agent_session(&token))
    }

    pub async fn add_console_account(
        &self,
        login: &str,
        display_name: &str,
        password: &Secret,
        role: crate::roles::Role,
        (kiosks, services): (&[KioskId], &[ServiceId]),
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Not `on_store!`: the scope is a pair of slices, which the owned
        // copies for SQLite's worker must be borrowed back as.
        match self {
            Backend::Sqlite(store) => {
                let (login, name, password) = (login.to_owned(), display_name.to_owned(), password.clone());
                let (kiosks, services) = (kiosks.to_vec(), services.to_vec());
                store.call(move |s| s.add_console_account(&login, &name, &password, role, (&kiosks, &services), now)).await
            }
            Backend::Postgres(store) => store.add_console_account(login, display_name, password, role, (kiosks, services), now).await,
        }
    }

    /// Checks a console account's password, under the same bound on
    /// simultaneous Argon2 checks as agents' ([`Backend::verify_agent`]).
    pub async fn verify_console_account(&self, login: &str, password: &Secret) -> Result<Option<ConsoleAccount>, StoreError> {
        let _permit = password_checks().acquire().await.map_err(|e| StoreError::Worker(e.to_string()))?;
        on_store!(self, [login, password] => verify_console_account(&login, &password))
    }

    /// The sites a host account watches on the host page; `false` if
    /// there is no such account.
    pub async fn set_console_sites(&self, login: &str, sites: &[String]) -> Result<bool, StoreError> {
        on_store!(self, [login, sites] => set_console_sites(&login, &sites))
    }

    pub async fn create_console_session(&self, login: &str, now: Timestamp, lifetime: SignedDuration) -> Result<Secret, StoreError> {
        on_store!(self, [login] => create_console_session(&login, now, lifetime))
    }

    pub async fn console_account_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<ConsoleAccount>, StoreError> {
        on_store!(self, [token] => console_account_for_session(&token, now))
    }

    pub async fn end_console_session(&self, token: &Secret) -> Result<(), StoreError> {
        on_store!(self, [token] => end_console_session(&token))
    }

    /// The visits queued in `[from, to)`, oldest first.
    pub async fn session_log_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SessionRecord>, StoreError> {
        on_store!(self, [] => session_log_between(from, to))
    }

    pub async fn previous_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        on_store!(self, [] => previous_config())
    }

    pub async fn record(&self, event: &HubEvent) -> Result<(), StoreError> {
        on_store!(self, [event] => record(&event))
    }

    /// Writes `events` in order in one transaction (see [`Store::record_all`]).
    pub async fn record_all(&self, events: Vec<HubEvent>) -> Result<(), StoreError> {
        on_store!(self, [] => record_all(&events))
    }

    pub async fn mark_alive(&self, at: Timestamp) -> Result<(), StoreError> {
        on_store!(self, [] => mark_alive(at))
    }

    pub async fn mark_stopped(&self, at: Timestamp) -> Result<(), StoreError> {
        on_store!(self, [] => mark_stopped(at))
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
        on_store!(self, [prefix] => session_prefix_used(&prefix))
    }

    /// Books a slot (`core::appointments`); refused with a reason the
    /// booker can act on (unknown kiosk, bad length, the time taken).
    pub async fn book_appointment(&self, slot: &NewAppointment, now: Timestamp) -> Result<Appointment, StoreError> {
        on_store!(self, [slot] => book_appointment(&slot, now))
    }

    pub async fn cancel_appointment(&self, reference: Reference, now: Timestamp) -> Result<bool, StoreError> {
        on_store!(self, [] => cancel_appointment(reference, now))
    }

    /// The slots overlapping `[from, to)`, cancelled ones too, by start.
    pub async fn appointments_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Appointment>, StoreError> {
        on_store!(self, [] => appointments_between(from, to))
    }

    pub async fn session_log(&self) -> Result<Vec<SessionRecord>, StoreError> {
        on_store!(self, [] => session_log())
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
