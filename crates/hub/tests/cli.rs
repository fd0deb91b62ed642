//! The `visio-hub` binary as an admin uses it, in a scratch data directory.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Served, eventually, serve_process};
use visio_hub::store::Store;
use visio_protocol::{AgentLogin, KioskId, Secret};

fn hub(data: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visio-hub"));
    cmd.arg("--data-dir").arg(data).env("RUST_LOG", "warn");
    cmd
}

/// Runs an `add`/`account` command that reads its password from stdin,
/// gives it `password`, and checks it succeeds without echoing it.
fn add_with_password_on_stdin(data: &std::path::Path, args: &[&str], password: &str) {
    let mut child = hub(data).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "a given password is not echoed");
}

/// An HTTPS client that trusts only the certificate the hub made in `data`.
fn client_trusting(data: &std::path::Path) -> reqwest::Client {
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap()
}

/// The hub's `/healthz` answer, once it gives one.
async fn healthz(client: &reqwest::Client, port: u16) -> serde_json::Value {
    eventually("healthz", || async {
        client.get(format!("https://localhost:{port}/healthz")).send().await.ok()?.json().await.ok()
    })
    .await
}

#[test]
fn enroll_prints_a_secret_that_the_store_accepts_and_re_enroll_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = hub(dir.path()).args(["kiosk", "enroll", "besse", "--site", "Mairie de Besse"]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let secret = Secret(String::from_utf8(first.stdout).unwrap().trim().to_owned());
    assert_eq!(secret.expose().len(), 43, "256 bits, base64url");
    let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    assert_eq!(store.verify_kiosk(&KioskId::from("besse"), &secret).unwrap().unwrap().site, "Mairie de Besse");

    let again = hub(dir.path()).args(["kiosk", "enroll", "besse"]).output().unwrap();
    assert!(again.status.success());
    assert!(store.verify_kiosk(&KioskId::from("besse"), &secret).unwrap().is_none());

    let bad = hub(dir.path()).args(["kiosk", "enroll", "../etc"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a valid id"));
}

#[test]
fn agent_add_checks_services_and_takes_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = hub(dir.path()).args(["agent", "add", "claire", "--services", "caf,cpam2"]).output().unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown service \"cpam2\"") && stderr.contains("caf, france-travail"), "{stderr}");

    add_with_password_on_stdin(
        dir.path(),
        &["agent", "add", "claire", "--services", "caf,msa", "--name", "Claire (CAF)", "--password-stdin"],
        "correct horse battery",
    );
    let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    let agent = store.verify_agent(&AgentLogin::from("claire"), &Secret("correct horse battery".into())).unwrap().unwrap();
    assert_eq!(agent.display_name, "Claire (CAF)");

    let dup = hub(dir.path()).args(["agent", "add", "claire", "--services", "caf"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dup.stderr).contains("agent \"claire\" already exists"));

    let generated = hub(dir.path()).args(["agent", "add", "paul", "--services", "caf"]).output().unwrap();
    let password = Secret(String::from_utf8(generated.stdout).unwrap().trim().to_owned());
    assert!(store.verify_agent(&AgentLogin::from("paul"), &password).unwrap().is_some());
}

#[test]
fn admin_account_takes_a_role_and_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let bad = hub(dir.path()).args(["admin", "account", "claire", "--role", "root"]).output().unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("unknown role \"root\": expected admin, supervisor, host or agent"), "{stderr}");

    add_with_password_on_stdin(
        dir.path(),
        &["admin", "account", "claire", "--role", "supervisor", "--name", "Claire (DSI)", "--password-stdin"],
        "correct horse battery",
    );
    let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    let account = store.verify_console_account("claire", &Secret("correct horse battery".into())).unwrap().unwrap();
    assert_eq!((account.display_name.as_str(), account.role), ("Claire (DSI)", visio_hub::roles::Role::Supervisor));

    let dup = hub(dir.path()).args(["admin", "account", "claire", "--role", "admin"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dup.stderr).contains("console account \"claire\" already exists"));
    let unknown = hub(dir.path()).args(["admin", "account", "zoe", "--role", "agent", "--services", "cpam2"]).output().unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown service \"cpam2\""));
    let generated = hub(dir.path()).args(["admin", "account", "paul", "--role", "host", "--kiosks", "besse,ardes"]).output().unwrap();
    let password = Secret(String::from_utf8(generated.stdout).unwrap().trim().to_owned());
    let paul = store.verify_console_account("paul", &password).unwrap().unwrap();
    assert_eq!(paul.kiosks, [KioskId::from("besse"), KioskId::from("ardes")]);
}

