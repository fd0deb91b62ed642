//! The wire format: JSON text messages for control, binary messages for chunks.
//!
//! Kept deliberately simple so the agent's web page can speak it with
//! `JSON.parse` and a `DataView`: every control message is one JSON object with
//! a `"type"` field; every chunk is a 12-byte header then the data.
//!
//! Frames are checked before they are parsed (size cap first, then header or
//! JSON), and a bad frame is an error value, never a panic.

use serde::{Deserialize, Serialize};

/// Largest binary message we send or accept, header included. 16 KiB is the
/// size every browser's RTCDataChannel delivers intact (larger messages are not
/// interoperable), and what webrtc-rs delivers in one `OnMessage`.
pub const MAX_BINARY_MESSAGE: usize = 16 * 1024;
/// Bytes of the chunk header: version, kind, 2 reserved, id (u32 BE), offset (u32 BE).
pub const CHUNK_HEADER_LEN: usize = 12;
/// Data bytes in a full chunk.
pub const CHUNK_DATA_LEN: usize = MAX_BINARY_MESSAGE - CHUNK_HEADER_LEN;
/// Largest text (JSON) message accepted; control messages are a few hundred bytes.
pub const MAX_TEXT_MESSAGE: usize = 8 * 1024;
/// Version byte of the chunk header.
pub const CHUNK_VERSION: u8 = 1;
/// Kind byte of a data chunk (the only kind so far).
pub const CHUNK_KIND_DATA: u8 = 0;
/// Transfer ids the kiosk chooses have this bit set; the agent's never do. Both
/// sides then share one id space without ever colliding.
pub const KIOSK_ID_BIT: u32 = 0x8000_0000;

/// Colour mode of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMode {
    /// Full colour (RGB).
    Color,
    /// Greyscale: a third of the data, the default for paperwork.
    Gray,
}

/// File format the agent wants a scan in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanFormat {
    /// One-page PDF holding a JPEG image (the default).
    #[default]
    Pdf,
    /// A plain JPEG image.
    Jpeg,
    /// A plain PNG image (lossless; large for photos, small for line art).
    Png,
}

/// Why a file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Agent → kiosk: print it.
    Print,
    /// Agent → kiosk: show it on the kiosk screen.
    Display,
    /// Kiosk → agent: the result of a scan request.
    Scan,
    /// Kiosk → agent: a small image of one scanned page, for the agent to
    /// check it before asking for the next page or the finished document.
    ScanPreview,
    /// Agent → kiosk: a PDF for the resident to sign (`sign_box` places the
    /// signature).
    Sign,
    /// Kiosk → agent: the signed PDF, with the `req` of the document it
    /// signs (the agent's transfer id).
    Signed,
}

/// What the kiosk did with a pushed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The printer finished the job.
    Printed,
    /// The document is on the kiosk screen.
    Shown,
    /// The resident would not sign the document (nothing is sent back).
    Refused,
    /// It could not be done; `reason` says why.
    Failed,
}

/// Why something was refused; `message` carries the human sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// File larger than the configured maximum.
    TooLarge,
    /// PDF with more pages than the configured maximum.
    TooManyPages,
    /// Content is not PDF, PNG or JPEG (judged by the bytes, not the name).
    UnsupportedType,
    /// File name with a path, control characters, or otherwise unusable.
    BadName,
    /// SHA-256 of the received bytes differs from the offer's.
    HashMismatch,
    /// A chunk arrived at an offset past the expected one (data missing).
    OffsetGap,
    /// The id names no transfer we know.
    UnknownTransfer,
    /// Malformed JSON, unknown type, bad header, out-of-range field.
    BadMessage,
    /// A message that makes no sense now (e.g. a print push sent to the agent).
    Unexpected,
    /// Too many transfers at once.
    Busy,
    /// No progress for too long, or the link stayed down too long.
    Timeout,
    /// The other side cancelled (used in events; on the wire a `cancel` message says it).
    Cancelled,
}

/// Settings of a scan request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSettings {
    /// Colour or grey.
    pub color: ColorMode,
    /// Resolution in dots per inch.
    pub dpi: u32,
    /// Output format (PDF when absent).
    #[serde(default)]
    pub format: ScanFormat,
}

