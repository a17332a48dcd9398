//! Replays the fuzzing corpus and every crash the fuzzer found (issue 17): each file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through its target
//! (`renal_triage::fuzz`), as `cargo afl` ran it; a panic fails the test (a crash found once
//! stays fixed). The fuzzing itself runs outside CI (`scripts/fuzz`, `docs/fuzz.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::Path;

#[test]
fn the_fuzz_corpus_and_every_found_crash_replay_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for target in renal_triage::fuzz::TARGETS {
        let mut files = Vec::new();
        for kind in ["corpus", "regressions"] {
            let dir = root.join(kind).join(target);
            for e in std::fs::read_dir(&dir).into_iter().flatten() {
                files.push(e.unwrap().path());
            }
        }
        assert!(
            !files.is_empty(),
            "no seed for target {target} in {}",
            root.join("corpus").display()
        );
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let t = std::time::Instant::now();
            let r = std::panic::catch_unwind(|| renal_triage::fuzz::run(target, &data));
            assert!(r.is_ok(), "{target}: {} panics", f.display());
            assert!(
                t.elapsed().as_secs() < 20,
                "{target}: {} takes {:?}",
                f.display(),
                t.elapsed()
            );
            replayed += 1;
        }
    }
    assert!(replayed >= renal_triage::fuzz::TARGETS.len());
}
