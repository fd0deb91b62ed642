//! `visio-linkem`: the slow links kiosks really have, on one machine.
//!
//! This machine's kernel has no `netem`, so delay cannot come from `tc`.
//! A [`Link`] creates two network namespaces (the kiosk side and the hub
//! side), a TUN device in each, and one forwarder thread between them that
//! applies, per direction: a rate limit with a bounded tail-drop queue,
//! random or bursty (Gilbert-Elliott) loss, one-way delay with jitter, an
//! MTU, and changes while running (new parameters, a cut of N seconds).
//!
//! The emulation is [`LinkCore`], a sans-I/O state machine: packets in with
//! a timestamp, packets out when due, time always an input, seeded random
//! numbers. The namespace and TUN shell around it is thin.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use visio_linkem::{Bitrate, Direction, Link, Profile, Side};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let link = Link::up(Profile::Satellite)?;
//! let out = link.run_in(Side::Kiosk, Command::new("ping").args(["-c", "3", &link.hub_addr().to_string()]))?;
//! link.update(Direction::Up, |p| p.rate = Some(Bitrate::kbit(300)))?;
//! link.cut(Duration::from_secs(10))?;
//! println!("{:?}", link.counters(Direction::Up));
//! // Dropping the link deletes the namespaces and stops what runs inside.
//! # Ok(()) }
//! ```
//!
//! Running code on a side: [`Link::spawn_in`] and [`Link::run_in`] start
//! processes there; [`Link::in_namespace`] runs a closure on a thread there
//! (its sockets stay there); [`Link::runtime`] gives a tokio runtime whose
//! threads all live there, to run the hub in one namespace and the kiosk in
//! the other inside one test.
//!
//! Everything needs root. Without it, [`Link::up`] fails with
//! [`Error::NotRoot`], whose message says so: tests fail, they never skip.

#![forbid(unsafe_code)]

pub mod control;
mod core;
mod error;
mod link;
mod netns;
mod params;
pub mod probe;
mod units;

pub use crate::core::{Counters, LinkCore, Pipe};
pub use crate::error::{Error, Result};
pub use crate::link::{HUB_ADDR, KIOSK_ADDR, Link, LinkBuilder, LinkCounters, NsRuntime, TUN_NAME, only_tcp_out_rules};
pub use crate::params::{Direction, LinkParams, Loss, Params, Profile, QueueLimit, Side};
pub use crate::units::{
    Bitrate, fmt_duration, parse_duration, parse_percent, parse_rate, parse_size,
};

/// Deletes a link left behind by a process that could not clean up (killed
/// with SIGKILL): stops the processes inside its two namespaces and deletes
/// them. Returns whether there was anything to delete.
pub fn remove_leftover(name: &str) -> Result<bool> {
    let mut found = false;
    for side in Side::ALL {
        if let Some(ns) = netns::Namespace::open(&format!("{name}-{side}")) {
            found = true;
            let problems = ns.delete();
            if !problems.is_empty() {
                return Err(Error::Control {
                    name: name.to_string(),
                    detail: problems.join("; "),
                });
            }
        }
    }
    Ok(found)
}

/// Whether a side's namespace of a link with this name exists.
pub fn namespace_exists(name: &str, side: Side) -> bool {
    netns::exists(&format!("{name}-{side}"))
}
