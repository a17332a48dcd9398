//! One AFL++ entry point for every target: `RENAL_TRIAGE_FUZZ_TARGET` names it (one of
//! `renal_triage::fuzz::TARGETS`). Built by `cargo afl build --release`, run by `scripts/fuzz`.

fn main() {
    let target = std::env::var("RENAL_TRIAGE_FUZZ_TARGET").unwrap_or_default();
    assert!(
        renal_triage::fuzz::TARGETS.contains(&target.as_str()),
        "set RENAL_TRIAGE_FUZZ_TARGET to one of {:?}",
        renal_triage::fuzz::TARGETS
    );
    // Volumes of a fuzzed header stay small (the limit is itself under test: a header over it
    // is refused before any allocation).
    renal_imaging::limits::set(64 << 20, 1 << 24);
    afl::fuzz!(|data: &[u8]| {
        renal_triage::fuzz::run(&target, data);
    });
}
