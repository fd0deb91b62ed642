//! The real parts Visio-Public's tests start and stop themselves: no mocks,
//! no systemd, loopback addresses only.
//!
//! - [`wait`]: every wait has a generous deadline and no fixed sleep.
//! - [`hub`]: the real hub on a loopback TLS port, and protocol clients for
//!   kiosks and agents.
//! - [`cups`]: a private `cupsd` with a cups-pdf queue.
//! - [`sane`]: a private SANE configuration with the `test` scanner.
//! - [`ippeve`]: a driverless (IPP Everywhere) printer, CUPS's emulator.
//! - [`escl`]: a driverless (eSCL) scanner emulator, for sane-airscan.
//! - [`pdf`]: small valid PDFs, and their text through poppler.
//! - [`documents`]: documents made by real tools, and hostile ones.
//! - [`browser`]: real headless Chromium over WebDriver, fake camera and
//!   microphone.
//! - [`page`]: the hub's web pages driven in that browser through their
//!   `data-testid` hooks (clicks, fields, waits, an agent's sign-in).
//! - [`turn`]: a coturn TURN server on loopback (or placed by the test, with TLS).
//! - [`proxy`]: an HTTP proxy (tinyproxy) asking for credentials.
//! - [`postgres`]: a PostgreSQL 15 server on loopback, in a temporary directory.
//! - [`sessions`]: a made-up session log, for usage figures.
//! - [`nats`]: a NATS server on loopback, linking hub processes.
//!
//! A missing system tool fails the test with the command that installs it
//! (`scripts/setup.sh`), never skips it.

pub mod bin;
pub mod browser;
pub mod cluster;
pub mod cups;
pub mod documents;
pub mod escl;
pub mod hub;
pub mod ippeve;
pub mod nats;
pub mod page;
pub mod sound;
pub mod pdf;
pub mod postgres;
pub mod proxy;
pub mod sane;
pub mod sessions;
pub mod turn;
pub mod wait;
