//! Compressed DICOM (issue 15, item 1, first part): a CT series written by SimpleITK (GDCM) and
//! re-encoded by dcmtk (`scripts/make_dicom_fixtures.sh`). RLE Lossless decodes to exactly the
//! voxels and grid of the uncompressed series, which equal the NIfTI it was written from; the
//! syntaxes not decoded yet are refused naming the file and the syntax.

use std::path::{Path, PathBuf};

use renal_imaging::dicom::read_series;
use renal_imaging::read_scalar;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom")
        .join(name)
}

#[test]
fn rle_lossless_decodes_to_the_uncompressed_series() {
    let plain = read_series(&dir("uncompressed")).unwrap();
    let rle = read_series(&dir("rle")).unwrap();
    assert_eq!(rle.geometry, plain.geometry);
    assert_eq!(rle.data, plain.data);
    // The series holds the NIfTI's voxels (stored as 16-bit integers, rescale 1/0) on its grid
    // (the NIfTI's affine is float32: 1e-4 mm).
    let source = read_scalar(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats/ct.nii.gz"),
    )
    .unwrap();
    assert_eq!(plain.geometry.dims, source.geometry.dims);
    assert_eq!(plain.data, source.data);
    for r in 0..3 {
        for c in 0..4 {
            let (a, b) = (plain.geometry.affine[r][c], source.geometry.affine[r][c]);
            assert!((a - b).abs() < 1e-4, "affine[{r}][{c}]: {a} vs {b}");
        }
    }
}

#[test]
fn syntaxes_not_decoded_yet_are_refused_by_name() {
    for (folder, name) in [
        ("jpeg_lossless", "JPEG Lossless SV1"),
        ("jpegls", "JPEG-LS Lossless"),
    ] {
        let e = read_series(&dir(folder)).unwrap_err().to_string();
        assert!(e.contains(folder) && e.contains(".dcm"), "{e}");
        assert!(
            e.contains(name) && e.contains("decompress the series first"),
            "{e}"
        );
    }
}
