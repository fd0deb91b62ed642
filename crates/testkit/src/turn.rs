//! A real coturn TURN server on loopback, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::browser::free_port;
use crate::wait::{DEADLINE, require};

pub const TURNSERVER: &str = "/usr/bin/turnserver";
pub const USER: &str = "kiosk";
pub const PASSWORD: &str = "s3cret";

#[derive(Debug)]
pub struct Turn {
    pub port: u16,
    /// The TLS listener's port ([`Turn::with_tls`]); 0 without one.
    pub tls_port: u16,
    child: Child,
    pidfile: std::path::PathBuf,
}

/// How coturn checks credentials.
enum Auth<'a> {
    /// One static user, [`USER`] / [`PASSWORD`].
    Static,
    /// The TURN REST scheme: credentials derived from this shared secret,
    /// refused once their time has passed.
    SharedSecret(&'a str),
}

impl Turn {
    /// coturn with one static user, [`USER`] / [`PASSWORD`].
    pub async fn start() -> Turn {
        Turn::start_with(Auth::Static).await
    }

    /// coturn as deployed for many sites (`--use-auth-secret`): it accepts
    /// the short-lived credentials a hub derives from `secret`.
    pub async fn with_shared_secret(secret: &str) -> Turn {
        Turn::start_with(Auth::SharedSecret(secret)).await
    }

    async fn start_with(auth: Auth<'_>) -> Turn {
        require("turnserver", "coturn");
        // coturn listens on UDP and TCP: a port free on TCP is very likely free on UDP too.
        let port = free_port();
        let pidfile = std::env::temp_dir().join(format!("visio-turn-{}-{port}.pid", std::process::id()));
        // Each allocation takes a relay port, and a test client keeps a few
        // until they time out: 40 per server, apart from other servers'.
        let min_port = 49_160 + (port % 400) * 40;
        let child = Command::new(TURNSERVER)
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                &format!("--min-port={min_port}"),
                &format!("--max-port={}", min_port + 39),
                "--realm=visio.test",
                "--fingerprint",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--no-stdout-log",
                "--log-file=stdout",
                &format!("--pidfile={}", pidfile.display()),
            ])
            .args(match auth {
                Auth::Static => vec!["--lt-cred-mech".to_owned(), format!("--user={USER}:{PASSWORD}")],
                Auth::SharedSecret(secret) => vec!["--use-auth-secret".to_owned(), format!("--static-auth-secret={secret}")],
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        // Ready when it accepts on its TCP listener (it opens UDP at the same time).
        let deadline = std::time::Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "turnserver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Turn { port, tls_port: 0, child, pidfile }
    }

    /// coturn with the TURN REST scheme (`secret`) and a TLS listener on
    /// `tls_port` with this certificate and key, listening and relaying on
    /// `ip`, started by `spawn` (e.g. in a network namespace); ready once
    /// `accepts(port)` says its TCP and TLS ports accept connections (asked
    /// from where the clients are).
    pub fn with_tls(
        ip: std::net::IpAddr,
        tls_port: u16,
        (cert, key): (&std::path::Path, &std::path::Path),
        secret: &str,
        spawn: impl FnOnce(&mut Command) -> std::io::Result<Child>,
        accepts: impl Fn(u16) -> bool,
    ) -> Turn {
        require("turnserver", "coturn");
        let port = free_port();
        let pidfile = std::env::temp_dir().join(format!("visio-turn-{}-{port}.pid", std::process::id()));
        let min_port = 49_160 + (port % 400) * 40;
        let mut command = Command::new(TURNSERVER);
        command
            .args([
                "-n",
                &format!("--listening-ip={ip}"),
                &format!("--relay-ip={ip}"),
                &format!("--listening-port={port}"),
                &format!("--tls-listening-port={tls_port}"),
                &format!("--cert={}", cert.display()),
                &format!("--pkey={}", key.display()),
                &format!("--min-port={min_port}"),
                &format!("--max-port={}", min_port + 39),
                "--realm=visio.test",
                "--fingerprint",
                "--no-dtls",
                "--no-cli",
                "--no-stdout-log",
                "--log-file=stdout",
                "--use-auth-secret",
                &format!("--static-auth-secret={secret}"),
                &format!("--pidfile={}", pidfile.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn(&mut command).expect("start turnserver");
        let deadline = std::time::Instant::now() + DEADLINE;
        while !(accepts(port) && accepts(tls_port)) {
            assert!(std::time::Instant::now() < deadline, "turnserver did not listen on ports {port} and {tls_port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Turn { port, tls_port, child, pidfile }
    }

    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pidfile);
    }
}
