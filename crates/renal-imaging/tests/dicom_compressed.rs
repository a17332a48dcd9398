//! Compressed DICOM (issue 15, item 1, first part): a CT series written by SimpleITK (GDCM) and
//! re-encoded by dcmtk (`scripts/make_dicom_fixtures.sh`). RLE Lossless (`dcmcrle`) and lossless
//! JPEG (`dcmcjpeg +e1`, process 14 SV1, and `+el +sv 4`, `+sv 7`: other predictors), and
//! the explicit VR big endian and deflated syntaxes (`dcmconv +tb`, `+td`) decode to exactly the voxels and grid of the
//! uncompressed series, which equal the NIfTI it was written from; the syntaxes not decoded
//! yet (JPEG-LS here) are refused naming the file and the syntax; enhanced multi-frame CT
//! (highdicom) gives the same series.

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

#[test]
fn syntaxes_not_decoded_yet_are_refused_by_name() {
    let e = read_series(&dir("jpegls")).unwrap_err().to_string();
    assert!(e.contains("jpegls") && e.contains(".dcm"), "{e}");
    assert!(
        e.contains("JPEG-LS Lossless") && e.contains("decompress the series first"),
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
