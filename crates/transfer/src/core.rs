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

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use crate::check::{ContentChecker, ContentInfo, ContentKind, check_name};
use crate::wire::{
    CHUNK_DATA_LEN, Chunk, ErrorCode, KIOSK_ID_BIT, Message, OutcomeKind, Purpose, ScanSettings,
    WireError,
};

/// Which end of the channel this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The kiosk: scans, prints, shows.
    Kiosk,
    /// The agent (in production the browser page speaks the same protocol).
    Agent,
}

/// Limits and timers, from configuration (JSON: every field optional, see
/// `Default`; durations in seconds).
///
/// ```
/// let l: visio_transfer::Limits = serde_json::from_str(
///     r#"{"max_file_bytes": 10000000, "max_pages": 20, "stall_timeout_secs": 30}"#).unwrap();
/// l.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file accepted, in bytes (at most `u32::MAX`: offsets are 32-bit).
    pub max_file_bytes: u64,
    /// Most PDF pages accepted.
    pub max_pages: u32,
    /// Incoming transfers in progress at once.
    pub max_concurrent_incoming: usize,
    /// Accepted scan resolutions, `[lowest, highest]`.
    pub dpi_range: (u32, u32),
    /// Unacknowledged bytes a sender may have in flight (bounds channel memory).
    pub window_bytes: u64,
    /// The receiver acknowledges after this many new bytes.
    pub ack_every: u64,
    /// A transfer with no progress for this long while the link is up fails.
    #[serde(rename = "stall_timeout_secs", with = "secs")]
    pub stall_timeout: Duration,
    /// A transfer waits this long for the link to come back before failing.
    #[serde(rename = "resume_window_secs", with = "secs")]
    pub resume_window: Duration,
    /// Pace chunks at this many bytes per second (`None`: as fast as the
    /// channel takes them). Keeps room for the call's audio and video on a
    /// slow uplink; the app can change it live with `set_send_rate`.
    pub send_rate: Option<u64>,
}

/// A paced transfer sends chunks of about this much time at its rate: a
/// 16 KiB message leaves SCTP as one burst of fourteen packets, which on a
/// 512 kbit/s ADSL uplink is a 250 ms queue in the modem. The call's
/// estimator reads that queue as congestion and backs off, the room for
/// documents shrinks, and the next burst is the same size: on `adsl-poor`
/// a 5 MB scan took over 400 s that way (docs/decisions.md). Chunks of
/// ~10 ms at the rate keep the modem's queue short.
pub const PACE_QUANTUM: Duration = Duration::from_millis(10);
/// Paced chunks are never smaller than this (a chunk fits one SCTP packet;
/// smaller only adds per-message work).
pub const MIN_PACED_CHUNK: usize = 1024;
/// Tokens a paced sender may save up while idle: bursts stay a few tens of
/// milliseconds at the rate, with slack for late timer wake-ups.
pub const PACE_BURST: Duration = Duration::from_millis(40);

/// The data length of the next chunk: whole ones when unpaced, about
/// [`PACE_QUANTUM`] at the rate when paced.
pub fn paced_chunk_len(rate: Option<u64>) -> usize {
    match rate {
        None => CHUNK_DATA_LEN,
        Some(bytes_per_sec) => {
            let quantum = (bytes_per_sec as f64 * PACE_QUANTUM.as_secs_f64()) as usize;
            quantum.clamp(MIN_PACED_CHUNK, CHUNK_DATA_LEN)
        }
    }
}

