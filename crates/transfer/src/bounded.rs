//! Runs a helper program (poppler's `pdfinfo`, `pdftoppm`) on a document
//! under hard limits, so that nothing a document contains can take the
//! kiosk's memory, processor or disk.
//!
//! The limits are the kernel's per-process ones (address space, processor
//! seconds, largest file written), set by util-linux's `prlimit` wrapper
//! rather than a `pre_exec` hook: this crate has no `unsafe`. A wall-clock
//! timeout kills the process (and `kill_on_drop` covers a dropped future);
//! standard output and error are read up to a cap.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Per-process limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Address space (RLIMIT_AS), bytes.
    pub memory_bytes: u64,
    /// Processor time (RLIMIT_CPU), seconds.
    pub cpu_secs: u64,
    /// Largest file the process may write (RLIMIT_FSIZE), bytes.
    pub file_bytes: u64,
    /// Wall-clock time before the process is killed.
    pub wall: Duration,
    /// Bytes of standard output kept (the rest is read and dropped).
    pub stdout_bytes: usize,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        ProcessLimits { memory_bytes: 512 << 20, cpu_secs: 20, file_bytes: 32 << 20, wall: Duration::from_secs(30), stdout_bytes: 256 << 10 }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Standard output, up to the cap.
    pub stdout: Vec<u8>,
    /// Standard error, up to 16 KiB.
    pub stderr: String,
}

/// Why a run did not finish normally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program (or `prlimit`) is not installed.
    #[error("{0} not found: run scripts/setup.sh (Debian packages poppler-utils, util-linux)")]
    NotInstalled(String),
    /// Could not be started for another reason.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// Which.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// Killed at the wall-clock limit.
    #[error("{program} was stopped after {wall:?}")]
    Timeout {
        /// Which.
        program: String,
        /// The limit.
        wall: Duration,
    },
}

impl RunOutput {
    /// True when the process hit one of its limits: killed by a signal
    /// (SIGXCPU, SIGXFSZ, SIGKILL, or SIGABRT/SIGSEGV after a refused
    /// allocation), or poppler saying it ran out of memory (it then exits 0
    /// with an empty page).
    pub fn hit_limit(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal().is_some() || self.stderr.contains("Out of memory") || self.stderr.contains("std::bad_alloc")
    }
}

/// Runs `program args...` under `limits`.
pub async fn run(program: &str, args: &[&std::ffi::OsStr], cwd: Option<&Path>, limits: ProcessLimits) -> Result<RunOutput, RunError> {
    if which(program).is_none() {
        return Err(RunError::NotInstalled(program.into()));
    }
    let mut cmd = tokio::process::Command::new("prlimit");
    cmd.arg(format!("--as={}", limits.memory_bytes))
        .arg(format!("--cpu={}", limits.cpu_secs))
        .arg(format!("--fsize={}", limits.file_bytes))
        // no core files of a document's content
        .arg("--core=0")
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => RunError::NotInstalled("prlimit".into()),
        _ => RunError::Spawn { program: program.into(), source },
    })?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(RunError::Spawn { program: program.into(), source: std::io::Error::other("no pipes") });
    };
    let work = async {
        let (stdout, stderr) = tokio::join!(read_capped(out, limits.stdout_bytes), read_capped(err, 16 << 10));
        let status = child.wait().await;
        (status, stdout, stderr)
    };
    match tokio::time::timeout(limits.wall, work).await {
        Ok((Ok(status), stdout, stderr)) => Ok(RunOutput { status, stdout, stderr: String::from_utf8_lossy(&stderr).into_owned() }),
        Ok((Err(source), _, _)) => Err(RunError::Spawn { program: program.into(), source }),
        // The future (and with it the child, kill_on_drop) is dropped here.
        Err(_) => Err(RunError::Timeout { program: program.into(), wall: limits.wall }),
    }
}

/// Reads everything (so the child never blocks on a full pipe), keeps `cap` bytes.
async fn read_capped(mut r: impl AsyncRead + Unpin, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
            }
        }
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}