/// A point on a shown page, in thousandths of its width and height from
/// the top left corner (0..=1000 each): the same on any screen size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagePoint {
    /// Across, ‰ of the page width.
    pub x: u32,
    /// Down, ‰ of the page height.
    pub y: u32,
}

/// How a shown document is viewed: which page, how large, which part, and
/// where the agent points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    /// Page, from 1.
    pub page: u32,
    /// Percent of fit-to-width (100: the page's width fills the screen).
    pub zoom: u32,
    /// Centre of the visible part, on the page.
    pub center: PagePoint,
    /// The agent's pointer, if shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<PagePoint>,
}

pub use crate::sign::SignatureBox;

/// A control message (a JSON text message on the data channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Agent → kiosk: scan what lies on the scanner.
    ScanRequest {
        /// Request id chosen by the agent, echoed in the answer.
        req: u32,
        /// Scan settings (flattened: `color`, `dpi`, `format`).
        #[serde(flatten)]
        settings: ScanSettings,
    },
    /// Kiosk → agent: the scanner started on request `req`.
    ScanStarted {
        /// The request.
        req: u32,
    },
    /// Kiosk → agent: the scan could not be made.
    ScanFailed {
        /// The request.
        req: u32,
        /// Why, for a person.
        reason: String,
    },
    /// Sender → receiver: a file is coming.
    Offer {
        /// Transfer id chosen by the sender (kiosk ids have bit 31 set).
        id: u32,
        /// File name for display (never used as a path).
        name: String,
        /// Exact size in bytes.
        size: u64,
        /// Lower-case hex SHA-256 of the whole file.
        sha256: String,
        /// Why it is sent.
        purpose: Purpose,
        /// For a scan: the request it answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u32>,
    },
    /// Receiver → sender: send from `offset` (0 for a new transfer, more on resume).
    Accept {
        /// The transfer.
        id: u32,
        /// First byte the receiver still needs.
        offset: u64,
    },
    /// Receiver → sender: every byte before `offset` is received.
    Ack {
        /// The transfer.
        id: u32,
        /// Bytes received in order so far.
        offset: u64,
    },
    /// Sender → receiver after the channel came back: where do I resume?
    Resume {
        /// The transfer.
        id: u32,
    },
    /// Receiver → sender: all bytes arrived and the SHA-256 matched.
    Received {
        /// The transfer.
        id: u32,
        /// The hash the receiver computed.
        sha256: String,
    },
    /// Either side: stop this transfer.
    Cancel {
        /// The transfer.
        id: u32,
        /// Why, for a person.
        reason: String,
    },
    /// Either side: something was refused.
    Error {
        /// The transfer concerned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u32>,
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable reason.
        message: String,
    },
    /// Agent → kiosk: a scan interview begins; the kiosk shows and says
    /// where to put the paper, and scans nothing yet.
    ScanPrepare {
        /// The interview's request id, used by every message of it.
        req: u32,
    },
    /// Kiosk → agent: the instruction is on screen.
    ScanReady {
        /// The interview.
        req: u32,
        /// The scanner has a document feeder (several pages in one go).
        feeder: bool,
        /// The pace documents leave the kiosk at now (bytes per second),
        /// for the agent's size and time estimate; absent when unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<u64>,
    },
    /// Agent → kiosk: the paper is down, scan page `page` (1-based; a page
    /// already held is scanned again and replaced).
    ScanPage {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
        /// Colour and resolution (`format` is ignored: pages become one PDF).
        #[serde(flatten)]
        settings: ScanSettings,
    },
    /// Kiosk → agent: page `page` is scanned; its preview comes as the
    /// transfer `id` (purpose `scan_preview`).
    ScanPageDone {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
        /// The preview's transfer.
        id: u32,
        /// Bytes this page adds to the finished PDF.
        size: u64,
    },
    /// Kiosk → agent: the resident declined to send page `page`; it is
    /// dropped and nothing of it left the kiosk.
    ScanDeclined {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
    },
    /// Agent → kiosk: scan every page in the feeder as pages `page`,
    /// `page + 1`…, each answered like a `scan_page`, then `scan_feed_done`.
    ScanFeed {
        /// The interview.
        req: u32,
        /// The number of the first page.
        page: u32,
        /// Colour and resolution, as in `scan_page`.
        #[serde(flatten)]
        settings: ScanSettings,
    },
    /// Kiosk → agent: the feeder is done; `pages` were scanned (0: it was
    /// empty); `limit`: it stopped at the page or size limit, pages may
    /// be left.
    ScanFeedDone {
        /// The interview.
        req: u32,
        /// Pages scanned from the feeder.
        pages: u32,
        /// Stopped at the page limit.
        #[serde(default)]
        limit: bool,
    },
    /// Agent → kiosk: the pages held make one PDF; send it (purpose `scan`).
    ScanFinish {
        /// The interview.
        req: u32,
    },
    /// Agent → kiosk: drop the interview and its pages.
    ScanCancel {
        /// The interview.
        req: u32,
    },
    /// Kiosk → agent: what became of a pushed file.
    Outcome {
        /// The agent's transfer.
        id: u32,
        /// Printed, shown or failed.
        outcome: OutcomeKind,
        /// For `failed`: why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Agent → kiosk: view shown document `id` this way (page, zoom, pan,
    /// pointer). The kiosk answers with `view_shown`.
    View {
        /// The agent's transfer that was shown.
        id: u32,
        /// The view wanted (flattened: `page`, `zoom`, `center`, `pointer`).
        #[serde(flatten)]
        view: PageView,
    },
    /// Kiosk → agent: what the resident sees now of document `id` (the
    /// wanted view, kept within the page and zoom limits), with a small
    /// picture of the page when the page changed.
    ViewShown {
        /// The agent's transfer that is shown.
        id: u32,
        /// Pages the document has (page controls only when more than one).
        pages: u32,
        /// The view as shown (flattened).
        #[serde(flatten)]
        view: PageView,
        /// `data:image/jpeg;base64,…` of the whole page, a few kilobytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<String>,
    },
    /// Agent → kiosk: put the signature box of document `id` (pushed with
    /// purpose `sign`) here. The kiosk answers with `sign_shown`.
    SignBox {
        /// The agent's transfer to sign.
        id: u32,
        /// Page and box (flattened: `page`, `x`, `y`, `width`, `height`).
        #[serde(flatten)]
        area: SignatureBox,
    },
    /// Kiosk → agent: the resident sees document `id` to sign, with the
    /// box here; with a small picture of the page when the page changed.
    SignShown {
        /// The agent's transfer to sign.
        id: u32,
        /// Pages the document has.
        pages: u32,
        /// Page and box as shown (flattened).
        #[serde(flatten)]
        area: SignatureBox,
        /// `data:image/jpeg;base64,…` of the whole page, a few kilobytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<String>,
    },
    /// Kiosk → agent, every few seconds of a call: how the agent's picture
    /// and sound reach the resident (the agent's page measures only what
    /// it receives).
    LinkQuality(LinkReport),
}

