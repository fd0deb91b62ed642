//! `visio-admin stats` and the hub's admin console give the same figures
//! for the same log: the console's CSV download, made from the hub's store,
//! equals what `visio-admin stats --format csv` writes from that log
//! exported as `visio-hub sessions` prints it.

use std::process::Command;

use serde_json::json;
use visio_hub::roles::Role;
use visio_testkit::hub::{TestHub, admin_key, signed_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_visio_admin_stats_give_the_same_figures() {
    let hub = TestHub::start().await;
    let key = admin_key(5);
    let token = hub.admin(&key);
    assert_eq!(hub.publish(Some(&token), &signed_demo(&key, 100).to_json()).await.0, 201);
    visio_testkit::sessions::generate(&hub.store, "2026-10-01T00:00:00Z".parse().unwrap(), 31);
    hub.add_console_account("claire", "mot de passe de Claire", Role::Agent);

    let http = hub.http();
    let signed = http.post(hub.url("/api/admin/login")).json(&json!({"login": "claire", "password": "mot de passe de Claire"})).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    let console = http.get(hub.url("/api/admin/usage.csv?from=2026-10-01&to=2026-10-31")).send().await.unwrap();
    assert_eq!(console.status(), 200);
    let console = console.text().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let log: String =
        hub.store.session_log().unwrap().iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(dir.path().join("sessions.jsonl"), log).unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kiosk-config");
    let out = Command::new(visio_testkit::bin::path("visio-admin"))
        .args(["stats", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "csv", "--log", "sessions.jsonl"])
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli = String::from_utf8(out.stdout).unwrap();
    assert_eq!(console, cli);
    // Not an empty agreement: every group, with the month's interviews.
    for group in ["service,caf,", "kiosk,besse,", "site,", "month,2026-10,", "total,total,"] {
        assert!(cli.contains(group), "no {group} row in:\n{cli}");
    }
    hub.stop().await;
}
