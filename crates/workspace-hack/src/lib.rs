//! Empty on purpose: this crate only names, in its Cargo.toml, every
//! dependency feature any workspace member asks for, so that building one
//! package (`cargo run -p visio-kiosk`) compiles its dependencies exactly as
//! `cargo test --workspace` did and reuses them. `cargo hakari generate`
//! rewrites the list after a dependency change; `cargo hakari verify` checks it.
