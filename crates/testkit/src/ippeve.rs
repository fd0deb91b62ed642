//! A driverless printer: CUPS's IPP Everywhere printer emulator
//! (`ippeveprinter`) on a loopback port, keeping every document it is sent.
//!
//! ippeveprinter needs a D-Bus system bus even when told to advertise
//! nothing (`-r off`): it opens an Avahi client at start-up and exits
//! ("Unable to initialize DNS-SD") without a bus. A private `dbus-daemon`
//! on a socket in the test's folder is enough; no Avahi daemon is needed.
//! It listens on both loopbacks, `127.0.0.1` and `::1`, so it is named
//! `localhost` (`-n 127.0.0.1` makes it fail to open its IPv6 listener).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wait::{DEADLINE, require};

/// An IPP Everywhere printer emulator. Killed on drop.
#[derive(Debug)]
pub struct IppEvePrinter {
    pub port: u16,
    /// Its spool: every document received stays here (`-k`).
    pub spool: PathBuf,
    pub dir: tempfile::TempDir,
    printer: Child,
    bus: Child,
}

impl IppEvePrinter {
    /// Starts the emulator; it accepts PDF, JPEG and PWG raster, like a
    /// small office laser printer, and prints at once.
    pub fn start() -> IppEvePrinter {
        IppEvePrinter::start_with_command(std::path::Path::new("/bin/true"))
    }

    /// The emulator printing each document with `command` (its argument:
    /// the document's file). Lines it writes on its standard error such as
    /// `STATE: +media-empty` set the printer's state reasons.
    pub fn start_with_command(command: &std::path::Path) -> IppEvePrinter {
        require("ippeveprinter", "cups-ipp-utils");
        require("dbus-daemon", "dbus-daemon");
        let dir = tempfile::Builder::new().prefix("visio-ippeve-").tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let socket = dir.path().join("bus");
        let mut bus = Command::new("dbus-daemon")
            .arg("--session")
            .arg("--nofork")
            .arg("--print-address")
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        // It prints its address once it listens. Its socket file appears
        // before that (bind, then listen): an ippeveprinter started on the
        // file alone now and then found no bus ("Unable to initialize
        // DNS-SD", 1 run in 10 with the tests side by side).
        let mut address = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(bus.stdout.take().unwrap()), &mut address).unwrap();
        assert!(address.starts_with("unix:"), "dbus-daemon did not start: {address:?}");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.path().join("ippeveprinter.log")).unwrap();
        let printer = Command::new("ippeveprinter")
            .args(["-r", "off", "-n", "localhost", "-p", &port.to_string(), "-k"])
            .arg("-d")
            .arg(&spool)
            // Without a command it "prints" for 5 to 15 s.
            .arg("-c")
            .arg(command)
            .args(["-f", "application/pdf,image/jpeg,image/pwg-raster", "-m", "Visio Test Laser"])
            // Every request and state change in its log, with cupsd's debug log.
            .args(std::env::var_os("VISIO_CUPS_LOG_LEVEL").map(|_| "-vvv"))
            .arg("Visio Test Printer")
            .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", socket.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("ippeveprinter starts");
        let mut me = IppEvePrinter { port, spool, dir, printer, bus };
        let log = me.dir.path().join("ippeveprinter.log");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = me.printer.try_wait() {
                panic!("ippeveprinter exited ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(start.elapsed() < DEADLINE, "ippeveprinter did not listen on {port}; see {}", log.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        me
    }

    /// The printer's IPP URI, as `lpadmin -v` takes it.
    pub fn uri(&self) -> String {
        format!("ipp://localhost:{}/ipp/print", self.port)
    }

    /// The documents it received (not the command's output files).
    pub fn received(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.spool)
            .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x != "prn")).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Loads `sheets` of A4 in the main tray (0: out of paper, which the
    /// printer then reports as `media-empty`), through the emulator's
    /// media page: a technician filling or emptying the tray.
    pub async fn load_paper(&self, sheets: u32) {
        let url = format!(
            "http://localhost:{}/media?size1=iso_a4_210x297mm&type1=stationery&level1={sheets}&size3=iso_a4_210x297mm&type3=stationery&level3=-2",
            self.port
        );
        let response = reqwest::get(&url).await.expect("ippeveprinter's media page");
        assert!(response.status().is_success(), "{url}: {}", response.status());
        // It sends the page's headers before it changes the tray, and the
        // rest of the page after: read it all, or a probe may still see
        // the tray as it was.
        response.text().await.expect("ippeveprinter's media page");
    }
}

impl Drop for IppEvePrinter {
    fn drop(&mut self) {
        let _ = self.printer.kill();
        let _ = self.printer.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
        crate::cups::keep_log_of_failure(&self.dir.path().join("ippeveprinter.log"), &format!("ippeveprinter-{}", self.port));
    }
}
