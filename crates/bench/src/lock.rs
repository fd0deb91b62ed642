//! `--lock`: one benchmark at a time on a machine, first come first served.
//!
//! flock(2) alone is not fair: each release wakes every waiter and the
//! quickest takes the lock, so a loop that starts its next run at once
//! kept winning over a run that had waited half an hour. Each waiter
//! therefore takes a ticket first (a file named by its arrival time and
//! pid, in `LOCK.queue/`), and only the oldest live ticket asks for the
//! flock. A waiter that died leaves a ticket whose pid is gone: it is
//! skipped and removed. Runs of older builds, which take the flock without
//! a ticket, still get in, as before.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

/// How often a waiter looks whether its ticket is first.
const POLL: Duration = Duration::from_millis(500);

/// The lock, held until dropped. std opens files close-on-exec, so no child
/// process (a browser, its driver) inherits it.
pub struct BenchLock {
    _file: File,
}

/// Waits for the exclusive lock on `path`, in arrival order.
pub fn take(path: &Path) -> Result<BenchLock> {
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    let queue = queue_dir(path);
    std::fs::create_dir_all(&queue).with_context(|| format!("creating {}", queue.display()))?;
    let ticket = Ticket::take(&queue)?;
    let mut told = false;
    while !ticket.is_first()? {
        if !std::mem::replace(&mut told, true) {
            eprintln!("waiting for {} (in line: {})", path.display(), queue.display());
        }
        std::thread::sleep(POLL);
    }
    if file.try_lock().is_err() {
        eprintln!("waiting for {}", path.display());
        tokio::task::block_in_place(|| file.lock()).with_context(|| format!("locking {}", path.display()))?;
    }
    drop(ticket); // the next in line may now wait on the flock itself
    Ok(BenchLock { _file: file })
}

fn queue_dir(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".queue");
    PathBuf::from(name)
}

/// A place in line: a file, removed when dropped.
struct Ticket {
    dir: PathBuf,
    name: String,
}

impl Ticket {
    fn take(dir: &Path) -> Result<Ticket> {
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        // Zero-padded so that names sort as arrival times.
        let name = format!("{:020}-{}", since_epoch.as_nanos(), std::process::id());
        File::create(dir.join(&name)).with_context(|| format!("taking a ticket in {}", dir.display()))?;
        Ok(Ticket { dir: dir.to_owned(), name })
    }

    /// Whether no live waiter came before us.
    fn is_first(&self) -> Result<bool> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            if name == self.name {
                return Ok(true);
            }
            if !holder_alive(&name) {
                let _ = std::fs::remove_file(self.dir.join(&name));
                continue;
            }
            return Ok(false);
        }
        anyhow::bail!("our ticket {} vanished from {}", self.name, self.dir.display())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(&self.name));
    }
}

/// A ticket's waiter is alive while its pid is (pids are not reused within
/// a wait on this scale).
fn holder_alive(name: &str) -> bool {
    match name.rsplit_once('-').and_then(|(_, pid)| pid.parse::<u32>().ok()) {
        Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_served_in_arrival_order_and_a_dead_ones_ticket_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        // A waiter that died before us (no such pid), then us, then a live one after.
        std::fs::write(dir.path().join(format!("{:020}-{}", 1, u32::MAX)), "").unwrap();
        let ours = Ticket::take(dir.path()).unwrap();
        assert!(ours.is_first().unwrap(), "the dead waiter's ticket does not hold us back");
        assert!(!dir.path().join(format!("{:020}-{}", 1, u32::MAX)).exists(), "and is removed");
        let later = Ticket::take(dir.path()).unwrap();
        assert!(!later.is_first().unwrap(), "a later ticket waits while ours is live");
        drop(ours);
        assert!(later.is_first().unwrap(), "then it is first");
    }
}
