//! A real HTTP proxy (tinyproxy, as a town hall might run), killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::browser::free_port;
use crate::wait::{DEADLINE, require};

pub const TINYPROXY: &str = "/usr/bin/tinyproxy";
pub const USER: &str = "mairie";
pub const PASSWORD: &str = "guichet-unique";

#[derive(Debug)]
pub struct Proxy {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// tinyproxy on `ip`, asking for [`USER`] / [`PASSWORD`] (Basic), started
    /// by `spawn` (e.g. in a network namespace); ready once `accepts(port)`.
    pub fn start(
        ip: std::net::IpAddr,
        spawn: impl FnOnce(&mut Command) -> std::io::Result<Child>,
        accepts: impl Fn(u16) -> bool,
    ) -> Proxy {
        require("tinyproxy", "tinyproxy");
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tinyproxy.conf");
        // No ConnectPort line: CONNECT to any port (the tests' TURN and hub ports).
        std::fs::write(&config, format!("Port {port}\nListen {ip}\nTimeout 600\nLogLevel Warning\nMaxClients 50\nBasicAuth {USER} {PASSWORD}\n"))
            .unwrap();
        let mut command = Command::new(TINYPROXY);
        command.arg("-d").arg("-c").arg(&config).stdout(Stdio::null()).stderr(Stdio::null());
        let child = spawn(&mut command).expect("start tinyproxy");
        let deadline = std::time::Instant::now() + DEADLINE;
        while !accepts(port) {
            assert!(std::time::Instant::now() < deadline, "tinyproxy did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy { port, child, _dir: dir }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
