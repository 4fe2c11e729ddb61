//! Replays every saved input under `corpus/<target>/` through its target, so that inputs the
//! fuzzers found (and the seeds) stay regression tests in the ordinary test suite.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a readable corpus entry").path();
        let data = std::fs::read(&path).expect("a readable corpus file");
        check(&data);
        inputs += 1;
    }
    assert!(inputs > 0, "no saved inputs for {target}");
}

#[test]
fn manifest_corpus_replays() {
    replay("manifest", berth_fuzz::manifest);
}

#[test]
fn names_corpus_replays() {
    replay("names", berth_fuzz::names);
}

#[test]
fn ranges_corpus_replays() {
    replay("ranges", berth_fuzz::ranges);
}

#[test]
fn sigv4_corpus_replays() {
    replay("sigv4", berth_fuzz::sigv4);
}

#[test]
fn tokens_corpus_replays() {
    replay("tokens", berth_fuzz::tokens);
}

#[test]
fn ecr_json_corpus_replays() {
    replay("ecr_json", berth_fuzz::ecr_json);
}
