//! The core's vocabulary towards its shell: frames in, outputs and events
//! out, and the two kinds of error (the app's misuse, the peer's).

use super::Side;
use crate::check::ContentInfo;
use crate::wire::{ErrorCode, OutcomeKind, PageView, Purpose, ScanSettings, WireError};

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
    /// A step of a scan interview (`scan_prepare` … `scan_finish`).
    Scan(super::ScanStep),
    /// Kiosk: the agent wants shown document `id` viewed this way.
    ViewWanted {
        /// The agent's transfer that is shown.
        id: u32,
        /// Page, zoom, pan, pointer (points checked to be on the page).
        view: PageView,
    },
    /// Kiosk: the agent places the signature box of document `id` (a
    /// `sign` push) here (checked to be on the page).
    SignBoxWanted {
        /// The agent's transfer to sign.
        id: u32,
        /// Page and box.
        area: crate::sign::SignatureBox,
    },
    /// Agent: the resident sees document `id` to sign with the box here.
    SignShown {
        /// The transfer.
        id: u32,
        /// Pages of the document.
        pages: u32,
        /// Page and box as shown.
        area: crate::sign::SignatureBox,
        /// A small picture of the page (a `data:` URL), when it changed.
        thumbnail: Option<String>,
    },
    /// Agent: how the call reaches the kiosk (its own measure).
    PeerLink(crate::wire::LinkReport),
    /// Agent: what the resident sees of shown document `id`.
    ViewShown {
        /// The transfer.
        id: u32,
        /// Pages of the document.
        pages: u32,
        /// The view as shown.
        view: PageView,
        /// A small picture of the page (a `data:` URL), when it changed.
        thumbnail: Option<String>,
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
    /// A control message would be over [`crate::wire::MAX_TEXT_MESSAGE`].
    #[error("a control message of {len} bytes is over the {}-byte limit", crate::wire::MAX_TEXT_MESSAGE)]
    MessageTooLarge {
        /// Its length.
        len: usize,
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
