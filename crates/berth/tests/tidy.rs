//! House rules that are cheaper to check than to remember: every Rust source file opens with
//! a `//!` comment saying what it is for, and no test is skipped or expected to panic.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("bench"), &mut files);
    assert!(
        files.len() > 20,
        "found too few sources under {}",
        root.display()
    );
    files
}

#[test]
fn every_source_file_opens_with_a_module_comment() {
    let missing: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! comment: {missing:?}"
    );
}

#[test]
fn no_test_is_ignored_or_expected_to_panic() {
    let offenders: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|f| !f.ends_with("tidy.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text.contains("#[ignore") || text.contains("#[should_panic")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "ignored or should_panic tests: {offenders:?}"
    );
}
