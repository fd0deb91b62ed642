//! Revocation on SQLite (see [`crate::store::revocation`]).

use jiff::Timestamp;
use rusqlite::params;

use super::Store;
use crate::store::StoreError;
use crate::store::revocation::{Kind, Revocation, key, table};
use crate::store::secrets::hash_password;

pub(super) fn record(conn: &rusqlite::Connection, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
    conn.execute("INSERT INTO revocations (kind, name, at) VALUES (?1, ?2, ?3)", params![kind.as_str(), name, at.as_millisecond()])?;
    Ok(())
}

impl Store {
    /// Revokes `name`'s live sockets (a sign-out).
    pub fn revoke(&self, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
        record(&self.lock(), kind, name, at)
    }

    /// Disables or enables an agent or kiosk; false if there is none by
    /// that name. Disabling revokes its sockets.
    pub fn set_disabled(&self, kind: Kind, name: &str, disabled: bool, at: Timestamp) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let sql = format!("UPDATE {} SET disabled = ?1 WHERE {} = ?2", table(kind), key(kind));
        let changed = tx.execute(&sql, params![disabled, name])? > 0;
        if changed && disabled {
            record(&tx, kind, name, at)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Removes an agent (and its sign-in sessions) or a kiosk; false if
    /// there is none by that name. The session log keeps its records.
    pub fn remove(&self, kind: Kind, name: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if kind == Kind::Agent {
            tx.execute("DELETE FROM agent_sessions WHERE login = ?1", [name])?;
        }
        let removed = tx.execute(&format!("DELETE FROM {} WHERE {} = ?1", table(kind), key(kind)), [name])? > 0;
        if removed {
            record(&tx, kind, name, at)?;
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Sets an agent's password, ends its sign-in sessions and revokes its
    /// sockets; false if there is no such agent.
    pub fn set_password(&self, login: &str, password: &visio_protocol::Secret, at: Timestamp) -> Result<bool, StoreError> {
        let hash = hash_password(password)?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed = tx.execute("UPDATE agents SET password_hash = ?1 WHERE login = ?2", params![hash, login])? > 0;
        if changed {
            tx.execute("DELETE FROM agent_sessions WHERE login = ?1", [login])?;
            record(&tx, Kind::Agent, login, at)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Revocations after `seq`, oldest first.
    pub fn revocations_since(&self, seq: i64) -> Result<Vec<Revocation>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT seq, kind, name, at FROM revocations WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([seq], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, name, at) = row?;
            if let (Some(kind), Ok(at)) = (Kind::parse(&kind), Timestamp::from_millisecond(at)) {
                out.push(Revocation { seq, kind, name, at });
            }
        }
        Ok(out)
    }

    /// The latest revocation's number (0 for none).
    pub fn last_revocation(&self) -> Result<i64, StoreError> {
        Ok(self.lock().query_row("SELECT COALESCE(MAX(seq), 0) FROM revocations", [], |r| r.get(0))?)
    }
}
