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
    child: Child,
    pidfile: std::path::PathBuf,
}

impl Turn {
    pub async fn start() -> Turn {
        require("turnserver", "coturn");
        // coturn listens on UDP and TCP: a port free on TCP is very likely free on UDP too.
        let port = free_port();
        let pidfile = std::env::temp_dir().join(format!("visio-turn-{}-{port}.pid", std::process::id()));
        let min_port = 49_160 + (port % 200) * 10;
        let child = Command::new(TURNSERVER)
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                &format!("--min-port={min_port}"),
                &format!("--max-port={}", min_port + 9),
                "--realm=visio.test",
                "--lt-cred-mech",
                &format!("--user={USER}:{PASSWORD}"),
                "--fingerprint",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--no-stdout-log",
                "--log-file=stdout",
                &format!("--pidfile={}", pidfile.display()),
            ])
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
        Turn { port, child, pidfile }
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
