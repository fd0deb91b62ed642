//! `visio-admin`'s logic beyond the config crate: usage statistics. The
//! binary (`main.rs`) only parses flags and maps errors to exit codes.

#![forbid(unsafe_code)]

pub mod stats;
