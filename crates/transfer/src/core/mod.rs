//! The sans-I/O protocol core: one [`Endpoint`] per side of the data channel.
//!
//! No sockets, files, clocks or threads in here. The shell feeds inputs
//! (`handle_*` and app commands, each taking `now`), then drains
//! [`Endpoint::poll_output`] until it returns `None`, and wakes the core at
//! [`Endpoint::poll_timeout`] with [`Endpoint::handle_timeout`].
//!
//! File bytes never live in the core: to send, it asks the shell for one
//! chunk at a time ([`Output::Read`]) and the shell answers with
//! [`Endpoint::handle_data`]; received bytes leave as [`Output::Write`] for
//! the shell to put in its spool file. The core hashes and checks them as
//! they pass.
//!
//! # Where things live
//!
//! The module is one [`Endpoint`] split by what each part owns; everything
//! public is re-exported here.
//!
//! - `limits.rs`: [`Limits`] (configuration and its checks) and the pacing
//!   arithmetic ([`paced_chunk_len`], [`PACE_QUANTUM`]).
//! - `events.rs`: the vocabulary the shell sees: inputs ([`Frame`], [`FileMeta`]),
//!   outputs ([`Output`], [`Transmit`], [`Event`]) and errors
//!   ([`CommandError`], [`PeerError`]).
//! - `incoming.rs`: transfers we receive: offers checked and accepted,
//!   chunks hashed and sniffed as they pass, resumes answered, the final
//!   verdict.
//! - `outgoing.rs`: transfers we send: offers, the window of unacknowledged
//!   bytes, `Output::Read` scheduling, the pacing token bucket, accepts,
//!   acks and delivery.
//! - this file: the [`Endpoint`] itself, the link's state (up, down,
//!   buffered-amount pause), message dispatch, timers, scan and outcome
//!   commands, and [`Endpoint::poll_output`].
//! - `view.rs`: shown documents driven by the agent (`view`, `view_shown`).
//! - `sign.rs`: documents to sign, the agent placing the box (`sign_box`,
//!   `sign_shown`).

mod events;
mod incoming;
mod limits;
mod outgoing;
mod scan;
mod sign;
#[cfg(test)]
mod test_support;
mod view;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::check::ContentKind;
use crate::wire::{Chunk, ErrorCode, MAX_TEXT_MESSAGE, Message, OutcomeKind, ScanSettings};

pub use events::{CommandError, Direction, Event, FileMeta, Frame, Output, PeerError, Transmit};
use incoming::Incoming;
pub use limits::{Limits, LimitsError, MIN_PACED_CHUNK, PACE_BURST, PACE_QUANTUM, paced_chunk_len};
use outgoing::{OutState, Outgoing, offer_message};
pub use scan::ScanStep;
pub use view::PAGE_POINT_MAX;

/// Which end of the channel this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The kiosk: scans, prints, shows.
    Kiosk,
    /// The agent (in production the browser page speaks the same protocol).
    Agent,
}

/// One side of the document-transfer protocol.
///
/// # Drive loop
///
/// ```text
/// loop {
///     feed one input: handle_frame / handle_link_up / handle_link_down /
///                     handle_path_down / handle_path_up /
///                     handle_buffer_low / handle_buffer_high / handle_data /
///                     handle_timeout / an app command (request_scan, push_file, ...)
///     while let Some(out) = endpoint.poll_output() { act on it }   // until empty
///     sleep until endpoint.poll_timeout() or the next input
/// }
/// ```
/// `Output::Read` must be answered with `handle_data` (or `fail_outgoing`)
/// before the next wait; the shells in this crate do it inline.
#[derive(Debug)]
pub struct Endpoint {
    side: Side,
    limits: Limits,
    link_up: bool,
    /// The call's network path is down (a cut) though the channel is open:
    /// no-progress is not counted, the resume window bounds the wait.
    cut: bool,
    /// The channel's buffered amount went over the high mark; wait for "low".
    paused: bool,
    next_id: u32,
    next_req: u32,
    outgoing: BTreeMap<u32, Outgoing>,
    incoming: BTreeMap<u32, Incoming>,
    /// Finished incoming transfers and their hash: a `resume` for one (its
    /// `received` was lost with the link) is answered again, not refused.
    completed: BTreeMap<u32, String>,
    /// Control messages waiting for the link (kept across link drops).
    control: VecDeque<Message>,
    /// Chunks ready to go (dropped on link loss: resume resends them).
    chunks: VecDeque<Vec<u8>>,
    outputs: VecDeque<Output>,
    /// Latest time any input carried.
    now: Option<Instant>,
    /// Pacing: bytes per second, tokens available, last refill.
    rate: Option<u64>,
    tokens: f64,
    last_refill: Option<Instant>,
    /// Chunks wait for pacing until then.
    pace_until: Option<Instant>,
}

