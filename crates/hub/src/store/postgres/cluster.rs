//! What only several hub processes sharing one database need: their
//! liveness, taking over a dead process's calls, and the shared queue of
//! waiting residents.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use tokio_postgres::NoTls;
use visio_protocol::{AgentLogin, KioskId, ServiceId, SessionId};

use super::PgStore;
use crate::core::{Claimed, QueueEntry, RestoredCall, SharedView, Side, TokenHash};
use crate::store::StoreError;
use crate::store::records::ms;

/// The first key of every process's liveness lock (`pg_advisory_lock(22089,
/// id)`; "VI"), the second being the process's row id.
const PROCESS_LOCK_CLASS: i32 = 0x5649;

/// SQL: process row `p` holds its liveness lock (`$1` = [`PROCESS_LOCK_CLASS`]).
const ALIVE: &str = "(p.stopped_at IS NULL AND EXISTS (
     SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = $1::int4::oid AND l.objid = p.id::oid))";
/// The same, with the class as `$3`.
const ALIVE_P: &str = "(p.stopped_at IS NULL AND EXISTS (
     SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = $3::int4::oid AND l.objid = p.id::oid))";

/// This process's registration: its liveness lock is held while this
/// lives. [`Liveness::lost`] completes if the lock's connection breaks:
/// other processes then see this one dead and take over its clients, so
/// it must stop serving.
pub struct Liveness {
    _client: tokio_postgres::Client,
    lost: tokio::sync::oneshot::Receiver<()>,
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liveness").finish_non_exhaustive()
    }
}

impl Liveness {
    /// Completes when the liveness lock is lost.
    pub async fn lost(&mut self) {
        let _ = (&mut self.lost).await;
    }
}

impl PgStore {
    // -- hub processes ------------------------------------------------------

