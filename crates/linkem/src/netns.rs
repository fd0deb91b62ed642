//! Named network namespaces (`/run/netns/NAME`, the ones `ip netns` lists),
//! and running code inside one from a thread of our own process.
//!
//! A network namespace belongs to a thread, not a process: a helper thread
//! that `setns`es into it opens sockets, creates TUN devices and spawns
//! processes there, while the rest of the process stays where it was. A
//! socket keeps the namespace it was created in for its whole life.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, Result};

const NETNS_DIR: &str = "/run/netns";

/// Prefix of the namespaces `Link::up` names itself: `vlk-<pid>-<n>-kiosk`.
pub(crate) const AUTO_PREFIX: &str = "vlk-";

/// A named network namespace we created and will delete.
#[derive(Debug)]
pub(crate) struct Namespace {
    name: String,
    file: File,
}

impl Namespace {
    pub(crate) fn create(name: &str) -> Result<Namespace> {
        let path = path_of(name);
        if path.exists() {
            let link = name.rsplit_once('-').map_or(name, |(link, _side)| link);
            return Err(Error::NamespaceExists {
                namespace: name.to_string(),
                link: link.to_string(),
            });
        }
        // iproute2 makes /run/netns a shared mount on first use; two `ip
        // netns add` at once on a fresh machine can race on it.
        static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|p| p.into_inner());
        ip(&["netns", "add", name], None).map_err(|e| match e {
            Error::Ip { detail, .. } => Error::Namespace {
                name: name.to_string(),
                detail,
            },
            other => other,
        })?;
        let file = File::open(&path).map_err(|e| Error::Namespace {
            name: name.to_string(),
            detail: format!("created, but {} cannot be opened: {e}", path.display()),
        })?;
        Ok(Namespace {
            name: name.to_string(),
            file,
        })
    }

    /// An existing namespace, to delete it; `None` if there is none.
    pub(crate) fn open(name: &str) -> Option<Namespace> {
        let file = File::open(path_of(name)).ok()?;
        Some(Namespace {
            name: name.to_string(),
            file,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// An independent handle on the namespace, for threads that enter it
    /// later (a tokio runtime's workers).
    pub(crate) fn handle(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::EnterNamespace {
            namespace: self.name.clone(),
            source: e,
        })
    }

    /// Runs `f` on a fresh thread inside the namespace and returns its
    /// result. A tokio runtime current in the caller is current there too,
    /// so `f` may create tokio sockets or spawn tokio processes.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(&self.file).map_err(|e| Error::EnterNamespace {
                    namespace: self.name.clone(),
                    source: e,
                })?;
                let _guard = runtime.as_ref().map(|h| h.enter());
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Stops (SIGKILL, by PID) every process still inside the namespace,
    /// except ourselves, then deletes it. Returns what went wrong, if
    /// anything, for the caller to report.
    pub(crate) fn delete(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for pid in pids_in(&self.file) {
            if let Err(e) = kill(Pid::from_raw(pid as i32), Signal::SIGKILL) {
                problems.push(format!("could not stop pid {pid} in {}: {e}", self.name));
            }
        }
        if let Err(e) = ip(&["netns", "del", &self.name], None) {
            problems.push(e.to_string());
        }
        problems
    }
}

fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Moves the calling thread into the namespace held open by `file`.
pub(crate) fn enter(file: &File) -> std::io::Result<()> {
    setns(file, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

/// Whether a namespace of this name exists.
pub(crate) fn exists(name: &str) -> bool {
    path_of(name).exists()
}

/// Processes (other than ours) whose main thread is in the namespace
/// `file` refers to: the same inode as their `/proc/PID/ns/net`.
pub(crate) fn pids_in(file: &File) -> Vec<u32> {
    let Ok(target) = file.metadata() else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

/// Deletes namespaces that `Link::up` created in processes that no longer
/// exist (a test binary killed with SIGKILL cannot run its `Drop`).
pub(crate) fn reap_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(owner) = name
            .strip_prefix(AUTO_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        if let Some(ns) = Namespace::open(&name) {
            for problem in ns.delete() {
                eprintln!("visio-linkem: cleaning up a stale namespace: {problem}");
            }
        }
    }
}

/// Runs `ip ARGS` (with `stdin` for `-batch -`) and returns its stdout.
pub(crate) fn ip(args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new("ip")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::IpMissing)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(|e| Error::io("writing commands to `ip -batch`", e))?;
    }
    let out = child.wait_with_output().map_err(Error::IpMissing)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::Ip {
            args: args.join(" "),
            detail: if stderr.is_empty() {
                out.status.to_string()
            } else {
                stderr
            },
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