impl Endpoint {
    /// A new endpoint; the link starts down (call `handle_link_up` when the channel opens).
    pub fn new(side: Side, limits: Limits) -> Self {
        let limits_rate = limits.send_rate.filter(|&r| r > 0);
        Endpoint {
            side,
            limits,
            link_up: false,
            cut: false,
            paused: false,
            next_id: 1,
            next_req: 1,
            outgoing: BTreeMap::new(),
            incoming: BTreeMap::new(),
            completed: BTreeMap::new(),
            control: VecDeque::new(),
            chunks: VecDeque::new(),
            outputs: VecDeque::new(),
            now: None,
            rate: limits_rate,
            tokens: 0.0,
            last_refill: None,
            pace_until: None,
        }
    }

    /// Remembers the latest time seen (the core never reads the clock).
    fn tick(&mut self, now: Instant) {
        if self.now.is_none_or(|t| now > t) {
            self.now = Some(now);
        }
    }

    /// Paces chunks at `bytes_per_sec` (`None`: unpaced). Feed it a share of
    /// the call's bandwidth estimate so a transfer does not starve the video.
    pub fn set_send_rate(&mut self, now: Instant, bytes_per_sec: Option<u64>) {
        self.tick(now);
        self.rate = bytes_per_sec.filter(|&r| r > 0);
        self.pace_until = None;
    }

    /// Our side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Transfers in progress (both ways).
    pub fn active_transfers(&self) -> usize {
        self.outgoing.len() + self.incoming.len()
    }

    /// Whether the link is up as far as the core knows.
    pub fn is_link_up(&self) -> bool {
        self.link_up
    }

    // ---- inputs from the link ------------------------------------------------

    /// The data channel opened (first time or again after a drop): queued
    /// control messages go out and interrupted sends ask where to resume.
    pub fn handle_link_up(&mut self, now: Instant) {
        self.tick(now);
        info!(side = ?self.side, "data channel up");
        self.link_up = true;
        self.paused = false;
        let mut resumes = Vec::new();
        for (&id, o) in self.outgoing.iter_mut() {
            o.last_activity = now;
            o.read_pending = None;
            match o.state {
                // An offer still queued (pushed while the link was down) goes
                // out once, from the queue: a second copy would be answered
                // by a second `accept`.
                OutState::Offered if self.control.iter().any(|m| matches!(m, Message::Offer { id: queued, .. } if *queued == id)) => {}
                // The offer may have been lost with the link: offers are idempotent.
                OutState::Offered => resumes.push(offer_message(id, &o.meta)),
                OutState::Sending | OutState::Resuming | OutState::Finishing => {
                    o.state = OutState::Resuming;
                    resumes.push(Message::Resume { id });
                }
            }
        }
        // Resumes go before anything else queued while the link was down.
        for m in resumes.into_iter().rev() {
            self.control.push_front(m);
        }
        for i in self.incoming.values_mut() {
            i.last_activity = now;
        }
    }

    /// The data channel closed or the network dropped. Transfers wait (up to
    /// `resume_window`) for `handle_link_up`.
    pub fn handle_link_down(&mut self, now: Instant) {
        self.tick(now);
        info!(side = ?self.side, "data channel down; transfers wait for resume");
        self.link_up = false;
        self.chunks.clear();
        // Acks are regenerated by `accept` on resume; other control messages wait.
        self.control.retain(|m| !matches!(m, Message::Ack { .. }));
        for o in self.outgoing.values_mut() {
            o.last_activity = now;
            o.read_pending = None;
        }
        for i in self.incoming.values_mut() {
            i.last_activity = now;
        }
    }

    /// The channel's buffered amount fell below the low mark: chunks may flow.
    pub fn handle_buffer_low(&mut self, now: Instant) {
        self.tick(now);
        self.paused = false;
    }

