//! Bad input to the loaders: each a clear error naming the case, file or field, and the rest
//! of the cohort still loads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::fs;

use renal_cohort::{
    cohort_from_tables, load_kits23, load_kits23_with, load_manifest, read_feature_table,
    read_splits, BlankModifier, CohortError, Label, NoteKind, ValueNote,
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
    // p2 (age 400) and p3 (BMI -3): implausible feature values are missing, with notes.
    assert_eq!(c.ids(), vec!["p1", "p2", "p3", "p8"]);
    let notes: Vec<String> = c
        .notes()
        .map(|(id, n)| format!("{id} {} {} {}", n.feature, n.value, n.kind.name()))
        .collect();
    assert_eq!(notes, ["p2 age 400 implausible", "p3 bmi -3 implausible"]);
    assert_eq!(c.get("p2").unwrap().clinical.get("age"), None);
    assert_eq!(c.get("p2").unwrap().clinical.get("bmi"), Some(22.0));
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
    assert_eq!(c.excluded.len(), 5);
}

/// A row's `label_map` is read with the row: a good one is the case's typed label map, a bad
/// one excludes that case (naming the line and what is wrong) and no other.
#[test]
fn a_manifest_rows_label_map_is_read_with_the_row() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "manifest.csv",
        "case_id,age,label,label_map\n\
         q1,61,benign,\"tumor=2+5,kidney=1\"\n\
         q2,62,indolent,tumour\n\
         q3,63,aggressive,\n",
    );
    let c = load_manifest(&m).unwrap();
    assert_eq!(c.ids(), vec!["q1", "q3"]);
    let map = c.get("q1").unwrap().images.label_map.as_ref().unwrap();
    assert_eq!(map.role_of_value(5), Some(renal_imaging::labelmap::TUMOR));
    assert_eq!(map.role_of_value(1), Some(renal_imaging::labelmap::KIDNEY));
    assert_eq!(c.get("q3").unwrap().images.label_map, None);
    assert_eq!(c.excluded.len(), 1);
    assert_eq!(
        c.excluded[0].reason,
        "line 3: label_map: label map: `tumour` is not role=label (e.g. tumor=2)"
    );
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
    // An implausible age is a feature value, not a label field: missing, with a note.
    assert_eq!(c.ids(), vec!["case_1", "case_2"]);
    assert_eq!(c.get("case_2").unwrap().clinical.get("age"), None);
    let notes: Vec<(&str, &ValueNote)> = c.notes().collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "case_2");
    assert_eq!(
        (
            notes[0].1.feature.as_str(),
            notes[0].1.value.as_str(),
            notes[0].1.kind
        ),
        ("age", "400", NoteKind::Implausible)
    );
    let all: String = c
        .excluded
        .iter()
        .map(|e| format!("{}: {}\n", e.case, e.reason))
        .collect();
    assert!(
        all.contains("case_3: unknown histologic subtype `unicorn_tumor`"),
        "{all}"
    );
    assert_eq!(all.matches("case_4: duplicate case id").count(), 2, "{all}");
}

fn kits23_record(id: &str, extra: &str) -> String {
    format!(
        r#"{{"case_id": "{id}", "gender": "male", "bmi": 25.0, "age_at_nephrectomy": 60, "comorbidities": {{"uncomplicated_diabetes_mellitus": false, "diabetes_mellitus_with_end_organ_damage": "not_found_in_emr"}}, "pack_years": 0.0, "radiographic_size": 3.0, "pathologic_size": 3.0, "malignant": true, "tumor_histologic_subtype": "clear_cell_rcc", "tumor_isup_grade": 2, "last_preop_egfr": {{"value": 80.0}}, {extra}}}"#
    )
}

