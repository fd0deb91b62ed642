//! Waiting for a condition, bounded by a deadline that only a failure reaches.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Long enough for a loaded 2-core CI machine; reached only on failure.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Logs to the test's output, filtered by `RUST_LOG` (default: warnings).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// Fails with the package to install if `cmd` is not on the PATH.
pub fn require(cmd: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(cmd).is_file())
        })
        .unwrap_or(false);
    assert!(found, "{cmd} not found: run scripts/setup.sh (Debian package {package})");
}

/// Polls `probe` until it returns `Some`, or panics after [`DEADLINE`]
/// naming `what`.
pub async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    eventually(what, || std::future::ready(probe())).await
}

/// Retries the async `probe` until it returns `Some`, up to [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `fut`, or panics after [`DEADLINE`] naming `what`.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut).await.unwrap_or_else(|_| panic!("timed out after {DEADLINE:?} waiting for {what}"))
}
