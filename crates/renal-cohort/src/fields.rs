//! The leakage guard: which fields may become model features.
//!
//! Only pre-operative information may be a feature. [`ALLOWED`] lists every feature a cohort
//! can carry (with its unit and plausible range); a [`ClinicalRecord`] can only hold those.
//! [`check_feature`] answers for any requested name: allowed, or an error that names the field
//! and, for known post-operative, pathology, surgical or outcome fields, says why it leaks.
//! Missing values stay missing (`None`): imputation belongs to the learners, fit in-fold.

use std::collections::BTreeMap;

use crate::error::{CohortError, Result};

/// How a feature's value is encoded as a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A measurement with a plausible range (inclusive) and unit.
    Numeric {
        min: f64,
        max: f64,
        unit: &'static str,
    },
    /// 0 or 1.
    Binary,
    /// An ordered category: 0..=max.
    Ordinal { max: f64 },
}

/// One allow-listed pre-operative feature.
#[derive(Debug, Clone, Copy)]
pub struct FeatureSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub description: &'static str,
}

const fn num(
    name: &'static str,
    min: f64,
    max: f64,
    unit: &'static str,
    description: &'static str,
) -> FeatureSpec {
    FeatureSpec {
        name,
        kind: Kind::Numeric { min, max, unit },
        description,
    }
}
const fn bin(name: &'static str, description: &'static str) -> FeatureSpec {
    FeatureSpec {
        name,
        kind: Kind::Binary,
        description,
    }
}
const fn ord(name: &'static str, max: f64, description: &'static str) -> FeatureSpec {
    FeatureSpec {
        name,
        kind: Kind::Ordinal { max },
        description,
    }
}

/// The pre-operative allow-list: demographics, BMI, comorbidities, smoking, pack-years, alcohol,
/// tobacco, pre-operative eGFR and the radiographic tumor size.
pub const ALLOWED: &[FeatureSpec] = &[
    num("age", 0.0, 120.0, "years", "age at surgery (pre-operative)"),
    bin("sex_male", "1 = male, 0 = female"),
    num("bmi", 10.0, 100.0, "kg/m2", "body-mass index"),
    bin("diabetes", "diabetes mellitus (with or without end-organ damage)"),
    bin("hypertension", "arterial hypertension"),
    bin("symptoms", "symptomatic presentation (flank pain, hematuria, mass)"),
    bin("comorbidity_myocardial_infarction", "history of myocardial infarction"),
    bin("comorbidity_congestive_heart_failure", "congestive heart failure"),
    bin("comorbidity_peripheral_vascular_disease", "peripheral vascular disease"),
    bin("comorbidity_cerebrovascular_disease", "cerebrovascular disease"),
    bin("comorbidity_dementia", "dementia"),
    bin("comorbidity_copd", "chronic obstructive pulmonary disease"),
    bin("comorbidity_connective_tissue_disease", "connective tissue disease"),
    bin("comorbidity_peptic_ulcer_disease", "peptic ulcer disease"),
    bin("comorbidity_uncomplicated_diabetes_mellitus", "diabetes without end-organ damage"),
    bin("comorbidity_diabetes_mellitus_with_end_organ_damage", "diabetes with end-organ damage"),
    bin("comorbidity_chronic_kidney_disease", "chronic kidney disease"),
    bin("comorbidity_hemiplegia_from_stroke", "hemiplegia from stroke"),
    bin("comorbidity_leukemia", "leukemia"),
    bin("comorbidity_malignant_lymphoma", "malignant lymphoma"),
    bin("comorbidity_localized_solid_tumor", "other localized solid tumor"),
    bin("comorbidity_metastatic_solid_tumor", "metastatic solid tumor"),
    bin("comorbidity_mild_liver_disease", "mild liver disease"),
    bin("comorbidity_moderate_to_severe_liver_disease", "moderate to severe liver disease"),
    bin("comorbidity_aids", "AIDS"),
    ord("smoking_status", 2.0, "0 never, 1 former, 2 current smoker"),
    num("pack_years", 0.0, 300.0, "pack-years", "cumulative smoking"),
    ord("chewing_tobacco", 2.0, "0 never/not in last 3 months, 1 quit in last 3 months, 2 current"),
    ord("alcohol_use", 3.0, "0 never/not in last 3 months, 1 quit in last 3 months, 2 <= 2 drinks/day, 3 > 2 drinks/day"),
    num("preop_egfr", 0.0, 250.0, "ml/min/1.73m2", "last pre-operative eGFR"),
    num(RADIOGRAPHIC_SIZE_CM, 0.0, 40.0, "cm", "tumor size reported by the radiologist"),
];

