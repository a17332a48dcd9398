//! Hostile files for the readers added in issue 15: seeded random mutations (bytes changed,
//! runs cut out, the file truncated) of every NRRD, MetaImage, compressed-DICOM, SEG and RTSTRUCT fixture must
//! give a value or an error, never a panic. (A replayable, deterministic smoke test; the
//! coverage-guided fuzzing of issue 17 goes further.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

use renal_imaging::{read_labels, read_scalar};
use renal_stats::Rng;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn mutate(b: &[u8], m: &mut Rng) -> Vec<u8> {
    let mut v = b.to_vec();
    match m.below(4) {
        0 => {
            for _ in 0..1 + m.below(8) {
                let i = m.below(v.len().max(1)).min(v.len().saturating_sub(1));
                v[i] = m.next_u64() as u8;
            }
        }
        1 => {
            let i = m.below(v.len().max(1)).min(v.len().saturating_sub(1));
            let n = m.below(64).min(v.len() - i);
            v.drain(i..i + n);
        }
        2 => v.truncate(m.below(v.len().max(1))),
        _ => {
            // A byte in the header region (where the lengths and sizes are).
            let i = m.below(v.len().min(600));
            v[i] = [0x00, 0xFF, b'9', b' ', b'\n'][m.below(5)];
        }
    }
    v
}

#[test]
fn mutated_files_give_an_error_never_a_panic() {
    let files = [
        ("formats/ct.nrrd", "ct.nrrd"),
        ("formats/mask.seg.nrrd", "mask.seg.nrrd"),
        ("formats/ct_ras_bigendian.nrrd", "x.nrrd"),
        ("formats/ct.mha", "ct.mha"),
        ("formats/mask.mha", "mask.mha"),
        ("dicom/rle/slice010.dcm", "x.dcm"),
        ("dicom/jpeg_lossless/slice010.dcm", "x.dcm"),
        ("dicom/jpeg_lossless_sv7/slice010.dcm", "x.dcm"),
        ("dicom/bigendian/slice010.dcm", "x.dcm"),
        ("dicom/deflated/slice010.dcm", "x.dcm"),
        ("dicom/jpegls/slice010.dcm", "x.dcm"),
        ("dicom/jpegls_near/slice010.dcm", "x.dcm"),
        ("dicom/j2k/slice010.dcm", "x.dcm"),
        ("dicom/j2k_lossy/slice010.dcm", "x.dcm"),
        ("dicom/jpeg_baseline/slice010.dcm", "x.dcm"),
        ("dicom/enhanced/ct.dcm", "x.dcm"),
        ("dicom/enhanced_rle/ct.dcm", "x.dcm"),
        ("seg/seg_binary.dcm", "seg.dcm"),
        ("seg/seg_fractional.dcm", "seg.dcm"),
        ("seg/rtstruct.dcm", "seg.dcm"),
    ];
    let ct = [fixture("dicom/uncompressed")];
    let t = tempfile::tempdir().unwrap();
    let mut m = Rng::new(20261129);
    let mut errors = 0;
    for (rel, name) in files {
        let orig = std::fs::read(fixture(rel)).unwrap();
        let path = t.path().join(name);
        for round in 0..300 {
            let bytes = mutate(&orig, &mut m);
            std::fs::write(&path, &bytes).unwrap();
            let r = std::panic::catch_unwind(|| {
                if name == "seg.dcm" {
                    renal_imaging::read_mask(&path, &ct, None).is_err()
                } else if name.ends_with(".dcm") {
                    renal_imaging::dicom::read_slices(&path).is_err()
                } else {
                    read_scalar(&path).is_err() | read_labels(&path).is_err()
                }
            });
            match r {
                Ok(e) => errors += e as usize,
                Err(_) => {
                    let keep = t.path().join(format!("panic-{round}-{name}"));
                    std::fs::write(&keep, &bytes).unwrap();
                    panic!(
                        "{rel}: mutation {round} panicked (kept as {})",
                        keep.display()
                    );
                }
            }
        }
    }
    // The mutations did reach the parsers' error paths.
    assert!(errors > 500, "{errors}");
}
