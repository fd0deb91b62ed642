//! Peak memory and time to refusal of the kiosk's document readers on the
//! hostile set (docs/benchmarks.md). Each document is read in a fresh child
//! process of this example, under GNU time, so the peak counts the reader
//! and its helper programs (pdfinfo, pdftoppm) and nothing else:
//!
//! ```sh
//! cargo run --release -p visio-transfer --example hostile_documents
//! ```

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use visio_testkit::documents::{hostile_documents, real_documents};
use visio_transfer::check::check_bytes;
use visio_transfer::display::{Display, PopplerDisplay};
use visio_transfer::inspect::{DocumentLimits, inspect};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--one" {
        return one(Path::new(&args[2])).await;
    }
    let me = std::env::current_exe().expect("own path");
    println!("| document | size | outcome | time to answer | peak RSS (reader and helpers) |");
    println!("|---|---|---|---|---|");
    let good = &real_documents()[0];
    for doc in hostile_documents().iter().chain(std::iter::once(good)) {
        let out = Command::new("/usr/bin/time").args(["-f", "PEAK %M"]).arg(&me).arg("--one").arg(&doc.path).output().expect("run /usr/bin/time (Debian package time)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let peak_kb: u64 = stderr.lines().find_map(|l| l.strip_prefix("PEAK ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let size = std::fs::metadata(&doc.path).map(|m| m.len()).unwrap_or(0);
        println!("| {} | {} B | {} | {:.0} MiB |", doc.name, size, stdout.trim(), peak_kb as f64 / 1024.0);
    }
}

/// Reads one document as the kiosk does (streaming check, inspection, and
/// for a shown document the rendering), prints the outcome and the time.
async fn one(path: &Path) {
    let start = Instant::now();
    let bytes = std::fs::read(path).expect("read");
    let outcome = match check_bytes(&bytes) {
        Err(e) => format!("refused at receipt: {e}"),
        Ok(info) => match inspect(path, info.kind, &DocumentLimits::default()).await {
            Err(e) => format!("refused: {e}"),
            Ok(i) => {
                let out = tempfile::tempdir().expect("tempdir");
                match PopplerDisplay::default().render(path, info.kind, out.path(), "page").await {
                    Ok(p) => format!("accepted, {} page(s) read, {} rendered", i.pages, p.len()),
                    Err(e) => format!("refused at rendering: {e}"),
                }
            }
        },
    };
    // The table's last column, then the outcome (kept short).
    let short: String = outcome.chars().take(90).collect();
    println!("{short} | {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
}
