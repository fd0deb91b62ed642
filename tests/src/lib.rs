//! What the kiosk's end-to-end tests share: the real hub on TLS loopback, a
//! private cupsd, SANE's test scanner, and the kiosk itself as a
//! `visio-kiosk --headless` process whose JSON lines the test reads. Over an
//! emulated rural link ([`World::behind`]) the hub is on the link's hub side
//! and the kiosk process on its kiosk side.

pub mod agent;
pub mod console;
pub mod notify;
pub mod soak;
pub mod town_hall;
pub mod window;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use visio_linkem::{Link, Side};
use visio_protocol::Secret;
use visio_testkit::cluster::Cluster;
use visio_testkit::cups::Cups;
use visio_testkit::hub::TestHub;
use visio_testkit::sane::sane_config;
use visio_testkit::wait::within;

/// The parts around one kiosk: hub (with the kiosk enrolled and an agent
/// `agent` / `correct horse` for the `demo` service), printer, scanner.
#[allow(missing_debug_implementations)] // holds the live hub
pub struct World {
    pub hub: TestHub,
    /// The printer; none behind an emulated link, where the kiosk's side
    /// has no cupsd.
    pub cups: Option<Cups>,
    pub sane: tempfile::TempDir,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub secret_file: PathBuf,
    pub spool: PathBuf,
}

pub const AGENT: (&str, &str) = ("agent", "correct horse");

impl World {
    pub async fn start() -> World {
        World::start_with(visio_hub::server::Settings::new(std::sync::Arc::new(visio_config::Catalogue::demo()))).await
    }

    /// [`World::start`] with the hub's settings given (a short heartbeat
    /// period, say).
    pub async fn start_with(settings: visio_hub::server::Settings) -> World {
        let hub = TestHub::start_in(tempfile::tempdir().unwrap(), settings).await;
        let cups = Cups::start();
        let url = format!("wss://localhost:{}/ws/kiosk", hub.addr.port());
        let secret = hub.enroll("demo-kiosk");
        hub.add_agent(AGENT.0, AGENT.1, &["demo"]);
        World::around(hub, vec![url], Some(cups), secret)
    }

    /// Hub processes `0..n` on one PostgreSQL and NATS ([`Cluster`]); the
    /// kiosk knows them all, in that order, and [`World::hub`] is process
    /// `agents_on` (for the agent's connections).
    pub async fn cluster(n: usize, agents_on: usize) -> (World, Cluster) {
        World::cluster_with(n, agents_on, visio_config::Catalogue::demo()).await
    }

    /// [`World::cluster`] on another catalogue.
    pub async fn cluster_with(n: usize, agents_on: usize, catalogue: visio_config::Catalogue) -> (World, Cluster) {
        let cluster = Cluster::start_with(n, catalogue).await;
        let secret = cluster.enroll("demo-kiosk").await;
        cluster.add_agent(AGENT.0, AGENT.1, &["demo"]).await;
        let urls = (0..n).map(|i| cluster.kiosk_url(i)).collect();
        let world = World::around(cluster.hub(agents_on), urls, Some(Cups::start()), secret);
        (world, cluster)
    }

    /// The hub on `link`'s hub side, for a kiosk on its kiosk side. Call it
    /// from a task on the hub side's runtime (`link.runtime(Side::Hub)`), so
    /// that the agent's connections and calls are made there too; start
    /// the kiosk with [`World::kiosk_behind`].
    pub async fn behind(link: &Link) -> World {
        World::behind_with(link, visio_hub::server::Settings::new(std::sync::Arc::new(visio_config::Catalogue::demo()))).await
    }

    /// [`World::behind`] with these hub settings (TURN, ...).
    pub async fn behind_with(link: &Link, settings: visio_hub::server::Settings) -> World {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let hub_ip = link.hub_addr().to_string();
        let hub = TestHub::start_on(tempfile::tempdir().unwrap(), settings, listener, std::slice::from_ref(&hub_ip)).await;
        let url = format!("wss://{hub_ip}:{}/ws/kiosk", hub.addr.port());
        let secret = hub.enroll("demo-kiosk");
        hub.add_agent(AGENT.0, AGENT.1, &["demo"]);
        World::around(hub, vec![url], None, secret)
    }

