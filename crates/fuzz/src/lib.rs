//! Fuzzing that runs on stable Rust, in `cargo test` and in CI: `cargo
//! fuzz` needs a nightly compiler, which the project does not require.
//!
//! Each [`Target`] is one function that feeds bytes to one parser and
//! panics when a property breaks (a panic inside the parser counts too).
//! [`run`] replays the target's seed corpus (`corpus/<target>/`) and every
//! input that ever failed (`regressions/<target>/`), then mutates corpus
//! inputs with a seeded generator for a bounded number of rounds or time.
//! A failing input is written to `regressions/<target>/` so that it is
//! replayed by every later run once committed.
//!
//! To add a target (a new parser, say): write a `fn(&[u8])` in
//! [`targets`], list it in [`TARGETS`], and put a few valid inputs in
//! `corpus/<name>/`.

pub mod mutate;
pub mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mutate::Rng;

/// One parser under test.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Also the name of its corpus and regression folders.
    pub name: &'static str,
    /// Feeds the bytes to the parser; panics if a property breaks.
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "config", run: targets::config },
    Target { name: "protocol", run: targets::protocol },
    Target { name: "transfer_wire", run: targets::transfer_wire },
    Target { name: "documents", run: targets::documents },
];

/// How long to fuzz each target.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Mutated inputs to try.
    pub iterations: u64,
    /// Stop earlier once this much time has passed.
    pub time: Duration,
    /// The generator's seed: the same seed tries the same inputs.
    pub seed: u64,
}

impl Budget {
    /// From `VISIO_FUZZ_ITERATIONS`, `VISIO_FUZZ_SECONDS` and
    /// `VISIO_FUZZ_SEED`, with small defaults that keep `cargo test` quick.
    pub fn from_env() -> Budget {
        let var = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Budget {
            iterations: var("VISIO_FUZZ_ITERATIONS", 500),
            time: Duration::from_secs(var("VISIO_FUZZ_SECONDS", 20)),
            seed: var("VISIO_FUZZ_SEED", 21),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub replayed: usize,
    pub mutated: u64,
}

/// An input that broke a property, and where it was saved.
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: &'static str,
    pub message: String,
    pub saved: Option<PathBuf>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fuzz target {:?} failed: {}", self.target, self.message)?;
        match &self.saved {
            Some(path) => write!(f, "; the input is saved as {} (commit it: it is replayed by every run)", path.display()),
            None => write!(f, " (a committed regression input)"),
        }
    }
}

/// This crate's folder, where `corpus/` and `regressions/` live.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of a folder, sorted by name; none if it does not exist.
pub fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect();
    files.sort();
    files
}

/// Runs `input` through `target`, turning a panic into its message.
pub fn check(target: &Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned())
    })
}

/// Replays the regressions and the corpus, then fuzzes within `budget`.
pub fn run(target: &Target, root: &Path, budget: Budget) -> Result<Report, Failure> {
    let corpus = inputs(&root.join("corpus").join(target.name));
    let regressions = inputs(&root.join("regressions").join(target.name));
    let fail = |message: String, saved| Failure { target: target.name, message, saved };
    for (path, bytes) in regressions.iter().chain(&corpus) {
        check(target, bytes).map_err(|m| fail(format!("{}: {m}", path.display()), None))?;
    }
    let replayed = corpus.len() + regressions.len();
    let mut pool: Vec<Vec<u8>> = corpus.into_iter().chain(regressions).map(|(_, b)| b).collect();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    // Each target has its own stream, so adding a target changes no other.
    let mut rng = Rng::new(budget.seed ^ mutate::hash(target.name.as_bytes()));
    let started = Instant::now();
    let mut mutated = 0;
    while mutated < budget.iterations && started.elapsed() < budget.time {
        let input = mutate::mutate(&mut rng, &pool);
        mutated += 1;
        if let Err(message) = check(target, &input) {
            let saved = save(root, target.name, &input);
            return Err(fail(message, saved));
        }
    }
    Ok(Report { replayed, mutated })
}

/// Keeps a failing input under `regressions/<target>/`, named by its hash.
fn save(root: &Path, target: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = root.join("regressions").join(target);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{:016x}", mutate::hash(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}