/// Allow-listed fields that are a tumor size: a model takes them as its size input
/// (`size = "radiographic"`), never among its clinical features.
pub const SIZE_FIELDS: &[&str] = &[RADIOGRAPHIC_SIZE_CM];

/// The radiologist's tumor size, as the records hold it (cm).
pub const RADIOGRAPHIC_SIZE_CM: &str = "radiographic_size_cm";

/// Whether `name` is a size field (see [`SIZE_FIELDS`]).
pub fn is_size_field(name: &str) -> bool {
    SIZE_FIELDS.contains(&name)
}

/// Known fields that must never become features, with why. Names are raw KiTS23 keys (nested
/// keys with a dot) and common manifest column names.
pub const REFUSED: &[(&str, &str)] = &[
    ("malignant", "pathology"),
    ("pathologic_size", "pathology"),
    ("pathologic_size_cm", "pathology"),
    ("pathology_t_stage", "pathology"),
    ("pathology_n_stage", "pathology"),
    ("pathology_m_stage", "pathology"),
    ("tumor_histologic_subtype", "pathology"),
    ("histologic_subtype", "pathology"),
    ("tumor_necrosis", "pathology"),
    ("tumor_isup_grade", "pathology"),
    ("isup_grade", "pathology"),
    ("positive_resection_margins", "pathology"),
    ("sarcomatoid_features", "pathology"),
    ("rhabdoid_features", "pathology"),
    (
        "aua_risk_score",
        "pathology-derived (AUA risk group uses stage and grade)",
    ),
    ("label", "outcome"),
    ("vital_status", "outcome"),
    ("vital_days_after_surgery", "outcome"),
    ("surgery_type", "surgical"),
    ("surgical_approach", "surgical"),
    ("surgical_procedure", "surgical"),
    (
        "cytoreductive",
        "surgical (cytoreductive nephrectomy implies metastatic disease)",
    ),
    ("estimated_blood_loss", "intra-operative"),
    ("ischemia_time", "intra-operative"),
    ("operative_time", "intra-operative"),
    ("intraoperative_complications", "intra-operative"),
    ("hospitalization", "post-operative"),
    ("er_visit", "post-operative"),
    ("readmission", "post-operative"),
    ("clavien_surgical_complications", "post-operative"),
    ("first_postop_egfr", "post-operative"),
    ("last_postop_egfr", "post-operative"),
];

/// The spec of an allow-listed feature.
pub fn spec(name: &str) -> Option<&'static FeatureSpec> {
    ALLOWED.iter().find(|s| s.name == name)
}

