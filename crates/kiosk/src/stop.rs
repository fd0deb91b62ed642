//! Asked to stop: SIGTERM (what systemd sends at stop, restart and
//! shutdown) or SIGINT (Ctrl-C). Both shells then end the visit as a
//! resident would (hang up, tell the hub), wipe the spool and exit.

/// Resolves at the first SIGTERM or SIGINT. Listening replaces the
/// default action (exit at once), so the caller must exit itself.
pub async fn requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops the kiosk cleanly");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
}
