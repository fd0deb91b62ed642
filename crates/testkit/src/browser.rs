//! Real headless Chromium (Debian's `chromium` and `chromium-driver`) as the
//! agent's browser, driven over WebDriver, with a fake camera and microphone.
//!
//! Each launch gets a fresh profile directory and its own chromedriver on a
//! free loopback port; both are killed when the [`Chromium`] is dropped.

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wait::DEADLINE;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Flags measured to work as root in these VMs (FIELD-NOTES).
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// Panics with a message saying what to do when a required binary is missing.
fn require_file(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} not found: run scripts/setup.sh (Debian package {package})");
}

#[allow(missing_debug_implementations)] // a live WebDriver session
pub struct Chromium {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Chromium {
    pub async fn launch() -> Chromium {
        Chromium::launch_with(&[]).await
    }

    /// Like [`launch`](Self::launch), with more command-line flags, e.g.
    /// `--use-file-for-fake-video-capture=clip.y4m` for a known picture.
    /// Chromium starts in the caller's network namespace.
    pub async fn launch_with(extra_args: &[String]) -> Chromium {
        require_file(CHROMIUM, "chromium");
        require_file(CHROMEDRIVER, "chromium-driver");
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("visio-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("profile directory");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra_args.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args }));
        caps.insert("acceptInsecureCerts".into(), json!(true));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session with chromium");
        Chromium { client, driver, profile }
    }

    /// Runs `script` (an async function body; `arguments[0]` is `arg`) and returns its result.
    pub async fn run(&self, script: &str, arg: Value) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];
             (async (arg) => {{ {script} }})(arguments[0]).then(done, e => done({{ error: String(e) }}));"
        );
        let value = self.client.execute_async(&wrapped, vec![arg]).await.expect("script runs in chromium");
        if let Some(error) = value.get("error") {
            panic!("script failed in chromium: {error}");
        }
        value
    }

    /// Ends the WebDriver session cleanly; dropping also cleans up, less politely.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Chromium {
    /// Also runs when a test panics: chromedriver is our child, but the browser
    /// is chromedriver's, so find it by its unique profile directory.
    fn drop(&mut self) {
        let marker = format!("--user-data-dir={}", self.profile.display());
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if cmdline.split(|&b| b == 0).any(|arg| arg == marker.as_bytes()) {
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