/// A configured limit that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transfer limits: {field} {problem}")]
pub struct LimitsError {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Limits {
    /// Checks that the limits can work together.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let err = |field, problem: String| Err(LimitsError { field, problem });
        if self.max_file_bytes == 0 || self.max_file_bytes > u64::from(u32::MAX) {
            return err("max_file_bytes", format!("is {}; it must be between 1 and {}", self.max_file_bytes, u32::MAX));
        }
        if self.max_pages == 0 {
            return err("max_pages", "must be at least 1".into());
        }
        if self.max_concurrent_incoming == 0 {
            return err("max_concurrent_incoming", "must be at least 1".into());
        }
        if self.dpi_range.0 == 0 || self.dpi_range.0 > self.dpi_range.1 {
            return err("dpi_range", format!("{:?} must be [lowest, highest] with lowest ≥ 1", self.dpi_range));
        }
        if self.window_bytes < CHUNK_DATA_LEN as u64 {
            return err("window_bytes", format!("is {}; it must hold at least one chunk ({CHUNK_DATA_LEN} bytes)", self.window_bytes));
        }
        if self.ack_every == 0 || self.ack_every > self.window_bytes / 2 {
            return err("ack_every", format!("is {}; it must be between 1 and half the window ({})", self.ack_every, self.window_bytes / 2));
        }
        if self.send_rate == Some(0) {
            return err("send_rate", "must be at least 1 byte per second, or absent".into());
        }
        if self.stall_timeout.is_zero() || self.resume_window.is_zero() {
            return err("stall_timeout_secs/resume_window_secs", "must be at least 1 second".into());
        }
        Ok(())
    }
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_secs)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 20 * 1024 * 1024,
            max_pages: 50,
            max_concurrent_incoming: 4,
            dpi_range: (75, 600),
            window_bytes: 256 * 1024,
            ack_every: 64 * 1024,
            stall_timeout: Duration::from_secs(60),
            resume_window: Duration::from_secs(300),
            send_rate: None,
        }
    }
}

/// A file the app wants to send (it lives in a file the shell can read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Display name.
    pub name: String,
    /// Exact size.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Why it is sent.
    pub purpose: Purpose,
    /// For a scan: the request it answers.
    pub req: Option<u32>,
}

/// Direction of a transfer, seen from this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We send.
    Outgoing,
    /// We receive.
    Incoming,
}

/// What the app and drivers are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Kiosk: the agent asks for a scan; run the scanner, then `push_file` or `scan_failed`.
    ScanRequested {
        /// The request.
        req: u32,
        /// Its settings.
        settings: ScanSettings,
    },
    /// Agent: the kiosk started scanning.
    ScanStarted {
        /// The request.
        req: u32,
    },
    /// Agent: the kiosk could not scan.
    ScanFailed {
        /// The request.
        req: u32,
        /// Why.
        reason: String,
    },
    /// Receiver: a transfer was accepted; its bytes will come as `Output::Write`.
    IncomingStarted {
        /// The transfer.
        id: u32,
        /// Checked name.
        name: String,
        /// Size.
        size: u64,
        /// Purpose.
        purpose: Purpose,
    },
    /// Bytes moved (sender: acknowledged; receiver: received).
    Progress {
        /// The transfer.
        id: u32,
        /// Which way.
        direction: Direction,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Sender: after a link drop the receiver told us where to go on.
    Resumed {
        /// The transfer.
        id: u32,
        /// Offset we resume from (greater than 0 when something was kept).
        offset: u64,
    },
    /// Receiver: the whole file is in the spool, hash and content checked.
    FileReceived {
        /// The transfer.
        id: u32,
        /// Checked name.
        name: String,
        /// Why it was sent.
        purpose: Purpose,
        /// For a scan, its request.
        req: Option<u32>,
        /// Size.
        size: u64,
        /// SHA-256 (hex), verified.
        sha256: String,
        /// Type and pages, from the content.
        info: ContentInfo,
    },
    /// Sender: the receiver confirmed every byte and the hash.
    Delivered {
        /// The transfer.
        id: u32,
    },
    /// Agent: what the kiosk did with a pushed file.
    Outcome {
        /// The transfer.
        id: u32,
        /// Printed, shown or failed.
        outcome: OutcomeKind,
        /// Why it failed.
        reason: Option<String>,
    },
    /// A transfer ended without success (refused by us or the peer, cancelled, timed out).
    Rejected {
        /// The transfer.
        id: u32,
        /// Which way it went.
        direction: Direction,
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable reason.
        reason: String,
        /// True when the peer refused or cancelled, false when we did.
        by_peer: bool,
    },
    /// The peer reported an error not tied to a transfer (e.g. it could not parse our message).
    PeerError {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
}

/// A message to put on the data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// A JSON control message.
    Text(String),
    /// A binary chunk (header + data, at most 16 KiB).
    Binary(Vec<u8>),
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this on the data channel.
    Transmit(Transmit),
    /// Read `len` bytes at `offset` of outgoing transfer `id`, then call `handle_data`.
    Read {
        /// The transfer.
        id: u32,
        /// Where.
        offset: u64,
        /// How many (the file has at least that many left).
        len: usize,
    },
    /// Write these received bytes at `offset` of incoming transfer `id`'s spool file.
    Write {
        /// The transfer.
        id: u32,
        /// Where.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Delete incoming transfer `id`'s spool file: it was refused or cancelled.
    Discard {
        /// The transfer.
        id: u32,
    },
    /// Tell the app.
    Event(Event),
}

/// Misuse of the core by the app (not a peer error: those become messages and events).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Asked the wrong side (e.g. the kiosk requesting a scan).
    #[error("{what} is not possible on the {side:?} side")]
    WrongSide {
        /// The command.
        what: &'static str,
        /// Our side.
        side: Side,
    },
    /// Unknown transfer id.
    #[error("no transfer with id {0}")]
    UnknownTransfer(u32),
    /// The file breaks our own limits.
    #[error("file of {size} bytes is larger than the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// `handle_data` without a matching `Output::Read`.
    #[error("data for transfer {id} at offset {offset} was not asked for")]
    UnexpectedData {
        /// The transfer.
        id: u32,
        /// The offset.
        offset: u64,
    },
}

