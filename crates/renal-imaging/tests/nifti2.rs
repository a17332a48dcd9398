//! NIfTI-2 files built byte by byte from the format's specification (nifti2.h: a 540-byte
//! header, 64-bit dims and offsets, float64 pixdim, scaling and affine rows), not by our
//! writer, read back through the public readers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_imaging::nifti::read_header;
use renal_imaging::{read_labels, read_scalar};

/// A little-endian NIfTI-2 single file (`n+2`) with an sform affine.
fn nifti2(
    dims: [i64; 3],
    datatype: i16,
    bitpix: i16,
    slope: f64,
    inter: f64,
    srow: [[f64; 4]; 3],
    data: &[u8],
) -> Vec<u8> {
    let mut h = vec![0u8; 540];
    let put =
        |h: &mut Vec<u8>, at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut h, 0, &540i32.to_le_bytes()); // sizeof_hdr
    put(&mut h, 4, b"n+2\0\r\n\x1a\n"); // magic
    put(&mut h, 12, &datatype.to_le_bytes());
    put(&mut h, 14, &bitpix.to_le_bytes());
    let dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
    for (i, d) in dim.iter().enumerate() {
        put(&mut h, 16 + 8 * i, &d.to_le_bytes());
    }
    let pixdim = [
        1.0,
        srow[0][0].abs(),
        srow[1][1].abs(),
        srow[2][2].abs(),
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    for (i, p) in pixdim.iter().enumerate() {
        put(&mut h, 104 + 8 * i, &p.to_le_bytes());
    }
    put(&mut h, 168, &544i64.to_le_bytes()); // vox_offset: header + 4-byte extension flag
    put(&mut h, 176, &slope.to_le_bytes());
    put(&mut h, 184, &inter.to_le_bytes());
    put(&mut h, 344, &0i32.to_le_bytes()); // qform_code
    put(&mut h, 348, &1i32.to_le_bytes()); // sform_code: scanner
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put(&mut h, 400 + 32 * r + 8 * c, &v.to_le_bytes());
        }
    }
    put(&mut h, 500, &[2u8, 0, 0, 0]); // xyzt_units: mm
    h.extend_from_slice(&[0, 0, 0, 0]); // no extension
    h.extend_from_slice(data);
    h
}

const SROW: [[f64; 4]; 3] = [
    [0.5, 0.0, 0.0, -10.0],
    [0.0, 0.8, 0.0, 20.0],
    [0.0, 0.0, 2.5, 30.0],
];

#[test]
fn a_nifti2_label_map_reads_with_its_grid_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("labels.nii");
    // 4 x 3 x 2 voxels, x fastest; value = (i + j + k) % 3.
    let mut data = Vec::new();
    for k in 0..2 {
        for j in 0..3 {
            for i in 0..4 {
                data.push(((i + j + k) % 3) as u8);
            }
        }
    }
    std::fs::write(&p, nifti2([4, 3, 2], 2, 8, 0.0, 0.0, SROW, &data)).unwrap();
    let h = read_header(&p).unwrap();
    assert_eq!(h.geometry.dims, [4, 3, 2]);
    assert_eq!(h.geometry.spacing_mm(), [0.5, 0.8, 2.5]);
    let v = read_labels(&p).unwrap();
    assert_eq!(v.geometry.dims, [4, 3, 2]);
    assert_eq!(v.data, data);
    // The affine is the sform rows, exactly.
    assert_eq!(v.geometry.affine, SROW);
}

#[test]
fn a_nifti2_int16_volume_applies_its_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ct.nii");
    let raw: Vec<i16> = (0..24).map(|x| x * 100 - 50).collect();
    let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
    // datatype 4 = int16; HU = 2 * raw - 1024.
    std::fs::write(&p, nifti2([4, 3, 2], 4, 16, 2.0, -1024.0, SROW, &bytes)).unwrap();
    let v = read_scalar(&p).unwrap();
    assert_eq!(v.data.len(), 24);
    for (got, r) in v.data.iter().zip(&raw) {
        assert_eq!(*got, (2.0 * *r as f64 - 1024.0) as f32);
    }
}

#[test]
fn a_nifti2_header_shorter_than_its_data_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.nii");
    let mut b = nifti2([4, 3, 2], 2, 8, 0.0, 0.0, SROW, &[0u8; 24]);
    b.truncate(b.len() - 5);
    std::fs::write(&p, b).unwrap();
    let e = read_labels(&p).unwrap_err().to_string();
    assert!(e.contains("short.nii"), "{e}");
}