/// Values the vocabulary does not know, and "unknown" in any spelling, become missing with a
/// note; they never exclude a case.
#[test]
fn unknown_categories_become_missing_with_notes() {
    let d = tempfile::tempdir().unwrap();
    let base =
        r#""pathology_t_stage": "1a", "tumor_necrosis": false, "sarcomatoid_features": false"#;
    let json = format!(
        "[{}, {}, {}]",
        kits23_record(
            "case_1",
            &format!(
                r#"{base}, "smoking_history": "not_found_in_emr", "chewing_tobacco_use": "Not recorded", "alcohol_use": "occasionally""#
            )
        ),
        kits23_record(
            "case_2",
            &format!(
                r#"{base}, "smoking_history": "never_smoked", "chewing_tobacco_use": "never_or_not_in_the_last_3_months", "alcohol_use": "N/A""#
            )
        ),
        kits23_record(
            "case_3",
            &format!(
                r#"{base}, "smoking_history": "Current smoker", "chewing_tobacco_use": "never_or_not_in_the_last_3_months", "alcohol_use": "more_than_two_daily", "bmi": "sixty""#
            )
        ),
    );
    write(d.path(), "kits23.json", &json);
    for id in ["case_1", "case_2", "case_3"] {
        write(d.path(), &format!("cases/{id}/segmentation.nii.gz"), "x");
    }
    let c = load_kits23(d.path()).unwrap();
    assert_eq!(
        c.ids(),
        vec!["case_1", "case_2", "case_3"],
        "{:?}",
        c.excluded
    );
    let notes: Vec<String> = c
        .notes()
        .map(|(id, n)| format!("{id} {} {} {}", n.field, n.value, n.kind.name()))
        .collect();
    assert!(
        notes.contains(&"case_1 smoking_history not_found_in_emr recorded_unknown".into()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"case_1 chewing_tobacco_use Not recorded recorded_unknown".into()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"case_1 alcohol_use occasionally not_in_vocabulary".into()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"case_2 alcohol_use N/A recorded_unknown".into()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"case_3 bmi sixty not_a_number".into()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"case_1 comorbidities.diabetes_mellitus_with_end_organ_damage not_found_in_emr recorded_unknown".into()),
        "{notes:?}"
    );
    let c1 = c.get("case_1").unwrap();
    assert_eq!(c1.clinical.get("smoking_status"), None);
    assert_eq!(c1.clinical.get("alcohol_use"), None);
    // One diabetes field known absent, the other unknown: diabetes unknown.
    assert_eq!(c1.clinical.get("diabetes"), None);
    // Spelling variants of a known category are read.
    assert_eq!(
        c.get("case_3").unwrap().clinical.get("smoking_status"),
        Some(2.0)
    );
    assert_eq!(c.get("case_3").unwrap().clinical.get("bmi"), None);
}

/// Blank pathology modifiers: read as absent by default (and counted on the case), excluded
/// with `BlankModifier::Exclude`; a blank that does not change the class is not counted.
#[test]
fn blank_pathology_modifiers_follow_the_policy() {
    let d = tempfile::tempdir().unwrap();
    let json = format!(
        "[{}, {}, {}, {}]",
        // necrosis blank, grade 2 ccRCC, T1a: indolent only if the blank means absent.
        kits23_record(
            "case_1",
            r#""pathology_t_stage": "1a", "sarcomatoid_features": false"#
        ),
        // T stage blank, 3 cm: indolent only if no upstaging is read.
        kits23_record(
            "case_2",
            r#""tumor_necrosis": false, "sarcomatoid_features": false"#
        ),
        // necrosis blank but sarcomatoid present: aggressive whatever the blank means.
        kits23_record(
            "case_3",
            r#""pathology_t_stage": "1a", "sarcomatoid_features": true"#
        ),
        // everything recorded.
        kits23_record(
            "case_4",
            r#""pathology_t_stage": "1a", "tumor_necrosis": false, "sarcomatoid_features": false"#
        ),
    );
    write(d.path(), "kits23.json", &json);
    for id in ["case_1", "case_2", "case_3", "case_4"] {
        write(d.path(), &format!("cases/{id}/segmentation.nii.gz"), "x");
    }
    let absent = load_kits23(d.path()).unwrap();
    assert_eq!(absent.ids(), vec!["case_1", "case_2", "case_3", "case_4"]);
    let case = |id: &str| absent.get(id).unwrap();
    assert_eq!(case("case_1").label, Some(Label::Indolent));
    assert_eq!(case("case_1").blank_assumed, vec!["tumor_necrosis"]);
    assert!(case("case_1")
        .label_source
        .as_deref()
        .unwrap()
        .contains("blank tumor_necrosis read as absent"));
    assert_eq!(case("case_2").label, Some(Label::Indolent));
    assert_eq!(case("case_2").blank_assumed, vec!["pathology_t_stage"]);
    assert_eq!(case("case_3").label, Some(Label::Aggressive));
    assert!(case("case_3").blank_assumed.is_empty());
    assert!(case("case_4").blank_assumed.is_empty());

    let strict = load_kits23_with(d.path(), BlankModifier::Exclude).unwrap();
    assert_eq!(strict.ids(), vec!["case_3", "case_4"]);
    let reasons: Vec<String> = strict
        .excluded
        .iter()
        .map(|e| format!("{}: {}", e.case, e.reason))
        .collect();
    assert!(
        reasons[0].starts_with("case_1: cannot rule out")
            && reasons[0].contains("tumor_necrosis missing"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("case_2: cannot rule out")
            && reasons[1].contains("pathology_t_stage missing"),
        "{reasons:?}"
    );
}
