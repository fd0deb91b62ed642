//! The Visio-Public hub: kiosks and agents connect over TLS; residents wait
//! in a queue per service; agents of that service take them; the hub relays
//! the WebRTC negotiation between exactly those two peers and keeps a
//! metadata-only session log.
//!
//! - [`core`]: the queues, calls and signaling rules, with no I/O.
//! - [`driver`]: the one task that owns the core and talks to connections.
//! - [`driver::revoke`]: revoked credentials close their live sockets.
//! - [`server`]: TLS accept loop, HTTP routes and WebSocket handlers.
//! - [`store`]: SQLite or PostgreSQL for accounts, the kiosk registry, the
//!   session log and (PostgreSQL) the queue shared by several processes.
//! - [`link`]: the driver's end of one connection (its queue, closing it).
//! - [`bus`]: NATS between hub processes.
//! - [`tls`]: the certificate, generated on first start or given.
//! - [`shown`]: clients' ids and logins made safe for log lines.
//! - [`throttle`]: slowing down password guessing.
//! - [`metrics`]: `/metrics` in Prometheus text format.
//! - [`fleet`]: the fleet view of the admin API.
//! - [`pages`]: the browser pages' files: the agent console (`/agent/`),
//!   the admin console (`/admin/`), the host page (`/host/`) and the
//!   supervisor's board (`/supervision/`).
//! - [`roles`]: who may do what in the admin console.
//! - [`systemd`]: readiness and watchdog notifications to systemd.

#![forbid(unsafe_code)]

pub mod bus;
pub mod calendar;
pub mod core;
pub mod driver;
pub mod fleet;
pub mod link;
pub mod metrics;
pub mod pages;
pub mod published;
pub mod roles;
pub mod server;
pub mod shown;
pub mod store;
pub mod systemd;
pub mod throttle;
pub mod tls;
