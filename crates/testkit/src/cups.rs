//! A private cupsd on a free loopback port with one cups-pdf queue, as the
//! kiosk's printer in tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wait::{DEADLINE, require};

/// A private cupsd on a free loopback port with one cups-pdf queue. Killed on drop.
#[derive(Debug)]
pub struct Cups {
    pub port: u16,
    pub queue: String,
    pub out: PathBuf,
    pub dir: tempfile::TempDir,
    child: Child,
    conf: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The kiosk's cupsd.conf, listening on `port` of the loopback only, and
/// logging at `info` rather than `warn`: [`Cups::add_driverless_queue`]
/// waits for an info line. `VISIO_CUPS_LOG_LEVEL=debug` raises it further
/// to chase a failure (the log of a failed test is kept: see [`Cups`]'s drop).
pub fn test_cupsd_conf(port: u16) -> String {
    let conf = include_str!("../../../deploy/cups/cupsd.conf");
    let level = std::env::var("VISIO_CUPS_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let mut out: String = conf
        .lines()
        .filter(|l| !l.starts_with("Listen "))
        .map(|l| if l.starts_with("LogLevel ") { format!("LogLevel {level}\n") } else { format!("{l}\n") })
        .collect();
    out.push_str(&format!("Listen 127.0.0.1:{port}\n"));
    out
}

/// The kiosk's cups-files.conf with its folders moved under `dir`.
pub fn test_cups_files_conf(dir: &Path) -> String {
    let p = dir.display();
    include_str!("../../../deploy/cups/cups-files.conf")
        .replace("/var/spool/cups", &format!("{p}/spool"))
        .replace("ServerRoot /etc/cups", &format!("ServerRoot {p}/root"))
        .replace("/var/cache/cups", &format!("{p}/cache"))
        .replace("/run/cups", &format!("{p}/state"))
        .replace("/var/log/cups", &format!("{p}/log"))
}

fn spawn_cupsd(d: &Path, port: u16) -> Child {
    let child = Command::new("cupsd")
        .arg("-f").arg("-c").arg(d.join("cupsd.conf")).arg("-s").arg(d.join("cups-files.conf"))
        .stdout(Stdio::null()).stderr(Stdio::null())
        .spawn().expect("cupsd starts");
    // "lpstat -r" lies; wait until the port answers.
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < DEADLINE, "cupsd did not listen on {port}; see {}/log/error_log", d.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// The kiosk's cupsd stop hook (deploy/cups/cups.service.d), on `dir`'s folders.
pub fn test_stop_hook(dir: &Path) -> String {
    let unit = include_str!("../../../deploy/cups/cups.service.d/visio-kiosk.conf");
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStopPost=/bin/sh -c ")).expect("ExecStopPost in the drop-in");
    let p = dir.display();
    line.trim_matches('\'')
        .replace("/var/spool/cups-pdf/SPOOL", &format!("{p}/cups-pdf-spool"))
        .replace("/var/spool/cups", &format!("{p}/spool"))
        .replace("/var/cache/cups", &format!("{p}/cache"))
}

/// Every folder this cupsd writes to.
pub const WRITTEN_DIRS: [&str; 5] = ["spool", "cache", "state", "log", "root"];

impl Cups {
    pub fn start() -> Cups {
        require("cupsd", "cups");
        require("lpadmin", "cups-client");
        assert!(Path::new("/usr/lib/cups/backend/cups-pdf").exists(), "cups-pdf backend not found: run scripts/setup.sh (Debian package printer-driver-cups-pdf)");
        let dir = tempfile::Builder::new().prefix("visio-cups-").tempdir().unwrap();
        let d = dir.path();
        for sub in ["root/ppd", "spool/tmp", "cache", "state", "log", "out", "cups-pdf-spool"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // cupsd drops to user lp for filters: let it through the tempdir.
        Command::new("chmod").arg("-R").arg("a+rwx").arg(d).status().unwrap();
        let port = free_port();
        // The kiosk's own CUPS settings (deploy/cups), on a private port and folders.
        std::fs::write(d.join("cupsd.conf"), test_cupsd_conf(port)).unwrap();
        std::fs::write(d.join("cups-files.conf"), test_cups_files_conf(d)).unwrap();
        let child = spawn_cupsd(d, port);
        // cups-pdf reads its per-queue settings from /etc/cups/cups-pdf-<queue>.conf only.
        let queue = format!("visio{}x{}", std::process::id(), port);
        let out = d.join("out");
        let conf = PathBuf::from(format!("/etc/cups/cups-pdf-{queue}.conf"));
        // cups-pdf's own spool (its copy of the job while it converts) is watched too.
        std::fs::write(&conf, format!("Out {o}\nAnonDirName {o}\nLabel 1\nSpool {s}\n", o = out.display(), s = d.join("cups-pdf-spool").display())).expect("write cups-pdf queue config (needs root)");
        let st = Command::new("lpadmin")
            .arg("-h").arg(format!("127.0.0.1:{port}"))
            .arg("-p").arg(&queue).arg("-v").arg(format!("cups-pdf:/{queue}"))
            .arg("-m").arg("lsb/usr/cups-pdf/CUPS-PDF_noopt.ppd").arg("-E")
            .stderr(Stdio::null())
            .status().unwrap();
        assert!(st.success(), "lpadmin could not create the cups-pdf queue; see {}/log/error_log", d.display());
        Cups { port, queue, out, dir, child, conf }
    }

    pub fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/printers/{}", self.port, self.queue)
    }

    /// The cups-pdf output of job `id` (cups-pdf appends junk to the name).
    pub fn output_of(&self, job: i32) -> Option<PathBuf> {
        let prefix = format!("job_{job}-");
        std::fs::read_dir(&self.out).ok()?.flatten().map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".pdf"))
        })
    }

    /// What this cupsd keeps of jobs: every file of its spool (document
    /// files `d…`, job control files `c…`, and TempDir `spool/tmp`, where
    /// filters such as Ghostscript write), cups-pdf's spool, and its job
    /// cache if it still lists a job.
    pub fn job_traces(&self) -> Vec<PathBuf> {
        let d = self.dir.path();
        let mut found = Vec::new();
        walk(&d.join("spool"), &mut found);
        walk(&d.join("cups-pdf-spool"), &mut found);
        let cache = d.join("cache/job.cache");
        if std::fs::read_to_string(&cache).is_ok_and(|t| t.contains("<Job ")) {
            found.push(cache);
        }
        found
    }

    /// Every regular file under this cupsd's folders (for a failure message).
    pub fn all_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for sub in WRITTEN_DIRS {
            walk(&self.dir.path().join(sub), &mut found);
        }
        found
    }

    /// What systemd does on the kiosk when cupsd exits idle: an orderly
    /// stop (SIGTERM), the drop-in's stop hook, and (here) a fresh start on
    /// the same port, queue and folders.
    pub fn idle_exit(&mut self) {
        let st = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(st.success());
        let _ = self.child.wait();
        let hook = test_stop_hook(self.dir.path());
        let st = Command::new("sh").arg("-c").arg(&hook).status().unwrap();
        assert!(st.success(), "stop hook failed: {hook}");
        self.child = spawn_cupsd(self.dir.path(), self.port);
    }

    /// Adds a driverless queue `name` for the IPP Everywhere printer at
    /// `device` (`lpadmin -m everywhere`: CUPS asks the printer for its
    /// capabilities and makes the queue's PPD from them, no model driver)
    /// and returns the queue's URI once the queue can print.
    ///
    /// CUPS 2.4 answers lpadmin at once and makes the PPD afterwards, in a
    /// thread of cupsd. Until then the queue is a "Local Raw Printer" that
    /// accepts jobs and aborts them ("Unable to convert file 0 to printable
    /// format", `processing-to-stop-point`); and cupsd 2.4.2 (Debian 12)
    /// rebuilds the queue's attributes and filters in that thread without
    /// a lock against requests it serves meanwhile (upstream issue #466,
    /// fixed in 2.4.3), which can drop their connection. So nothing is asked
    /// of cupsd until its log says the queue is available; see
    /// docs/decisions.md, "Driverless queues are ready when cupsd says so".
    pub fn add_driverless_queue(&self, name: &str, device: &str) -> String {
        let log = self.dir.path().join("log/error_log");
        let st = Command::new("lpadmin")
            .arg("-h").arg(format!("127.0.0.1:{}", self.port))
            .arg("-p").arg(name).arg("-v").arg(device).arg("-m").arg("everywhere").arg("-E")
            .status().unwrap();
        assert!(st.success(), "lpadmin -m everywhere could not create {name} for {device}; see {}", log.display());
        let (ready, failed) = (format!("Printer \"{name}\" is now available."), format!("{name}: PPD creation failed"));
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(!text.contains(&failed), "cupsd could not make {name}'s PPD from {device}: {text}");
            if text.contains(&ready) {
                break;
            }
            assert!(start.elapsed() < DEADLINE, "queue {name} not ready after {DEADLINE:?}; see {}", log.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        format!("ipp://127.0.0.1:{}/printers/{name}", self.port)
    }

    /// Stops the queue (as when paper runs out).
    pub fn stop_queue(&self) {
        let st = Command::new("cupsdisable").arg("-h").arg(format!("127.0.0.1:{}", self.port)).arg(&self.queue).status().unwrap();
        assert!(st.success());
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.conf);
        keep_log_of_failure(&self.dir.path().join("log/error_log"), &format!("cupsd-{}", self.port));
    }
}

/// A failing test's `log` outlives its temporary folder: copied to the
/// system's temp folder, its path printed with the test's output.
pub(crate) fn keep_log_of_failure(log: &Path, name: &str) {
    if !std::thread::panicking() || !log.exists() {
        return;
    }
    let kept = std::env::temp_dir().join(format!("visio-failed-{}-{name}.log", std::process::id()));
    if std::fs::copy(log, &kept).is_ok() {
        eprintln!("{name}'s log kept: {}", kept.display());
    }
}
