//! A real NATS server (Debian's `nats-server`) on a free loopback port,
//! killed when dropped. Core publish/subscribe only: no JetStream, no
//! files.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::browser::free_port;
use crate::wait::{DEADLINE, require};

#[derive(Debug)]
pub struct Nats {
    pub port: u16,
    child: Child,
}

impl Nats {
    pub async fn start() -> Nats {
        require("nats-server", "nats-server");
        let port = free_port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        // It accepts clients as soon as it listens.
        let deadline = std::time::Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nats-server did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Nats { port, child }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