    /// Registers this hub process as `name` and holds its liveness lock on
    /// a connection of its own until the returned [`Liveness`] is dropped
    /// or that connection breaks. Other processes see it alive exactly as
    /// long ([`PgStore::alive_processes`]).
    pub async fn register_process(&self, name: &str, now: Timestamp) -> Result<Liveness, StoreError> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await?;
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!(error = %e, "lost the connection holding this hub process's liveness lock");
            }
            let _ = lost_tx.send(());
        });
        let id: i64 = client
            .query_one(
                "INSERT INTO hub_processes (name, started_at, alive_at) VALUES ($1, $2, $2) RETURNING id",
                &[&name, &now.as_millisecond()],
            )
            .await?
            .get(0);
        let key = i32::try_from(id).map_err(|_| StoreError::Damaged(format!("hub process id {id} is too large")))?;
        client.execute("SELECT pg_advisory_lock($1, $2)", &[&PROCESS_LOCK_CLASS, &key]).await?;
        let _ = self.process.set(name.to_owned());
        Ok(Liveness { _client: client, lost: lost_rx })
    }

    pub(super) fn process(&self) -> Option<&str> {
        self.process.get().map(String::as_str)
    }

    /// The registered processes still running, with when each was last
    /// stamped: those whose liveness lock is held.
    pub async fn alive_processes(&self) -> Result<BTreeMap<String, Timestamp>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(&format!("SELECT name, alive_at FROM hub_processes p WHERE {ALIVE}"), &[&PROCESS_LOCK_CLASS])
            .await?;
        Ok(rows.iter().filter_map(|r| Some((r.get(0), ms(r.get(1))?))).collect())
    }

    /// Says this process runs, with its available agents, and reads what
    /// the others say and who waits on every process.
    pub async fn shared_view(
        &self,
        now: Timestamp,
        available_here: &BTreeMap<ServiceId, u32>,
    ) -> Result<SharedView, StoreError> {
        let client = self.pool.get().await?;
        let available = serde_json::to_string(available_here).unwrap_or_else(|_| "{}".into());
        client
            .execute(
                "UPDATE hub_processes SET alive_at = $2, available = $3 WHERE name = $1",
                &[&self.process(), &now.as_millisecond(), &available],
            )
            .await?;
        let rows = client
            .query(&format!("SELECT name, available FROM hub_processes p WHERE {ALIVE}"), &[&PROCESS_LOCK_CLASS])
            .await?;
        let mut view = SharedView::default();
        for r in &rows {
            let (name, available): (String, String) = (r.get(0), r.get(1));
            // A process's own figures; unreadable ones count as none.
            let counts: BTreeMap<ServiceId, u32> = serde_json::from_str(&available).unwrap_or_default();
            view.alive.insert(name.clone());
            view.available.insert(name, counts);
        }
        let rows = client
            .query(
                &format!("SELECT {ENTRY} FROM queue_entries ORDER BY service, {LINE_ORDER}"),
                &[],
            )
            .await?;
        view.waiting = rows.iter().map(queue_entry).collect::<Result<_, _>>()?;
        Ok(view)
    }

    pub async fn mark_alive(&self, at: Timestamp) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute("UPDATE hub_processes SET alive_at = $2 WHERE name = $1", &[&self.process(), &at.as_millisecond()])
            .await?;
        Ok(())
    }

    pub async fn mark_stopped(&self, at: Timestamp) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute(
                "UPDATE hub_processes SET alive_at = $2, stopped_at = $2 WHERE name = $1",
                &[&self.process(), &at.as_millisecond()],
            )
            .await?;
        Ok(())
    }

    /// A kiosk or agent came back to this process with the token of a
    /// call it does not know: the call becomes this process's for that
    /// side if the session log has it open with that token, for that
    /// kiosk (`side` kiosk) or agent. Says who held what, so the caller can
    /// link up with the process holding the other side.
    pub async fn claim(
        &self,
        session: &SessionId,
        side: Side,
        identity: &str,
        resume: &TokenHash,
    ) -> Result<Option<Claimed>, StoreError> {
        let me = self.process().ok_or_else(|| StoreError::Damaged("claim before the process registered".into()))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(r) = tx
            .query_opt(
                "SELECT s.kiosk_id, COALESCE(k.site, s.kiosk_id), s.service, s.agent_login,
                        COALESCE(a.display_name, s.agent_login), s.queued_at, s.answered_at,
                        s.kiosk_process, s.agent_process
                 FROM session_log s
                 LEFT JOIN kiosks k ON k.id = s.kiosk_id
                 LEFT JOIN agents a ON a.login = s.agent_login
                 WHERE s.id = $1 AND s.ended_at IS NULL AND s.answered_at IS NOT NULL
                   AND s.agent_login IS NOT NULL AND s.resume_sha256 = $2
                 FOR UPDATE OF s",
                &[&session.as_str(), &resume.to_hex()],
            )
            .await?
        else {
            return Ok(None);
        };
        let (kiosk_id, agent): (String, String) = (r.get(0), r.get(3));
        let ours = match side {
            Side::Kiosk => kiosk_id == identity,
            Side::Agent => agent == identity,
        };
        let (Some(queued_at), Some(answered_at), true) = (ms(r.get(5)), ms(r.get(6)), ours) else {
            return Ok(None);
        };
        let (kiosk_process, agent_process): (Option<String>, Option<String>) = (r.get(7), r.get(8));
        let (previous, other) = match side {
            Side::Kiosk => (kiosk_process, agent_process),
            Side::Agent => (agent_process, kiosk_process),
        };
        let column = match side {
            Side::Kiosk => "kiosk_process",
            Side::Agent => "agent_process",
        };
        tx.execute(&format!("UPDATE session_log SET {column} = $2 WHERE id = $1"), &[&session.as_str(), &me]).await?;
        // The other side's process, if it still runs; else when it was
        // last seen.
        let (other, other_lost_at) = match other {
            None => (None, None),
            Some(name) => {
                let row = tx
                    .query_opt(
                        &format!(
                            "SELECT {ALIVE}, COALESCE(stopped_at, alive_at) FROM hub_processes p WHERE name = $2"
                        ),
                        &[&PROCESS_LOCK_CLASS, &name],
                    )
                    .await?;
                match row {
                    Some(row) if row.get::<_, bool>(0) => (Some(name), None),
                    Some(row) => (None, ms(row.get(1))),
                    None => (None, None),
                }
            }
        };
        tx.commit().await?;
        Ok(Some(Claimed {
            call: RestoredCall {
                session: session.clone(),
                kiosk_id: KioskId(kiosk_id),
                site: r.get(1),
                service: ServiceId(r.get(2)),
                agent: AgentLogin(agent),
                agent_name: r.get(4),
                queued_at,
                answered_at,
                resume: *resume,
            },
            previous,
            other,
            other_lost_at,
        }))
    }

    /// This process now holds `side` of `session` (its client moved here
    /// from the process that held it).
    pub async fn hold_side(&self, session: &SessionId, side: Side) -> Result<(), StoreError> {
        let column = match side {
            Side::Kiosk => "kiosk_process",
            Side::Agent => "agent_process",
        };
        self.pool
            .get()
            .await?
            .execute(
                &format!("UPDATE session_log SET {column} = $2 WHERE id = $1 AND ended_at IS NULL"),
                &[&session.as_str(), &self.process()],
            )
            .await?;
        Ok(())
    }

    /// Ends what processes dead for longer than `grace` left and nobody
    /// claimed: their residents' places in line, their waits, and calls
    /// whose two sides were both on dead processes, as of when the
    /// process was last seen. Each dead process is swept once, by
    /// whichever live process gets to it first. Returns how many records
    /// were ended.
    pub async fn sweep_dead(&self, now: Timestamp, grace: SignedDuration) -> Result<usize, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let dead = tx
            .query(
                &format!(
                    "SELECT name, COALESCE(stopped_at, alive_at) FROM hub_processes p
                     WHERE swept_at IS NULL AND NOT ({ALIVE}) AND COALESCE(stopped_at, alive_at) < $2
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&PROCESS_LOCK_CLASS, &(now - grace).as_millisecond()],
            )
            .await?;
        let mut ended = 0;
        for row in &dead {
            let (name, lost): (String, i64) = (row.get(0), row.get(1));
            tx.execute("DELETE FROM queue_entries WHERE process = $1", &[&name]).await?;
            ended += tx
                .execute(
                    &format!(
                        "UPDATE session_log s
                         SET ended_at = GREATEST($2, queued_at, COALESCE(answered_at, 0)), end_reason = 'hub_shutdown',
                             resume_sha256 = NULL
                         WHERE ended_at IS NULL
                           AND (kiosk_process = $1 OR agent_process = $1)
                           AND NOT EXISTS (
                               SELECT 1 FROM hub_processes p
                               WHERE p.name IN (s.kiosk_process, s.agent_process) AND {ALIVE_P})"
                    ),
                    &[&name, &lost, &PROCESS_LOCK_CLASS],
                )
                .await?;
            tx.execute("UPDATE hub_processes SET swept_at = $2 WHERE name = $1", &[&name, &now.as_millisecond()])
                .await?;
        }
        tx.commit().await?;
        Ok(ended as usize)
    }

    // -- the shared queue ---------------------------------------------------

    /// Puts a resident in line, or moves their wait to `entry.process`
    /// (their kiosk came back there: same place). Their session-log record
    /// is written in the same transaction (if the session log's own
    /// `queued` has not landed yet): an agent on any process may answer them
    /// as soon as they are in line, and the answer updates that record.
    pub async fn enqueue(&self, entry: &QueueEntry) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO session_log (id, kiosk_id, service, queued_at, kiosk_process)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET kiosk_process = excluded.kiosk_process",
            &[
                &entry.session.as_str(),
                &entry.kiosk_id.as_str(),
                &entry.service.as_str(),
                &entry.queued_at.as_millisecond(),
                &entry.process,
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO queue_entries (session, service, kiosk_id, site, queued_at, process, transferred_from,
                                        line_at, appointment, booked_agent, held_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (session) DO UPDATE SET process = excluded.process",
            &[
                &entry.session.as_str(),
                &entry.service.as_str(),
                &entry.kiosk_id.as_str(),
                &entry.site,
                &entry.queued_at.as_millisecond(),
                &entry.process,
                &entry.transferred_from.as_ref().map(ServiceId::as_str),
                &entry.line_key().1.as_millisecond(),
                &entry.appointment.as_ref().map(|a| a.reference.0 as i64),
                &entry.appointment.as_ref().and_then(|a| a.agent.as_ref()).map(AgentLogin::as_str),
                &(entry.queued_at + crate::core::appointments::HOLD).as_millisecond(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the resident first in line (transferred residents first, then
    /// by the time each counts as queued: `QueueEntry::line_key`) for any
    /// of `services` out of line, at `now`, in one statement; a resident
    /// booked with one of the agents `holding` (the other agents signed in
    /// and not away) is passed over until their hold ends
    /// (`core::appointments`). Rows another taker holds
    /// are skipped, not waited for; that taker deletes them, so nobody is
    /// taken twice and nobody is passed over for good. `None`: nobody
    /// waits (or everyone waiting is being taken by someone else).
    pub async fn take_next(&self, services: &[ServiceId], holding: &[AgentLogin], now: Timestamp) -> Result<Option<QueueEntry>, StoreError> {
        let services: Vec<&str> = services.iter().map(ServiceId::as_str).collect();
        let holding: Vec<&str> = holding.iter().map(AgentLogin::as_str).collect();
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "DELETE FROM queue_entries WHERE session = (
                     SELECT session FROM queue_entries WHERE service = ANY($1)
                       AND NOT COALESCE(booked_agent = ANY($2) AND held_until > $3, false)
                     ORDER BY {LINE_ORDER}
                     FOR UPDATE SKIP LOCKED LIMIT 1)
                 RETURNING {ENTRY}"
            ))
            .await?;
        let row = client.query_opt(&statement, &[&services, &holding, &now.as_millisecond()]).await?;
        row.map(|r| queue_entry(&r)).transpose()
    }

    /// Takes a resident out of line (cancelled, or gone); false if they
    /// were no longer in it (taken meanwhile by an agent).
    pub async fn leave_queue(&self, session: &SessionId) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("DELETE FROM queue_entries WHERE session = $1", &[&session.as_str()]).await? > 0)
    }

    /// Everyone waiting for `service`, first in line first: positions are
    /// the same whichever process a kiosk is connected to.
    pub async fn queue(&self, service: &ServiceId) -> Result<Vec<QueueEntry>, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                &format!("SELECT {ENTRY} FROM queue_entries WHERE service = $1 ORDER BY {LINE_ORDER}"),
                &[&service.as_str()],
            )
            .await?;
        rows.iter().map(queue_entry).collect()
    }
}

fn queue_entry(r: &tokio_postgres::Row) -> Result<QueueEntry, StoreError> {
    let session: String = r.get(0);
    let queued_at =
        ms(r.get(4)).ok_or_else(|| StoreError::Damaged(format!("queue entry {session} has an unreadable time")))?;
    Ok(QueueEntry {
        session: SessionId(session),
        service: ServiceId(r.get(1)),
        kiosk_id: KioskId(r.get(2)),
        site: r.get(3),
        queued_at,
        process: r.get(5),
        transferred_from: r.get::<_, Option<String>>(6).map(ServiceId),
        appointment: r.get::<_, Option<i64>>(7).map(|reference| crate::core::appointments::Precedence {
            reference: crate::core::appointments::Reference(reference as u64),
            agent: r.get::<_, Option<String>>(8).map(AgentLogin),
        }),
    })
}

/// A queue entry's columns, as [`queue_entry`] reads them.
const ENTRY: &str = "session, service, kiosk_id, site, queued_at, process, transferred_from, appointment, booked_agent";
/// The shared line's order (`QueueEntry::line_key`).
const LINE_ORDER: &str = "transferred_from IS NULL, COALESCE(line_at, queued_at), session";
