//! The kiosk session, as a state machine with no I/O.
//!
//! [`Session`] decides what the resident sees and what the kiosk does; it
//! knows nothing of iced, WebSocket, WebRTC, GStreamer, SANE or clocks. Two
//! shells drive it: the touchscreen app and the headless mode. Both run the
//! same loop, in the style of `str0m`:
//!
//! ```text
//! let mut session = Session::new(config, Instant::now());
//! loop {
//!     // 1. Drain: do everything the session asks, until it has nothing more.
//!     while let Some(output) = session.poll_output() {
//!         match output {
//!             Output::ConnectHub { resume } => open the hub connection (hello with resume),
//!             Output::ToHub(msg) => send it,
//!             Output::Call(cmd) => start the call / pass a remote signal / end it,
//!             Output::Documents(cmd) => wipe the spool,
//!             Output::Event(e) => log it (headless: print one JSON line),
//!             Output::Chime => play the chime,
//!         }
//!     }
//!     while let Some(ConfigFetchRequest { version, path }) = session.poll_config_fetch() {
//!         download it, verify and store it (visio-kiosk's config_store), then
//!         feed Input::ConfigFetched(Applied / Refused / Failed)
//!     }
//!     // 2. Show `session.screen()`.
//!     // 3. Wait for an input or for `session.poll_timeout()`, then feed it:
//!     //    session.handle_input(now, input) or session.handle_timeout(now).
//! }
//! ```
//!
//! Feed [`Input::Devices`] whenever the shell has checked the camera,
//! microphone, scanner and printer: the session sends heartbeats itself
//! (right after each welcome, then every `heartbeat_seconds`), timing the
//! round trip with the hub's acks.
//!
//! Time is an input: tests run a whole visit, idle resets included, in
//! microseconds. Timers are one [`Timer`] enum and a table.

#![forbid(unsafe_code)]

mod ice_restart;
mod session;
mod timer;

pub use ice_restart::IceRestartPolicy;
pub use session::*;
pub use timer::Timer;
