//! The spool: where a session's files live while the interview lasts.
//!
//! One root directory per kiosk (mode 0700), one sub-directory per session
//! (mode 0700), files named by transfer id, never by the peer's file name.
//! A session's directory is wiped when its [`SessionSpool`] is closed or
//! dropped; [`Spool::open`] wipes everything left over, so a crash never
//! leaves an interview's papers on the kiosk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

/// A spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Filesystem error, with the path concerned.
    #[error("spool: cannot {action} {path}: {source}")]
    Io {
        /// What we tried.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Session names become directory names: keep them plain.
    #[error("spool: session name {0:?} must be 1-64 letters, digits, '-' or '_'")]
    BadSessionName(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io { action, path: path.to_path_buf(), source }
}

/// The kiosk's spool root.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

impl Spool {
    /// Opens (creating if needed) the spool at `root` and wipes whatever a
    /// previous run left in it: crash recovery.
    pub fn open(root: impl Into<PathBuf>) -> Result<Spool, SpoolError> {
        let root = root.into();
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&root).map_err(io_err("create", &root))?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(io_err("restrict", &root))?;
        let mut wiped = 0;
        for entry in fs::read_dir(&root).map_err(io_err("list", &root))? {
            let path = entry.map_err(io_err("list", &root))?.path();
            let r = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            r.map_err(io_err("wipe", &path))?;
            wiped += 1;
        }
        if wiped > 0 {
            warn!(root = %root.display(), wiped, "spool held leftovers of an earlier run (crash?): wiped");
        }
        Ok(Spool { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the private directory of a session.
    pub fn session(&self, name: &str) -> Result<SessionSpool, SpoolError> {
        let plain = !name.is_empty() && name.len() <= 64 && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !plain {
            return Err(SpoolError::BadSessionName(name.into()));
        }
        let dir = self.root.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err("wipe", &dir))?;
        }
        fs::DirBuilder::new().mode(0o700).create(&dir).map_err(io_err("create", &dir))?;
        info!(dir = %dir.display(), "session spool created");
        Ok(SessionSpool { dir, wiped: false })
    }
}

/// One session's private directory; wiped on [`close`](Self::close) or drop.
#[derive(Debug)]
pub struct SessionSpool {
    dir: PathBuf,
    wiped: bool,
}

impl SessionSpool {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a transfer's file (named by id: the peer's name never touches the filesystem).
    pub fn transfer_path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("transfer-{id:08x}"))
    }

    /// A fresh path for a file the kiosk produces (scan, rendered page...).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes received bytes at `offset` of transfer `id`'s file (created 0600).
    pub fn write_at(&self, id: u32, offset: u64, data: &[u8]) -> Result<(), SpoolError> {
        let path = self.transfer_path(id);
        let mut f = OpenOptions::new().create(true).write(true).truncate(false).mode(0o600).open(&path).map_err(io_err("open", &path))?;
        f.seek(SeekFrom::Start(offset)).map_err(io_err("seek in", &path))?;
        f.write_all(data).map_err(io_err("write", &path))?;
        Ok(())
    }

    /// Deletes a transfer's file if present.
    pub fn discard(&self, id: u32) {
        let path = self.transfer_path(id);
        if let Err(e) = fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            warn!(path = %path.display(), error = %e, "could not delete refused file");
        }
    }

    /// Files currently in the session directory.
    pub fn files(&self) -> Vec<PathBuf> {
        list_files(&self.dir)
    }

    /// Wipes the session's directory now (idempotent).
    pub fn close(mut self) -> Result<(), SpoolError> {
        self.wipe()
    }

    fn wipe(&mut self) -> Result<(), SpoolError> {
        if self.wiped {
            return Ok(());
        }
        self.wiped = true;
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {
                info!(dir = %self.dir.display(), "session spool wiped");
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SpoolError::Io { action: "wipe", path: self.dir.clone(), source: e }),
        }
    }
}

impl Drop for SessionSpool {
    fn drop(&mut self) {
        if let Err(e) = self.wipe() {
            warn!(error = %e, "session spool not wiped on drop");
        }
    }
}

/// Every regular file under `dir`, recursively.
pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Reads `len` bytes at `offset` (the sender's side of `Output::Read`).
pub fn read_at(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Size and SHA-256 (hex) of a file, streamed.
pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(h.finalize())))
}