/// Error from a message the peer sent. The peer was told (an `error`
/// message is queued) and the session goes on; the value is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// Could not decode it.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Decoded but refused.
    #[error("{code:?}: {message}")]
    Refused {
        /// Code sent back.
        code: ErrorCode,
        /// Message sent back.
        message: String,
    },
}

/// An incoming binary or text frame from the data channel.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
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
struct Outgoing {
    meta: FileMeta,
    state: OutState,
    /// Next byte to read and send.
    next: u64,
    /// Bytes the receiver acknowledged.
    acked: u64,
    /// An `Output::Read` is out and not answered.
    read_pending: Option<u64>,
    last_activity: Instant,
}

#[derive(Debug)]
struct Incoming {
    name: String,
    size: u64,
    sha256: String,
    purpose: Purpose,
    req: Option<u32>,
    received: u64,
    last_ack: u64,
    hasher: Sha256,
    checker: ContentChecker,
    last_activity: Instant,
}

/// One side of the document-transfer protocol.
///
/// # Drive loop
///
/// ```text
/// loop {
///     feed one input: handle_frame / handle_link_up / handle_link_down /
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
            Message::Resume { id } => match self.incoming.get_mut(&id) {
                Some(i) => {
                    i.last_activity = now;
                    i.last_ack = i.received;
                    let offset = i.received;
                    info!(id, offset, "peer resumes transfer");
                    self.send(Message::Accept { id, offset });
                }
                None => {
                    if let Some(sha256) = self.completed.get(&id).cloned() {
                        self.send(Message::Received { id, sha256 });
                        return Ok(());
                    }
                    return self.refuse(Some(id), ErrorCode::UnknownTransfer, format!("no transfer {id} to resume"));
                }
            },
            Message::Accept { id, offset } => {
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
            }
            Message::Ack { id, offset } => {
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
            }
            Message::Received { id, sha256 } => {
                if let Some(o) = self.outgoing.remove(&id) {
                    if sha256 != o.meta.sha256 {
                        warn!(id, "peer confirmed a different hash");
                    }
                    info!(id, size = o.meta.size, "transfer delivered");
                    self.emit(Event::Delivered { id });
                }
            }
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
            Message::Outcome { id, outcome, reason } => {
                if self.side != Side::Agent {
                    return self.refuse(Some(id), ErrorCode::Unexpected, "only the kiosk reports outcomes".into());
                }
                self.emit(Event::Outcome { id, outcome, reason });
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_offer(
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
            Side::Kiosk => matches!(purpose, Purpose::Print | Purpose::Display),
            Side::Agent => purpose == Purpose::Scan,
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

    fn handle_chunk(&mut self, now: Instant, c: Chunk<'_>) -> Result<(), PeerError> {
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

    /// Wakes the core at the deadline it asked for.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.pace_until.is_some_and(|t| now >= t) {
            self.pace_until = None;
        }
        let (stall, window) = (self.limits.stall_timeout, self.limits.resume_window);
        let limit = if self.link_up { stall } else { window };
        let expired_out: Vec<u32> = self.outgoing.iter().filter(|(_, o)| now >= o.last_activity + limit).map(|(&id, _)| id).collect();
        let expired_in: Vec<u32> = self.incoming.iter().filter(|(_, i)| now >= i.last_activity + limit).map(|(&id, _)| id).collect();
        let why = if self.link_up {
            format!("no progress for {} s", stall.as_secs())
        } else {
            format!("the data channel stayed closed for {} s", window.as_secs())
        };
        for id in expired_out {
            self.fail_out(id, ErrorCode::Timeout, why.clone(), true);
        }
        for id in expired_in {
            let _ = self.fail_in(id, ErrorCode::Timeout, why.clone());
        }
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limit = if self.link_up { self.limits.stall_timeout } else { self.limits.resume_window };
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

    /// Offers a file to the peer; bytes are asked for with `Output::Read` once
    /// the peer accepts. Returns the transfer id.
    pub fn push_file(&mut self, now: Instant, meta: FileMeta) -> Result<u32, CommandError> {
        self.tick(now);
        let allowed = match self.side {
            Side::Kiosk => meta.purpose == Purpose::Scan,
            Side::Agent => meta.purpose != Purpose::Scan,
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

    /// The shell could not read an outgoing file: fail the transfer and tell the peer.
    pub fn fail_outgoing(&mut self, _now: Instant, id: u32, reason: &str) -> Result<(), CommandError> {
        if !self.outgoing.contains_key(&id) {
            return Err(CommandError::UnknownTransfer(id));
        }
        self.fail_out(id, ErrorCode::Unexpected, reason.into(), true);
        Ok(())
    }

    /// The shell could not write an incoming file (disk full...): fail it and tell the peer.
    pub fn fail_incoming(&mut self, _now: Instant, id: u32, reason: &str) -> Result<(), CommandError> {
        if !self.incoming.contains_key(&id) {
            return Err(CommandError::UnknownTransfer(id));
        }
        let _ = self.fail_in(id, ErrorCode::Unexpected, reason.into());
        Ok(())
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

    /// Queues one `Output::Read` for the first transfer that may send. Returns
    /// false when nothing can move now.
    fn schedule_read(&mut self) -> bool {
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

    // ---- helpers -------------------------------------------------------------

    fn kiosk_only(&self, what: &'static str) -> Result<(), CommandError> {
        if self.side != Side::Kiosk {
            return Err(CommandError::WrongSide { what, side: self.side });
        }
        Ok(())
    }

    fn send(&mut self, m: Message) {
        self.control.push_back(m);
    }

    fn emit(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }

    /// Queued chunks may belong to a transfer just removed; they are dropped
    /// rather than sent (the peer would ignore them anyway).
    fn chunks_for_removed(&mut self) {
        let live = &self.outgoing;
        self.chunks.retain(|c| {
            let id = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            live.contains_key(&id)
        });
    }

    fn refuse(&mut self, id: Option<u32>, code: ErrorCode, message: String) -> Result<(), PeerError> {
        // The message can quote the document's name (personal data): it goes to
        // the peer, never to the logs.
        warn!(side = ?self.side, ?id, ?code, "refusing");
        self.send(Message::Error { id, code, message: message.clone() });
        Err(PeerError::Refused { code, message })
    }

    fn refuse_after_remove(&mut self, id: u32, code: ErrorCode, message: String) -> Result<(), PeerError> {
        self.emit(Event::Rejected { id, direction: Direction::Incoming, code, reason: message.clone(), by_peer: false });
        self.refuse(Some(id), code, message)
    }

    fn fail_in(&mut self, id: u32, code: ErrorCode, message: String) -> Result<(), PeerError> {
        self.incoming.remove(&id);
        self.outputs.push_back(Output::Discard { id });
        self.refuse_after_remove(id, code, message)
    }

    fn fail_out(&mut self, id: u32, code: ErrorCode, message: String, tell_peer: bool) {
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

fn offer_message(id: u32, meta: &FileMeta) -> Message {
    Message::Offer {
        id,
        name: meta.name.clone(),
        size: meta.size,
        sha256: meta.sha256.clone(),
        purpose: meta.purpose,
        req: meta.req,
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