/// The kiosk's side of the call, as a level on the console's own scale and
/// the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The summary the console shows.
    pub level: LinkLevel,
    /// The media's round trip, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    /// The agent's packets lost on the way, per thousand, lately.
    pub loss_permille: u32,
    /// The agent's video frames the kiosk decodes per second.
    pub fps: u32,
}

/// Good, fair or poor: thresholds in `visio_media::quality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkLevel {
    /// Nothing to say.
    Good,
    /// Noticeable: some delay, loss or a slow picture.
    Fair,
    /// The resident may not see or hear the agent well.
    Poor,
}

impl Message {
    /// The `type` field, for logs (never the fields: names are personal data).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::ScanRequest { .. } => "scan_request",
            Message::ScanStarted { .. } => "scan_started",
            Message::ScanFailed { .. } => "scan_failed",
            Message::Offer { .. } => "offer",
            Message::Accept { .. } => "accept",
            Message::Ack { .. } => "ack",
            Message::Resume { .. } => "resume",
            Message::Received { .. } => "received",
            Message::Cancel { .. } => "cancel",
            Message::Error { .. } => "error",
            Message::Outcome { .. } => "outcome",
            Message::ScanPrepare { .. } => "scan_prepare",
            Message::ScanReady { .. } => "scan_ready",
            Message::ScanPage { .. } => "scan_page",
            Message::ScanPageDone { .. } => "scan_page_done",
            Message::ScanDeclined { .. } => "scan_declined",
            Message::ScanFeed { .. } => "scan_feed",
            Message::ScanFeedDone { .. } => "scan_feed_done",
            Message::ScanFinish { .. } => "scan_finish",
            Message::ScanCancel { .. } => "scan_cancel",
            Message::View { .. } => "view",
            Message::ViewShown { .. } => "view_shown",
            Message::SignBox { .. } => "sign_box",
            Message::SignShown { .. } => "sign_shown",
            Message::LinkQuality(_) => "link_quality",
        }
    }

    /// Encodes to the JSON text sent on the channel.
    pub fn to_json(&self) -> String {
        // Serialising these plain enums cannot fail (no maps with non-string keys).
        serde_json::to_string(self).expect("Message serialises to JSON")
    }

    /// Decodes a text message, checking its size first.
    pub fn from_json(text: &str) -> Result<Self, WireError> {
        if text.len() > MAX_TEXT_MESSAGE {
            return Err(WireError::TextTooLarge { len: text.len() });
        }
        serde_json::from_str(text).map_err(|e| WireError::BadJson(e.to_string()))
    }
}

