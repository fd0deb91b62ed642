//! A restarted hub on SQLite: its sign of life, and what the previous
//! process left open.

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use visio_protocol::{AgentLogin, KioskId, ServiceId, SessionId};

use super::Store;
use crate::core::{RestoredCall, TokenHash};
use crate::store::records::ms;
use crate::store::{Recovered, StoreError};

impl Store {
    /// The hub still runs at `at`.
    pub fn mark_alive(&self, at: Timestamp) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO hub_state (id, alive_at) VALUES (1, ?1)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at",
            [at.as_millisecond()],
        )?;
        Ok(())
    }

    /// The hub stops at `at` (graceful shutdown).
    pub fn mark_stopped(&self, at: Timestamp) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO hub_state (id, alive_at, stopped_at) VALUES (1, ?1, ?1)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at, stopped_at = excluded.stopped_at",
            [at.as_millisecond()],
        )?;
        Ok(())
    }

    /// At start: what the previous process left open. Open calls with a
    /// token are returned for the core to hold; waits and token-less calls
    /// are ended (`hub_shutdown`, when the previous process stopped).
    /// Marks this process as running. One transaction.
    pub fn recover(&self, now: Timestamp) -> Result<Recovered, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (alive, stopped): (Option<i64>, Option<i64>) = tx
            .query_row("SELECT alive_at, stopped_at FROM hub_state WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((None, None));
        let last_write: Option<i64> = tx.query_row(
            "SELECT MAX(t) FROM (
                 SELECT MAX(MAX(queued_at, COALESCE(answered_at, 0), COALESCE(ended_at, 0))) AS t FROM session_log
                 UNION ALL SELECT MAX(last_heartbeat_at) FROM kiosk_status)",
            [],
            |r| r.get(0),
        )?;
        // After a hard kill there is no stop time: the latest sign of life
        // stands for it (at most ALIVE_EVERY early, never before a record
        // the process wrote).
        let stopped_ms = stopped.or(match (alive, last_write) {
            (Some(a), Some(w)) => Some(a.max(w)),
            (a, w) => a.or(w),
        });
        let calls = {
            let mut stmt = tx.prepare(
                "SELECT s.id, s.kiosk_id, COALESCE(k.site, s.kiosk_id), s.service, s.agent_login,
                        COALESCE(a.display_name, s.agent_login), s.queued_at, s.answered_at, s.resume_sha256
                 FROM session_log s
                 LEFT JOIN kiosks k ON k.id = s.kiosk_id
                 LEFT JOIN agents a ON a.login = s.agent_login
                 WHERE s.ended_at IS NULL AND s.answered_at IS NOT NULL AND s.agent_login IS NOT NULL
                   AND s.resume_sha256 IS NOT NULL
                 ORDER BY s.queued_at, s.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })?;
            let mut calls = Vec::new();
            for row in rows {
                let (session, kiosk_id, site, service, agent, agent_name, queued, answered, hash) = row?;
                let (Some(queued_at), Some(answered_at), Some(resume)) =
                    (ms(queued), ms(answered), TokenHash::from_hex(&hash))
                else {
                    return Err(StoreError::Damaged(format!("session {session} has unreadable times or token hash")));
                };
                calls.push(RestoredCall {
                    session: SessionId(session),
                    kiosk_id: KioskId(kiosk_id),
                    site,
                    service: ServiceId(service),
                    agent: AgentLogin(agent),
                    agent_name,
                    queued_at,
                    answered_at,
                    resume,
                });
            }
            calls
        };
        let end_ms = stopped_ms.unwrap_or(now.as_millisecond());
        let closed = tx.execute(
            "UPDATE session_log
             SET ended_at = MAX(?1, queued_at, COALESCE(answered_at, 0)), end_reason = 'hub_shutdown', resume_sha256 = NULL
             WHERE ended_at IS NULL AND (answered_at IS NULL OR agent_login IS NULL OR resume_sha256 IS NULL)",
            [end_ms],
        )?;
        tx.execute(
            "INSERT INTO hub_state (id, alive_at, stopped_at) VALUES (1, ?1, NULL)
             ON CONFLICT(id) DO UPDATE SET alive_at = excluded.alive_at, stopped_at = NULL",
            [now.as_millisecond()],
        )?;
        tx.commit()?;
        Ok(Recovered { stopped_at: stopped_ms.and_then(ms), calls, closed })
    }
}