    /// The channel's buffered amount rose over the high mark: hold chunks.
    pub fn handle_buffer_high(&mut self, now: Instant) {
        self.tick(now);
        self.paused = true;
    }

    /// A message from the peer. Errors are also answered on the wire; the
    /// session goes on either way.
    pub fn handle_frame(&mut self, now: Instant, frame: Frame<'_>) -> Result<(), PeerError> {
        self.tick(now);
        let result = match frame {
            Frame::Text(t) => match Message::from_json(t) {
                Ok(m) => self.handle_message(now, m),
                Err(e) => Err(PeerError::Wire(e)),
            },
            Frame::Binary(b) => match Chunk::decode(b) {
                Ok(c) => self.handle_chunk(now, c),
                Err(e) => Err(PeerError::Wire(e)),
            },
        };
        if let Err(PeerError::Wire(e)) = &result {
            warn!(side = ?self.side, error = %e, "malformed message from peer");
            self.send(Message::Error { id: None, code: ErrorCode::BadMessage, message: e.to_string() });
        }
        result
    }

    /// A decoded control message from the peer.
    pub fn handle_message(&mut self, now: Instant, msg: Message) -> Result<(), PeerError> {
        self.tick(now);
        // The type only: offers carry the document's name (personal data).
        debug!(side = ?self.side, kind = msg.kind(), "received");
        match msg {
            Message::ScanRequest { req, settings } => {
                if self.side != Side::Kiosk {
                    return self.refuse(None, ErrorCode::Unexpected, "only the kiosk scans".into());
                }
                let (lo, hi) = self.limits.dpi_range;
                if !(lo..=hi).contains(&settings.dpi) {
                    self.send(Message::ScanFailed {
                        req,
                        reason: format!("resolution {} dpi is outside {lo}–{hi} dpi", settings.dpi),
                    });
                    return Err(PeerError::Refused {
                        code: ErrorCode::BadMessage,
                        message: format!("dpi {} out of range", settings.dpi),
                    });
                }
                self.emit(Event::ScanRequested { req, settings });
            }
            Message::ScanStarted { req } => self.emit(Event::ScanStarted { req }),
            Message::ScanFailed { req, reason } => self.emit(Event::ScanFailed { req, reason }),
            Message::Offer { id, name, size, sha256, purpose, req } => {
                return self.handle_offer(now, id, name, size, sha256, purpose, req);
            }
            Message::Resume { id } => return self.handle_resume(now, id),
            Message::Accept { id, offset } => return self.handle_accept(now, id, offset),
            Message::Ack { id, offset } => return self.handle_ack(now, id, offset),
            Message::Received { id, sha256 } => self.handle_received(id, &sha256),
            Message::Cancel { id, reason } => {
                if self.incoming.remove(&id).is_some() {
                    self.outputs.push_back(Output::Discard { id });
                    self.emit(Event::Rejected { id, direction: Direction::Incoming, code: ErrorCode::Cancelled, reason, by_peer: true });
                } else if self.outgoing.remove(&id).is_some() {
                    self.chunks_for_removed();
                    self.emit(Event::Rejected { id, direction: Direction::Outgoing, code: ErrorCode::Cancelled, reason, by_peer: true });
                }
            }
            Message::Error { id, code, message } => {
                warn!(side = ?self.side, ?id, ?code, "peer reported an error");
                match id {
                    Some(id) if self.outgoing.remove(&id).is_some() => {
                        self.chunks_for_removed();
                        self.emit(Event::Rejected { id, direction: Direction::Outgoing, code, reason: message, by_peer: true });
                    }
                    Some(id) if self.incoming.remove(&id).is_some() => {
                        self.outputs.push_back(Output::Discard { id });
                        self.emit(Event::Rejected { id, direction: Direction::Incoming, code, reason: message, by_peer: true });
                    }
                    _ => self.emit(Event::PeerError { code, message }),
                }
            }
            m @ (Message::ScanPrepare { .. }
            | Message::ScanReady { .. }
            | Message::ScanPage { .. }
            | Message::ScanPageDone { .. }
            | Message::ScanDeclined { .. }
            | Message::ScanFeed { .. }
            | Message::ScanFeedDone { .. }
            | Message::ScanFinish { .. }
            | Message::ScanCancel { .. }) => return self.handle_scan_message(m),
            Message::Outcome { id, outcome, reason } => {
                self.message_for(Side::Agent, Some(id), "only the kiosk reports outcomes")?;
                self.emit(Event::Outcome { id, outcome, reason });
            }
            Message::View { id, view } => return self.handle_view(id, view),
            Message::ViewShown { id, pages, view, thumbnail } => return self.handle_view_shown(id, pages, view, thumbnail),
            Message::SignBox { id, area } => return self.handle_sign_box(id, area),
            Message::SignShown { id, pages, area, thumbnail } => return self.handle_sign_shown(id, pages, area, thumbnail),
            Message::LinkQuality(report) => {
                self.message_for(Side::Agent, None, "only the kiosk reports how the call reaches it")?;
                self.emit(Event::PeerLink(report));
            }
        }
        Ok(())
    }