/// A data chunk as carried in a binary message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The transfer.
    pub id: u32,
    /// Offset of the first data byte in the file.
    pub offset: u32,
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// Encodes header + data into one binary message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CHUNK_HEADER_LEN + self.data.len());
        out.extend_from_slice(&[CHUNK_VERSION, CHUNK_KIND_DATA, 0, 0]);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(self.data);
        out
    }

    /// Checks and decodes a binary message.
    pub fn decode(msg: &'a [u8]) -> Result<Self, WireError> {
        if msg.len() > MAX_BINARY_MESSAGE {
            return Err(WireError::BinaryTooLarge { len: msg.len() });
        }
        if msg.len() < CHUNK_HEADER_LEN {
            return Err(WireError::TruncatedHeader { len: msg.len() });
        }
        if msg[0] != CHUNK_VERSION {
            return Err(WireError::BadVersion(msg[0]));
        }
        if msg[1] != CHUNK_KIND_DATA {
            return Err(WireError::BadKind(msg[1]));
        }
        // Reserved for a later version of the chunk header: a sender that
        // sets them speaks a format this one does not know.
        if msg[2] != 0 || msg[3] != 0 {
            return Err(WireError::BadReserved([msg[2], msg[3]]));
        }
        let id = u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let offset = u32::from_be_bytes([msg[8], msg[9], msg[10], msg[11]]);
        let data = &msg[CHUNK_HEADER_LEN..];
        if data.is_empty() {
            return Err(WireError::EmptyChunk);
        }
        Ok(Chunk { id, offset, data })
    }
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Text message over the cap.
    #[error("text message of {len} bytes exceeds the {MAX_TEXT_MESSAGE}-byte limit")]
    TextTooLarge {
        /// Its length.
        len: usize,
    },
    /// Binary message over the cap.
    #[error("binary message of {len} bytes exceeds the {MAX_BINARY_MESSAGE}-byte limit")]
    BinaryTooLarge {
        /// Its length.
        len: usize,
    },
    /// Binary message shorter than the chunk header.
    #[error("binary message of {len} bytes is shorter than the {CHUNK_HEADER_LEN}-byte chunk header")]
    TruncatedHeader {
        /// Its length.
        len: usize,
    },
    /// Unknown header version.
    #[error("chunk header version {0} is not supported (expected {CHUNK_VERSION})")]
    BadVersion(u8),
    /// Unknown chunk kind.
    #[error("chunk kind {0} is unknown (expected {CHUNK_KIND_DATA})")]
    BadKind(u8),
    /// The reserved header bytes are not zero.
    #[error("chunk header bytes 2-3 are reserved and must be 0, got {0:?}")]
    BadReserved([u8; 2]),
    /// Header but no data.
    #[error("chunk carries no data")]
    EmptyChunk,
    /// Not a message we know (bad JSON, unknown type, missing or extra field).
    #[error("malformed control message: {0}")]
    BadJson(String),
}

#[cfg(test)]
mod tests;
