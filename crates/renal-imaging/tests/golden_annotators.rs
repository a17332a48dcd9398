//! Tumor volumes from the per-annotator KiTS23 masks, and their ICC(3,1), against pingouin
//! (`shared/golden/icc-kits23-annotators`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_imaging::{read_labels, shape_features, BinaryMask};
use renal_testdata::{assert_rel, read_json, shared};

#[test]
fn annotator_volumes_and_icc_match_pingouin() {
    let Some(shared) = shared() else { return };
    let exp = read_json(&shared.join("golden/icc-kits23-annotators/expected.json"));
    let mut rows = Vec::new();
    for inst in exp["instances"].as_array().unwrap() {
        let case = inst["case_id"].as_str().unwrap();
        let k = inst["instance"].as_u64().unwrap();
        let mut row = Vec::new();
        for a in 1..=3 {
            let p = shared.join(format!(
                "kits23/cases/{case}/tumor_annotations/tumor_instance-{k}_annotation-{a}.nii.gz"
            ));
            let v = read_labels(&p).unwrap();
            let m = BinaryMask::from_predicate(&v.geometry, &v.data, |x| x != 0).unwrap();
            assert_eq!(
                m.count() as u64,
                inst[format!("voxels_a{a}")].as_u64().unwrap(),
                "{case} {k} a{a}"
            );
            let ml = shape_features(&m, v.geometry.spacing_mm()).voxel_volume_ml();
            assert_rel(
                ml,
                inst[format!("volume_ml_a{a}")].as_f64().unwrap(),
                1e-12,
                &format!("{case} {k} a{a} volume"),
            );
            row.push(ml);
        }
        rows.push(row);
    }
    let icc = renal_stats::icc(&rows, renal_stats::IccForm::Icc3).unwrap();
    assert_rel(icc.icc, exp["icc_3_1"].as_f64().unwrap(), 1e-9, "ICC(3,1)");
}
