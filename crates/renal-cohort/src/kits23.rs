//! Loader for a KiTS23 folder: `kits23.json` plus `cases/<id>/segmentation.nii.gz` and, when
//! present, `cases/<id>/tumor_annotations/tumor_instance-K_annotation-A.nii.gz`.
//!
//! Field mapping (KiTS23 key -> feature): `age_at_nephrectomy` -> `age`; `gender` -> `sex_male`
//! (male 1, female 0, other values missing); `bmi`; `comorbidities.X` -> `comorbidity_X`, and
//! `diabetes` = either diabetes comorbidity; `smoking_history` -> `smoking_status`;
//! `pack_years`; `chewing_tobacco_use` -> `chewing_tobacco`; `alcohol_use`;
//! `last_preop_egfr.value` -> `preop_egfr`; `radiographic_size` -> `radiographic_size_cm`.
//! Pathology fields feed the labels only.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::bhindi::{BlankModifier, Histology};
use crate::cohort::{Annotation, Case, Cohort};
use crate::error::{io_err, CaseError, CohortError, Result};
use crate::vocab::{self, NoteKind, Reading};
use crate::words;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty() && *s != "na")
}

/// The recorded value as text, for notes.
fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A feature's number: JSON numbers, numeric strings; anything else a note.
fn read_num(v: &Value) -> Reading {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) => vocab::number_from_text(s),
        _ => Err(NoteKind::NotANumber),
    }
}

/// A feature's yes/no: JSON booleans and yes/no strings.
fn read_bool(v: &Value) -> Reading {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b as u8 as f64)),
        Value::String(s) => words::read_level(words::YES_NO, s),
        _ => Err(NoteKind::NotInVocabulary),
    }
}

/// A feature's category through the field's vocabulary (KiTS23's spellings are synonyms).
fn read_category(v: &Value, table: &[words::Level]) -> Reading {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => words::read_level(table, s),
        _ => Err(NoteKind::NotInVocabulary),
    }
}

fn put(
    case: &mut Case,
    name: &str,
    field: &str,
    v: &Value,
    reading: Reading,
) -> Result<(), CaseError> {
    case.read_feature(name, field, &raw(v), reading)
}

/// Builds the clinical record of one KiTS23 record. A value that cannot be read becomes
/// missing with a note on the case; only a programming error (a name outside the allow-list)
/// is an `Err`.
fn parse_features(r: &Value, case: &mut Case) -> Result<(), CaseError> {
    let age = &r["age_at_nephrectomy"];
    put(case, "age", "age_at_nephrectomy", age, read_num(age))?;
    let gender = &r["gender"];
    put(
        case,
        "sex_male",
        "gender",
        gender,
        read_category(gender, words::SEX),
    )?;
    put(case, "bmi", "bmi", &r["bmi"], read_num(&r["bmi"]))?;
    if let Some(m) = r["comorbidities"].as_object() {
        for (k, v) in m {
            let field = format!("comorbidities.{k}");
            put(case, &format!("comorbidity_{k}"), &field, v, read_bool(v))?;
        }
        // Either diabetes comorbidity: yes when one is yes, no when both are no.
        let known = |k: &str| m.get(k).map(read_bool).and_then(|r| r.unwrap_or(None));
        let diabetes = match (
            known("uncomplicated_diabetes_mellitus"),
            known("diabetes_mellitus_with_end_organ_damage"),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (Some(1.0), None) | (None, Some(1.0)) => Some(1.0),
            _ => None,
        };
        case.clinical.set("diabetes", diabetes)?;
    }
    let smoking = &r["smoking_history"];
    put(
        case,
        "smoking_status",
        "smoking_history",
        smoking,
        read_category(smoking, words::SMOKING),
    )?;
    put(
        case,
        "pack_years",
        "pack_years",
        &r["pack_years"],
        read_num(&r["pack_years"]),
    )?;
    let chewing = &r["chewing_tobacco_use"];
    put(
        case,
        "chewing_tobacco",
        "chewing_tobacco_use",
        chewing,
        read_category(chewing, words::CHEWING_TOBACCO),
    )?;
    let alcohol = &r["alcohol_use"];
    put(
        case,
        "alcohol_use",
        "alcohol_use",
        alcohol,
        read_category(alcohol, words::ALCOHOL),
    )?;
    let egfr = &r["last_preop_egfr"]["value"];
    put(
        case,
        "preop_egfr",
        "last_preop_egfr.value",
        egfr,
        read_num(egfr),
    )?;
    let size = &r["radiographic_size"];
    put(
        case,
        crate::fields::RADIOGRAPHIC_SIZE_CM,
        "radiographic_size",
        size,
        read_num(size),
    )
}