    /// The parts around `hub`, which the kiosk reaches at `hub_urls`.
    pub fn around(hub: TestHub, hub_urls: Vec<String>, cups: Option<Cups>, secret: Secret) -> World {
        let sane = sane_config();
        let dir = tempfile::tempdir().unwrap();
        let printer = cups.as_ref().map_or("none", |c| c.queue.as_str());
        let config = kiosk_config(dir.path(), &hub, &hub_urls, printer);
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, &secret.0).unwrap();
        let spool = dir.path().join("spool");
        World { hub, cups, sane, dir, config, secret_file, spool }
    }

    /// Starts the kiosk, asking for `service`.
    pub fn kiosk(&self, service: &str) -> HeadlessKiosk {
        HeadlessKiosk::start(self, service, &[])
    }

    /// Starts the kiosk with more options.
    pub fn kiosk_with(&self, service: &str, args: &[&std::ffi::OsStr]) -> HeadlessKiosk {
        HeadlessKiosk::start(self, service, args)
    }

    /// Starts the headless kiosk after `adjust` changed its command (its
    /// environment, say).
    pub fn kiosk_adjusted(&self, service: &str, adjust: impl FnOnce(&mut tokio::process::Command)) -> HeadlessKiosk {
        let mut command = self.kiosk_command(service);
        command.arg("--headless").stderr(Stdio::inherit());
        adjust(&mut command);
        HeadlessKiosk::spawn(&mut command, |command| command.spawn())
    }

    /// Starts the kiosk with its log (stderr, at `RUST_LOG`) going to `log`.
    pub fn kiosk_logging_to(&self, service: &str, log: std::fs::File) -> HeadlessKiosk {
        let mut command = self.kiosk_command(service);
        command.arg("--headless").env("RUST_LOG", "info").stderr(log);
        HeadlessKiosk::spawn(&mut command, |command| command.spawn())
    }

    /// Starts the kiosk on `link`'s kiosk side (see [`World::behind`]).
    pub fn kiosk_behind(&self, link: &Link, service: &str) -> HeadlessKiosk {
        let runtime = tokio::runtime::Handle::current();
        HeadlessKiosk::spawn(self.kiosk_command(service).arg("--headless").stderr(Stdio::inherit()), |command| {
            link.in_namespace(Side::Kiosk, move || {
                // The child's reaper and pipes belong to this runtime.
                let _entered = runtime.enter();
                command.spawn()
            })
            .expect("the kiosk side of the link")
        })
    }

    /// The first PDF the printer produced.
    pub fn printed_pdf(&self) -> Option<PathBuf> {
        let cups = self.cups.as_ref()?;
        std::fs::read_dir(&cups.out).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "pdf"))
    }
}

