//! The CT path on phantoms: NIfTI and DICOM round trips, geometry, resampling, the centroid
//! slice position in mm, normalisation, and the bad inputs of the imaging issue.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_imaging::dicom::{read_series, write_series, SeriesInfo};
use renal_imaging::phantom::{phantom, tissues, PhantomConfig, Phase};
use renal_imaging::preprocess::{
    case_image, grid_with_spacing, resample, Interpolation, Preprocess,
};
use renal_imaging::{read_scalar, write_nifti, Geometry, LabelVolume, Volume, WriteOptions};

/// A KiTS-like label map: axis 0 is S-I (2.5 mm), axes 1-2 in-plane (0.8 mm), flipped as in
/// KiTS23. Kidney box with a tumor box inside: tumor voxels i in 8..12, j in 30..40, k in 20..26.
fn labels() -> LabelVolume {
    let g = Geometry {
        dims: [20, 64, 64],
        affine: [
            [0.0, 0.0, -0.8, 10.0],
            [0.0, -0.8, 0.0, 20.0],
            [2.5, 0.0, 0.0, -30.0],
        ],
    };
    let mut data = vec![0u8; g.len()];
    for k in 14..40 {
        for j in 24..48 {
            for i in 4..16 {
                let tumor = (8..12).contains(&i) && (30..40).contains(&j) && (20..26).contains(&k);
                data[g.index(i, j, k)] = if tumor { 2 } else { 1 };
            }
        }
    }
    Volume::new(g, data).unwrap()
}

fn phases(l: &LabelVolume) -> Vec<(Phase, Volume<f32>)> {
    phantom(l, "case_00001", &PhantomConfig::default())
}

#[test]
fn nifti_phantom_gives_the_centroid_slice_in_mm_and_unit_range() {
    let l = labels();
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    for (p, v) in phases(&l) {
        // Stored as int16 with scl_inter = -1024: the reader must apply the scaling.
        let stored: Vec<i16> = v
            .data
            .iter()
            .map(|&h| (h + 1024.0).round() as i16)
            .collect();
        let path = dir.path().join(format!("{}.nii.gz", p.name()));
        let opts = WriteOptions {
            scl_inter: -1024.0,
            ..WriteOptions::default()
        };
        write_nifti(&path, &v.geometry, &stored, opts).unwrap();
        let back = read_scalar(&path).unwrap();
        // The affine is stored as float32 (sform): same grid within 1e-5 mm.
        v.geometry
            .check_same_grid(&back.geometry, "round trip", 1e-5)
            .unwrap();
        for (a, b) in back.data.iter().zip(&v.data) {
            assert!((a - b).abs() <= 0.501, "{a} vs {b}");
        }
        input.push((p.name().to_string(), Some(back)));
    }
    let cfg = Preprocess {
        size: 32,
        ..Preprocess::default()
    };
    let img = case_image(input, &l, &cfg, "case_00001").unwrap();
    // Hand computation: tumor centroid i = 9.5 -> slice 10 (round half away from zero), j = 34.5,
    // k = 22.5; the slice plane's z = 2.5 * 10 - 30 = -5 mm.
    assert_eq!(img.position.axial_axis, 0);
    assert_eq!(img.position.slice, 10);
    assert_eq!(img.position.centroid_voxel, [9.5, 34.5, 22.5]);
    assert!((img.position.slice_z_mm - (-5.0)).abs() < 1e-12);
    assert!((img.position.centroid_mm[0] - (10.0 - 0.8 * 22.5)).abs() < 1e-12);
    assert_eq!(
        img.channels,
        vec!["non_contrast", "arterial", "venous", "delayed"]
    );
    assert_eq!(img.data.len(), 4 * 32 * 32);
    assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
    // The centre pixel is tumor: in the arterial phase about (110 + 160) / 400 of the window.
    let centre = img.plane(1)[16 * 32 + 16];
    assert!((centre - 270.0 / 400.0).abs() < 0.12, "{centre}");
    // The tumor enhances: brighter in the arterial than in the non-contrast phase.
    let tumor_nc = img.plane(0)[16 * 32 + 16];
    assert!(centre > tumor_nc + 0.1);
}

#[test]
fn a_phase_on_another_grid_is_resampled_onto_the_mask() {
    let l = labels();
    let p = phases(&l);
    let venous = p[2].1.clone();
    let coarse_grid = grid_with_spacing(&venous.geometry, [2.5, 1.6, 1.6]).unwrap();
    let coarse = resample(&venous, &coarse_grid, Interpolation::Linear, -1024.0, "t").unwrap();
    let cfg = Preprocess {
        size: 32,
        ..Preprocess::default()
    };
    let same = case_image(vec![("venous".into(), Some(venous))], &l, &cfg, "c").unwrap();
    let other = case_image(vec![("venous".into(), Some(coarse))], &l, &cfg, "c").unwrap();
    assert_eq!(same.position, other.position);
    // Centre pixel (tumor) close in both; noise is averaged differently.
    let (a, b) = (same.plane(0)[16 * 32 + 16], other.plane(0)[16 * 32 + 16]);
    assert!((a - b).abs() < 0.15, "{a} vs {b}");
}

#[test]
fn resampling_to_the_cohort_spacing_changes_the_grid_not_the_anatomy() {
    let l = labels();
    let cfg = Preprocess {
        size: 32,
        spacing_mm: Some([1.25, 0.8, 0.8]),
        ..Preprocess::default()
    };
    let p = phases(&l);
    let img = case_image(
        vec![("arterial".into(), Some(p[1].1.clone()))],
        &l,
        &cfg,
        "c",
    )
    .unwrap();
    assert_eq!(img.spacing_mm, [1.25, 0.8, 0.8]);
    // Same world z of the tumor centroid within half a (new) slice.
    assert!((img.position.centroid_mm[2] - (2.5 * 9.5 - 30.0)).abs() < 0.7);
}

