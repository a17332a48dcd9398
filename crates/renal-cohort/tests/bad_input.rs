//! Bad input to the loaders: each a clear error naming the case, file or field, and the rest
//! of the cohort still loads.

use std::fs;

use renal_cohort::{
    cohort_from_tables, load_kits23, load_manifest, read_feature_table, read_splits, CohortError,
    Label,
};

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn manifest_with_bad_rows_keeps_the_good_ones() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("cohort");
    fs::create_dir_all(root.join("img")).unwrap();
    fs::write(root.join("img/m1.nii.gz"), b"x").unwrap();
    fs::write(d.path().join("outside.nii.gz"), b"x").unwrap();
    let m = write(
        &root,
        "manifest.csv",
        "case_id,age,sex,bmi,malignant,histologic_subtype,isup_grade,pathology_t_stage,tumor_necrosis,sarcomatoid_features,pathologic_size_cm,mask,label\n\
         p1,61,male,27.5,true,clear_cell_rcc,2,1a,false,false,3.1,img/m1.nii.gz,\n\
         p2,400,female,22,false,oncocytoma,,,,,,,\n\
         p3,50,female,-3,false,oncocytoma,,,,,,,\n\
         p4,55,male,25,true,glioma,2,1a,false,false,2,,\n\
         p5,55,male,25,,,,,,,,img/missing.nii.gz,benign\n\
         p6,55,male,25,,,,,,,,../outside.nii.gz,benign\n\
         p7,55,male,25,,,,,,,,,aggressive\n\
         p7,56,male,25,,,,,,,,,aggressive\n\
         p8,70,female,30,,,,,,,,,2\n",
    );
    let c = load_manifest(&m).unwrap();
    assert_eq!(c.ids(), vec!["p1", "p8"]);
    assert_eq!(c.get("p1").unwrap().label, Some(Label::Indolent));
    assert_eq!(c.get("p8").unwrap().label, Some(Label::Aggressive));
    let reason = |id: &str| {
        c.excluded
            .iter()
            .filter(|e| e.case == id)
            .map(|e| e.reason.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(reason("p2").contains("`age` = 400"), "{}", reason("p2"));
    assert!(reason("p3").contains("`bmi` = -3"), "{}", reason("p3"));
    assert!(
        reason("p4").contains("unknown histologic subtype `glioma`"),
        "{}",
        reason("p4")
    );
    assert!(reason("p5").contains("does not exist"), "{}", reason("p5"));
    assert!(
        reason("p6").contains("escapes the manifest folder"),
        "{}",
        reason("p6")
    );
    assert!(
        reason("p7").contains("duplicate case id"),
        "{}",
        reason("p7")
    );
    assert_eq!(c.excluded.len(), 7);
}

#[test]
fn feature_table_with_a_non_numeric_cell_names_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "emb.csv", "CaseName,f0,f1\nc1,0.5,1\nc2,abc,2\n");
    let e = read_feature_table(&f).unwrap_err();
    assert!(
        matches!(&e, CohortError::NonNumeric { line: 3, column, value, .. } if column == "f0" && value == "abc"),
        "{e}"
    );
    assert!(e.to_string().contains("emb.csv"));
    let f = write(d.path(), "dup.csv", "case_id,f0\nc1,1\nc1,2\n");
    assert!(matches!(
        read_feature_table(&f).unwrap_err(),
        CohortError::DuplicateCase { .. }
    ));
}