#[test]
fn a_host_account_gets_sites_of_enrolled_kiosks() {
    let dir = tempfile::tempdir().unwrap();
    let enrolled = hub(dir.path()).args(["kiosk", "enroll", "ardes", "--site", "Mairie d'Ardes"]).output().unwrap();
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
    let typo = hub(dir.path()).args(["admin", "account", "accueil", "--role", "host", "--site", "Mairie d'Arde"]).output().unwrap();
    assert!(!typo.status.success());
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(stderr.contains("no enrolled kiosk is at site \"Mairie d'Arde\"; the enrolled kiosks' sites are: Mairie d'Ardes"), "{stderr}");
    let admin = hub(dir.path()).args(["admin", "account", "claire", "--role", "admin", "--site", "Mairie d'Ardes"]).output().unwrap();
    assert!(String::from_utf8_lossy(&admin.stderr).contains("--site is for host accounts"), "{admin:?}");

    let host = hub(dir.path()).args(["admin", "account", "accueil", "--role", "host", "--site", "Mairie d'Ardes"]).output().unwrap();
    assert!(host.status.success(), "{}", String::from_utf8_lossy(&host.stderr));
    assert!(String::from_utf8_lossy(&host.stderr).contains("it signs in at /host/"));
    let password = Secret(String::from_utf8(host.stdout).unwrap().trim().to_owned());
    let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    assert_eq!(store.verify_console_account("accueil", &password).unwrap().unwrap().sites, ["Mairie d'Ardes"]);
}

