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

    /// `pactl` against this server; its standard output.
    pub fn pactl(&self, args: &[&str]) -> String {
        let (name, value) = self.env();
        let out = Command::new("pactl").args(args).env(name, value).output().expect("pactl runs (pulseaudio-utils)");
        assert!(out.status.success(), "pactl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Plugs in a second virtual output (a null sink named `name`), as a
    /// USB handset appears; its module's index, to unplug it.
    pub fn plug_sink(&self, name: &str) -> String {
        self.pactl(&["load-module", "module-null-sink", &format!("sink_name={name}")]).trim().to_owned()
    }

    /// Unplugs what [`SoundServer::plug_sink`] plugged in: its streams
    /// fall back to another sink, as with a real device.
    pub fn unplug(&self, module: &str) {
        self.pactl(&["unload-module", module]);
    }

    /// The sink each playing stream is on, by name.
    pub fn streams_on(&self) -> Vec<String> {
        let sinks: Vec<(String, String)> = self
            .pactl(&["list", "short", "sinks"])
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some((cols.next()?.to_owned(), cols.next()?.to_owned()))
            })
            .collect();
        self.pactl(&["list", "short", "sink-inputs"])
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .map(|index| sinks.iter().find(|(i, _)| i == index).map_or_else(|| index.to_owned(), |(_, name)| name.clone()))
            .collect()
    }

    /// Whether sink `name` is muted.
    pub fn muted(&self, name: &str) -> bool {
        self.pactl(&["get-sink-mute", name]).contains("yes")
    }

    /// The loudest sample heard on sink `name`'s monitor over `listen`
    /// (16-bit magnitude: 0 is silence), as a microphone held to it.
    pub fn peak_on(&self, name: &str, listen: Duration) -> u16 {
        let (var, value) = self.env();
        let mut child = Command::new("parec")
            .args([&format!("--device={name}.monitor"), "--format=s16le", "--channels=1", "--rate=16000", "--raw"])
            .env(var, value)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("parec runs (pulseaudio-utils)");
        std::thread::sleep(listen);
        let _ = child.kill();
        let out = child.wait_with_output().expect("parec's output");
        out.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs()).max().unwrap_or(0)
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