/// Checks that `name` may be a feature: allow-listed, or an error naming the field (and the
/// category of information it would leak, for known fields).
pub fn check_feature(name: &str) -> Result<&'static FeatureSpec> {
    if let Some(s) = spec(name) {
        return Ok(s);
    }
    let root = name.split('.').next().unwrap_or(name);
    if let Some((_, category)) = REFUSED.iter().find(|(f, _)| *f == name || *f == root) {
        return Err(CohortError::LeakingField {
            field: name.to_string(),
            category,
        });
    }
    Err(CohortError::NotAllowed {
        field: name.to_string(),
        allowed: ALLOWED
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Pre-operative values of one case: allow-listed names only; `None` = missing.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ClinicalRecord {
    values: BTreeMap<&'static str, Option<f64>>,
}

impl ClinicalRecord {
    /// Sets a value after checking the name against the allow-list and the value against the
    /// feature's range; the error names the field and the value.
    pub fn set(&mut self, name: &str, value: Option<f64>) -> Result<(), crate::CaseError> {
        let s = check_feature(name)?;
        if let Some(v) = value {
            let ok = match s.kind {
                Kind::Numeric { min, max, .. } => v.is_finite() && (min..=max).contains(&v),
                Kind::Binary => v == 0.0 || v == 1.0,
                Kind::Ordinal { max } => v.fract() == 0.0 && (0.0..=max).contains(&v),
            };
            if !ok {
                let expected = match s.kind {
                    Kind::Numeric { min, max, unit } => format!("{min}..={max} {unit}"),
                    Kind::Binary => "0 or 1".into(),
                    Kind::Ordinal { max } => format!("an integer 0..={max}"),
                };
                return Err(crate::CaseError::Value {
                    field: name.to_string(),
                    value: v.to_string(),
                    expected: format!("plausible (expected {expected})"),
                });
            }
        }
        self.values.insert(s.name, value);
        Ok(())
    }

    /// The value of a feature; `None` when missing or not recorded.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied().flatten()
    }

    /// The radiologist's tumor size in mm (the record holds cm), when recorded.
    pub fn radiographic_size_mm(&self) -> Option<f64> {
        self.get(RADIOGRAPHIC_SIZE_CM).map(|cm| cm * 10.0)
    }

    /// Names recorded for this case (missing values included).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_accepts_preoperative_fields() {
        for s in ALLOWED {
            assert_eq!(check_feature(s.name).unwrap().name, s.name);
        }
        // Names are unique, so a spec cannot be shadowed by another of the same name.
        let mut names: Vec<&str> = ALLOWED.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALLOWED.len());
    }

    #[test]
    fn allowed_and_refused_names_are_disjoint() {
        for (refused, _) in REFUSED {
            assert!(
                ALLOWED.iter().all(|s| s.name != *refused),
                "`{refused}` is both allowed and refused"
            );
        }
    }

    #[test]
    fn every_refused_field_is_refused_by_name_with_its_category() {
        for (f, category) in REFUSED {
            for name in [f.to_string(), format!("{f}.value")] {
                let e = check_feature(&name).unwrap_err();
                match &e {
                    CohortError::LeakingField { field, category: c } => {
                        assert_eq!(field, &name);
                        assert_eq!(c, category);
                    }
                    other => panic!("{name}: expected a leaking-field error, got {other}"),
                }
                assert!(e.to_string().contains(&format!("`{name}`")), "{e}");
            }
        }
        // The fields KiTS23 carries that leak the label, named in docs/data.md (leakage guard).
        for f in [
            "aua_risk_score",
            "cytoreductive",
            "surgical_procedure",
            "surgery_type",
        ] {
            assert!(REFUSED.iter().any(|(r, _)| r == &f), "{f} not refused");
        }
        // A name on neither list is refused too, as not allowed.
        assert!(matches!(
            check_feature("favourite_colour"),
            Err(CohortError::NotAllowed { .. })
        ));
        assert!(check_feature("favourite_colour")
            .unwrap_err()
            .to_string()
            .contains("favourite_colour"));
    }

    #[test]
    fn absurd_values_are_rejected_with_the_field() {
        let mut r = ClinicalRecord::default();
        assert!(r
            .set("age", Some(400.0))
            .unwrap_err()
            .to_string()
            .contains("`age` = 400"));
        assert!(r
            .set("bmi", Some(-3.0))
            .unwrap_err()
            .to_string()
            .contains("`bmi` = -3"));
        assert!(r.set("bmi", Some(f64::NAN)).is_err());
        assert!(r.set("sex_male", Some(2.0)).is_err());
        assert!(r.set("pathologic_size", Some(3.0)).is_err());
        r.set("bmi", None).unwrap();
        r.set("age", Some(61.0)).unwrap();
        assert_eq!(r.get("bmi"), None);
        assert_eq!(r.get("age"), Some(61.0));
    }
}