/// What README's first command runs: `serve --demo`, then /healthz answers.
#[tokio::test]
async fn serve_demo_starts_and_answers_health() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[], &["--demo"]);
    let (port, seen) = (served.addr.port(), &served.before);
    assert!(seen.iter().any(|l| l.contains("demo agent:  login \"agent\"")), "{}", seen.join("\n"));
    let secret = std::fs::read_to_string(dir.path().join("demo-kiosk.secret")).unwrap();
    let client = client_trusting(dir.path());
    assert_eq!(healthz(&client, port).await["status"], "ok");
    let login = client
        .post(format!("https://localhost:{port}/api/agent/login"))
        .json(&serde_json::json!({"login": "agent", "password": "visio-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(seen.iter().any(|l| l.contains("demo admin:  login \"admin\"")), "{}", seen.join("\n"));
    let admin = client
        .post(format!("https://localhost:{port}/api/admin/login"))
        .json(&serde_json::json!({"login": "admin", "password": "visio-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(secret.len(), 43);
    drop(served);
}

/// Starts `visio-hub [global] serve [serve_args]` on a free port.
fn serve(data: &std::path::Path, global: &[&str], serve_args: &[&str]) -> Served {
    serve_process(hub(data).args(global).args(["serve", "--listen", "127.0.0.1:0"]).args(serve_args))
}

/// The admin API set up as docs/admin.md says: a token and a trusted key
/// on the hub, the hub serving a configuration folder.
#[tokio::test]
async fn admin_token_trusted_key_and_serve_with_a_configuration_folder() {
    use visio_config::bundle::{self, Bundle, SigningKey};
    let dir = tempfile::tempdir().unwrap();
    let config_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config");
    let key = SigningKey::from_bytes(&[1; 32]);

    let bad = hub(dir.path()).args(["admin", "trust-key", "ssh-ed25519 AAAA"]).output().unwrap();
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "visio-hub: \"ssh-ed25519 AAAA\" is not a public key; expected \"ed25519:\" followed by 32 bytes in base64\n"
    );
    let trust = hub(dir.path()).args(["admin", "trust-key", &bundle::public_key_text(&key.verifying_key())]).output().unwrap();
    assert!(trust.status.success(), "{}", String::from_utf8_lossy(&trust.stderr));
    assert!(String::from_utf8_lossy(&trust.stderr).contains(&bundle::key_id(&key.verifying_key())));
    let token = hub(dir.path()).args(["admin", "token", "ops"]).output().unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    assert_eq!(token.len(), 43, "256 bits, base64url");

    let broken = hub(dir.path()).args(["--config", "/nonexistent", "serve"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&broken.stderr), "visio-hub: cannot read /nonexistent: no such folder\n");

    let served = serve(dir.path(), &["--config", config_dir.to_str().unwrap()], &[]);
    let port = served.addr.port();
    let client = client_trusting(dir.path());
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let signed = Bundle::sign(&visio_config::ConfigSet::load(&config_dir).unwrap(), &key, 7, jiff::Timestamp::now());
    let put = client.put(url("/api/admin/config")).bearer_auth(&token).body(signed.to_json()).send().await.unwrap();
    assert_eq!(put.status(), 201);
    let fleet: visio_protocol::admin::FleetView =
        client.get(url("/api/fleet")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(fleet.published.unwrap().published_by, "ops");
    let ids: Vec<&str> = fleet.kiosks.iter().map(|k| k.kiosk_id.as_str()).collect();
    assert_eq!(ids, ["ardes", "besse", "demo-kiosk", "pontgibaud", "saint-germain-lherm", "tauves", "viverols"]);
    assert!(fleet.kiosks.iter().all(|k| !k.enrolled), "configured, none enrolled yet");

    // Revoking the token takes effect on the running hub.
    let revoke = hub(dir.path()).args(["admin", "revoke-token", "ops"]).output().unwrap();
    assert!(revoke.status.success());
    let refused = client.get(url("/api/fleet")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    drop(served);
}

/// Issue 21, item 12: a hub that has published a configuration starts on
/// it, with a warning naming every problem, when its `--config` folder is
/// broken; without one it refuses to start, naming them too.
#[tokio::test]
async fn a_broken_folder_falls_back_to_the_published_configuration() {
    use visio_config::bundle::{Bundle, SigningKey};
    let dir = tempfile::tempdir().unwrap();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config");
    let broken = dir.path().join("kiosk-config");
    std::fs::create_dir_all(broken.join("kiosks")).unwrap();
    for file in ["services.json", "hub.json", "kiosks/besse.json"] {
        std::fs::copy(demo.join(file), broken.join(file)).unwrap();
    }
    let hub_json = std::fs::read_to_string(demo.join("hub.json")).unwrap();
    std::fs::write(broken.join("hub.json"), hub_json.replacen('{', "{\n  \"max_connections\": 5,", 1)).unwrap();
    let broken_arg = broken.to_str().unwrap();

    // Spawned, not `output()`: a hub that wrongly accepts the folder keeps
    // serving, and the test must fail rather than wait for it forever.
    let mut child = hub(dir.path())
        .args(["--config", broken_arg, "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let refused = child.wait_with_output().unwrap();
    assert!(status.is_some_and(|s| !s.success()), "the hub must refuse the folder, not serve it");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&format!("visio-hub: the configuration in {broken_arg} is invalid:\n")), "{stderr}");
    assert!(stderr.contains("max_connections: duplicate key \"max_connections\", first at hub.json:2:3"), "{stderr}");

    let key = SigningKey::from_bytes(&[1; 32]);
    let bundle = Bundle::sign(&visio_config::ConfigSet::load(&demo).unwrap(), &key, 7, jiff::Timestamp::now());
    let store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    let meta = visio_protocol::admin::PublishedConfig {
        version: 7,
        payload_sha256: bundle.payload_sha256.clone(),
        key_id: bundle.key_id.clone(),
        published_at: jiff::Timestamp::now(),
        published_by: "ops".into(),
        size: bundle.to_json().len() as u64,
        announced_to: None,
    };
    store.publish_config(&visio_hub::store::StoredConfig { meta, bundle: bundle.to_json() }).unwrap();
    drop(store);

    let served = serve(dir.path(), &["--config", broken_arg], &[]);
    let before = served.before.join("\n");
    assert!(
        before.contains(&format!(
            "visio-hub: warning: the configuration in {broken_arg} is invalid; starting on the published configuration (version 7) instead. Fix these problems:"
        )),
        "{before}"
    );
    assert!(before.contains("max_connections: duplicate key \"max_connections\""), "{before}");
    let client = client_trusting(dir.path());
    let port = served.addr.port();
    assert_eq!(healthz(&client, port).await["status"], "ok");
    drop(served);
}
