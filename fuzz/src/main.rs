//! One AFL++ entry point for every target: `RENAL_TRIAGE_FUZZ_TARGET` names it (one of
//! `renal_triage::fuzz::TARGETS`). Built by `cargo afl build --release`, run by `scripts/fuzz`.
//!
//! A panic that a reader contains (the JPEG 2000 and JPEG-LS decoders run inside
//! `catch_unwind`: a library's panic becomes an error naming the file) is what a user gets as
//! an error, so it is not a crash here (`fuzz_nohook!`: no abort-on-any-panic hook); a panic
//! that escapes the reader aborts, which AFL++ records as a crash.

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
    // The default hook's message for contained panics is noise here.
    std::panic::set_hook(Box::new(|_| {}));
    afl::fuzz_nohook!(|data: &[u8]| {
        let escaped = std::panic::catch_unwind(|| renal_triage::fuzz::run(&target, data));
        if escaped.is_err() {
            std::process::abort();
        }
    });
}
