//! A private PulseAudio sound server with a virtual loudspeaker (a null
//! sink), for tests of the kiosk's sound output: started on a socket in a
//! temporary folder, stopped on drop. Clients reach it with
//! `PULSE_SERVER` ([`SoundServer::env`]).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct SoundServer {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl SoundServer {
    /// Starts `pulseaudio` with one null sink named `speaker`.
    pub fn start() -> SoundServer {
        crate::wait::require("pulseaudio", "pulseaudio");
        let dir = tempfile::Builder::new().prefix("visio-pulse-").tempdir().unwrap();
        let socket = dir.path().join("native");
        let child = Command::new("pulseaudio")
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm", "--use-pid-file=no", "--system=no"])
            .arg("--load=module-null-sink sink_name=speaker")
            .arg(format!("--load=module-native-protocol-unix socket={} auth-anonymous=1", socket.display()))
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio starts (Debian package pulseaudio: run scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "pulseaudio did not open {} within 20 s", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        SoundServer { child, socket, _dir: dir }
    }

    /// The environment variable that points a client at this server.
    pub fn env(&self) -> (&'static str, String) {
        ("PULSE_SERVER", format!("unix:{}", self.socket.display()))
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
