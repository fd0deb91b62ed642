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

impl Cups {
    pub fn start() -> Cups {
        require("cupsd", "cups");
        require("lpadmin", "cups-client");
        assert!(Path::new("/usr/lib/cups/backend/cups-pdf").exists(), "cups-pdf backend not found: run scripts/setup.sh (Debian package printer-driver-cups-pdf)");
        let dir = tempfile::Builder::new().prefix("visio-cups-").tempdir().unwrap();
        let d = dir.path();
        for sub in ["root/ppd", "spool/tmp", "cache", "state", "log", "out"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // cupsd drops to user lp for filters: let it through the tempdir.
        Command::new("chmod").arg("-R").arg("a+rwx").arg(d).status().unwrap();
        let port = free_port();
        std::fs::write(d.join("cupsd.conf"), format!(
            "Listen 127.0.0.1:{port}\nLogLevel info\nBrowsing No\nDefaultAuthType None\nWebInterface No\n\
             <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
             <Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n\
             <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n")).unwrap();
        std::fs::write(d.join("cups-files.conf"), format!(
            "ServerRoot {p}/root\nRequestRoot {p}/spool\nTempDir {p}/spool/tmp\nCacheDir {p}/cache\nStateDir {p}/state\n\
             ErrorLog {p}/log/error_log\nAccessLog {p}/log/access_log\nPageLog {p}/log/page_log\n\
             ServerBin /usr/lib/cups\nDataDir /usr/share/cups\nUser lp\nGroup lp\nSystemGroup root\nFileDevice No\n",
            p = d.display())).unwrap();
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
        // cups-pdf reads its per-queue settings from /etc/cups/cups-pdf-<queue>.conf only.
        let queue = format!("visio{}x{}", std::process::id(), port);
        let out = d.join("out");
        let conf = PathBuf::from(format!("/etc/cups/cups-pdf-{queue}.conf"));
        std::fs::write(&conf, format!("Out {o}\nAnonDirName {o}\nLabel 1\n", o = out.display())).expect("write cups-pdf queue config (needs root)");
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

    /// Stops the queue (as when paper runs out).
    pub fn stop_queue(&self) {
        let st = Command::new("cupsdisable").arg("-h").arg(format!("127.0.0.1:{}", self.port)).arg(&self.queue).status().unwrap();
        assert!(st.success());
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.conf);
    }
}
