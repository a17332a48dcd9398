//! Compressed DICOM (issue 15, item 1, first part): a CT series written by SimpleITK (GDCM) and
//! re-encoded by dcmtk (`scripts/make_dicom_fixtures.sh`). RLE Lossless (`dcmcrle`) and lossless
//! JPEG (`dcmcjpeg +e1`, process 14 SV1, and `+el +sv 4`, `+sv 7`: other predictors), and
//! the explicit VR big endian and deflated syntaxes (`dcmconv +tb`, `+td`), JPEG-LS lossless
//! (`dcmcjpls`) and JPEG 2000 lossless (OpenJPEG's `opj_compress`, wrapped by pydicom:
//! `scripts/make_codec_fixtures.py`) decode to exactly the voxels and grid of the
//! uncompressed series, which equal the NIfTI it was written from; lossy syntaxes decode
//! within their codec's error; 12-bit lossy JPEG is refused naming the file and the syntax; enhanced multi-frame CT
//! (highdicom) gives the same series.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

use renal_imaging::dicom::read_series;
use renal_imaging::read_scalar;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom")
        .join(name)
}

#[test]
fn every_decoded_syntax_gives_the_uncompressed_series() {
    let plain = read_series(&dir("uncompressed")).unwrap();
    for folder in [
        "rle",
        "jpeg_lossless",
        "jpeg_lossless_sv4",
        "jpeg_lossless_sv7",
        "bigendian",
        "deflated",
        "jpegls",
        "j2k",
    ] {
        let v = read_series(&dir(folder)).unwrap();
        assert_eq!(v.geometry, plain.geometry, "{folder}: grid");
        assert!(v.data == plain.data, "{folder}: voxels differ");
    }
    // The series holds the NIfTI's voxels (stored as 16-bit integers, rescale 1/0) on its grid
    // (the NIfTI's affine is float32: 1e-4 mm).
    let source = read_scalar(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats/ct.nii.gz"),
    )
    .unwrap();
    assert_eq!(plain.geometry.dims, source.geometry.dims);
    assert!(
        plain.data == source.data,
        "the series' voxels differ from the NIfTI's"
    );
    assert!(
        plain.data.iter().any(|&v| v < 0.0),
        "signed samples are exercised"
    );
    for r in 0..3 {
        for c in 0..4 {
            let (a, b) = (plain.geometry.affine[r][c], source.geometry.affine[r][c]);
            assert!((a - b).abs() < 1e-4, "affine[{r}][{c}]: {a} vs {b}");
        }
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    renal_testdata::max_abs_diff(a, b, "decoded voxels") as f32
}

/// Lossy syntaxes: JPEG-LS near-lossless within its stated bound (NEAR = 2 stored values,
/// 2 HU here), and JPEG baseline and lossy JPEG 2000 as their own reference decoders (dcmtk's
/// dcmdjpeg, OpenJPEG's opj_decompress) decode the same files: within 1 HU of libjpeg's
/// integer IDCT for JPEG (a different IDCT), equal for JPEG 2000 (the same algorithm).
#[test]
fn lossy_syntaxes_decode_within_the_codecs_error() {
    let plain = read_series(&dir("uncompressed")).unwrap();
    let near = read_series(&dir("jpegls_near")).unwrap();
    assert_eq!(near.geometry, plain.geometry);
    let d = max_abs_diff(&near.data, &plain.data);
    assert!(d <= 2.0 && d > 0.0, "JPEG-LS NEAR=2: max error {d}");
    for (folder, tol) in [("jpeg_baseline", 1.0), ("j2k_lossy", 0.0)] {
        let v = read_series(&dir(folder)).unwrap();
        assert_eq!(v.geometry, plain.geometry, "{folder}");
        let reference = read_scalar(&dir("reference").join(format!("{folder}.nii.gz"))).unwrap();
        let d = max_abs_diff(&v.data, &reference.data);
        let lossy = max_abs_diff(&v.data, &plain.data);
        eprintln!("{folder}: {d} HU from the reference decoder, {lossy} HU from the original");
        assert!(d <= tol, "{folder}: {d} HU from the reference decoder");
        assert!(lossy > 0.0, "{folder}: lossy, yet equal to the original");
    }
}

/// A corrupt compressed fragment: an error naming the file, never a panic or wrong voxels
/// taken silently (JPEG-LS and JPEG 2000 check their codestream; the slice is refused).
#[test]
fn a_corrupt_fragment_is_refused_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    for folder in ["jpegls", "j2k", "jpeg_baseline", "rle", "jpeg_lossless"] {
        let src = dir(folder).join("slice010.dcm");
        let mut b = std::fs::read(&src).unwrap();
        // Cut the last 40% of the file (the end of the pixel data's fragment).
        let keep = b.len() * 6 / 10;
        b.truncate(keep);
        let p = t.path().join(format!("{folder}.dcm"));
        std::fs::write(&p, &b).unwrap();
        let e = renal_imaging::dicom::read_slice(&p)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{folder}.dcm")), "{folder}: {e}");
        // The fragment kept whole but its codestream cut short inside.
        let mut b = std::fs::read(&src).unwrap();
        let n = b.len();
        b[n - 120..n - 20].iter_mut().for_each(|x| *x = 0xFF);
        std::fs::write(&p, &b).unwrap();
        match renal_imaging::dicom::read_slice(&p) {
            Err(e) => assert!(
                e.to_string().contains(&format!("{folder}.dcm")),
                "{folder}: {e}"
            ),
            // Some codecs resynchronise on a damaged entropy-coded segment: then the voxels
            // must differ from the original's (the damage is not hidden).
            Ok(s) => {
                let orig = renal_imaging::dicom::read_slice(&src).unwrap();
                assert!(
                    s.hu != orig.hu,
                    "{folder}: damaged data read as the original"
                );
            }
        }
    }
}

#[test]
fn syntaxes_not_decoded_yet_are_refused_by_name() {
    let e = read_series(&dir("jpeg_extended12"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("jpeg_extended12") && e.contains(".dcm"), "{e}");
    assert!(
        e.contains("12-bit JPEG Extended is not decoded") && e.contains("dcmdjpeg"),
        "{e}"
    );
}

/// Enhanced multi-frame CT (highdicom's Legacy Converted Enhanced CT, uncompressed and RLE,
/// from the same series; `scripts/make_enhanced_fixtures.py`): one file gives the series'
/// voxels and grid, as a file and as a folder; inconsistent functional groups are refused
/// naming the file and the frame.
#[test]
fn an_enhanced_multiframe_ct_gives_the_series() {
    let plain = read_series(&dir("uncompressed")).unwrap();
    for folder in ["enhanced", "enhanced_rle"] {
        let v = read_series(&dir(folder)).unwrap();
        assert_eq!(v.geometry.dims, plain.geometry.dims, "{folder}");
        for r in 0..3 {
            for c in 0..4 {
                let (a, b) = (v.geometry.affine[r][c], plain.geometry.affine[r][c]);
                assert!(
                    (a - b).abs() < 1e-6,
                    "{folder}: affine[{r}][{c}]: {a} vs {b}"
                );
            }
        }
        assert!(v.data == plain.data, "{folder}: voxels differ");
        let one = read_scalar(&dir(folder).join("ct.dcm")).unwrap();
        assert!(one.data == plain.data, "{folder}: the file alone");
    }
    let e = read_series(&dir("bad_enhanced")).unwrap_err().to_string();
    assert!(
        e.contains("ct.dcm (frame 5)") && e.contains("orientation"),
        "{e}"
    );
}
