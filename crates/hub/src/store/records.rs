//! What the stores hand back and how they fail: the same types for
//! SQLite and PostgreSQL.

use jiff::Timestamp;
use visio_protocol::admin::{PublishedConfig, RefusalRecord};
use visio_protocol::{AgentLogin, CallLink, DeviceHealth, KioskId, ServiceId};

use crate::core::RestoredCall;

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
    #[error("console account {0:?} already exists")]
    AccountExists(String),
    #[error("the database's schema version {found} is newer than this hub understands ({supported}); upgrade the hub")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the store's worker stopped: {0}")]
    Worker(String),
    #[error("stored value is damaged: {0}")]
    Damaged(String),
    #[error("kiosk {0:?} is not enrolled")]
    UnknownKiosk(String),
    #[error("this slot cannot be booked: {0}")]
    BadSlot(String),
    #[error("kiosk {kiosk:?} already has appointment {taken} in that time; choose another time")]
    SlotTaken { kiosk: String, taken: crate::core::appointments::Reference },
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

/// An admin console account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleAccount {
    pub login: String,
    pub display_name: String,
    pub role: crate::roles::Role,
    /// The kiosks this account sees in the fleet; empty: every kiosk (a
    /// site's host sees its own).
    pub kiosks: Vec<KioskId>,
    /// The services whose usage figures this account sees; empty: every
    /// service (a partner's agent sees their own).
    pub services: Vec<ServiceId>,
    /// The sites whose kiosks a host watches on the host page; empty: none
    /// for a host, every site for an admin or supervisor.
    pub sites: Vec<String>,
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
    pub last_call: Option<CallLink>,
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

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        StoreError::Pool(e.to_string())
    }
}

/// A time stored as Unix milliseconds.
pub(super) fn ms(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// A stored role; an unknown one (a newer hub's) gives no rights.
pub(super) fn role(s: &str) -> Result<crate::roles::Role, StoreError> {
    crate::roles::Role::parse(s).ok_or_else(|| StoreError::Damaged(format!("unknown console role {s:?}")))
}

/// A console account's kiosks, stored comma-separated.
pub(super) fn split_kiosks(s: &str) -> Vec<KioskId> {
    s.split(',').filter(|s| !s.is_empty()).map(KioskId::from).collect()
}

pub(super) fn join_kiosks(kiosks: &[KioskId]) -> String {
    kiosks.iter().map(KioskId::as_str).collect::<Vec<_>>().join(",")
}

pub(super) fn join_services(services: &[ServiceId]) -> String {
    services.iter().map(ServiceId::as_str).collect::<Vec<_>>().join(",")
}

/// A console account's sites, stored as a JSON array (names hold commas).
pub(super) fn split_sites(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Damaged(format!("a console account's sites are not a JSON array of names: {e}")))
}

pub(super) fn join_sites(sites: &[String]) -> String {
    serde_json::Value::from(sites.to_vec()).to_string()
}

/// An agent's services, stored comma-separated.
pub(super) fn split_services(s: &str) -> Vec<ServiceId> {
    s.split(',').filter(|s| !s.is_empty()).map(ServiceId::from).collect()
}

/// An appointment's row: reference, kiosk, service, start, end, agent,
/// kind, booked by, booked at, cancelled at.
pub(super) type AppointmentRow = (i64, String, String, i64, i64, Option<String>, String, String, i64, Option<i64>);

pub(super) fn appointment(row: AppointmentRow) -> Result<crate::core::appointments::Appointment, StoreError> {
    use crate::core::appointments::{Appointment, Kind, NewAppointment, Reference};
    let (reference, kiosk_id, service, start, end, agent, kind, booked_by, booked_at, cancelled_at) = row;
    let time = |t: i64| ms(t).ok_or_else(|| StoreError::Damaged(format!("appointment {reference} has a time out of range")));
    let start = time(start)?;
    Ok(Appointment {
        reference: Reference(reference as u64),
        slot: NewAppointment {
            kiosk_id: KioskId(kiosk_id),
            service: ServiceId(service),
            start,
            minutes: ((end - start.as_millisecond()) / 60_000) as u32,
            agent: agent.map(AgentLogin),
            kind: Kind::parse(&kind).ok_or_else(|| StoreError::Damaged(format!("appointment {reference} has an unknown kind {kind:?}")))?,
            booked_by,
        },
        booked_at: time(booked_at)?,
        cancelled_at: cancelled_at.map(time).transpose()?,
    })
}
