//! Revocation: disabling and removing agents and kiosks, and the log of
//! revocations every hub process polls to close the live sockets they
//! concern (sign-out, disable, removal, re-enrolment), on SQLite and on
//! PostgreSQL alike. Polling the store rather than the bus: the store is
//! what every process and the CLI share, and a missed bus message would
//! leave a revoked socket open.

use jiff::Timestamp;
use rusqlite::params;

use super::postgres::PgStore;
use super::{Backend, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Agent,
    Kiosk,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Kiosk => "kiosk",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
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

pub(super) fn record(conn: &rusqlite::Connection, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
    conn.execute("INSERT INTO revocations (kind, name, at) VALUES (?1, ?2, ?3)", params![kind.as_str(), name, at.as_millisecond()])?;
    Ok(())
}

fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Agent => "agents",
        Kind::Kiosk => "kiosks",
    }
}

fn key(kind: Kind) -> &'static str {
    match kind {
        Kind::Agent => "login",
        Kind::Kiosk => "id",
    }
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
        let hash = super::hash_password(password)?;
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

impl PgStore {
    pub async fn revoke(&self, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute("INSERT INTO revocations (kind, name, at) VALUES ($1, $2, $3)", &[&kind.as_str(), &name, &at.as_millisecond()])
            .await?;
        Ok(())
    }

    pub async fn set_disabled(&self, kind: Kind, name: &str, disabled: bool, at: Timestamp) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let sql = format!("UPDATE {} SET disabled = $1 WHERE {} = $2", table(kind), key(kind));
        let changed = tx.execute(&sql, &[&disabled, &name]).await? > 0;
        if changed && disabled {
            tx.execute("INSERT INTO revocations (kind, name, at) VALUES ($1, $2, $3)", &[&kind.as_str(), &name, &at.as_millisecond()])
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn remove(&self, kind: Kind, name: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if kind == Kind::Agent {
            tx.execute("DELETE FROM agent_sessions WHERE login = $1", &[&name]).await?;
        }
        let removed = tx.execute(&format!("DELETE FROM {} WHERE {} = $1", table(kind), key(kind)), &[&name]).await? > 0;
        if removed {
            tx.execute("INSERT INTO revocations (kind, name, at) VALUES ($1, $2, $3)", &[&kind.as_str(), &name, &at.as_millisecond()])
                .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn set_password(&self, login: &str, password: &visio_protocol::Secret, at: Timestamp) -> Result<bool, StoreError> {
        let password = password.clone();
        let hash = tokio::task::spawn_blocking(move || super::hash_password(&password))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))??;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let changed = tx.execute("UPDATE agents SET password_hash = $1 WHERE login = $2", &[&hash, &login]).await? > 0;
        if changed {
            tx.execute("DELETE FROM agent_sessions WHERE login = $1", &[&login]).await?;
            tx.execute("INSERT INTO revocations (kind, name, at) VALUES ('agent', $1, $2)", &[&login, &at.as_millisecond()])
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn revocations_since(&self, seq: i64) -> Result<Vec<Revocation>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query("SELECT seq, kind, name, at FROM revocations WHERE seq > $1 ORDER BY seq", &[&seq])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let (seq, kind, name, at): (i64, String, String, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
                Some(Revocation { seq, kind: Kind::parse(&kind)?, name, at: Timestamp::from_millisecond(at).ok()? })
            })
            .collect())
    }

    pub async fn last_revocation(&self) -> Result<i64, StoreError> {
        let row = self.pool.get().await?.query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM revocations", &[]).await?;
        Ok(row.get(0))
    }
}

