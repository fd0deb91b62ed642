//! A real NATS server (Debian's `nats-server`) on a free loopback port,
//! killed when dropped. Core publish/subscribe only: no JetStream, no
//! files. It asks for a user and password, as a production bus should;
//! [`Nats::url`] carries them.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::browser::free_port;
use crate::wait::{DEADLINE, require};

const USER: &str = "visio-hub";
const PASSWORD: &str = "bus-test-password";

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
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--user", USER, "--pass", PASSWORD])
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

    /// With the credentials: `nats://user:password@127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("nats://{USER}:{PASSWORD}@127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
