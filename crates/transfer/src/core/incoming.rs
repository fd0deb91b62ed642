//! Transfers this endpoint receives: offers checked against the limits,
//! chunks hashed and sniffed as they pass (their bytes leave at once as
//! `Output::Write`), acknowledgements, resumes, and the final verdict.

use std::time::Instant;

use sha2::{Digest, Sha256};
use tracing::{debug, info};

use super::{CommandError, Direction, Endpoint, Event, Output, PeerError, Side};
use crate::check::{ContentChecker, ContentKind, check_name};
use crate::wire::{Chunk, ErrorCode, KIOSK_ID_BIT, Message, Purpose};

#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) sha256: String,
    pub(super) purpose: Purpose,
    pub(super) req: Option<u32>,
    pub(super) received: u64,
    pub(super) last_ack: u64,
    pub(super) hasher: Sha256,
    pub(super) checker: ContentChecker,
    pub(super) last_activity: Instant,
}

impl Endpoint {

    /// The sender's link came back and it asks where to go on.
    pub(super) fn handle_resume(&mut self, now: Instant, id: u32) -> Result<(), PeerError> {
        match self.incoming.get_mut(&id) {
            Some(i) => {
                i.last_activity = now;
                i.last_ack = i.received;
                let offset = i.received;
                info!(id, offset, "peer resumes transfer");
                self.send(Message::Accept { id, offset });
                Ok(())
            }
            None => {
                if let Some(sha256) = self.completed.get(&id).cloned() {
                    self.send(Message::Received { id, sha256 });
                    return Ok(());
                }
                self.refuse(Some(id), ErrorCode::UnknownTransfer, format!("no transfer {id} to resume"))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_offer(
        &mut self,
        now: Instant,
        id: u32,
        name: String,
        size: u64,
        sha256: String,
        purpose: Purpose,
        req: Option<u32>,
    ) -> Result<(), PeerError> {
        if let Some(i) = self.incoming.get_mut(&id) {
            // A repeated offer (sent again after a link drop): answer like a resume.
            i.last_activity = now;
            let offset = i.received;
            self.send(Message::Accept { id, offset });
            return Ok(());
        }
        let peer_bit = match self.side {
            Side::Kiosk => 0,
            Side::Agent => KIOSK_ID_BIT,
        };
        if id & KIOSK_ID_BIT != peer_bit {
            return self.refuse(Some(id), ErrorCode::BadMessage, format!("transfer id {id:#x} is in the other side's id range"));
        }
        let purpose_ok = match self.side {
            Side::Kiosk => matches!(purpose, Purpose::Print | Purpose::Display | Purpose::Sign),
            Side::Agent => matches!(purpose, Purpose::Scan | Purpose::ScanPreview | Purpose::Signed),
        };
        if !purpose_ok {
            return self.refuse(Some(id), ErrorCode::Unexpected, format!("the {:?} side does not take {purpose:?} files", self.side));
        }
        if let Err(e) = check_name(&name) {
            return self.refuse(Some(id), ErrorCode::BadName, format!("refused file name: {e}"));
        }
        let max = self.limits.max_file_bytes.min(u64::from(u32::MAX));
        if size > max {
            return self.refuse(Some(id), ErrorCode::TooLarge, format!("file of {size} bytes is over the {max}-byte limit"));
        }
        if size == 0 {
            return self.refuse(Some(id), ErrorCode::UnsupportedType, "file is empty".to_string());
        }
        if sha256.len() != 64 || !sha256.bytes().all(|c| c.is_ascii_hexdigit()) {
            return self.refuse(Some(id), ErrorCode::BadMessage, "sha256 must be 64 hex digits".into());
        }
        if self.incoming.len() >= self.limits.max_concurrent_incoming {
            return self.refuse(Some(id), ErrorCode::Busy, format!("already receiving {} files; try again when one is done", self.incoming.len()));
        }
        info!(side = ?self.side, id, size, ?purpose, "accepting transfer");
        self.incoming.insert(id, Incoming {
            name: name.clone(),
            size,
            sha256: sha256.to_ascii_lowercase(),
            purpose,
            req,
            received: 0,
            last_ack: 0,
            hasher: Sha256::new(),
            checker: ContentChecker::new(),
            last_activity: now,
        });
        self.emit(Event::IncomingStarted { id, name, size, purpose });
        self.send(Message::Accept { id, offset: 0 });
        Ok(())
    }

    pub(super) fn handle_chunk(&mut self, now: Instant, c: Chunk<'_>) -> Result<(), PeerError> {
        let id = c.id;
        let Some(i) = self.incoming.get_mut(&id) else {
            // Chunks of a transfer we just refused may still be in flight: no
            // reply, or one refusal would become hundreds of error messages.
            debug!(id, "chunk for unknown transfer dropped");
            return Err(PeerError::Refused { code: ErrorCode::UnknownTransfer, message: format!("no transfer {id}") });
        };
        let offset = u64::from(c.offset);
        let end = offset + c.data.len() as u64;
        if offset > i.received {
            let msg = format!("chunk at offset {offset} but only {} bytes received: data is missing", i.received);
            return self.fail_in(id, ErrorCode::OffsetGap, msg);
        }
        if end <= i.received {
            return Ok(()); // a duplicate from before a resume: already have it
        }
        if end > i.size {
            let msg = format!("chunk ends at {end}, past the announced size {}", i.size);
            return self.fail_in(id, ErrorCode::BadMessage, msg);
        }
        let data = &c.data[(i.received - offset) as usize..];
        let at = i.received;
        i.hasher.update(data);
        i.received = end;
        i.last_activity = now;
        if let Err(e) = i.checker.update(data) {
            return self.fail_in(id, ErrorCode::UnsupportedType, e.to_string());
        }
        // A stamp goes into a PDF's page only: refused at the first bytes.
        if i.purpose == Purpose::Sign && i.checker.kind().is_some_and(|k| k != ContentKind::Pdf) {
            return self.fail_in(id, ErrorCode::UnsupportedType, crate::sign::NOT_A_PDF.into());
        }
        self.outputs.push_back(Output::Write { id, offset: at, data: data.to_vec() });
        let i = self.incoming.get_mut(&id).expect("present: looked up above");
        if i.received == i.size {
            return self.finish_incoming(id);
        }
        if i.received - i.last_ack >= self.limits.ack_every {
            i.last_ack = i.received;
            let (done, total) = (i.received, i.size);
            self.send(Message::Ack { id, offset: done });
            self.emit(Event::Progress { id, direction: Direction::Incoming, done, total });
        }
        Ok(())
    }

    fn finish_incoming(&mut self, id: u32) -> Result<(), PeerError> {
        let i = self.incoming.remove(&id).expect("caller checked");
        let got = hex::encode(i.hasher.finalize());
        if got != i.sha256 {
            self.outputs.push_back(Output::Discard { id });
            let msg = format!("SHA-256 of the {} bytes received is {got}, not {} as offered: a chunk was corrupted", i.size, i.sha256);
            return self.refuse_after_remove(id, ErrorCode::HashMismatch, msg);
        }
        match i.checker.finish() {
            Ok(info) => {
                info!(side = ?self.side, id, size = i.size, kind = %info.kind, pages = ?info.pages, "file received and verified");
                self.send(Message::Ack { id, offset: i.size });
                self.send(Message::Received { id, sha256: got.clone() });
                self.completed.insert(id, got.clone());
                self.emit(Event::Progress { id, direction: Direction::Incoming, done: i.size, total: i.size });
                self.emit(Event::FileReceived {
                    id,
                    name: i.name,
                    purpose: i.purpose,
                    req: i.req,
                    size: i.size,
                    sha256: got,
                    info,
                });
                Ok(())
            }
            Err(e) => {
                self.outputs.push_back(Output::Discard { id });
                self.refuse_after_remove(id, ErrorCode::UnsupportedType, e.to_string())
            }
        }
    }

    /// The shell could not write an incoming file (disk full...): fail it and tell the peer.
    pub fn fail_incoming(&mut self, _now: Instant, id: u32, reason: &str) -> Result<(), CommandError> {
        if !self.incoming.contains_key(&id) {
            return Err(CommandError::UnknownTransfer(id));
        }
        let _ = self.fail_in(id, ErrorCode::Unexpected, reason.into());
        Ok(())
    }

    pub(super) fn refuse_after_remove(&mut self, id: u32, code: ErrorCode, message: String) -> Result<(), PeerError> {
        self.emit(Event::Rejected { id, direction: Direction::Incoming, code, reason: message.clone(), by_peer: false });
        self.refuse(Some(id), code, message)
    }

    pub(super) fn fail_in(&mut self, id: u32, code: ErrorCode, message: String) -> Result<(), PeerError> {
        self.incoming.remove(&id);
        self.outputs.push_back(Output::Discard { id });
        self.refuse_after_remove(id, code, message)
    }

}
