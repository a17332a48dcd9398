//! Differential test over vendor DICOM files (issue 26): the corpus pydicom ships (files
//! written by many vendors' and toolkits' software, none by this project), decoded by an
//! independent decoder (pydicom with pylibjpeg and pyjpegls) into reference values by
//! `scripts/vendor_dicom_reference.py` (`.ci/run` makes them into `target/vendor-dicom`;
//! elsewhere `$RENAL_TRIAGE_VENDOR_DICOM`). Every monochrome image the independent decoder
//! reads comes out of this reader with the same values (rescaled; lossy syntaxes within one
//! stored unit), or is refused with an error that names the file and what is not supported.
//! None panics; none differs silently.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

use renal_testdata::under_ci;

fn reference_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RENAL_TRIAGE_VENDOR_DICOM")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vendor-dicom"));
    if dir.join("index.json").is_file() {
        return Some(dir);
    }
    assert!(
        !under_ci(),
        "no vendor DICOM reference at {} (.ci/run makes it with scripts/vendor_dicom_reference.py)",
        dir.display()
    );
    eprintln!(
        "SKIPPED vendor_dicom: no reference at {} (python3 scripts/vendor_dicom_reference.py {})",
        dir.display(),
        dir.display()
    );
    None
}

/// What became of one file (its reasons are read through `Debug`, in the report).
#[derive(Debug)]
#[allow(dead_code)]
enum Outcome {
    Same,
    Refused(String),
    Differs(String),
    Panicked,
}

fn compare(path: &Path, entry: &serde_json::Value, want: &[f32]) -> Outcome {
    let read = std::panic::catch_unwind(|| renal_imaging::dicom::read_slices(path));
    let slices = match read {
        Err(_) => return Outcome::Panicked,
        Ok(Err(e)) => return Outcome::Refused(e.to_string()),
        Ok(Ok(s)) => s,
    };
    let got: Vec<f32> = slices.iter().flat_map(|s| s.hu.iter().copied()).collect();
    let (rows, cols) = (
        entry["rows"].as_u64().unwrap(),
        entry["columns"].as_u64().unwrap(),
    );
    if got.len() != want.len()
        || slices
            .iter()
            .any(|s| (s.rows, s.columns) != (rows as usize, cols as usize))
    {
        return Outcome::Differs(format!(
            "{} values in {} frames, the reference has {} ({} frames of {rows} x {cols})",
            got.len(),
            slices.len(),
            want.len(),
            entry["frames"]
        ));
    }
    let lossy = entry["lossy"].as_bool().unwrap_or(false);
    let unit = entry["unit"].as_f64().unwrap_or(1.0) as f32;
    let mut worst = (0.0f32, 0usize);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let d = (a - b).abs();
        let allowed = if lossy {
            unit + 1e-3
        } else {
            1e-4 * b.abs().max(1.0)
        };
        if (d.is_nan() || d > allowed) && (d.is_nan() || d > worst.0) {
            worst = (if d.is_nan() { f32::INFINITY } else { d }, i);
        }
    }
    if worst.0 > 0.0 {
        let i = worst.1;
        return Outcome::Differs(format!(
            "value {i}: {} here, {} by the independent decoder",
            got[i], want[i]
        ));
    }
    Outcome::Same
}

#[test]
fn vendor_files_decode_to_the_independent_decoders_values_or_are_refused_by_name() {
    let Some(dir) = reference_dir() else { return };
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let source = PathBuf::from(index["source"].as_str().unwrap());
    let mut report = Vec::new();
    let (mut same, mut refused, mut bad) = (0, 0, Vec::new());
    for e in index["files"].as_array().unwrap() {
        let name = e["file"].as_str().unwrap();
        if e.get("skipped").is_some() {
            continue;
        }
        let bytes = std::fs::read(dir.join(format!("{name}.f32"))).unwrap();
        let want: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let path = source.join(name);
        let outcome = compare(&path, e, &want);
        match &outcome {
            Outcome::Same => same += 1,
            // A refusal must say which file and what: the file's name, and more than a
            // generic failure.
            Outcome::Refused(m) if m.contains(name) && m.len() > name.len() + 20 => refused += 1,
            _ => bad.push(format!("{name}: {outcome:?}")),
        }
        report.push(format!("{name:<40} {outcome:?}"));
    }
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "{same} equal, {refused} refused by name, {} wrong",
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "differs, panics or unnamed refusals:\n{}",
        bad.join("\n")
    );
    // The corpus holds CT, MR and dose images in most syntaxes; most must be read.
    assert!(
        same >= 15,
        "only {same} files read equal:\n{}",
        report.join("\n")
    );
}
