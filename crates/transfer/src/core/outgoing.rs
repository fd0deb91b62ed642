//! Transfers this endpoint sends: the offer, the window of bytes the peer
//! has not acknowledged, one `Output::Read` at a time, the pacing token
//! bucket, and the peer's `accept`, `ack` and `received`.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::{CommandError, Direction, Endpoint, Event, FileMeta, Output, PACE_BURST, PeerError, Side, paced_chunk_len};
use crate::wire::{Chunk, ErrorCode, KIOSK_ID_BIT, Message, Purpose};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutState {
    /// Offer sent, waiting for `accept`.
    Offered,
    /// Streaming chunks.
    Sending,
    /// Link came back; `resume` sent, waiting for `accept`.
    Resuming,
    /// Every byte sent; waiting for `received`.
    Finishing,
}

#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) meta: FileMeta,
    pub(super) state: OutState,
    /// Next byte to read and send.
    pub(super) next: u64,
    /// Bytes the receiver acknowledged.
    pub(super) acked: u64,
    /// An `Output::Read` is out and not answered.
    pub(super) read_pending: Option<u64>,
    pub(super) last_activity: Instant,
}

impl Endpoint {

    /// The peer's answer to an offer or a resume: send from `offset`.
    pub(super) fn handle_accept(&mut self, now: Instant, id: u32, offset: u64) -> Result<(), PeerError> {
        let Some(o) = self.outgoing.get_mut(&id) else {
            return self.refuse(Some(id), ErrorCode::UnknownTransfer, format!("no transfer {id} was offered"));
        };
        if offset > o.meta.size || offset > o.next.max(o.acked) {
            let msg = format!("accept offset {offset} is past the {} bytes sent", o.next);
            self.fail_out(id, ErrorCode::BadMessage, msg.clone(), false);
            return self.refuse(Some(id), ErrorCode::BadMessage, msg);
        }
        let was = o.state;
        if matches!(was, OutState::Sending | OutState::Finishing) {
            // The answer to an offer or resume already answered (the
            // peer saw it twice): rewinding would resend up to a
            // window for nothing.
            debug!(id, offset, "repeated accept ignored");
            return Ok(());
        }
        o.state = OutState::Sending;
        o.acked = offset;
        o.next = offset;
        o.read_pending = None;
        o.last_activity = now;
        if was == OutState::Resuming {
            info!(id, offset, "resuming transfer");
            self.emit(Event::Resumed { id, offset });
        }
        Ok(())
    }

    /// The peer holds the first `offset` bytes: the window moves on.
    pub(super) fn handle_ack(&mut self, now: Instant, id: u32, offset: u64) -> Result<(), PeerError> {
        if let Some(o) = self.outgoing.get_mut(&id) {
            if offset > o.next {
                let msg = format!("ack for {offset} bytes but only {} were sent", o.next);
                self.fail_out(id, ErrorCode::BadMessage, msg.clone(), false);
                return self.refuse(Some(id), ErrorCode::BadMessage, msg);
            }
            if offset > o.acked {
                o.acked = offset;
                o.last_activity = now;
                let total = o.meta.size;
                self.emit(Event::Progress { id, direction: Direction::Outgoing, done: offset, total });
            }
        }
        // An ack for a finished or unknown transfer is harmless: ignore.
        Ok(())
    }

    /// The peer has the whole file and its hash: delivered.
    pub(super) fn handle_received(&mut self, id: u32, sha256: &str) {
        if let Some(o) = self.outgoing.remove(&id) {
            if sha256 != o.meta.sha256 {
                warn!(id, "peer confirmed a different hash");
            }
            info!(id, size = o.meta.size, "transfer delivered");
            self.emit(Event::Delivered { id });
        }
    }

    /// Answer to `Output::Read`: the bytes at `offset` of outgoing `id`.
    pub fn handle_data(&mut self, now: Instant, id: u32, offset: u64, data: &[u8]) -> Result<(), CommandError> {
        self.tick(now);
        let Some(o) = self.outgoing.get_mut(&id) else {
            // Cancelled meanwhile: harmless.
            return Ok(());
        };
        if o.read_pending != Some(offset) {
            // A read answered after a link drop or resume: stale, drop it.
            if o.state != OutState::Sending {
                return Ok(());
            }
            return Err(CommandError::UnexpectedData { id, offset });
        }
        o.read_pending = None;
        if data.is_empty() || offset + data.len() as u64 > o.meta.size {
            let msg = format!("the file for transfer {id} changed size while being sent");
            self.fail_outgoing(now, id, &msg)?;
            return Ok(());
        }
        let frame = Chunk { id, offset: offset as u32, data }.encode();
        o.next = offset + data.len() as u64;
        o.last_activity = now;
        if o.next == o.meta.size {
            o.state = OutState::Finishing;
        }
        self.chunks.push_back(frame);
        Ok(())
    }

