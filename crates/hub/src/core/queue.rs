//! Waiting residents per service, oldest first, with what each kiosk was
//! last told so that it hears again only when its place or wait changes.
//!
//! With several hub processes, residents waiting on the others are known
//! too (from the shared queue, [`Queues::set_others`]): places count
//! everyone in line, whichever process holds their kiosk, in the shared
//! queue's order (time queued, then session id).

use std::collections::{HashMap, VecDeque};

use jiff::Timestamp;
use visio_protocol::{KioskId, ServiceId, SessionId, WaitEstimate};

use super::QueueEntry;

#[derive(Default)]
pub(super) struct Queues {
    by_service: HashMap<ServiceId, VecDeque<Entry>>,
    /// Residents waiting on other hub processes, in the shared order.
    others: HashMap<ServiceId, Vec<QueueEntry>>,
}

struct Entry {
    session: SessionId,
    queued_at: Timestamp,
    last_sent: Option<(u32, Option<WaitEstimate>)>,
}

/// Someone in line, here or on another process.
pub(super) enum Waiter<'a> {
    Here(&'a SessionId),
    Other(&'a QueueEntry),
}

impl Queues {
    /// Appends a resident; returns their position (1 = next).
    pub fn push(&mut self, service: &ServiceId, session: SessionId, queued_at: Timestamp) -> u32 {
        let queue = self.by_service.entry(service.clone()).or_default();
        queue.push_back(Entry { session: session.clone(), queued_at, last_sent: None });
        self.waiting(service).find(|(_, s)| *s == session).map_or(1, |(p, _)| p)
    }

    pub fn front(&self, service: &ServiceId) -> Option<&SessionId> {
        self.by_service.get(service)?.front().map(|e| &e.session)
    }

    pub fn remove(&mut self, service: &ServiceId, session: &SessionId) {
        if let Some(queue) = self.by_service.get_mut(service) {
            queue.retain(|e| &e.session != session);
        }
    }

    /// Residents waiting here.
    pub fn len(&self, service: &ServiceId) -> usize {
        self.by_service.get(service).map_or(0, VecDeque::len)
    }

    /// Replaces who waits on other processes, for every service; returns
    /// the services whose line changed.
    pub fn set_others(&mut self, mut others: HashMap<ServiceId, Vec<QueueEntry>>) -> Vec<ServiceId> {
        for line in others.values_mut() {
            line.sort_by(|a, b| (a.queued_at, &a.session).cmp(&(b.queued_at, &b.session)));
        }
        let mut changed: Vec<ServiceId> = others
            .iter()
            .filter(|(s, line)| self.others.get(*s) != Some(*line))
            .map(|(s, _)| s.clone())
            .chain(self.others.keys().filter(|s| !others.contains_key(*s)).cloned())
            .collect();
        changed.sort();
        changed.dedup();
        self.others = others;
        changed
    }

    /// Takes `kiosk_id`'s wait for `service` on another process out of
    /// the others' line (it comes here).
    pub fn take_other(&mut self, service: &ServiceId, kiosk_id: &KioskId) -> Option<QueueEntry> {
        let line = self.others.get_mut(service)?;
        let i = line.iter().position(|e| &e.kiosk_id == kiosk_id)?;
        Some(line.remove(i))
    }

    /// Everyone in line for `service`, here and elsewhere, first first.
    pub fn line(&self, service: &ServiceId) -> Vec<Waiter<'_>> {
        let here = self.by_service.get(service).into_iter().flatten().map(|e| (e.queued_at, &e.session, Waiter::Here(&e.session)));
        let others = self.others.get(service).into_iter().flatten().map(|e| (e.queued_at, &e.session, Waiter::Other(e)));
        let mut line: Vec<(Timestamp, &SessionId, Waiter<'_>)> = here.chain(others).collect();
        line.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        line.into_iter().map(|(_, _, w)| w).collect()
    }

    /// `(position, session)` of everyone waiting here for `service`, in
    /// order; positions count those waiting elsewhere too.
    pub fn waiting(&self, service: &ServiceId) -> impl Iterator<Item = (u32, SessionId)> + use<> {
        let list: Vec<(u32, SessionId)> = self
            .line(service)
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| match w {
                Waiter::Here(session) => Some((i as u32 + 1, session.clone())),
                Waiter::Other(_) => None,
            })
            .collect();
        list.into_iter()
    }

    /// Records what the kiosk is told; returns whether it differs from what
    /// it was told last.
    pub fn mark_sent(
        &mut self,
        service: &ServiceId,
        session: &SessionId,
        position: u32,
        estimate: Option<WaitEstimate>,
    ) -> bool {
        let Some(entry) = self.by_service.get_mut(service).and_then(|q| q.iter_mut().find(|e| &e.session == session))
        else {
            return false;
        };
        let now = Some((position, estimate));
        let changed = entry.last_sent != now;
        entry.last_sent = now;
        changed
    }
}
