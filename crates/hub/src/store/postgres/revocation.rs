//! Revocation on PostgreSQL (see [`crate::store::revocation`]).

use jiff::Timestamp;

use super::PgStore;
use crate::store::StoreError;
use crate::store::revocation::{Kind, Revocation, key, table};
use crate::store::secrets::hash_password;

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
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
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
