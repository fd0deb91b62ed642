//! Playing systemd's part for `Type=notify`: a datagram socket the kiosk is
//! given as `$NOTIFY_SOCKET`, and the notifications it receives.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use visio_testkit::wait::DEADLINE;

/// The socket, and every notification received so far (for messages).
#[derive(Debug)]
pub struct Notifications {
    socket: UnixDatagram,
    pub path: PathBuf,
    pub seen: Vec<String>,
}

impl Notifications {
    /// Binds `notify.sock` in `dir`.
    pub fn bind(dir: &Path) -> Notifications {
        let path = dir.join("notify.sock");
        Notifications { socket: UnixDatagram::bind(&path).unwrap(), path, seen: Vec::new() }
    }

    /// Waits (blocking, up to the tests' deadline) until a notification has
    /// the line `wanted`; false if none came.
    pub fn until(&mut self, wanted: &str) -> bool {
        let end = Instant::now() + DEADLINE;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            let left = end.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            self.socket.set_read_timeout(Some(left)).unwrap();
            let Ok(n) = self.socket.recv(&mut buf) else { return false };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let found = message.lines().any(|l| l == wanted);
            self.seen.push(message);
            if found {
                return true;
            }
        }
        false
    }
}
