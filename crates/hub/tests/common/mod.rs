//! The hub's tests use the shared test kit: the real hub on TLS loopback and
//! protocol clients (crates/testkit).
#![allow(unused_imports, dead_code)]

pub use visio_testkit::hub::*;
pub use visio_testkit::wait::{DEADLINE, eventually, within};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A `visio-hub serve` child process, killed (SIGKILL) when dropped.
pub struct Served {
    pub child: Child,
    /// Where it listens, from its "hub listening" log line.
    pub addr: SocketAddr,
    /// Its log lines before that one.
    pub before: Vec<String>,
    /// Every log line after that one, as they come.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` (a `visio-hub … serve --listen 127.0.0.1:0 …`) and waits
/// for the address it logs.
pub fn serve_process(command: &mut Command) -> Served {
    let child = command.env("RUST_LOG", "info").stderr(Stdio::piped()).spawn().unwrap();
    let mut served = Served { child, addr: "127.0.0.1:0".parse().unwrap(), before: Vec::new(), log: Default::default() };
    let stderr = served.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no 'hub listening' line in:\n{}", served.before.join("\n")));
        if let Some(rest) = line.split("addr=").nth(1) {
            served.addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            // Keep draining so the child never blocks on a full pipe.
            let log = served.log.clone();
            std::thread::spawn(move || {
                while let Ok(line) = rx.recv() {
                    log.lock().unwrap().push(line);
                }
            });
            return served;
        }
        served.before.push(line);
    }
}
