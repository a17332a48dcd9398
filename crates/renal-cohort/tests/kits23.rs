//! The KiTS23 snapshot: labels from histology match, case by case, an independent
//! implementation of the Bhindi rules (`scripts/kits23_reference.py`, Python, written from
//! docs/data.md's table: `tests/fixtures/kits23_reference.json`), 25 / 102 / 173.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_cohort::{load_kits23, Label};
use renal_testdata::shared;

#[test]
fn kits23_dev_cohort_labels_match_expected_counts() {
    let Some(shared) = shared() else { return };
    let c = load_kits23(&shared.join("kits23")).unwrap();
    assert!(c.excluded.is_empty(), "{:?}", c.excluded);
    assert_eq!(c.cases.len(), 300);
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/kits23_reference.json")).unwrap();
    let counts = &reference["class_counts"];
    assert_eq!(
        c.class_counts().map(|n| n as u64),
        ["benign", "indolent", "aggressive"].map(|k| counts[k].as_u64().unwrap())
    );
    let cases = reference["cases"].as_object().unwrap();
    assert_eq!(cases.len(), c.cases.len());
    for case in &c.cases {
        let want = cases[&case.id]["class"].as_str().unwrap();
        let got = case.label.map(|l| l.name());
        assert_eq!(got, Some(want), "{}", case.id);
    }
    // Spot checks against the records (hand-read from kits23.json):
    // case_00000: clear-cell RCC, ISUP 3 -> aggressive by the high-grade rule.
    let c0 = c.get("case_00000").unwrap();
    assert_eq!(c0.label, Some(Label::Aggressive));
    assert_eq!(c0.label_source.as_deref(), Some("A1 high-grade ccRCC/pRCC"));
    assert_eq!(c0.clinical.get("age"), Some(49.0));
    assert_eq!(c0.clinical.get("sex_male"), Some(1.0));
    assert_eq!(c0.clinical.get("radiographic_size_cm"), Some(2.4));
    assert_eq!(c0.clinical.get("preop_egfr"), Some(77.0));
    // case_00042: MEST, not malignant -> benign (necrosis missing does not matter).
    assert_eq!(c.get("case_00042").unwrap().label, Some(Label::Benign));
    // case_00288: "other" malignant with necrosis -> aggressive.
    assert_eq!(
        c.get("case_00288").unwrap().label_source.as_deref(),
        Some("A3 necrosis/sarcomatoid")
    );
    // Annotations: 840 files across the cases.
    let n: usize = c.cases.iter().map(|c| c.images.annotations.len()).sum();
    assert_eq!(n, 840);
}
