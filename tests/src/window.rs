//! The window kiosk under a virtual display ([`super::Xvfb`]): the process,
//! the events it logs, and screenshots of its screen.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use visio_testkit::wait::within;
use visio_transfer::display::PageImage;

use super::World;

/// A `visio-kiosk --windowed` process and the events of its log.
#[derive(Debug)]
pub struct WindowKiosk {
    pub child: tokio::process::Child,
    events: mpsc::UnboundedReceiver<Value>,
}

impl WindowKiosk {
    /// Starts the window kiosk of `world` on `display`, asking for
    /// `service`, drawn by tiny-skia (no GPU here).
    pub fn start(world: &World, service: &str, display: &str) -> WindowKiosk {
        let mut child = world
            .kiosk_command(service)
            .arg("--windowed")
            .env("DISPLAY", display)
            .env("ICED_BACKEND", "tiny-skia")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the window kiosk starts");
        // Its events, from its log (names and hashes are left out there).
        let (tx, events) = mpsc::unbounded_channel::<Value>();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("event={")
                    && let Ok(v) = serde_json::from_str::<Value>(line[at + "event=".len()..].trim())
                {
                    let _ = tx.send(v);
                } else if line.contains("WARN") || line.contains("ERROR") {
                    // What went wrong on the kiosk's side, with a failure.
                    eprintln!("kiosk: {line}");
                }
            }
        });
        WindowKiosk { child, events }
    }

    /// The next event named `name` in the kiosk's log, skipping others.
    pub async fn event(&mut self, name: &str) -> Value {
        loop {
            let v = within(&format!("the kiosk's {name}"), self.events.recv()).await.expect("the kiosk's log");
            if v["event"] == name {
                return v;
            }
        }
    }
}

/// The virtual display's screen, saved in `shot` and read back; `None`
/// while it cannot be taken.
pub async fn screen_of(display: &str, shot: &Path) -> Option<PageImage> {
    let status = tokio::process::Command::new("import").args(["-display", display, "-window", "root"]).arg(shot).status().await.ok()?;
    visio_transfer::display::load_page(shot, 2400).ok().filter(|_| status.success())
}
