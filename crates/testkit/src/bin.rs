//! Our own programs (`visio-kiosk`, `visio-admin`, …) for tests and examples
//! that start them from another crate, where Cargo gives no
//! `CARGO_BIN_EXE_*` path.
//!
//! [`path`] builds the program first (once per test process) with the same
//! profile and target folder as the running test, so a test never runs a
//! stale binary after an edit. Under `cargo test --workspace` the binary is
//! already fresh and the build is a no-op: the workspace-hack crate gives
//! every build the same dependency features (docs/decisions.md #348).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The path of the workspace program `name` (its package has the same name),
/// built if needed. Panics with Cargo's own message when the build fails.
pub fn path(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let path = build(name);
    built.insert(name.to_owned(), path.clone());
    path
}

/// Where the running test's profile puts binaries (`target/debug/`): a test
/// runs from `target/debug/deps/`, an example from `target/debug/examples/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent().expect("the test's folder");
    match dir.file_name().and_then(|name| name.to_str()) {
        Some("deps" | "examples") => dir.parent().expect("the profile's folder").to_owned(),
        _ => dir.to_owned(),
    }
}

/// A `cargo` command in this workspace for the running test's profile and
/// target folder: `args` start with the subcommand (`["build", "-p", …]`) and
/// must not contain `--`, since the profile's options are added after them.
pub fn cargo(args: &[&str]) -> Command {
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("the target folder");
    let profile = profile_dir.file_name().and_then(|name| name.to_str()).expect("a profile name");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `cargo test` names itself to the tests it runs; elsewhere, the one on PATH.
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(&workspace).args(args).arg("--target-dir").arg(target_dir);
    // What `cargo test` tells the test about its own package is not the
    // build's: ring's build script watches `CARGO_MANIFEST_DIR`, and finding
    // it set here would rebuild ring and all above it, for this build and
    // again for the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"]
                .contains(&&*name)
        {
            command.env_remove(&*name);
        }
    }
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    command
}

fn build(name: &str) -> PathBuf {
    let out = cargo(&["build", "--quiet", "-p", name, "--bin", name])
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
    assert!(out.status.success(), "building {name} for the test failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let path = profile_dir().join(name);
    assert!(path.is_file(), "cargo built {name} but {} is missing", path.display());
    path
}
