//! The admin console's accounts and sessions, and the configuration
//! published before the current one, in SQLite.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, params};
use visio_protocol::{KioskId, Secret, ServiceId};

use super::super::records::{join_kiosks, join_services, join_sites, ms, role, split_kiosks, split_services, split_sites};
use super::super::secrets::{dummy_hash, hash_password, random_token, sha256_hex, verify_password};
use super::super::{ConsoleAccount, SessionRecord, StoreError, StoredConfig};
use super::Store;
use crate::roles::Role;

impl Store {
    pub fn add_console_account(
        &self,
        login: &str,
        display_name: &str,
        password: &Secret,
        role: Role,
        (kiosks, services): (&[KioskId], &[ServiceId]),
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        let inserted = self.lock().execute(
            "INSERT INTO console_accounts (login, display_name, password_hash, role, kiosks, services, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(login) DO NOTHING",
            params![login, display_name, hash, role.as_str(), join_kiosks(kiosks), join_services(services), now.as_millisecond()],
        )?;
        if inserted == 0 {
            return Err(StoreError::AccountExists(login.to_owned()));
        }
        Ok(())
    }

    /// Checks a login and password; an unknown login costs the same work
    /// as a wrong password.
    pub fn verify_console_account(&self, login: &str, password: &Secret) -> Result<Option<ConsoleAccount>, StoreError> {
        let row: Option<(String, String, String, String, String, String)> = self
            .lock()
            .query_row(
                "SELECT display_name, password_hash, role, kiosks, services, sites FROM console_accounts WHERE login = ?1",
                [login],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((display_name, hash, stored_role, kiosks, services, sites)) = row else {
            let _ = verify_password(password, dummy_hash());
            return Ok(None);
        };
        if !verify_password(password, &hash) {
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
    pub fn set_console_sites(&self, login: &str, sites: &[String]) -> Result<bool, StoreError> {
        let changed = self.lock().execute("UPDATE console_accounts SET sites = ?1 WHERE login = ?2", params![join_sites(sites), login])?;
        Ok(changed > 0)
    }

    /// Opens a console session; returns the cookie value (only its hash is kept).
    pub fn create_console_session(&self, login: &str, now: Timestamp, lifetime: SignedDuration) -> Result<Secret, StoreError> {
        let token = random_token();
        let conn = self.lock();
        conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [now.as_millisecond()])?;
        conn.execute(
            "INSERT INTO console_sessions (token_sha256, login, expires_at) VALUES (?1, ?2, ?3)",
            params![sha256_hex(token.expose()), login, (now + lifetime).as_millisecond()],
        )?;
        Ok(token)
    }

    pub fn console_account_for_session(&self, token: &Secret, now: Timestamp) -> Result<Option<ConsoleAccount>, StoreError> {
        let row: Option<(String, String, String, String, String, String)> = self
            .lock()
            .query_row(
                "SELECT a.login, a.display_name, a.role, a.kiosks, a.services, a.sites FROM console_sessions s
                 JOIN console_accounts a ON a.login = s.login
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
                params![sha256_hex(token.expose()), now.as_millisecond()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        row.map(|(login, display_name, r, kiosks, services, sites)| {
            Ok(ConsoleAccount {
                login,
                display_name,
                role: role(&r)?,
                kiosks: split_kiosks(&kiosks),
                services: split_services(&services),
                sites: split_sites(&sites)?,
            })
        })
        .transpose()
    }

    pub fn end_console_session(&self, token: &Secret) -> Result<(), StoreError> {
        self.lock().execute("DELETE FROM console_sessions WHERE token_sha256 = ?1", [sha256_hex(token.expose())])?;
        Ok(())
    }

    /// The configuration the published one replaced, if any.
    pub fn previous_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        self.stored_config("previous_config")
    }

    /// The visits queued in `[from, to)`, oldest first: what the console's
    /// pages need, without reading the whole log.
    pub fn session_log_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SessionRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, kiosk_id, service, agent_login, queued_at, answered_at, ended_at, end_reason, rating, previous_leg
             FROM session_log WHERE queued_at >= ?1 AND queued_at < ?2 ORDER BY queued_at, id",
        )?;
        let ts = |v: Option<i64>| v.and_then(ms);
        let rows = stmt.query_map(params![from.as_millisecond(), to.as_millisecond()], |r| {
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