    /// Offers a file to the peer; bytes are asked for with `Output::Read` once
    /// the peer accepts. Returns the transfer id.
    pub fn push_file(&mut self, now: Instant, meta: FileMeta) -> Result<u32, CommandError> {
        self.tick(now);
        let allowed = match self.side {
            Side::Kiosk => matches!(meta.purpose, Purpose::Scan | Purpose::ScanPreview | Purpose::Signed),
            Side::Agent => matches!(meta.purpose, Purpose::Print | Purpose::Display | Purpose::Sign),
        };
        if !allowed {
            return Err(CommandError::WrongSide { what: "sending this kind of file", side: self.side });
        }
        let max = self.limits.max_file_bytes.min(u64::from(u32::MAX));
        if meta.size > max {
            return Err(CommandError::TooLarge { size: meta.size, max });
        }
        let id = self.next_id
            | match self.side {
                Side::Kiosk => KIOSK_ID_BIT,
                Side::Agent => 0,
            };
        self.next_id = (self.next_id + 1) & !KIOSK_ID_BIT;
        self.send(offer_message(id, &meta));
        self.outgoing.insert(id, Outgoing { meta, state: OutState::Offered, next: 0, acked: 0, read_pending: None, last_activity: now });
        Ok(id)
    }

    /// The shell could not read an outgoing file: fail the transfer and tell the peer.
    pub fn fail_outgoing(&mut self, _now: Instant, id: u32, reason: &str) -> Result<(), CommandError> {
        if !self.outgoing.contains_key(&id) {
            return Err(CommandError::UnknownTransfer(id));
        }
        self.fail_out(id, ErrorCode::Unexpected, reason.into(), true);
        Ok(())
    }

    /// Queues one `Output::Read` for the first transfer that may send. Returns
    /// false when nothing can move now.
    pub(super) fn schedule_read(&mut self) -> bool {
        if !self.link_up || self.paused || !self.chunks.is_empty() {
            return false;
        }
        let window = self.limits.window_bytes;
        // One transfer at a time, lowest id first: finishes files rather than
        // interleaving them, so the agent gets whole documents sooner.
        let Some((&id, o)) = self.outgoing.iter_mut().find(|(_, o)| o.state != OutState::Offered && o.state != OutState::Resuming && o.next < o.meta.size) else {
            return false;
        };
        if o.state != OutState::Sending || o.read_pending.is_some() || o.next - o.acked >= window {
            return false;
        }
        let len = (o.meta.size - o.next).min(paced_chunk_len(self.rate) as u64) as usize;
        let offset = o.next;
        if !self.take_tokens(len) {
            return false;
        }
        let o = self.outgoing.get_mut(&id).expect("found above");
        o.read_pending = Some(offset);
        self.outputs.push_back(Output::Read { id, offset, len });
        true
    }

    /// Token bucket for pacing: true if `len` bytes may go now; otherwise
    /// sets `pace_until` (a wake-up in `poll_timeout`).
    fn take_tokens(&mut self, len: usize) -> bool {
        let (Some(rate), Some(now)) = (self.rate, self.now) else {
            return true;
        };
        if self.pace_until.is_some_and(|t| now < t) {
            return false;
        }
        let burst = (rate as f64 * PACE_BURST.as_secs_f64()).max(2.0 * paced_chunk_len(Some(rate)) as f64);
        let elapsed = self.last_refill.map(|t| now.saturating_duration_since(t).as_secs_f64()).unwrap_or(burst / rate as f64);
        self.tokens = (self.tokens + elapsed * rate as f64).min(burst);
        self.last_refill = Some(now);
        if self.tokens >= len as f64 {
            self.tokens -= len as f64;
            self.pace_until = None;
            true
        } else {
            let wait = (len as f64 - self.tokens) / rate as f64;
            // At least 1 ms: float rounding must not ask for a wake-up at `now`.
            self.pace_until = Some(now + Duration::from_secs_f64(wait).max(Duration::from_millis(1)));
            false
        }
    }

    /// Queued chunks may belong to a transfer just removed; they are dropped
    /// rather than sent (the peer would ignore them anyway).
    pub(super) fn chunks_for_removed(&mut self) {
        let live = &self.outgoing;
        self.chunks.retain(|c| {
            let id = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            live.contains_key(&id)
        });
    }

    pub(super) fn fail_out(&mut self, id: u32, code: ErrorCode, message: String, tell_peer: bool) {
        if self.outgoing.remove(&id).is_none() {
            return;
        }
        self.chunks_for_removed();
        warn!(side = ?self.side, id, ?code, "outgoing transfer failed");
        if tell_peer {
            self.send(Message::Cancel { id, reason: message.clone() });
        }
        self.emit(Event::Rejected { id, direction: Direction::Outgoing, code, reason: message, by_peer: false });
    }

}

pub(super) fn offer_message(id: u32, meta: &FileMeta) -> Message {
    Message::Offer {
        id,
        name: meta.name.clone(),
        size: meta.size,
        sha256: meta.sha256.clone(),
        purpose: meta.purpose,
        req: meta.req,
    }
}