#[test]
fn dicom_round_trip_of_a_phantom_recovers_geometry_and_hu() {
    let l = labels();
    let v = phases(&l)[1].1.clone();
    for implicit in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let info = SeriesInfo {
            patient_id: "case_00001".into(),
            study_uid: "1.2.826.0.1.3680043.10.9.1".into(),
            series_uid: "1.2.826.0.1.3680043.10.9.1.2".into(),
            rescale_intercept: -1024.0,
            rescale_slope: 1.0,
            implicit,
        };
        write_series(dir.path(), &v, &info).unwrap();
        let back = read_series(dir.path()).unwrap();
        // Slices are ordered along row x column cosines: here that reverses axis 2, so the
        // volume comes back as the same anatomy with a flipped third axis.
        assert_eq!(back.geometry.dims, v.geometry.dims);
        let n = v.geometry.dims[2];
        for r in 0..3 {
            assert!((back.geometry.affine[r][2] + v.geometry.affine[r][2]).abs() < 1e-5);
            let last = v.geometry.world([0.0, 0.0, (n - 1) as f64]);
            assert!((back.geometry.affine[r][3] - last[r]).abs() < 1e-4);
            for c in 0..2 {
                assert!((back.geometry.affine[r][c] - v.geometry.affine[r][c]).abs() < 1e-5);
            }
        }
        // Same HU at the same world position: resample back onto the original grid.
        let on_orig = resample(&back, &v.geometry, Interpolation::Nearest, f32::NAN, "t").unwrap();
        for (a, b) in on_orig.data.iter().zip(&v.data) {
            assert!((a - b.max(-1024.0)).abs() <= 0.5, "{a} vs {b}");
        }
    }
}

fn write(dir: &std::path::Path, v: &Volume<f32>, series: &str) -> Vec<std::path::PathBuf> {
    let info = SeriesInfo {
        patient_id: "case_00002".into(),
        study_uid: "1.2.3".into(),
        series_uid: series.into(),
        rescale_intercept: -1024.0,
        rescale_slope: 1.0,
        implicit: false,
    };
    write_series(dir, v, &info).unwrap()
}

#[test]
fn dicom_bad_inputs_name_the_problem() {
    let l = labels();
    let v = phases(&l)[0].1.clone();
    // A missing slice: uneven spacing.
    let d = tempfile::tempdir().unwrap();
    let files = write(d.path(), &v, "1.2.3.4");
    std::fs::remove_file(&files[5]).unwrap();
    let e = read_series(d.path()).unwrap_err().to_string();
    assert!(e.contains("uneven slice spacing"), "{e}");
    // Two series in one folder.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), &v, "1.2.3.4");
    let other = tempfile::tempdir().unwrap();
    let f = write(other.path(), &v, "1.2.3.5");
    std::fs::copy(&f[0], d.path().join("zz_other.dcm")).unwrap();
    let e = read_series(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("mixes 2 series") && e.contains("1.2.3.4") && e.contains("1.2.3.5"),
        "{e}"
    );
    // A compressed transfer syntax (JPEG baseline) is refused by name.
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), &v, "1.2.3.4");
    let mut b = std::fs::read(&f[0]).unwrap();
    let ts = b"1.2.840.10008.1.2.1\0";
    let at = b.windows(ts.len()).position(|w| w == ts).unwrap();
    b[at..at + ts.len()].copy_from_slice(b"1.2.840.10008.1.2.4.");
    std::fs::write(&f[0], &b).unwrap();
    let e = read_series(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("unreadable transfer syntax") && e.contains(&f[0].display().to_string()),
        "{e}"
    );
}

#[test]
fn imaging_bad_inputs_name_case_and_phase() {
    let l = labels();
    let v = phases(&l)[1].1.clone();
    let cfg = Preprocess {
        size: 32,
        ..Preprocess::default()
    };
    // A phase with another field of view that misses the tumor.
    let mut shifted = v.clone();
    shifted.geometry.affine[2][3] += 200.0;
    let e = case_image(
        vec![("arterial".into(), Some(shifted))],
        &l,
        &cfg,
        "case_00003",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("case_00003") && e.contains("arterial") && e.contains("field of view"),
        "{e}"
    );
    // A 2D image.
    let g2 = Geometry::with_spacing([64, 64, 1], [0.8, 0.8, 2.5]);
    let flat = Volume::new(g2.clone(), vec![0.0; g2.len()]).unwrap();
    let e = case_image(vec![("venous".into(), Some(flat))], &l, &cfg, "case_00004")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("case_00004") && e.contains("venous") && e.contains("3D"),
        "{e}"
    );
    // An empty tumor.
    let mut empty = l.clone();
    empty.data.iter_mut().for_each(|x| *x = (*x).min(1));
    let e = case_image(vec![("venous".into(), Some(v))], &empty, &cfg, "case_00005")
        .unwrap_err()
        .to_string();
    assert!(e.contains("case_00005"), "{e}");
}

#[test]
fn phantom_intensities_do_not_depend_on_anything_but_tissue_phase_and_seed() {
    let l = labels();
    let cfg = PhantomConfig::default();
    let t = tissues(&l, &cfg);
    assert!(t.contains(&renal_imaging::phantom::Tissue::Tumor));
    // Same mask, same id: identical; the class label is not an input at all.
    assert_eq!(phantom(&l, "x", &cfg), phantom(&l, "x", &cfg));
}
