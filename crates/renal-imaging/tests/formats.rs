//! NRRD, Slicer's `.seg.nrrd` and MetaImage read as the same volume as NIfTI (issue 15): the
//! fixtures were written by SimpleITK and pynrrd (`scripts/make_format_fixtures.py`, from
//! KiTS23 case_00002's label map on an oblique grid), never by our own writer; the expected
//! affine was computed by that script with numpy.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

use renal_imaging::{read_geometry, read_labels, read_scalar, Geometry, ImagingError};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn assert_grid(g: &Geometry, what: &str, tol: f64) {
    let e = expected();
    let dims: Vec<usize> = e["dims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(g.dims.to_vec(), dims, "{what}: dims");
    for r in 0..3 {
        for c in 0..4 {
            let want = e["affine_ras"][r][c].as_f64().unwrap();
            let got = g.affine[r][c];
            assert!(
                (got - want).abs() <= tol,
                "{what}: affine[{r}][{c}] = {got}, expected {want}"
            );
        }
    }
}

#[test]
fn ct_in_nrrd_and_metaimage_equals_the_nifti_voxel_for_voxel() {
    let reference = read_scalar(&dir().join("ct.nii.gz")).unwrap();
    // NIfTI stores the affine in float32: its own agreement is to about 1e-5 mm.
    assert_grid(&reference.geometry, "ct.nii.gz (SimpleITK)", 1e-4);
    let sum: f64 = reference.data.iter().map(|&v| v as f64).sum();
    assert_eq!(sum, expected()["ct_sum"].as_f64().unwrap());
    for name in ["ct.nrrd", "ct_ras_bigendian.nrrd", "ct.mha", "ct.mhd"] {
        let v = read_scalar(&dir().join(name)).unwrap();
        // These formats hold the geometry in decimal text: exact to the printed digits.
        assert_grid(&v.geometry, name, 1e-9);
        assert_eq!(v.data, reference.data, "{name}: voxels");
        assert_eq!(read_geometry(&dir().join(name)).unwrap(), v.geometry);
    }
}

#[test]
fn masks_in_nrrd_seg_nrrd_and_metaimage_equal_the_nifti_voxel_for_voxel() {
    let reference = read_labels(&dir().join("mask.nii.gz")).unwrap();
    let counts = expected()["label_counts"].clone();
    for v in 0..4u8 {
        let n = reference.data.iter().filter(|&&x| x == v).count();
        assert_eq!(
            n as u64,
            counts[v.to_string()].as_u64().unwrap(),
            "label {v}"
        );
    }
    assert!(
        counts["3"].as_u64().unwrap() > 0,
        "the fixture has a cyst, so the remapping is tested"
    );
    // The .seg.nrrd stores its own label values (tumor 5, kidney 7, cyst 9) under segment
    // names: read back as kidney 1, tumor 2, cyst 3.
    for name in ["mask.nrrd", "mask.mha", "mask.seg.nrrd"] {
        let v = read_labels(&dir().join(name)).unwrap();
        assert_grid(&v.geometry, name, 1e-9);
        assert_eq!(v.data, reference.data, "{name}: voxels");
    }
}

#[test]
fn bad_nrrd_and_metaimage_files_are_refused_naming_file_and_field() {
    let err = |name: &str| -> String {
        let e = read_labels(&dir().join(name)).unwrap_err();
        assert!(matches!(e, ImagingError::Format { .. }), "{name}: {e:?}");
        let s = e.to_string();
        assert!(s.contains(name), "{s}");
        s
    };
    assert!(err("bad_layers.seg.nrrd").contains("segment 2 (`Cyst`) is on layer 1"));
    assert!(err("bad_space.nrrd").contains("`space` = `scanner-xyz`"));
    assert!(err("bad_encoding.nrrd").contains("`encoding` = `bzip2`"));
    // Hand-made headers for what the tools will not write.
    let t = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = t.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let four = write("four.mha", b"ObjectType = Image\nNDims = 4\nDimSize = 2 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let e = read_labels(&four).unwrap_err().to_string();
    assert!(e.contains("four.mha") && e.contains("`NDims` = 4"), "{e}");
    let short = write("short.nrrd", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspace: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\n\n\x01\x02");
    let e = read_labels(&short).unwrap_err();
    assert!(
        matches!(
            e,
            ImagingError::Truncated {
                expected: 8,
                found: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let list = write("vec.nrrd", b"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 3 2 2 2\nspace: RAS\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\n\n");
    let e = read_labels(&list).unwrap_err().to_string();
    assert!(e.contains("a non-spatial axis of size 3"), "{e}");
    let named = write("other.seg.nrrd", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 1 1 2\nspace: LPS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\nSegment0_Name:=Liver\nSegment0_LabelValue:=1\nSegment0_Layer:=0\n\n\x00\x01");
    let e = read_labels(&named).unwrap_err().to_string();
    assert!(
        e.contains("segment 1 (`Liver`): not named kidney, tumor or cyst")
            && e.contains("--label-map"),
        "{e}"
    );
    // Said which is which, the same file reads: the named segment is the tumor.
    let map = renal_imaging::LabelMap::parse("tumor=Liver").unwrap();
    let v = renal_imaging::read_mask(&named, &[], Some(&map)).unwrap();
    assert_eq!(v.data, vec![0, 2]);
    // Sizes a hostile header could claim: refused before any allocation.
    let huge = write("huge.nrrd", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 100000 100000 100000\nspace: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: gzip\n\n");
    let e = read_labels(&huge).unwrap_err().to_string();
    assert!(
        e.contains("huge.nrrd") && e.contains("over the limit of 1073741824 voxels"),
        "{e}"
    );
    let zero = write(
        "zero.mha",
        b"NDims = 3\nDimSize = 0 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
    );
    let e = read_labels(&zero).unwrap_err().to_string();
    assert!(
        e.contains("`DimSize`") && e.contains("whole sizes of at least 1"),
        "{e}"
    );
    let garbage = write("x.mha", b"\x89PNG\r\n\x1a\n");
    assert!(read_scalar(&garbage).is_err());
}
