//! The admin console's accounts and sessions, and the configuration
//! published before the current one, in PostgreSQL.

use jiff::{SignedDuration, Timestamp};
use visio_protocol::{KioskId, Secret, ServiceId};

use super::super::records::{join_kiosks, join_services, join_sites, role, split_kiosks, split_services, split_sites};
use super::super::secrets::{dummy_hash, hash_password, random_token, sha256_hex, verify_password};
use super::super::{ConsoleAccount, SessionRecord, StoreError, StoredConfig};
use super::session_log::session_record;
use super::{PgStore, blocking};
use crate::roles::Role;

impl PgStore {
    pub async fn add_console_account(
        &self,
        login: &str,
        display_name: &str,
        password: &Secret,
        role: Role,
        (kiosks, services): (&[KioskId], &[ServiceId]),
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = blocking(|p: Secret| hash_password(&p), password.clone()).await??;
        let inserted = self
            .pool
            .get()
            .await?
            .execute(
                "INSERT INTO console_accounts (login, display_name, password_hash, role, kiosks, services, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (login) DO NOTHING",
                &[
                    &login,
                    &display_name,
                    &hash,
                    &role.as_str(),
                    &join_kiosks(kiosks),
                    &join_services(services),
                    &now.as_millisecond(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::AccountExists(login.to_owned()));
        }
        Ok(())
    }

    /// Checks a login and password; an unknown login costs the same work.
    pub async fn verify_console_account(&self, login: &str, password: &Secret) -> Result<Option<ConsoleAccount>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT display_name, password_hash, role, kiosks, services, sites FROM console_accounts WHERE login = $1",
                &[&login],
            )
            .await?;
        let password = password.clone();
        let Some(row) = row else {
            blocking(move |p: Secret| verify_password(&p, dummy_hash()), password).await?;
            return Ok(None);
        };
        let (display_name, hash, stored_role, kiosks, services, sites): (String, String, String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        if !blocking(move |p: Secret| verify_password(&p, &hash), password).await? {
            return Ok(None);
        }
        Ok(Some(ConsoleAccount {
            login: login.to_owned(),
            display_name,
            role: role(&stored_role)?,
            kiosks: split_kiosks(&kiosks),
            services: split_services(&services),
            sites: split_sites(&sites)?,
        }))
    }

    /// The sites a host account watches; `false` if there is no such account.
    pub async fn set_console_sites(&self, login: &str, sites: &[String]) -> Result<bool, StoreError> {
        let changed = self
            .pool
            .get()
            .await?
            .execute("UPDATE console_accounts SET sites = $1 WHERE login = $2", &[&join_sites(sites), &login])
            .await?;
        Ok(changed > 0)
    }

    pub async fn create_console_session(&self, login: &str, now: Timestamp, lifetime: SignedDuration) -> Result<Secret, StoreError> {
        let token = random_token();
        let client = self.pool.get().await?;
        client.execute("DELETE FROM console_sessions WHERE expires_at <= $1", &[&now.as_millisecond()]).await?;
        client
            .execute(
                "INSERT INTO console_sessions (token_sha256, login, expires_at) VALUES ($1, $2, $3)",
                &[&sha256_hex(token.expose()), &login, &(now + lifetime).as_millisecond()],
            )
            .await?;
        Ok(token)
    }

    pub async fn console_account_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<ConsoleAccount>, StoreError> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT a.login, a.display_name, a.role, a.kiosks, a.services, a.sites FROM console_sessions s
                 JOIN console_accounts a ON a.login = s.login
                 WHERE s.token_sha256 = $1 AND s.expires_at > $2",
                &[&sha256_hex(token.expose()), &now.as_millisecond()],
            )
            .await?;
        row.map(|r| {
            Ok(ConsoleAccount {
                login: r.get(0),
                display_name: r.get(1),
                role: role(r.get(2))?,
                kiosks: split_kiosks(r.get(3)),
                services: split_services(r.get(4)),
                sites: split_sites(r.get(5))?,
            })
        })
        .transpose()
    }

    pub async fn end_console_session(&self, token: &Secret) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute("DELETE FROM console_sessions WHERE token_sha256 = $1", &[&sha256_hex(token.expose())])
            .await?;
        Ok(())
    }

    /// The configuration the published one replaced, if any.
    pub async fn previous_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        self.stored_config("previous_config").await
    }

    /// The visits queued in `[from, to)`, oldest first.
    pub async fn session_log_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                "SELECT id, kiosk_id, service, agent_login, queued_at, answered_at, ended_at, end_reason, rating, previous_leg
                 FROM session_log WHERE queued_at >= $1 AND queued_at < $2 ORDER BY queued_at, id",
                &[&from.as_millisecond(), &to.as_millisecond()],
            )
            .await?;
        Ok(rows.iter().map(session_record).collect())
    }
}
