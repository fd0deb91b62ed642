//! README's commands after `scripts/test.sh` rebuild nothing: a package built
//! alone (`cargo run -p visio-kiosk`, `cargo build -p visio-hub`, the demo's
//! build) compiles its dependencies with the same features as the
//! workspace's test build, thanks to the workspace-hack crate
//! (docs/decisions.md #348). When this fails
//! after a dependency change, run `cargo hakari generate` and commit
//! crates/workspace-hack/Cargo.toml.
//!
//! Run alone (`cargo test -p visio-tests --test builds`) it first builds
//! every test of the workspace, which takes minutes on a cold target folder.

use serde_json::Value;
use visio_testkit::bin::cargo;

fn run(args: &[&str]) -> String {
    let out = cargo(args).output().expect("cargo runs");
    assert!(out.status.success(), "cargo {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

#[test]
fn readme_single_package_builds_reuse_the_workspace_test_build() {
    // What `scripts/test.sh` builds (nothing left to do under it).
    run(&["test", "--workspace", "--no-run", "--quiet"]);
    let printed = run(&["build", "-p", "visio-hub", "-p", "visio-kiosk", "-p", "visio-admin", "-p", "visio-linkem", "--message-format=json"]);
    let artifacts: Vec<Value> = printed
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .collect();
    assert!(artifacts.len() > 100, "cargo reported only {} artifacts", artifacts.len());
    let rebuilt: Vec<&str> = artifacts.iter().filter(|a| a["fresh"] != true).filter_map(|a| a["package_id"].as_str()).collect();
    assert!(rebuilt.is_empty(), "a single-package build recompiled what the test build had built: {rebuilt:#?}");
}
