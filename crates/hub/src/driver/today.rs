//! Today's figures for the supervisors' board: read from the session log
//! in the store (SQLite or PostgreSQL), computed by `visio_stats` as the
//! usage report is, handed back to the core ([`Input::Today`]). On its own
//! task so the store never stalls signaling; requests that pile up while
//! it reads are answered by one read.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;
use visio_protocol::{AgentDay, DayFigures, ServiceDay};

use super::Input;
use super::session_log::SessionLog;
use crate::bus::Bus;
use crate::core::BusMessage;
use crate::store::Backend;

struct Refresh {
    logged: bool,
    read: bool,
    timezone: TimeZone,
}

pub(super) struct Today {
    tx: mpsc::Sender<Refresh>,
}

impl Today {
    /// `process` names this one on the bus.
    pub(super) fn spawn(store: Backend, log: SessionLog, bus: Option<(Bus, String)>, inputs: mpsc::Sender<Input>) -> Today {
        let (tx, mut rx) = mpsc::channel::<Refresh>(256);
        tokio::spawn(async move {
            while let Some(mut next) = rx.recv().await {
                while let Ok(more) = rx.try_recv() {
                    next = Refresh { logged: next.logged || more.logged, read: next.read || more.read, timezone: more.timezone };
                }
                if next.logged {
                    // The log writes in order: past this, the event is in the store.
                    log.flush().await;
                    if let Some((bus, process)) = &bus {
                        bus.broadcast(&BusMessage::SessionLogged { from: process.clone() }).await;
                    }
                }
                if !next.read {
                    continue;
                }
                match figures(&store, Timestamp::now(), &next.timezone).await {
                    Ok(today) => {
                        if inputs.send(Input::Today(Box::new(today))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read today's figures from the session log"),
                }
            }
        });
        Today { tx }
    }

    /// Asks for a read (`read`: a supervisor is connected here), after the
    /// log's writes so far when `logged`.
    pub(super) fn refresh(&self, logged: bool, read: bool, timezone: TimeZone) {
        if self.tx.try_send(Refresh { logged, read, timezone }).is_err() {
            // 256 waiting: the next read, already due, covers this one.
            tracing::debug!("today's figures: a refresh is already waiting");
        }
    }
}

async fn figures(store: &Backend, now: Timestamp, tz: &TimeZone) -> Result<DayFigures, crate::store::StoreError> {
    let date = now.to_zoned(tz.clone()).date();
    let start = date.to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(now);
    // The day's visits (a day is at most 25 hours), and a margin.
    let records = store.session_log_between(start, now + jiff::SignedDuration::from_hours(1)).await?;
    let day = visio_stats::day(&records, date, tz);
    Ok(DayFigures {
        date,
        services: day
            .by_service
            .iter()
            .map(|r| ServiceDay {
                service: r.key.as_str().into(),
                answered: r.interviews,
                abandoned: r.abandoned,
                median_wait_seconds: r.median_wait_seconds,
                happy: r.happy,
                neutral: r.neutral,
                unhappy: r.unhappy,
            })
            .collect(),
        agents: day.by_agent.iter().map(|r| AgentDay { login: r.key.as_str().into(), calls: r.interviews }).collect(),
    })
}
