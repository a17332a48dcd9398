use super::*;
use crate::error::ImagingError;
use std::path::Path;

use crate::volume::Geometry;

fn geom() -> Geometry {
    Geometry {
        dims: [3, 4, 5],
        affine: [
            [0.0, 0.0, -0.75, 10.0],
            [0.0, -0.75, 0.0, 20.0],
            [2.5, 0.0, 0.0, -30.0],
        ],
    }
}

fn labels() -> Vec<u8> {
    (0..60).map(|i| (i % 4) as u8).collect()
}

fn roundtrip<T: NiftiValue>(conv: impl Fn(u8) -> T, gzip: bool) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.nii.gz");
    let data: Vec<T> = labels().into_iter().map(conv).collect();
    write_nifti(
        &p,
        &geom(),
        &data,
        WriteOptions {
            gzip,
            ..Default::default()
        },
    )
    .unwrap();
    let v = read_labels(&p).unwrap();
    assert_eq!(v.data, labels());
    assert_eq!(v.geometry.dims, [3, 4, 5]);
    assert_eq!(v.geometry.spacing_mm(), [2.5, 0.75, 0.75]);
    assert_eq!(v.geometry.affine[0][3], 10.0);
}

#[test]
fn labels_read_from_every_dtype() {
    roundtrip(|v| v, true);
    roundtrip(|v| v as i8, false);
    roundtrip(|v| v as u16, true);
    roundtrip(|v| v as i16, true);
    roundtrip(|v| v as u32, true);
    roundtrip(|v| v as i32, false);
    roundtrip(|v| v as u64, true);
    roundtrip(|v| v as i64, true);
    roundtrip(|v| v as f32, true);
    roundtrip(|v| v as f64, true);
}

#[test]
fn scaling_is_applied_and_zero_slope_means_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ct.nii");
    let data: Vec<i16> = (0..60).collect();
    let opts = WriteOptions {
        gzip: false,
        scl_slope: 2.0,
        scl_inter: -1024.0,
    };
    write_nifti(&p, &geom(), &data, opts).unwrap();
    let v = read_scalar(&p).unwrap();
    assert_eq!(v.data[0], -1024.0);
    assert_eq!(v.data[59], 59.0 * 2.0 - 1024.0);
    let opts = WriteOptions {
        gzip: false,
        scl_slope: 0.0,
        scl_inter: 5.0,
    };
    write_nifti(&p, &geom(), &data, opts).unwrap();
    let v = read_scalar(&p).unwrap();
    assert_eq!(
        v.data[59], 59.0,
        "scl_slope 0 means unscaled, intercept ignored"
    );
}

#[test]
fn nan_slope_is_an_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ct.nii.gz");
    let data: Vec<i16> = (0..60).collect();
    let opts = WriteOptions {
        gzip: true,
        scl_slope: f32::NAN,
        scl_inter: 0.0,
    };
    write_nifti(&p, &geom(), &data, opts).unwrap();
    let e = read_scalar(&p).unwrap_err().to_string();
    assert!(e.contains("scl_slope") && e.contains("ct.nii.gz"), "{e}");
}

#[test]
fn non_integral_label_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.nii.gz");
    let mut data: Vec<f32> = labels().into_iter().map(|v| v as f32).collect();
    data[7] = 1.5;
    write_nifti(&p, &geom(), &data, WriteOptions::default()).unwrap();
    let e = read_labels(&p).unwrap_err().to_string();
    assert!(e.contains("1.5") && e.contains("index 7"), "{e}");
}

#[test]
fn truncated_and_corrupt_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.nii.gz");
    let bytes = encode_nifti(&geom(), &labels(), WriteOptions::default()).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_labels(&p).unwrap_err();
    assert!(matches!(e, ImagingError::Gzip { .. }), "{e}");
    assert!(e.to_string().contains("m.nii.gz"));
    // Uncompressed but short of voxel data.
    let raw = encode_nifti(
        &geom(),
        &labels(),
        WriteOptions {
            gzip: false,
            ..Default::default()
        },
    )
    .unwrap();
    let p2 = dir.path().join("short.nii");
    std::fs::write(&p2, &raw[..raw.len() - 10]).unwrap();
    assert!(matches!(
        read_labels(&p2).unwrap_err(),
        ImagingError::Truncated { .. }
    ));
    // Garbage after a valid gzip magic.
    let p3 = dir.path().join("bad.nii.gz");
    std::fs::write(
        &p3,
        [
            0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ],
    )
    .unwrap();
    assert!(matches!(
        read_labels(&p3).unwrap_err(),
        ImagingError::Gzip { .. }
    ));
}

#[test]
fn non_nifti_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.nii");
    std::fs::write(&p, b"case_id,label\ncase_1,benign\n").unwrap();
    let e = read_labels(&p).unwrap_err();
    assert!(matches!(e, ImagingError::NotNifti { .. }), "{e}");
    let p = dir.path().join("big.nii");
    std::fs::write(&p, vec![7u8; 400]).unwrap();
    assert!(matches!(
        read_labels(&p).unwrap_err(),
        ImagingError::NotNifti { .. }
    ));
}

#[test]
fn qform_only_file_gives_rotation_times_pixdim() {
    // Identity quaternion, pixdim (2, 3, 4), qfac -1 flips the third axis.
    let mut h = encode_nifti(
        &geom(),
        &labels(),
        WriteOptions {
            gzip: false,
            ..Default::default()
        },
    )
    .unwrap();
    h[254..256].copy_from_slice(&0i16.to_le_bytes());
    h[252..254].copy_from_slice(&1i16.to_le_bytes());
    for (a, v) in [-1.0f32, 2.0, 3.0, 4.0].iter().enumerate() {
        h[76 + 4 * a..80 + 4 * a].copy_from_slice(&v.to_le_bytes());
    }
    for off in [256, 260, 264, 268, 272, 276] {
        h[off..off + 4].copy_from_slice(&0f32.to_le_bytes());
    }
    let hd = parse_header(Path::new("q.nii"), &h).unwrap();
    assert_eq!(hd.geometry.affine[0][0], 2.0);
    assert_eq!(hd.geometry.affine[1][1], 3.0);
    assert_eq!(hd.geometry.affine[2][2], -4.0);
}
