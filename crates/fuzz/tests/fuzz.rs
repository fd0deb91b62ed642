//! Every target: its committed regressions and seed corpus, then a bounded
//! mutation run (`VISIO_FUZZ_ITERATIONS`, `VISIO_FUZZ_SECONDS`,
//! `VISIO_FUZZ_SEED`; small by default). A failure saves its input under
//! `crates/fuzz/regressions/<target>/`: commit it with the fix.

use visio_fuzz::{Budget, TARGETS, Target};

fn fuzz(name: &str) {
    let target: &Target = TARGETS.iter().find(|t| t.name == name).expect("a listed target");
    let corpus = visio_fuzz::inputs(&visio_fuzz::root().join("corpus").join(name));
    assert!(!corpus.is_empty(), "crates/fuzz/corpus/{name}/ has no seed input");
    match visio_fuzz::run(target, &visio_fuzz::root(), Budget::from_env()) {
        Ok(report) => assert!(report.replayed >= corpus.len()),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn config() {
    fuzz("config");
}

#[test]
fn protocol() {
    fuzz("protocol");
}

#[test]
fn transfer_wire() {
    fuzz("transfer_wire");
}

#[test]
fn documents() {
    fuzz("documents");
}

#[test]
fn every_target_has_a_test_here() {
    let source = include_str!("fuzz.rs");
    for target in TARGETS {
        assert!(source.contains(&format!("fuzz(\"{}\")", target.name)), "add a test for target {:?}", target.name);
    }
}

/// The loop finds a planted bug and keeps the input that found it.
#[test]
fn a_failing_input_is_reported_and_kept_as_a_regression() {
    fn fragile(bytes: &[u8]) {
        assert!(!bytes.windows(2).any(|w| w == b"}}"), "two closing braces");
    }
    let root = tempfile_dir();
    std::fs::create_dir_all(root.join("corpus/fragile")).unwrap();
    std::fs::write(root.join("corpus/fragile/seed"), b"{\"a\": {\"b\": 1} }").unwrap();
    let target = Target { name: "fragile", run: fragile };
    let budget = Budget { iterations: 100_000, time: std::time::Duration::from_secs(60), seed: 1 };
    let failure = visio_fuzz::run(&target, &root, budget).unwrap_err();
    assert!(failure.message.contains("two closing braces"), "{failure}");
    let saved = failure.saved.expect("saved");
    assert!(std::fs::read(&saved).unwrap().windows(2).any(|w| w == b"}}"));
    // The next run fails on the saved input before mutating anything.
    let again = visio_fuzz::run(&target, &root, Budget { iterations: 0, ..budget }).unwrap_err();
    assert!(again.saved.is_none() && again.message.contains(&saved.display().to_string()), "{again}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("visio-fuzz-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
