//! The session log's writer: events and kiosk reports written in order on
//! their own task, in batches that grow when the disk falls behind.

use std::collections::HashMap;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::core::HubEvent;
use crate::store::Backend;

/// Writes session-log events and kiosk reports in order on its own task, so
/// a slow disk never stalls signaling. Cheap to clone.
#[derive(Clone)]
pub(super) struct SessionLog {
    tx: mpsc::Sender<LogItem>,
}

enum LogItem {
    // Boxed: a heartbeat report makes events large, flushes are tiny.
    Event(Box<HubEvent>),
    /// The hub still runs at this time.
    Alive(Timestamp),
    /// The hub stops now (graceful shutdown).
    Stopped(Timestamp),
    Flush(oneshot::Sender<()>),
}

impl SessionLog {
    pub(super) fn spawn(store: Backend) -> SessionLog {
        let (tx, mut rx) = mpsc::channel::<LogItem>(4096);
        tokio::spawn(async move {
            // The item that ended the last batch of events.
            let mut next: Option<LogItem> = None;
            loop {
                let item = match next.take() {
                    Some(item) => item,
                    None => match rx.recv().await {
                        Some(item) => item,
                        None => break,
                    },
                };
                match item {
                    LogItem::Event(first) => {
                        // Everything already waiting goes in the same
                        // commit: batches grow exactly when the disk falls
                        // behind, and cost nothing when it keeps up.
                        let mut batch = vec![*first];
                        while batch.len() < LOG_BATCH {
                            match rx.try_recv() {
                                Ok(LogItem::Event(event)) => batch.push(*event),
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        write_log(&store, coalesce_heartbeats(batch)).await;
                    }
                    LogItem::Alive(at) => {
                        if let Err(e) = store.mark_alive(at).await {
                            tracing::warn!(error = %e, "could not stamp the hub as running");
                        }
                    }
                    LogItem::Stopped(at) => {
                        if let Err(e) = store.mark_stopped(at).await {
                            tracing::error!(error = %e, "could not record the hub's stop time");
                        }
                    }
                    LogItem::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        SessionLog { tx }
    }

    pub(super) async fn record(&self, event: HubEvent) {
        // Waits when the writer is 4096 events behind: back-pressure rather
        // than a lost record.
        let _ = self.tx.send(LogItem::Event(Box::new(event))).await;
    }

    pub(super) async fn alive(&self, at: Timestamp) {
        let _ = self.tx.send(LogItem::Alive(at)).await;
    }

    pub(super) async fn stopped(&self, at: Timestamp) {
        let _ = self.tx.send(LogItem::Stopped(at)).await;
    }

    pub(super) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(LogItem::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The most session-log events written in one transaction.
const LOG_BATCH: usize = 1024;

/// Writes a batch in one transaction; if that fails, event by event, so
/// that one bad record costs only itself.
async fn write_log(store: &Backend, events: Vec<HubEvent>) {
    if events.len() > 1 {
        match store.record_all(events.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, events = events.len(), "could not write a batch of the session log; writing it event by event")
            }
        }
    }
    for event in &events {
        if let Err(e) = store.record(event).await {
            tracing::error!(error = %e, ?event, "could not write the session log");
        }
    }
}

/// Drops every heartbeat that a later heartbeat of the same kiosk in the
/// batch overwrites anyway (a heartbeat rewrites the whole status row it
/// reports), keeping the order of the rest.
fn coalesce_heartbeats(events: Vec<HubEvent>) -> Vec<HubEvent> {
    let mut last = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if let HubEvent::Heartbeat { kiosk_id, .. } = event {
            last.insert(kiosk_id.clone(), i);
        }
    }
    events
        .into_iter()
        .enumerate()
        .filter(|(i, event)| match event {
            HubEvent::Heartbeat { kiosk_id, .. } => last.get(kiosk_id) == Some(i),
            _ => true,
        })
        .map(|(_, event)| event)
        .collect()
}

#[cfg(test)]
mod tests;