    /// The call's network path went down (ICE disconnected or failed)
    /// while the channel stays open. SCTP holds what was sent and goes on
    /// once the path is back, so the no-progress limit (`stall_timeout`)
    /// does not count the cut: transfers wait up to `resume_window` for
    /// [`handle_path_up`](Self::handle_path_up), as for a closed channel.
    pub fn handle_path_down(&mut self, now: Instant) {
        self.tick(now);
        if !self.cut {
            info!(side = ?self.side, "call cut; transfers wait for the path");
            self.cut = true;
            self.restart_clocks(now);
        }
    }

    /// The call's network path is back: the no-progress clock starts again
    /// from zero (a cut's retransmissions take a moment to drain).
    pub fn handle_path_up(&mut self, now: Instant) {
        self.tick(now);
        if self.cut {
            info!(side = ?self.side, "call path back");
            self.cut = false;
            self.restart_clocks(now);
        }
    }

    /// Every transfer's clock counts from `now` (the limit just changed).
    fn restart_clocks(&mut self, now: Instant) {
        for o in self.outgoing.values_mut() {
            o.last_activity = now;
        }
        for i in self.incoming.values_mut() {
            i.last_activity = now;
        }
    }

    /// How long a transfer may go without progress now, and why it fails then.
    fn wait_limit(&self) -> (std::time::Duration, String) {
        let (stall, window) = (self.limits.stall_timeout, self.limits.resume_window);
        if !self.link_up {
            (window, format!("the data channel stayed closed for {} s", window.as_secs()))
        } else if self.cut {
            (window, format!("the call stayed cut for {} s", window.as_secs()))
        } else {
            (stall, format!("no progress for {} s", stall.as_secs()))
        }
    }

