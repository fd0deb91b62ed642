//! visio-kiosk: the touchscreen front end (iced) and its headless twin, two
//! shells around the session core of `visio-kiosk-core`.
//!
//! - [`app`]: the iced application (root state, messages, subscriptions).
//! - [`screen`]: one module per screen: home, waiting, call, ended, out of service.
//! - [`theme`]: the high-contrast palette, sizes, and style functions.
//! - [`i18n`]: Fluent message catalogues (French first, English).
//! - [`hub_link`]: the WebSocket/TLS connection to the hub.
//! - [`visit`]: one visit's call (visio-media) and documents (visio-transfer).
//! - [`setup`]: the kiosk's configuration file and command line, read once.
//! - [`headless`]: the same core without a window, printing JSON lines.
//! - [`speech`]: the spoken prompts (eSpeak NG through GStreamer).
//! - [`stop`]: SIGTERM and SIGINT, for a clean stop of either shell.
//! - [`systemd`]: readiness and watchdog notifications to systemd.
//! - [`fleet`] and [`config_store`]: device health for heartbeats; signed
//!   configurations fetched, verified and kept.

#![forbid(unsafe_code)]

pub mod app;
pub mod assets;
pub mod carrier;
pub mod config_store;
pub mod fleet;
pub mod handset;
pub mod headless;
pub mod hub_link;
pub mod i18n;
pub mod scene;
pub mod setup;
pub mod screen;
pub mod sound;
pub mod speech;
pub mod stop;
pub mod systemd;
pub mod theme;
pub mod visit;