/// The demo kiosk's file, pointed at this test's hub, scanner and printer.
fn kiosk_config(dir: &Path, hub: &TestHub, hub_urls: &[String], printer: &str) -> PathBuf {
    let cert = dir.join("hub-cert.pem");
    std::fs::write(&cert, &hub.cert_pem).unwrap();
    let mut kiosk: Value = serde_json::from_str(include_str!("../../kiosk-config/kiosks/demo-kiosk.json")).unwrap();
    kiosk["hub"]["urls"] = serde_json::json!(hub_urls);
    kiosk["hub"]["trust"] = serde_json::json!({ "kiosk_file": cert });
    kiosk["devices"]["scanner"] = "test".into();
    kiosk["devices"]["printer"] = printer.into();
    let dir = dir.join("kiosks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("demo-kiosk.json");
    std::fs::write(&path, serde_json::to_string_pretty(&kiosk).unwrap()).unwrap();
    path
}

/// A `visio-kiosk --headless` process and the JSON lines it prints.
#[derive(Debug)]
pub struct HeadlessKiosk {
    pub child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
    /// Lines read by [`HeadlessKiosk::printed_so_far`] that
    /// [`HeadlessKiosk::event`] has not looked at yet.
    unread: std::collections::VecDeque<Value>,
}


impl World {
    /// `visio-kiosk` pointed at this world, asking for `service` at once
    /// (add `--headless`, or run it under a display).
    pub fn kiosk_command(&self, service: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(visio_testkit::bin::path("visio-kiosk"));
        command
            .arg("--config")
            .arg(&self.config)
            .arg("--secret-file")
            .arg(&self.secret_file)
            .arg("--spool-dir")
            .arg(&self.spool)
            .arg("--call")
            .arg(service)
            .env("SANE_CONFIG_DIR", self.sane.path())
            .env("VISIO_AUDIO_SINK", "fakesink")
            // The kiosk sets its allocator itself; a soak run may set the
            // test process's (the hub and the scripted agent) without it.
            .env_remove("MALLOC_ARENA_MAX")
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .kill_on_drop(true);
        if let Some(cups) = &self.cups {
            command.env("CUPS_SERVER", format!("127.0.0.1:{}", cups.port));
        }
        command
    }
}

impl HeadlessKiosk {
    fn start(world: &World, service: &str, args: &[&std::ffi::OsStr]) -> HeadlessKiosk {
        let mut command = world.kiosk_command(service);
        command.arg("--headless").args(args).stderr(Stdio::inherit());
        HeadlessKiosk::spawn(&mut command, |command| command.spawn())
    }

    /// Starts `command` with `spawn` (which may start it elsewhere, in a
    /// network namespace) and reads its JSON lines.
    fn spawn(
        command: &mut tokio::process::Command,
        spawn: impl FnOnce(&mut tokio::process::Command) -> std::io::Result<tokio::process::Child>,
    ) -> HeadlessKiosk {
        command.stdout(Stdio::piped());
        let mut child = spawn(command).expect("visio-kiosk starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("kiosk: {line}");
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
                let _ = tx.send(value);
            }
        });
        HeadlessKiosk { child, lines, seen: Vec::new(), unread: Default::default() }
    }

    /// Every line the kiosk printed until now, without waiting; the
    /// unread ones stay for [`HeadlessKiosk::event`].
    pub async fn printed_so_far(&mut self) -> Vec<Value> {
        while let Ok(line) = self.lines.try_recv() {
            self.unread.push_back(line);
        }
        self.seen.iter().chain(&self.unread).cloned().collect()
    }

    /// Every line printed from now until the kiosk exits, and its status.
    pub async fn rest(mut self) -> (Vec<Value>, std::process::ExitStatus) {
        let mut lines: Vec<Value> = self.unread.drain(..).collect();
        while let Some(line) = within("the kiosk's last lines", self.lines.recv()).await {
            lines.push(line);
        }
        let status = within("the kiosk exits", self.child.wait()).await.expect("the kiosk's status");
        (lines, status)
    }

    /// The next event named `name`, skipping others (kept in `seen`).
    pub async fn event(&mut self, name: &str) -> Value {
        loop {
            let line = match self.unread.pop_front() {
                Some(line) => line,
                None => within(&format!("the kiosk's {name:?} event"), self.lines.recv())
                    .await
                    .unwrap_or_else(|| panic!("the kiosk exited before {name:?}; it printed {:?}", self.seen)),
            };
            self.seen.push(line.clone());
            if line["event"] == name {
                return line;
            }
        }
    }
}

/// A virtual display for the window kiosk; killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: std::process::Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        visio_testkit::wait::require("Xvfb", "xvfb");
        use std::io::BufRead as _;
        let mut child = std::process::Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb's display number");
        Xvfb { child, display: format!(":{}", line.trim()) }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
