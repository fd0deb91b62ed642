//! The hub's tests use the shared test kit: the real hub on TLS loopback and
//! protocol clients (crates/testkit).
#![allow(unused_imports)]

pub use visio_testkit::hub::*;
pub use visio_testkit::wait::{DEADLINE, eventually, within};
