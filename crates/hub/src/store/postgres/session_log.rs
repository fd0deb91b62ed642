//! The session log in PostgreSQL: each side of a call logged by the
//! process that holds it, and read back in order.

use jiff::Timestamp;
use tokio_postgres::{GenericClient, Row};

use super::super::records::ms;
use super::super::{SessionRecord, StoreError};
use super::PgStore;
use crate::core::HubEvent;

impl PgStore {
    pub async fn record(&self, event: &HubEvent) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        self.record_on(&**client, event).await
    }

    /// Writes `events` in order, all or none, with one commit: a burst of
    /// heartbeats costs one fsync instead of one each.
    pub async fn record_all(&self, events: &[HubEvent]) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for event in events {
            self.record_on(&*tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_on(&self, client: &impl GenericClient, event: &HubEvent) -> Result<(), StoreError> {
        match event {
            // Each side's holder is the process that logs it: the kiosk's
            // queues, the agent's answers.
            HubEvent::Queued { session, kiosk_id, service, at } => {
                client
                    .execute(
                        "INSERT INTO session_log (id, kiosk_id, service, queued_at, kiosk_process)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                        &[&session.as_str(), &kiosk_id.as_str(), &service.as_str(), &at.as_millisecond(), &self.process()],
                    )
                    .await?
            }
            // The shared queue's `enqueue` may have written the row first.
            HubEvent::Transferred { session, previous, kiosk_id, service, at } => {
                client
                    .execute(
                        "INSERT INTO session_log (id, kiosk_id, service, queued_at, kiosk_process, previous_leg)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET previous_leg = excluded.previous_leg",
                        &[
                            &session.as_str(),
                            &kiosk_id.as_str(),
                            &service.as_str(),
                            &at.as_millisecond(),
                            &self.process(),
                            &previous.as_str(),
                        ],
                    )
                    .await?
            }
            HubEvent::Answered { session, agent, at, resume } => {
                client
                    .execute(
                        "UPDATE session_log SET agent_login = $2, answered_at = $3, agent_process = $5,
                             resume_sha256 = CASE WHEN ended_at IS NULL THEN $4 END
                         WHERE id = $1",
                        &[&session.as_str(), &agent.as_str(), &at.as_millisecond(), &resume.to_hex(), &self.process()],
                    )
                    .await?
            }
            // Ended once, as in SQLite: the first end stands.
            HubEvent::Ended { session, reason, at } => {
                client
                    .execute(
                        "UPDATE session_log SET ended_at = $2, end_reason = $3, resume_sha256 = NULL
                         WHERE id = $1 AND ended_at IS NULL",
                        &[&session.as_str(), &at.as_millisecond(), &reason.as_str()],
                    )
                    .await?
            }
            HubEvent::Rated { session, rating } => {
                client
                    .execute("UPDATE session_log SET rating = $2 WHERE id = $1", &[&session.as_str(), &rating.as_str()])
                    .await?
            }
            HubEvent::Heartbeat { kiosk_id, at, report } => {
                let devices = report.devices.as_ref().map(|d| serde_json::to_string(d).unwrap_or_default());
                let last_call = report.last_call.as_ref().map(|l| serde_json::to_string(l).unwrap_or_default());
                // A kiosk that restarted has had no call yet: its last one stays.
                client
                    .execute(
                        "INSERT INTO kiosk_status (kiosk_id, last_heartbeat_at, app_version, config_version, devices, rtt_ms, last_call)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (kiosk_id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at,
                             app_version = excluded.app_version, config_version = excluded.config_version,
                             devices = excluded.devices, rtt_ms = excluded.rtt_ms,
                             last_call = COALESCE(excluded.last_call, kiosk_status.last_call)",
                        &[
                            &kiosk_id.as_str(),
                            &at.as_millisecond(),
                            &report.app_version,
                            &report.config_version.map(|v| v as i64),
                            &devices,
                            &report.rtt_ms.map(i64::from),
                            &last_call,
                        ],
                    )
                    .await?
            }
            HubEvent::ConfigApplied { kiosk_id, version, .. } => {
                client
                    .execute(
                        "INSERT INTO kiosk_status (kiosk_id, config_version) VALUES ($1, $2)
                         ON CONFLICT (kiosk_id) DO UPDATE SET config_version = excluded.config_version,
                             refusal_version = CASE WHEN kiosk_status.refusal_version <= excluded.config_version
                                                    THEN NULL ELSE kiosk_status.refusal_version END,
                             refusal_code = CASE WHEN kiosk_status.refusal_version <= excluded.config_version
                                                 THEN NULL ELSE kiosk_status.refusal_code END,
                             refusal_message = CASE WHEN kiosk_status.refusal_version <= excluded.config_version
                                                    THEN NULL ELSE kiosk_status.refusal_message END,
                             refusal_at = CASE WHEN kiosk_status.refusal_version <= excluded.config_version
                                               THEN NULL ELSE kiosk_status.refusal_at END",
                        &[&kiosk_id.as_str(), &(*version as i64)],
                    )
                    .await?
            }
            HubEvent::ConfigRefused { kiosk_id, version, reason, at } => client
                .execute(
                    "INSERT INTO kiosk_status (kiosk_id, refusal_version, refusal_code, refusal_message, refusal_at)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (kiosk_id) DO UPDATE SET refusal_version = excluded.refusal_version,
                             refusal_code = excluded.refusal_code, refusal_message = excluded.refusal_message,
                             refusal_at = excluded.refusal_at",
                    &[
                        &kiosk_id.as_str(),
                        &(*version as i64),
                        &reason.code.as_str(),
                        &reason.message,
                        &at.as_millisecond(),
                    ],
                )
                .await?,
        };
        Ok(())
    }

    pub async fn session_prefix_used(&self, prefix: &str) -> Result<bool, StoreError> {
        let pattern = format!("{prefix}-");
        let row = self
            .pool
            .get()
            .await?
            .query_one("SELECT EXISTS (SELECT 1 FROM session_log WHERE starts_with(id, $1))", &[&pattern])
            .await?;
        Ok(row.get(0))
    }

    pub async fn session_log(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                "SELECT id, kiosk_id, service, agent_login, queued_at, answered_at, ended_at, end_reason, rating, previous_leg
                 FROM session_log ORDER BY queued_at, id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(session_record).collect())
    }
}

/// A session-log row selected as `id, kiosk_id, service, agent_login,
/// queued_at, answered_at, ended_at, end_reason, rating, previous_leg`.
pub(super) fn session_record(r: &Row) -> SessionRecord {
    let ts = |v: Option<i64>| v.and_then(ms);
    SessionRecord {
        session: r.get(0),
        kiosk_id: r.get(1),
        service: r.get(2),
        agent: r.get(3),
        queued_at: ms(r.get(4)).unwrap_or(Timestamp::UNIX_EPOCH),
        answered_at: ts(r.get(5)),
        ended_at: ts(r.get(6)),
        end_reason: r.get(7),
        rating: r.get(8),
        previous_leg: r.get(9),
    }
}
