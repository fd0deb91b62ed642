//! Real headless browsers as the agent's: Chromium (Debian's `chromium` and
//! `chromium-driver`) and Firefox ESR (Debian's `firefox-esr` with
//! geckodriver, which scripts/setup.sh builds from crates.io), both driven
//! over WebDriver with a fake camera and microphone.
//!
//! Each launch gets a fresh profile directory and its own driver on a free
//! loopback port; both are killed when the [`Browser`] is dropped. Pages can
//! be checked with axe-core (vendored in `fixtures/axe-core`).

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wait::DEADLINE;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const FIREFOX: &str = "/usr/bin/firefox-esr";

/// axe-core's browser build, injected into pages under test.
const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// Flags measured to work as root in these VMs.
pub const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    // The test hub's certificate is self-signed: accepted as valid, so its
    // pages stay a secure context (camera, microphone, WebRTC).
    "--ignore-certificate-errors",
];

/// Firefox's equivalents: fake devices without a permission prompt, host
/// candidates on loopback and not hidden behind mDNS names, media that
/// plays without a gesture, notifications allowed.
fn firefox_prefs() -> Value {
    json!({
        "media.navigator.streams.fake": true,
        "media.navigator.permission.disabled": true,
        "media.peerconnection.ice.loopback": true,
        "media.peerconnection.ice.obfuscate_host_addresses": false,
        "media.autoplay.default": 0,
        "media.autoplay.blocking_policy": 0,
        "media.autoplay.block-webaudio": false,
        "permissions.default.desktop-notification": 1,
        "browser.shell.checkDefaultBrowser": false,
        "app.update.enabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
    })
}

/// Which browser to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chromium,
    Firefox,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chromium => "chromium",
            Kind::Firefox => "firefox",
        }
    }
}

