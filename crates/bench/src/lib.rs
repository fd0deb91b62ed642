//! `visio-bench`: our kiosk's call against Chromium's on the emulated rural
//! links of `visio-linkem`, both received by the same Chromium page in the
//! hub's namespace (docs/benchmarks.md, "Rural links: ours vs Chromium").
//!
//! The library is the pure part: [`figures`] turns recorded samples into
//! figures, [`table`] prints them as Markdown, [`relay`] says what the
//! relayed path (`--relay`) tells each side. The binary (`src/main.rs` and
//! its modules) is the shell that brings up links, calls and browsers.

#![forbid(unsafe_code)]

pub mod figures;
pub mod relay;
pub mod table;