/// Builds the clinical record and histology of one KiTS23 record.
fn parse_record(r: &Value, case: &mut Case) -> Result<(), CaseError> {
    case.descriptive.sex = r["gender"].as_str().map(str::to_string);
    parse_features(r, case)?;

    let grade = match &r["tumor_isup_grade"] {
        Value::Null => None,
        v => match num(v) {
            Some(g) if [1.0, 2.0, 3.0, 4.0].contains(&g) => Some(g as u8),
            Some(g) => return Err(CaseError::value("tumor_isup_grade", g, "1-4")),
            None if v.as_str() == Some("na") => None,
            None => return Err(CaseError::value("tumor_isup_grade", v, "1-4 or na")),
        },
    };
    let size = num(&r["pathologic_size"]);
    if let Some(s) = size {
        if !(0.0..=50.0).contains(&s) {
            return Err(CaseError::value(
                "pathologic_size",
                format!("{s} cm"),
                "plausible",
            ));
        }
    }
    let subtype = text(&r["tumor_histologic_subtype"]).map(str::to_string);
    case.descriptive.histology = subtype.clone();
    case.histology = Some(Histology {
        malignant: boolean(&r["malignant"]),
        subtype,
        isup_grade: grade,
        t_stage: text(&r["pathology_t_stage"]).map(str::to_string),
        necrosis: boolean(&r["tumor_necrosis"]),
        sarcomatoid: boolean(&r["sarcomatoid_features"]),
        pathologic_size_cm: size,
    });
    Ok(())
}

/// Parses `tumor_instance-K_annotation-A.nii.gz` into (K, A).
fn parse_annotation_name(name: &str) -> Option<(u32, u32)> {
    let rest = name
        .strip_prefix("tumor_instance-")?
        .strip_suffix(".nii.gz")?;
    let (k, a) = rest.split_once("_annotation-")?;
    Some((k.parse().ok()?, a.parse().ok()?))
}

fn annotations(dir: &Path) -> Vec<Annotation> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some((instance, annotator)) = parse_annotation_name(&name) {
                out.push(Annotation {
                    instance,
                    annotator,
                    path: e.path(),
                });
            }
        }
    }
    out.sort_by_key(|a| (a.instance, a.annotator));
    out
}

/// Loads a KiTS23 folder with the default blank-modifier policy ([`BlankModifier::Absent`]).
pub fn load_kits23(dir: &Path) -> Result<Cohort> {
    load_kits23_with(dir, BlankModifier::default())
}

/// Loads a KiTS23 folder. Structural problems (no `kits23.json`, invalid JSON) are errors;
/// a case whose label cannot be decided, or without a segmentation, is excluded with the
/// reason; a feature value that cannot be read is missing with a note (see [`crate::vocab`]).
pub fn load_kits23_with(dir: &Path, blank: BlankModifier) -> Result<Cohort> {
    let json_path = dir.join("kits23.json");
    let text = std::fs::read_to_string(&json_path).map_err(io_err(&json_path))?;
    let records: Vec<Value> = serde_json::from_str(&text).map_err(|e| CohortError::Json {
        path: json_path.clone(),
        detail: e.to_string(),
    })?;
    let mut cohort = Cohort {
        source: dir.display().to_string(),
        ..Default::default()
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        if let Some(id) = r["case_id"].as_str() {
            *seen.entry(id.to_string()).or_default() += 1;
        }
    }
    for (i, r) in records.iter().enumerate() {
        let Some(id) = r["case_id"].as_str() else {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: format!("record #{i}"),
                reason: format!("{}: record #{i} has no `case_id`", json_path.display()),
            });
            continue;
        };
        if let Err(reason) = crate::cohort::check_case_id(id) {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: format!("record #{i}"),
                reason: format!("{}: {reason}", json_path.display()),
            });
            continue;
        }
        if seen[id] > 1 {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: id.to_string(),
                reason: format!(
                    "duplicate case id: {} records in {}",
                    seen[id],
                    json_path.display()
                ),
            });
            continue;
        }
        let mut case = Case::new(id);
        let outcome = parse_record(r, &mut case).and_then(|()| case.label_from_histology(blank));
        if let Err(reason) = outcome {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: id.to_string(),
                reason: reason.to_string(),
            });
            continue;
        }
        let case_dir = dir.join("cases").join(id);
        let seg = case_dir.join("segmentation.nii.gz");
        if !seg.is_file() {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: id.to_string(),
                reason: format!("segmentation missing: {}", seg.display()),
            });
            continue;
        }
        case.images.mask = Some(seg);
        case.images.annotations = annotations(&case_dir.join("tumor_annotations"));
        cohort.cases.push(case);
    }
    for e in &cohort.excluded {
        tracing::warn!(case = %e.case, reason = %e.reason, "case excluded");
    }
    Ok(cohort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_names() {
        assert_eq!(
            parse_annotation_name("tumor_instance-2_annotation-3.nii.gz"),
            Some((2, 3))
        );
        assert_eq!(parse_annotation_name("segmentation.nii.gz"), None);
    }
}
