//! `visio-load`: simulated kiosks and agents against real hub processes,
//! and the figures they give (docs/benchmarks.md, "National scale").
//!
//! Pure parts, tested without a hub: [`plan`] (who connects where and
//! when, who queues when), [`stamp`] (fake signaling that carries its send
//! time), [`ledger`] (what the events add up to: taken once, twice or
//! never; latencies; errors), [`stats`] (exact percentiles), [`report`]
//! (JSON and a Markdown row), [`procfs`] (a process's resident memory).
//! The shell: [`sim`] opens the connections and runs the visits;
//! [`accounts`] enrols the simulated fleet through the hub's own store.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod ledger;
pub mod plan;
pub mod procfs;
pub mod report;
pub mod sim;
pub mod stamp;
pub mod stats;