#[test]
fn features_plus_labels_cohort_and_split_files() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "emb.csv",
        "CaseName,f0,f1\nc1,0.5,1\nc2,0.1,2\nc3,0.3,\nc4,1,1\n",
    );
    let l = write(
        d.path(),
        "labels.csv",
        "case_id,label\nc1,benign\nc2,1\nc3,aggressive\nc4,2\nc9,0\n",
    );
    let c = cohort_from_tables(&f, &l).unwrap();
    assert_eq!(c.ids(), vec!["c1", "c2", "c3", "c4"]);
    assert!(
        c.get("c3").unwrap().extra["f1"].is_nan(),
        "empty cell is missing"
    );
    assert_eq!(c.excluded.len(), 1, "c9 has a label but no features");

    let s = write(
        d.path(),
        "splits.csv",
        "case_id,outer_fold,inner_fold\nc1,0,0\nc2,0,1\nc3,1,0\nc4,1,1\n",
    );
    let sp = read_splits(&s, &c).unwrap();
    assert_eq!(sp.outer.len(), 2);
    assert_eq!(sp.outer[0].test, vec!["c1", "c2"]);
    assert_eq!(sp.outer[0].train, vec!["c3", "c4"]);
    assert_eq!(sp.outer[0].inner[0].val, vec!["c3"]);

    let s = write(d.path(), "bad1.csv", "case_id,outer_fold\nc1,0\nc77,1\n");
    let e = read_splits(&s, &c).unwrap_err();
    assert!(
        matches!(&e, CohortError::UnknownCase { case, .. } if case == "c77"),
        "{e}"
    );
    let s = write(
        d.path(),
        "bad2.csv",
        "case_id,outer_fold\nc1,0\nc2,1\nc1,1\n",
    );
    let e = read_splits(&s, &c).unwrap_err();
    assert!(
        matches!(&e, CohortError::TwoTestFolds { case, first: 0, second: 1, .. } if case == "c1"),
        "{e}"
    );

    // The JSON layout of published code.
    let j = d.path().join("json");
    write(&j, "data-0/train_split.json", r#"{"c3": 2, "c4": 2}"#);
    write(&j, "data-0/test_split.json", r#"{"c1": 0, "c2": 1}"#);
    write(&j, "data-0/train_split_0.json", r#"{"c3": 2}"#);
    write(&j, "data-0/val_split_0.json", r#"{"c4": 2}"#);
    write(&j, "data-1/train_split.json", r#"{"c1": 0, "c2": 1}"#);
    write(&j, "data-1/test_split.json", r#"{"c3": 2, "c4": 2}"#);
    let sp = read_splits(&j, &c).unwrap();
    assert_eq!(sp.outer.len(), 2);
    assert_eq!(sp.outer[0].inner.len(), 1);
    assert_eq!(sp.outer[1].test, vec!["c3", "c4"]);
    write(&j, "data-1/test_split.json", r#"{"c3": 2, "c1": 0}"#);
    let e = read_splits(&j, &c).unwrap_err();
    assert!(
        matches!(&e, CohortError::TwoTestFolds { case, .. } if case == "c1")
            || matches!(&e, CohortError::InconsistentSplit { .. }),
        "{e}"
    );
    write(&j, "data-1/test_split.json", r#"{"c3": 1, "c4": 2}"#);
    let e = read_splits(&j, &c).unwrap_err();
    assert!(
        e.to_string().contains("c3") && e.to_string().contains("label"),
        "{e}"
    );
}

#[test]
fn kits23_folder_with_bad_records() {
    let d = tempfile::tempdir().unwrap();
    let rec = |id: &str, age: &str, hist: &str| {
        format!(
            r#"{{"case_id": "{id}", "gender": "female", "bmi": 25.0, "age_at_nephrectomy": {age}, "comorbidities": {{}}, "smoking_history": "never_smoked", "pack_years": 0.0, "chewing_tobacco_use": "never_or_not_in_the_last_3_months", "alcohol_use": "two_or_less_daily", "radiographic_size": 3.0, "pathologic_size": 3.0, "malignant": true, "pathology_t_stage": "1a", "tumor_histologic_subtype": "{hist}", "tumor_necrosis": false, "tumor_isup_grade": "2", "sarcomatoid_features": false, "last_preop_egfr": {{"value": 80.0}}}}"#
        )
    };
    let json = format!(
        "[{}, {}, {}, {}, {}]",
        rec("case_1", "60", "clear_cell_rcc"),
        rec("case_2", "400", "clear_cell_rcc"),
        rec("case_3", "50", "unicorn_tumor"),
        rec("case_4", "50", "clear_cell_rcc"),
        rec("case_4", "51", "clear_cell_rcc")
    );
    write(d.path(), "kits23.json", &json);
    for id in ["case_1", "case_2", "case_3"] {
        write(d.path(), &format!("cases/{id}/segmentation.nii.gz"), "x");
    }
    let c = load_kits23(d.path()).unwrap();
    assert_eq!(c.ids(), vec!["case_1"]);
    let all: String = c
        .excluded
        .iter()
        .map(|e| format!("{}: {}\n", e.case, e.reason))
        .collect();
    assert!(all.contains("case_2: `age` = 400"), "{all}");
    assert!(
        all.contains("case_3: unknown histologic subtype `unicorn_tumor`"),
        "{all}"
    );
    assert_eq!(all.matches("case_4: duplicate case id").count(), 2, "{all}");
}
