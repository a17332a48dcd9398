//! Test support shared by the crates' test suites.
//!
//! Shared data (the KiTS23 snapshot and the golden reference values) lives outside the
//! repository, at `../shared` next to the checkout or wherever `$RENAL_TRIAGE_SHARED` points.
//! A test that needs it calls [`shared`]: outside CI a missing folder skips the test with a
//! message; under CI (`CI=true`) it is a failure, never a skip.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test-only crate: a panic is a failed test

use std::path::{Path, PathBuf};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The shared data folder, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = match std::env::var_os("RENAL_TRIAGE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("../shared"),
    };
    p.join("golden").is_dir().then_some(p)
}

/// True when running under CI, where missing data must fail.
pub fn under_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// The shared folder, or `None` (with a note on stderr) when absent outside CI.
///
/// # Panics
/// Under CI when the shared folder is missing.
pub fn shared() -> Option<PathBuf> {
    match shared_dir() {
        Some(p) => Some(p),
        None if under_ci() => panic!(
            "shared data not found at ../shared or $RENAL_TRIAGE_SHARED: required under CI=true"
        ),
        None => {
            skipped("shared data not found (set RENAL_TRIAGE_SHARED)");
            None
        }
    }
}

/// Reports a skipped test where a person sees it: written to the process's stderr directly,
/// which the test harness does not capture (a passing test's `eprintln!` is hidden), so
/// `cargo test` shows one `SKIPPED` line per skipped test between the `ok` lines.
pub fn skipped(why: &str) {
    use std::io::Write;
    let name = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers.
#[track_caller]
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}")))
        .collect()
}

/// A JSON array of arrays of numbers (rows).
#[track_caller]
pub fn float_rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(floats)
        .collect()
}

/// Asserts `|a - b| <= tol * max(|b|, tiny)` with a message.
#[track_caller]
pub fn assert_rel(a: f64, b: f64, tol: f64, what: &str) {
    let scale = b.abs().max(1e-300);
    assert!(
        (a - b).abs() <= tol * scale,
        "{what}: got {a}, expected {b} (rel diff {:.3e} > {tol:e})",
        (a - b).abs() / scale
    );
}

/// Asserts `|a - b| <= tol` with a message.
#[track_caller]
pub fn assert_abs(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, expected {b} (abs diff {:.3e} > {tol:e})",
        (a - b).abs()
    );
}

/// Asserts two sequences have the same length and agree elementwise within `tol` (absolute):
/// a zip that would stop at the shorter one silently is a test that cannot fail.
#[track_caller]
pub fn assert_all_abs(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_abs(*x, *y, tol, &format!("{what}[{i}]"));
    }
}

/// The largest absolute difference between two sequences, for tests that compare against a
/// reference: fails when the lengths differ, when either is empty, or when any value is NaN
/// (a `zip` stops at the shorter sequence and `fold(0.0, f64::max)` skips NaN, so without
/// these checks empty or NaN results would pass as "no difference").
#[track_caller]
pub fn max_abs_diff<T: Copy + Into<f64>>(a: &[T], b: &[T], what: &str) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: {} values, expected {}",
        a.len(),
        b.len()
    );
    assert!(!a.is_empty(), "{what}: nothing to compare");
    let mut worst = 0.0f64;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y): (f64, f64) = ((*x).into(), (*y).into());
        assert!(!x.is_nan() && !y.is_nan(), "{what}[{i}]: NaN ({x} vs {y})");
        worst = worst.max((x - y).abs());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::max_abs_diff;

    #[test]
    fn max_abs_diff_measures_the_worst_pair() {
        assert_eq!(max_abs_diff(&[1.0, 2.0, 3.5], &[1.0, 2.5, 3.0], "v"), 0.5);
        assert_eq!(max_abs_diff(&[1.0f32, -2.0], &[1.0f32, 2.0], "v"), 4.0);
    }

    #[test]
    #[should_panic(expected = "NaN")]
    fn max_abs_diff_fails_on_nan() {
        max_abs_diff(&[1.0, f64::NAN], &[1.0, 2.0], "v");
    }

    #[test]
    #[should_panic(expected = "NaN")]
    fn max_abs_diff_fails_on_nan_in_the_reference() {
        max_abs_diff(&[1.0, 2.0], &[f64::NAN, 2.0], "v");
    }

    #[test]
    #[should_panic(expected = "values, expected")]
    fn max_abs_diff_fails_on_a_length_mismatch() {
        max_abs_diff(&[1.0], &[1.0, 2.0], "v");
    }

    #[test]
    #[should_panic(expected = "nothing to compare")]
    fn max_abs_diff_fails_on_empty() {
        max_abs_diff::<f64>(&[], &[], "v");
    }
}
