//! A real PostgreSQL 15 on loopback, in a temporary directory: `initdb`,
//! then `postgres` on a free port, stopped and deleted when dropped.
//!
//! PostgreSQL refuses to run as root; as root (CI, the shared machines)
//! the server runs as the `postgres` user the Debian package creates,
//! through `setpriv`, which execs in place so the child we hold is the
//! postmaster itself.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::browser::free_port;
use crate::wait::{DEADLINE, eventually};

/// Where Debian's postgresql-15 puts its server programs (not on the PATH).
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

#[derive(Debug)]
pub struct Postgres {
    pub port: u16,
    child: Child,
    // Dropped after the server stopped (field order).
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a fresh, empty server and waits until it accepts
    /// connections. Durability is off (`fsync=off`): a test's database
    /// lives as long as the test.
    pub async fn start() -> Postgres {
        let bin = Path::new(BIN);
        assert!(
            bin.join("postgres").is_file(),
            "{BIN}/postgres not found: run scripts/setup.sh (Debian package postgresql-15)"
        );
        let dir = tempfile::Builder::new().prefix("visio-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        let as_root = is_root();
        if as_root {
            let (uid, gid) = (id("-u"), id("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let status = server_command(as_root, &bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run initdb");
        assert!(status.status.success(), "initdb failed: {}", String::from_utf8_lossy(&status.stderr));
        let port = free_port();
        let child = server_command(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let pg = Postgres { port, child, dir };
        let url = pg.url();
        eventually(&format!("PostgreSQL to accept connections on port {port}"), || async {
            tokio_postgres::connect(&url, tokio_postgres::NoTls).await.ok().map(|_| ())
        })
        .await;
        pg
    }

    /// Superuser, no password (trust on loopback), database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast shutdown": backends end, the
        // postmaster exits and removes its shared memory. SIGKILL only if
        // that does not happen in time.
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Whether this process runs as root: `/proc/self` belongs to our uid.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// `id -u postgres` / `id -g postgres`.
fn id(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("run id");
    assert!(out.status.success(), "no postgres user: run scripts/setup.sh (Debian package postgresql-15 creates it)");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("numeric id")
}
