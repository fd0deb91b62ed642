//! Document transfer for Visio-Public: the agent asks the kiosk to scan,
//! pushes files to print or to show, over the call's WebRTC data channel.
//!
//! # Layers
//!
//! - [`core`]: the protocol as a sans-I/O state machine ([`Endpoint`]), one
//!   per side. No tokio, sockets, files or clocks inside: time is an input.
//!   Split by what each part owns: `core/limits.rs` (configuration, pacing
//!   arithmetic), `core/events.rs` (frames in; outputs, events and errors
//!   out), `core/incoming.rs` (files received), `core/outgoing.rs` (files
//!   sent: window, reads, pacing) and `core/mod.rs` (the endpoint, link
//!   state, dispatch, timers).
//! - [`wire`]: JSON control messages and the 12-byte chunk header.
//! - [`check`]: content sniffing (PDF, PNG, JPEG by their bytes) and
//!   file-name checks, streaming.
//! - [`inspect`]: the whole file read by real decoders (poppler's `pdfinfo`,
//!   the `image` crate): pages, page sizes, passwords, pixel counts.
//! - [`bounded`]: helper programs run under memory, processor, file-size
//!   and wall-clock limits.
//! - Shells: [`spool`] (private per-session directories, wiped at end and at
//!   start-up), [`scanner`] (SANE through `scanimage`), [`feeder`]
//!   (a scanner's document feeder, every page in one go), [`printer`] (CUPS
//!   over IPP), [`display`] (page images with poppler), [`interview`] (the
//!   kiosk's scan interview: pages, previews, consent, one PDF), [`link`] (the message
//!   link trait; its implementation is `visio_media::DocumentsLink`, the
//!   call's documents channel) and [`driver`] (a
//!   tokio task running an endpoint over a link).
//!
//! # Drive loop
//!
//! Every input is followed by draining the outputs:
//!
//! ```
//! use std::time::Instant;
//! use visio_transfer::{Endpoint, Side, Limits, Output, Frame};
//!
//! let mut kiosk = Endpoint::new(Side::Kiosk, Limits::default());
//! kiosk.handle_link_up(Instant::now());
//! let _ = kiosk.handle_frame(Instant::now(), Frame::Text(
//!     r#"{"type":"scan_request","req":1,"color":"gray","dpi":150}"#));
//! while let Some(out) = kiosk.poll_output() {
//!     match out {
//!         Output::Transmit(_msg) => { /* send on the data channel */ }
//!         Output::Read { .. } => { /* read the chunk, call handle_data */ }
//!         Output::Write { .. } => { /* write into the spool file */ }
//!         Output::Discard { .. } => { /* delete the spool file */ }
//!         Output::Event(_ev) => { /* scanner, printer, screen, UI */ }
//!     }
//! }
//! // then wait for the next input or until kiosk.poll_timeout()
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bounded;
pub mod check;
pub mod core;
pub mod display;
pub mod driver;
pub mod feeder;
pub mod inspect;
pub mod link;
pub mod pdf;
pub mod printer;
pub mod scanner;
pub mod sign;
pub mod spool;
pub mod text_pdf;
pub mod wire;

/// The scan interview's shell (pages held, previews), part of the driver.
pub use crate::driver::interview;

pub use crate::core::{
    CommandError, Direction, Endpoint, Event, FileMeta, Frame, Limits, LimitsError, Output, PeerError, ScanStep,
    Side, Transmit,
};
pub use crate::wire::{
    ColorMode, ErrorCode, LinkLevel, LinkReport, Message, OutcomeKind, PagePoint, PageView, Purpose, ScanFormat, ScanSettings,
};
