//! `visio-fuzz [TARGET…]`: fuzz longer than `cargo test` does, e.g. in a
//! nightly CI job: `VISIO_FUZZ_SECONDS=600 VISIO_FUZZ_ITERATIONS=100000000
//! VISIO_FUZZ_SEED=$RANDOM cargo run -p visio-fuzz --release`. Failing
//! inputs land in crates/fuzz/regressions/<target>/, to commit.

use std::process::ExitCode;

fn main() -> ExitCode {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let budget = visio_fuzz::Budget::from_env();
    let mut failed = false;
    for target in visio_fuzz::TARGETS.iter().filter(|t| wanted.is_empty() || wanted.iter().any(|w| w == t.name)) {
        match visio_fuzz::run(target, &visio_fuzz::root(), budget) {
            Ok(report) => {
                println!("{}: {} inputs replayed, {} mutated, no failure (seed {})", target.name, report.replayed, report.mutated, budget.seed)
            }
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
