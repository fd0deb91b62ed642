//! The spool keeps nothing of a session: not after it ends, not after a crash.

use std::os::unix::fs::PermissionsExt;

use visio_transfer::spool::{Spool, list_files};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn session_files_are_private_and_wiped_at_session_end() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = Spool::open(tmp.path().join("spool")).unwrap();
    assert_eq!(mode(spool.root()), 0o700);
    let s = spool.session("call-42").unwrap();
    assert_eq!(mode(s.dir()), 0o700);
    s.write_at(7, 0, b"%PDF-1.4 payslip").unwrap();
    s.write_at(7, 16, b" more").unwrap();
    assert_eq!(std::fs::read(s.transfer_path(7)).unwrap(), b"%PDF-1.4 payslip more");
    assert_eq!(mode(&s.transfer_path(7)), 0o600);
    let dir = s.dir().to_path_buf();
    s.close().unwrap();
    assert!(!dir.exists());
    assert!(list_files(spool.root()).is_empty());

    // dropping a session (e.g. its task panicked) wipes it too
    let s = spool.session("call-43").unwrap();
    s.write_at(1, 0, b"x").unwrap();
    drop(s);
    assert!(list_files(spool.root()).is_empty());
}

#[test]
fn a_crash_leaves_nothing_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("spool");
    {
        let spool = Spool::open(&root).unwrap();
        let s = spool.session("call-1").unwrap();
        s.write_at(3, 0, b"ID card scan").unwrap();
        std::fs::write(s.path("scan-1.pdf"), b"%PDF-1.4").unwrap();
        // The process dies: no destructor runs.
        std::mem::forget(s);
    }
    assert_eq!(list_files(&root).len(), 2, "files survive the crash on disk");
    std::fs::write(root.join("stray"), b"left by an older version").unwrap();
    // Restart: opening the spool wipes everything from the previous run.
    let spool = Spool::open(&root).unwrap();
    assert!(list_files(spool.root()).is_empty());
    assert!(std::fs::read_dir(spool.root()).unwrap().next().is_none());
}

#[test]
fn session_names_cannot_escape_the_spool() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = Spool::open(tmp.path().join("spool")).unwrap();
    for bad in ["../x", "a/b", "", ".", "..", "call 1"] {
        assert!(spool.session(bad).is_err(), "{bad:?}");
    }
}
