//! `visio-admin`'s logic beyond the config crate: usage statistics, the
//! hub's admin API client and the fleet table. The binary (`main.rs`) only
//! parses flags and maps errors to exit codes.

#![forbid(unsafe_code)]

pub mod fleet;
pub mod hub;
/// Usage figures: the same computation as the hub's admin console.
pub use visio_stats as stats;
