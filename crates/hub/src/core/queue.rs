//! Waiting residents per service, oldest first, with what each kiosk was
//! last told so that it hears again only when its place or wait changes.

use std::collections::{HashMap, VecDeque};

use visio_protocol::{ServiceId, SessionId, WaitEstimate};

#[derive(Default)]
pub(super) struct Queues {
    by_service: HashMap<ServiceId, VecDeque<Entry>>,
}

struct Entry {
    session: SessionId,
    last_sent: Option<(u32, Option<WaitEstimate>)>,
}

impl Queues {
    /// Appends a resident; returns their position (1 = next).
    pub fn push(&mut self, service: &ServiceId, session: SessionId) -> u32 {
        let queue = self.by_service.entry(service.clone()).or_default();
        queue.push_back(Entry { session, last_sent: None });
        queue.len() as u32
    }

    pub fn front(&self, service: &ServiceId) -> Option<&SessionId> {
        self.by_service.get(service)?.front().map(|e| &e.session)
    }

    pub fn remove(&mut self, service: &ServiceId, session: &SessionId) {
        if let Some(queue) = self.by_service.get_mut(service) {
            queue.retain(|e| &e.session != session);
        }
    }

    pub fn len(&self, service: &ServiceId) -> usize {
        self.by_service.get(service).map_or(0, VecDeque::len)
    }

    /// `(position, session)` of everyone waiting for `service`, in order.
    pub fn waiting(&self, service: &ServiceId) -> impl Iterator<Item = (u32, SessionId)> + use<> {
        let list: Vec<(u32, SessionId)> = self
            .by_service
            .get(service)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| (i as u32 + 1, e.session.clone()))
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
