//! The house rules a reviewer would otherwise check by hand (issue 19): no
//! source file over about 600 lines, and no import circle between the
//! top-level modules of a crate (a pure core must not reach back into the
//! shell that drives it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A little slack over 600 for a file that is one table or one list.
const MAX_LINES: usize = 650;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The source folders of the workspace's crates, and of this one.
fn source_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    dirs.push(workspace().join("tests/src"));
    dirs.sort();
    dirs
}

/// Test modules kept beside the code (`session/tests.rs`, `assist_tests.rs`)
/// are test lists, not code to hold in one's head.
fn is_test_list(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
}

#[test]
fn no_source_file_is_over_about_600_lines() {
    let mut too_long = Vec::new();
    for src in source_dirs() {
        for file in rust_files(&src).into_iter().filter(|f| !is_test_list(f)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_LINES {
                too_long.push(format!("{} ({lines} lines)", file.strip_prefix(workspace()).unwrap_or(&file).display()));
            }
        }
    }
    assert!(too_long.is_empty(), "split these along a seam (house rule: about 600 lines): {too_long:#?}");
}

/// The crate's top-level module a file belongs to (`driver/act.rs` → `driver`).
fn top_module(src: &Path, file: &Path) -> String {
    let first = file.strip_prefix(src).unwrap().components().next().unwrap();
    first.as_os_str().to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// Which top-level modules each top-level module names through `crate::`,
/// outside comments and test modules.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src).into_iter().filter(|f| !is_test_list(f)) {
        let from = top_module(src, &file);
        if from == "lib" || from == "main" || from == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let to: String = line[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !to.is_empty() && to != from {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first).
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(graph: &BTreeMap<String, BTreeSet<String>>, start: &str, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> bool {
        let here = path.last().unwrap().clone();
        for next in graph.get(&here).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(graph, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let mut circles = Vec::new();
    for src in source_dirs() {
        let graph = module_graph(&src);
        if let Some(cycle) = graph.keys().find_map(|module| cycle_through(&graph, module)) {
            circles.push(format!("{}: {}", src.strip_prefix(workspace()).unwrap_or(&src).display(), cycle.join(" → ")));
        }
    }
    assert!(circles.is_empty(), "modules that import each other (move the shared part down, or the child under its parent): {circles:#?}");
}

#[test]
fn the_circle_finder_sees_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("core", vec!["driver"]), ("driver", vec!["bus"]), ("bus", vec!["core"]), ("store", vec!["core"])]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), to.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(cycle_through(&graph, "core"), Some(vec!["core".into(), "driver".into(), "bus".into(), "core".into()]));
    assert_eq!(cycle_through(&graph, "store"), None);
}
