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

use crate::bhindi::Histology;
use crate::cohort::{Annotation, Case, Cohort};
use crate::error::{io_err, CohortError, Result};

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

/// Maps a categorical value through a table, `Err` naming the field for an unknown value.
fn category(field: &str, v: &Value, table: &[(&str, f64)]) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => table
            .iter()
            .find(|(k, _)| *k == s)
            .map(|(_, x)| Some(*x))
            .ok_or_else(|| format!("unknown value `{s}` for `{field}`")),
        other => Err(format!("unexpected value {other} for `{field}`")),
    }
}

const SMOKING: &[(&str, f64)] = &[
    ("never_smoked", 0.0),
    ("previous_smoker", 1.0),
    ("current_smoker", 2.0),
];
const CHEWING: &[(&str, f64)] = &[
    ("never_or_not_in_the_last_3_months", 0.0),
    ("quit_in_last_3_months", 1.0),
    ("currently_chews", 2.0),
];
const ALCOHOL: &[(&str, f64)] = &[
    ("never_or_not_in_the_last_3_months", 0.0),
    ("quit_in_last_3_months", 1.0),
    ("two_or_less_daily", 2.0),
    ("more_than_two_daily", 3.0),
];

/// Builds the clinical record and histology of one KiTS23 record.
fn parse_record(r: &Value, case: &mut Case) -> Result<(), String> {
    let c = &mut case.clinical;
    c.set("age", num(&r["age_at_nephrectomy"]))?;
    let sex = r["gender"].as_str();
    case.descriptive.sex = sex.map(str::to_string);
    c.set(
        "sex_male",
        match sex {
            Some("male") => Some(1.0),
            Some("female") => Some(0.0),
            _ => None,
        },
    )?;
    c.set("bmi", num(&r["bmi"]))?;
    if let Some(m) = r["comorbidities"].as_object() {
        for (k, v) in m {
            c.set(
                &format!("comorbidity_{k}"),
                boolean(v).map(|b| b as u8 as f64),
            )?;
        }
        let d1 = m.get("uncomplicated_diabetes_mellitus").and_then(boolean);
        let d2 = m
            .get("diabetes_mellitus_with_end_organ_damage")
            .and_then(boolean);
        let diabetes = match (d1, d2) {
            (Some(a), Some(b)) => Some((a || b) as u8 as f64),
            (Some(true), None) | (None, Some(true)) => Some(1.0),
            _ => None,
        };
        c.set("diabetes", diabetes)?;
    }
    c.set(
        "smoking_status",
        category("smoking_history", &r["smoking_history"], SMOKING)?,
    )?;
    c.set("pack_years", num(&r["pack_years"]))?;
    c.set(
        "chewing_tobacco",
        category("chewing_tobacco_use", &r["chewing_tobacco_use"], CHEWING)?,
    )?;
    c.set(
        "alcohol_use",
        category("alcohol_use", &r["alcohol_use"], ALCOHOL)?,
    )?;
    c.set("preop_egfr", num(&r["last_preop_egfr"]["value"]))?;
    c.set(
        crate::fields::RADIOGRAPHIC_SIZE_CM,
        num(&r["radiographic_size"]),
    )?;

    let grade = match &r["tumor_isup_grade"] {
        Value::Null => None,
        v => match num(v) {
            Some(g) if [1.0, 2.0, 3.0, 4.0].contains(&g) => Some(g as u8),
            Some(g) => return Err(format!("`tumor_isup_grade` = {g} is not 1-4")),
            None if v.as_str() == Some("na") => None,
            None => return Err(format!("`tumor_isup_grade` = {v} is not 1-4 or na")),
        },
    };
    let size = num(&r["pathologic_size"]);
    if let Some(s) = size {
        if !(0.0..=50.0).contains(&s) {
            return Err(format!("`pathologic_size` = {s} cm is not plausible"));
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

/// Loads a KiTS23 folder. Structural problems (no `kits23.json`, invalid JSON) are errors;
/// problems of one case exclude that case with the reason.
pub fn load_kits23(dir: &Path) -> Result<Cohort> {
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
        let outcome = parse_record(r, &mut case).and_then(|()| case.label_from_histology());
        if let Err(reason) = outcome {
            cohort.excluded.push(crate::cohort::Exclusion {
                case: id.to_string(),
                reason,
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
