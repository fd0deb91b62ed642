//! The hub's records: agent accounts and their browser sessions, the
//! kiosk registry, the session log (metadata only, never content), what
//! kiosks report about themselves, the published configuration, and the
//! admin API's tokens and trusted signing keys.
//!
//! One interface, [`Backend`], over two stores with the same behaviours
//! (`crates/hub/tests/store_conformance.rs` runs the same suite on both):
//! [`sqlite`] on one box (the default) and [`postgres`] shared by several
//! hub processes. The records they hand back are in [`records`]; each
//! store's schema migrations are in `crates/hub/migrations/<store>/`.

/// The one place a [`Backend`] call reaches its store: `$method(args)` on
/// PostgreSQL as it is; on SQLite, whose calls are synchronous, on tokio's
/// blocking pool, with owned copies of the borrowed arguments listed in
/// brackets (the closure outlives the borrow).
macro_rules! on_store {
    ($backend:expr, [$($owned:ident),*] => $method:ident($($arg:expr),*)) => {
        match $backend {
            Backend::Sqlite(store) => {
                $(let $owned = $owned.to_owned();)*
                store.call(move |s| s.$method($($arg),*)).await
            }
            Backend::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

mod backend;
pub mod postgres;
pub mod records;
pub mod revocation;
mod secrets;
pub mod sqlite;

pub use backend::Backend;
pub use records::{
    AgentRecord, ConsoleAccount, KioskRecord, KioskStatus, PublishOutcome, Recovered, SessionRecord, StoreError, StoredConfig,
};
pub use sqlite::Store;