impl Backend {
    pub async fn revoke(&self, kind: Kind, name: &str, at: Timestamp) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let name = name.to_owned();
                store.call(move |s| s.revoke(kind, &name, at)).await
            }
            Backend::Postgres(store) => store.revoke(kind, name, at).await,
        }
    }

    pub async fn set_disabled(&self, kind: Kind, name: &str, disabled: bool, at: Timestamp) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let name = name.to_owned();
                store.call(move |s| s.set_disabled(kind, &name, disabled, at)).await
            }
            Backend::Postgres(store) => store.set_disabled(kind, name, disabled, at).await,
        }
    }

    pub async fn remove(&self, kind: Kind, name: &str, at: Timestamp) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let name = name.to_owned();
                store.call(move |s| s.remove(kind, &name, at)).await
            }
            Backend::Postgres(store) => store.remove(kind, name, at).await,
        }
    }

    pub async fn set_password(&self, login: &str, password: &visio_protocol::Secret, at: Timestamp) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(store) => {
                let (login, password) = (login.to_owned(), password.clone());
                store.call(move |s| s.set_password(&login, &password, at)).await
            }
            Backend::Postgres(store) => store.set_password(login, password, at).await,
        }
    }

    pub async fn revocations_since(&self, seq: i64) -> Result<Vec<Revocation>, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(move |s| s.revocations_since(seq)).await,
            Backend::Postgres(store) => store.revocations_since(seq).await,
        }
    }

    pub async fn last_revocation(&self) -> Result<i64, StoreError> {
        match self {
            Backend::Sqlite(store) => store.call(|s| s.last_revocation()).await,
            Backend::Postgres(store) => store.last_revocation().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabling_refuses_and_records_a_revocation_that_reenrolling_and_removing_also_record() {
        let store = Store::open_in_memory().unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let secret = store.enroll_kiosk(&"besse".into(), "Mairie", now).unwrap();
        let first = store.last_revocation().unwrap();
        assert!(store.verify_kiosk(&"besse".into(), &secret).unwrap().is_some());
        assert!(store.set_disabled(Kind::Kiosk, "besse", true, now).unwrap());
        assert!(store.verify_kiosk(&"besse".into(), &secret).unwrap().is_none(), "a disabled kiosk is refused");
        assert!(!store.set_disabled(Kind::Kiosk, "nobody", true, now).unwrap());
        let revoked = store.revocations_since(first).unwrap();
        assert_eq!(revoked.iter().map(|r| (r.kind, r.name.as_str())).collect::<Vec<_>>(), [(Kind::Kiosk, "besse")]);
        // Re-enrolling enables it again with a new secret.
        let again = store.enroll_kiosk(&"besse".into(), "Mairie", now).unwrap();
        assert!(store.verify_kiosk(&"besse".into(), &again).unwrap().is_some());
        assert_eq!(store.revocations_since(first).unwrap().len(), 2);

        store.add_agent(&"claire".into(), "Claire", &visio_protocol::Secret("claire-password".into()), &[], now).unwrap();
        let token = store.create_agent_session(&"claire".into(), now, jiff::SignedDuration::from_hours(1)).unwrap();
        assert!(store.set_disabled(Kind::Agent, "claire", true, now).unwrap());
        assert!(store.agent_for_session(&token, now).unwrap().is_none(), "a disabled agent's session is refused");
        assert!(store.verify_agent(&"claire".into(), &visio_protocol::Secret("claire-password".into())).unwrap().is_none());
        assert!(store.set_disabled(Kind::Agent, "claire", false, now).unwrap());
        assert!(store.agent_for_session(&token, now).unwrap().is_some());
        let new = visio_protocol::Secret("new-password".into());
        assert!(store.set_password("claire", &new, now).unwrap());
        assert!(store.agent_for_session(&token, now).unwrap().is_none(), "a new password ends the sessions");
        assert!(store.verify_agent(&"claire".into(), &new).unwrap().is_some());
        let token = store.create_agent_session(&"claire".into(), now, jiff::SignedDuration::from_hours(1)).unwrap();
        assert!(store.remove(Kind::Agent, "claire", now).unwrap());
        assert!(store.agent_for_session(&token, now).unwrap().is_none());
        assert_eq!(store.revocations_since(first).unwrap().last().unwrap().name, "claire");
    }
}