    /// Wakes the core at the deadline it asked for.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.pace_until.is_some_and(|t| now >= t) {
            self.pace_until = None;
        }
        let (limit, why) = self.wait_limit();
        let expired_out: Vec<u32> = self.outgoing.iter().filter(|(_, o)| now >= o.last_activity + limit).map(|(&id, _)| id).collect();
        let expired_in: Vec<u32> = self.incoming.iter().filter(|(_, i)| now >= i.last_activity + limit).map(|(&id, _)| id).collect();
        for id in expired_out {
            self.fail_out(id, ErrorCode::Timeout, why.clone(), true);
        }
        for id in expired_in {
            let _ = self.fail_in(id, ErrorCode::Timeout, why.clone());
        }
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (limit, _) = self.wait_limit();
        let stall = self
            .outgoing
            .values()
            .map(|o| o.last_activity)
            .chain(self.incoming.values().map(|i| i.last_activity))
            .min()
            .map(|t| t + limit);
        match (stall, self.pace_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- app commands --------------------------------------------------------

    /// Agent: ask the kiosk for a scan. Returns the request id.
    pub fn request_scan(&mut self, _now: Instant, settings: ScanSettings) -> Result<u32, CommandError> {
        if self.side != Side::Agent {
            return Err(CommandError::WrongSide { what: "requesting a scan", side: self.side });
        }
        let req = self.next_req;
        self.next_req += 1;
        self.send(Message::ScanRequest { req, settings });
        Ok(req)
    }

    /// Kiosk: the scanner started on `req`.
    pub fn scan_started(&mut self, _now: Instant, req: u32) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanStarted { req });
        Ok(())
    }

    /// Kiosk: the scan for `req` failed.
    pub fn scan_failed(&mut self, _now: Instant, req: u32, reason: &str) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanFailed { req, reason: reason.into() });
        Ok(())
    }

    /// Kiosk: report what became of pushed file `id`.
    pub fn report_outcome(&mut self, _now: Instant, id: u32, outcome: OutcomeKind, reason: Option<String>) -> Result<(), CommandError> {
        self.kiosk_only("reporting an outcome")?;
        self.send(Message::Outcome { id, outcome, reason });
        Ok(())
    }
    /// Stops a transfer either way and tells the peer.
    pub fn cancel(&mut self, _now: Instant, id: u32, reason: &str) -> Result<(), CommandError> {
        if self.outgoing.remove(&id).is_some() {
            self.chunks_for_removed();
        } else if self.incoming.remove(&id).is_some() {
            self.outputs.push_back(Output::Discard { id });
        } else {
            return Err(CommandError::UnknownTransfer(id));
        }
        self.send(Message::Cancel { id, reason: reason.into() });
        Ok(())
    }

    /// Cancels every transfer both ways (the session is ending) and tells the peer.
    pub fn cancel_all(&mut self, now: Instant, reason: &str) {
        let ids: Vec<u32> = self.outgoing.keys().chain(self.incoming.keys()).copied().collect();
        for id in ids {
            let _ = self.cancel(now, id, reason);
        }
    }

    // ---- outputs -----------------------------------------------------------

    /// Next thing for the shell to do; call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(o) = self.outputs.pop_front() {
                return Some(o);
            }
            if self.link_up {
                if let Some(m) = self.control.pop_front() {
                    return Some(Output::Transmit(Transmit::Text(m.to_json())));
                }
                if !self.paused
                    && let Some(c) = self.chunks.pop_front()
                {
                    return Some(Output::Transmit(Transmit::Binary(c)));
                }
            }
            // Nothing queued: ask for the next chunk if the window allows.
            if !self.schedule_read() {
                return None;
            }
        }
    }

    // ---- helpers -------------------------------------------------------------

    fn kiosk_only(&self, what: &'static str) -> Result<(), CommandError> {
        self.command_on(Side::Kiosk, what)
    }

    /// Kiosk: how the agent's picture and sound reach the resident.
    pub fn link_quality(&mut self, _now: Instant, report: crate::wire::LinkReport) -> Result<(), CommandError> {
        self.kiosk_only("reporting the call's quality")?;
        self.send(Message::LinkQuality(report));
        Ok(())
    }

    /// A command only `side` gives: `what` names it in the error.
    fn command_on(&self, side: Side, what: &'static str) -> Result<(), CommandError> {
        if self.side != side {
            return Err(CommandError::WrongSide { what, side: self.side });
        }
        Ok(())
    }

    /// A message only `side` receives: from the wrong peer it is refused
    /// with `why`.
    fn message_for(&mut self, side: Side, id: Option<u32>, why: &str) -> Result<(), PeerError> {
        if self.side != side {
            return self.refuse(id, ErrorCode::Unexpected, why.into());
        }
        Ok(())
    }

    /// Kiosk: reports what the resident sees (`what` names the report in
    /// errors); its thumbnail must keep it within [`MAX_TEXT_MESSAGE`].
    fn send_shown(&mut self, what: &'static str, message: Message) -> Result<(), CommandError> {
        self.kiosk_only(what)?;
        let len = message.to_json().len();
        if len > MAX_TEXT_MESSAGE {
            return Err(CommandError::MessageTooLarge { len });
        }
        self.send(message);
        Ok(())
    }

    fn send(&mut self, m: Message) {
        self.control.push_back(m);
    }

    fn emit(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }


    fn refuse(&mut self, id: Option<u32>, code: ErrorCode, message: String) -> Result<(), PeerError> {
        // The message can quote the document's name (personal data): it goes to
        // the peer, never to the logs.
        warn!(side = ?self.side, ?id, ?code, "refusing");
        self.send(Message::Error { id, code, message: message.clone() });
        Err(PeerError::Refused { code, message })
    }
}

/// Maps the kind to a file extension for spool and display names.
pub fn extension(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Pdf => "pdf",
        ContentKind::Png => "png",
        ContentKind::Jpeg => "jpg",
    }
}
