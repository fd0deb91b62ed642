//! Revocation: disabling and removing agents and kiosks, and the log of
//! revocations every hub process polls to close the live sockets they
//! concern (sign-out, disable, removal, re-enrolment), on SQLite and on
//! PostgreSQL alike. Polling the store rather than the bus: the store is
//! what every process and the CLI share, and a missed bus message would
//! leave a revoked socket open.


use jiff::Timestamp;

use super::{Backend, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Agent,
    Kiosk,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Kiosk => "kiosk",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        match s {
            "agent" => Some(Kind::Agent),
            "kiosk" => Some(Kind::Kiosk),
            _ => None,
        }
    }
}

/// One revocation: sockets of this agent or kiosk opened before `at` close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub seq: i64,
    pub kind: Kind,
    pub name: String,
    pub at: Timestamp,
}

/// The table of `kind`.
pub(super) fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Agent => "agents",
        Kind::Kiosk => "kiosks",
    }
}

/// The key column of `kind`'s table.
pub(super) fn key(kind: Kind) -> &'static str {
    match kind {
        Kind::Agent => "login",
        Kind::Kiosk => "id",
    }
}

impl Backend {
    pub async fn revoke(&self, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
        on_store!(self, [name] => revoke(kind, &name, at))
    }

    pub async fn set_disabled(&self, kind: Kind, name: &str, disabled: bool, at: Timestamp) -> Result<bool, StoreError> {
        on_store!(self, [name] => set_disabled(kind, &name, disabled, at))
    }

    pub async fn remove(&self, kind: Kind, name: &str, at: Timestamp) -> Result<bool, StoreError> {
        on_store!(self, [name] => remove(kind, &name, at))
    }

    pub async fn set_password(&self, login: &str, password: &visio_protocol::Secret, at: Timestamp) -> Result<bool, StoreError> {
        on_store!(self, [login, password] => set_password(&login, &password, at))
    }

    pub async fn revocations_since(&self, seq: i64) -> Result<Vec<Revocation>, StoreError> {
        on_store!(self, [] => revocations_since(seq))
    }

    pub async fn last_revocation(&self) -> Result<i64, StoreError> {
        on_store!(self, [] => last_revocation())
    }
}