/// geckodriver: `$GECKODRIVER`, else where scripts/setup.sh installs it.
pub fn geckodriver() -> PathBuf {
    if let Some(path) = std::env::var_os("GECKODRIVER") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/visio-public/tools/geckodriver/bin/geckodriver")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// Panics with a message saying what to do when a required binary is missing.
fn require_file(path: &Path, what: &str) {
    assert!(path.exists(), "{} not found: run scripts/setup.sh ({what})", path.display());
}

#[allow(missing_debug_implementations)] // a live WebDriver session
pub struct Browser {
    pub client: Client,
    pub kind: Kind,
    driver: Child,
    profile: PathBuf,
}

/// The name most tests know it by: [`Browser::launch`] is Chromium.
pub type Chromium = Browser;

impl Browser {
    /// Headless Chromium.
    pub async fn launch() -> Browser {
        Browser::launch_with(&[]).await
    }

    /// Like [`launch`](Self::launch), with more command-line flags, e.g.
    /// `--use-file-for-fake-video-capture=clip.y4m` for a known picture.
    /// Chromium starts in the caller's network namespace.
    pub async fn launch_with(extra_args: &[String]) -> Browser {
        require_file(Path::new(CHROMIUM), "Debian package chromium");
        require_file(Path::new(CHROMEDRIVER), "Debian package chromium-driver");
        let (port, driver, profile) = start_driver(Path::new(CHROMEDRIVER), "chromium", |port| vec![format!("--port={port}")]).await;
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra_args.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args,
                    "prefs": { "profile.default_content_setting_values.notifications": 1 } }),
        );
        caps.insert("acceptInsecureCerts".into(), json!(true));
        let client = session(port, caps, "chromium").await;
        Browser { client, kind: Kind::Chromium, driver, profile }
    }

    /// Headless Firefox ESR through geckodriver.
    pub async fn launch_firefox() -> Browser {
        require_file(Path::new(FIREFOX), "Debian package firefox-esr");
        let gecko = geckodriver();
        require_file(&gecko, "geckodriver, built with cargo install");
        let (port, driver, profile) = start_driver(&gecko, "firefox", |port| {
            // Marionette on its own port too, so parallel tests do not meet.
            vec![format!("--port={port}"), format!("--marionette-port={}", free_port()), "--log=fatal".into()]
        })
        .await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "moz:firefoxOptions".into(),
            json!({ "binary": FIREFOX, "args": ["-headless", "-profile", profile.display().to_string()],
                    "prefs": firefox_prefs() }),
        );
        caps.insert("acceptInsecureCerts".into(), json!(true));
        let client = session(port, caps, "firefox").await;
        Browser { client, kind: Kind::Firefox, driver, profile }
    }

    pub async fn launch_kind(kind: Kind) -> Browser {
        match kind {
            Kind::Chromium => Browser::launch().await,
            Kind::Firefox => Browser::launch_firefox().await,
        }
    }

    /// Runs `script` (an async function body; `arguments[0]` is `arg`) and returns its result.
    pub async fn run(&self, script: &str, arg: Value) -> Value {
        match self.try_run(script, arg).await {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Browser::run`], but a script that cannot finish (the page
    /// navigated or reloaded under it: WebDriver then answers with a script
    /// timeout or an unloaded document) is an error to retry, not a panic.
    pub async fn try_run(&self, script: &str, arg: Value) -> Result<Value, String> {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];
             (async (arg) => {{ {script} }})(arguments[0]).then(done, e => done({{ error: String(e) }}));"
        );
        let value = self
            .client
            .execute_async(&wrapped, vec![arg])
            .await
            .map_err(|e| format!("script did not run in {}: {e}", self.kind.name()))?;
        match value.get("error") {
            Some(error) => Err(format!("script failed in {}: {error}", self.kind.name())),
            None => Ok(value),
        }
    }

    /// Makes the page's viewport (not the window) `width`×`height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("set the window size");
        let inner = self.run("return [window.innerWidth, window.innerHeight];", Value::Null).await;
        let (iw, ih) = (inner[0].as_u64().unwrap() as u32, inner[1].as_u64().unwrap() as u32);
        if (iw, ih) != (width, height) {
            let (w, h) = (width + width.saturating_sub(iw), height + height.saturating_sub(ih));
            self.client.set_window_size(w, h).await.expect("set the window size");
        }
    }

    /// Presses Alt+Shift+`key` as the agent would on the keyboard.
    pub async fn alt_shift(&self, key: char) {
        let (alt, shift) = (char::from(fantoccini::key::Key::Alt), char::from(fantoccini::key::Key::Shift));
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: alt })
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: shift })
            .then(KeyAction::Up { value: alt });
        self.client.perform_actions(keys).await.expect("key presses");
        let _ = self.client.release_actions().await;
    }

    /// Runs axe-core on the page against WCAG 2.0/2.1 A and AA; returns the
    /// violations (rule id, help, and the failing nodes' selectors).
    pub async fn accessibility_violations(&self) -> Vec<Value> {
        self.client.execute(&format!("{AXE}\n;return true;"), vec![]).await.expect("inject axe-core");
        let result = self
            .run(
                "const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
                 return r.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) }));",
                Value::Null,
            )
            .await;
        result.as_array().cloned().unwrap_or_default()
    }

    /// Ends the WebDriver session cleanly; dropping also cleans up, less politely.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Starts `driver` on a free port with a fresh profile directory for its browser.
async fn start_driver(driver: &Path, name: &str, args: impl FnOnce(u16) -> Vec<String>) -> (u16, Child, PathBuf) {
    let port = free_port();
    let profile = std::env::temp_dir().join(format!("visio-{name}-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&profile).expect("profile directory");
    let child = Command::new(driver)
        .args(args(port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    let deadline = Instant::now() + DEADLINE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{} did not listen on port {port}", driver.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (port, child, profile)
}

async fn session(port: u16, caps: serde_json::Map<String, Value>, name: &str) -> Client {
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("WebDriver session with {name}: {e}"))
}

impl Drop for Browser {
    /// Also runs when a test panics: the driver is our child, but the browser
    /// is the driver's, so find it by its unique profile directory (Chromium
    /// has it in one argument, Firefox in the one after `-profile`).
    fn drop(&mut self) {
        let profile = self.profile.display().to_string();
        let marker = format!("--user-data-dir={profile}");
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if cmdline.split(|&b| b == 0).any(|arg| arg == marker.as_bytes() || arg == profile.as_bytes()) {
                    let _ = Command::new("kill").arg(pid.to_string()).status();
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Serves one HTML page on 127.0.0.1 (localhost over http is a secure
/// context, so getUserMedia works). Returns its URL.
pub async fn serve_page(html: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}
