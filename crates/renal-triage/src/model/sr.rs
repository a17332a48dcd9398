//! A prediction as a DICOM Comprehensive SR (`predict --sr`), shaped as a TID 1500 imaging
//! measurement report: the device observer (this tool and the model), one measurement group
//! for the renal mass with its largest axial diameter (SNOMED CT "Diameter", mm), the class
//! probabilities, the thresholds and the decisions in words. Concepts with no standard code
//! (the class probabilities, the model's thresholds) use the private coding scheme
//! `99RTRIAGE`, as DICOM allows for local concepts.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use renal_imaging::dicom::sr::{write_sr, Code, Document, Item, Value};

use crate::model::bundle::Bundle;
use crate::model::predict::Prediction;

fn item(relationship: &'static str, concept: Code, value: Value) -> Item {
    Item {
        relationship,
        concept,
        value,
    }
}

/// A code of this tool's private scheme. A Code Value is an SH (at most 16 characters): a
/// longer value becomes its first 7 characters and a 9-digit FNV hash of the whole, so that
/// it stays unique and recognisable.
fn private(value: &str, meaning: &str) -> Code {
    if value.len() <= 16 {
        return Code::new(value, "99RTRIAGE", meaning);
    }
    let h = value.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let short = format!("{}{:09}", &value[..7], h % 1_000_000_000);
    Code::new(&short, "99RTRIAGE", meaning)
}

/// A threshold's code: `THR-` and the task's initials (`THR-MVB` for malignant_vs_benign).
fn threshold_code(task: &str) -> String {
    let initials: String = task
        .split('_')
        .filter_map(|w| w.chars().next())
        .collect::<String>()
        .to_ascii_uppercase();
    format!("THR-{initials}")
}

/// A UID under the `2.25` root (a 128-bit random number, PS3.5 B.2), seeded from the clock
/// and the process.
fn uid(salt: u64) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut rng = renal_stats::Rng::new((t as u64) ^ ((std::process::id() as u64) << 32) ^ salt);
    let hi = (rng.f64() * 2f64.powi(53)) as u128;
    let lo = (rng.f64() * 2f64.powi(53)) as u128;
    format!("2.25.{}", (hi << 53) | lo)
}

/// Today's date and time (UTC) as DICOM `DA` and `TM`.
fn now() -> (String, String) {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, secs) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60),
    )
}

/// Each decision tied to its task and its threshold (the chosen operating point's, then the
/// study's), and the inputs imputed or outside the training range.
fn decisions_and_warnings(p: &Prediction) -> Vec<Item> {
    let unitless = || Code::new("1", "UCUM", "no units");
    let mut g = Vec::new();
    for d in p.operating_decisions.iter().chain(&p.decisions) {
        let study = d.kind == crate::model::predict::DecisionKind::Study;
        let (suffix, whose) = if study {
            ("-Y", "study's Youden")
        } else {
            ("", "operating point")
        };
        // A Code Meaning is an LO: at most 64 characters.
        let question = match d.task {
            renal_cohort::Task::MalignantVsBenign => "malignant vs benign",
            renal_cohort::Task::AggressiveVsRest => "aggressive vs rest",
            renal_cohort::Task::AggressiveVsIndolent => "aggressive vs indolent",
        };
        let task = d.task.name();
        if let Some(t) = d.threshold {
            g.push(item(
                "CONTAINS",
                private(
                    &format!("{}{suffix}", threshold_code(task)),
                    &format!("Threshold, {question}, {whose}"),
                ),
                Value::Num(t, unitless()),
            ));
        }
        g.push(item(
            "CONTAINS",
            private(
                &format!("DEC-{}{suffix}", &threshold_code(task)[4..]),
                &format!("Decision, {question}, {whose}"),
            ),
            Value::Text(d.statement.clone()),
        ));
    }
    if !p.imputed.is_empty() {
        g.push(item(
            "CONTAINS",
            private("IMPUTED", "Inputs missing, replaced by the training median"),
            Value::Text(format!(
                "{} of the model's inputs: {}",
                p.imputed_count,
                crate::model::predict::input_words(&p.imputed).join(", ")
            )),
        ));
    }
    if !p.out_of_range.is_empty() {
        let names: Vec<String> = p.out_of_range.iter().map(|o| o.feature.clone()).collect();
        g.push(item(
            "CONTAINS",
            private("OUT-OF-RANGE", "Inputs outside the training range"),
            Value::Text(format!(
                "extrapolation, interpret with care: {}",
                crate::model::predict::input_words(&names).join(", ")
            )),
        ));
    }
    g
}

/// The measurement group of the renal mass.
fn group(bundle: &Bundle, p: &Prediction) -> Vec<Item> {
    let unitless = || Code::new("1", "UCUM", "no units");
    let mut g = vec![
        item(
            "HAS OBS CONTEXT",
            Code::new("112039", "DCM", "Tracking Identifier"),
            Value::Text("renal mass".into()),
        ),
        item(
            "CONTAINS",
            Code::new("121071", "DCM", "Finding"),
            Value::Code(Code::new("126880001", "SCT", "Neoplasm of kidney")),
        ),
    ];
    g.push(item(
        "CONTAINS",
        private("TRIAGE", "Triage call"),
        Value::Text(format!("{} ({})", p.triage.headline, p.triage.reason)),
    ));
    if let Some(set) = &p.prediction_set {
        g.push(item(
            "CONTAINS",
            private(
                "PRED-SET",
                &format!(
                    "Prediction set at {:.0}% coverage (split-conformal)",
                    set.coverage * 100.0
                ),
            ),
            Value::Text(set.words.clone()),
        ));
    }
    if let Some(s) = p.tumor_size_mm {
        // Reported to 0.1 mm: the mask's voxels do not support more.
        g.push(item(
            "CONTAINS",
            Code::new("81827009", "SCT", "Diameter"),
            Value::Num(
                (s * 10.0).round() / 10.0,
                Code::new("mm", "UCUM", "millimeter"),
            ),
        ));
    }
    for (v, meaning, x) in [
        ("P-BENIGN", "Probability of benign", p.p_benign),
        (
            "P-INDOLENT",
            "Probability of malignant-indolent",
            p.p_indolent,
        ),
        (
            "P-AGGRESSIVE",
            "Probability of malignant-aggressive",
            p.p_aggressive,
        ),
        ("P-MALIGNANT", "Probability of malignant", p.p_malignant),
    ] {
        g.push(item(
            "CONTAINS",
            private(v, meaning),
            Value::Num(x, unitless()),
        ));
    }
    g.extend(decisions_and_warnings(p));
    let m = &bundle.manifest;
    let cv: Vec<String> =
        m.cv.iter()
            .map(|c| format!("{} AUC {:.3}", c.task.words(), c.auc))
            .collect();
    g.push(item(
        "CONTAINS",
        private("MODEL", "Model"),
        Value::Text(format!(
            "{}; trained on {} cases; cross-validated {}; research use only, not a medical device",
            m.model_name,
            m.training.cases,
            cv.join(", ")
        )),
    ));
    g
}

/// The DICOM inputs among `sources` (a series folder, a multi-frame file, a SEG or RTSTRUCT
/// mask), as the SR's evidence.
fn evidence_of(
    sources: &[std::path::PathBuf],
) -> renal_imaging::Result<Vec<renal_imaging::dicom::sr::Evidence>> {
    let mut evidence = Vec::new();
    for s in sources {
        let dicom = if s.is_dir() {
            std::fs::read_dir(s)
                .ok()
                .and_then(|mut d| d.find_map(|e| e.ok()))
                .is_some_and(|e| renal_imaging::dicom::mask::is_dicom(&e.path()))
        } else {
            renal_imaging::dicom::mask::is_dicom(s)
        };
        if dicom {
            evidence.push(renal_imaging::dicom::sr::evidence(s)?);
        }
    }
    Ok(evidence)
}

/// Where an SR files when its inputs are not DICOM (`predict --study-uid`, `--patient-id`).
#[derive(Debug, Clone, Default)]
pub struct SrPlacement {
    pub study_uid: Option<String>,
    pub patient_id: Option<String>,
}

/// A UID or a Patient ID given by a person that the SR cannot hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SrFieldError {
    #[error("`{0}` is not a DICOM UID (digits and dots, no leading zeros, at most 64 characters)")]
    Uid(String),
    #[error(
        "`{0}` is not a DICOM Patient ID (1-64 characters, no backslash or control character)"
    )]
    PatientId(String),
}

/// Checks a UID given by a person: digits and dots, components without leading zeros, at
/// most 64 characters (PS3.5 9.1).
pub fn check_uid(uid: &str) -> Result<(), SrFieldError> {
    let ok = !uid.is_empty()
        && uid.len() <= 64
        && uid.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        });
    if ok {
        Ok(())
    } else {
        Err(SrFieldError::Uid(uid.escape_debug().to_string()))
    }
}

/// Checks a Patient ID given by a person: an LO (at most 64 characters, no backslash or
/// control character).
pub fn check_patient_id(id: &str) -> Result<(), SrFieldError> {
    if id.trim().is_empty()
        || id.chars().count() > 64
        || id.chars().any(|c| c == '\\' || c.is_control())
    {
        return Err(SrFieldError::PatientId(id.escape_debug().to_string()));
    }
    Ok(())
}

/// Writes the prediction's SR to `path`. `sources` are the patient's input images: those
/// that are DICOM (a series folder, a multi-frame file, a SEG or RTSTRUCT mask) become the
/// document's evidence, and the SR joins their study, with their patient module copied.
/// Otherwise `place` sets the study and the patient ID (the case id when none is given). A
/// placement that contradicts the DICOM inputs is an error.
pub fn write_prediction_sr(
    path: &Path,
    bundle: &Bundle,
    p: &Prediction,
    sources: &[std::path::PathBuf],
    place: &SrPlacement,
) -> renal_imaging::Result<()> {
    let evidence = evidence_of(sources)?;
    let (date, time) = now();
    let content = vec![
        item(
            "HAS CONCEPT MOD",
            Code::new("121049", "DCM", "Language of Content Item and Descendants"),
            Value::Code(Code::new("en-US", "RFC5646", "English (United States)")),
        ),
        item(
            "HAS OBS CONTEXT",
            Code::new("121005", "DCM", "Observer Type"),
            Value::Code(Code::new("121007", "DCM", "Device")),
        ),
        item(
            "HAS OBS CONTEXT",
            Code::new("121013", "DCM", "Device Observer Name"),
            Value::Text(format!("renal-triage {}", env!("CARGO_PKG_VERSION"))),
        ),
        item(
            "HAS OBS CONTEXT",
            Code::new("121015", "DCM", "Device Observer Model Name"),
            Value::Text(bundle.manifest.model_name.clone()),
        ),
        item(
            "CONTAINS",
            Code::new("126010", "DCM", "Imaging Measurements"),
            Value::Container(vec![item(
                "CONTAINS",
                Code::new("125007", "DCM", "Measurement Group"),
                Value::Container(group(bundle, p)),
            )]),
        ),
    ];
    let contradiction = |what: &str, given: &str, found: &str| {
        renal_imaging::ImagingError::Format {
            path: path.to_path_buf(),
            detail: format!(
                "--{what} {given} contradicts the DICOM inputs, whose {what} is {found}: the SR joins their study; leave --{what} out"
            ),
        }
    };
    if let Some(e) = evidence.first() {
        if let Some(s) = place.study_uid.as_deref().filter(|s| *s != e.study_uid) {
            return Err(contradiction("study-uid", s, &e.study_uid));
        }
        if let Some(id) = place.patient_id.as_deref().filter(|id| *id != e.patient[1]) {
            return Err(contradiction("patient-id", id, &e.patient[1]));
        }
    }
    let patient = match evidence.first() {
        Some(e) => e.patient.clone(),
        None => [
            String::new(),
            place
                .patient_id
                .clone()
                .or_else(|| p.case_id.clone())
                .unwrap_or_default(),
            String::new(),
            String::new(),
        ],
    };
    let study_uid = evidence
        .first()
        .map(|e| e.study_uid.clone())
        .or_else(|| place.study_uid.clone())
        .unwrap_or_else(|| uid(1));
    let doc = Document {
        patient,
        study_uid,
        series_uid: uid(2),
        sop_uid: uid(3),
        date,
        time,
        series_description: "renal-triage prediction".into(),
        title: Code::new("126000", "DCM", "Imaging Measurement Report"),
        template: "1500".into(),
        content,
        evidence,
    };
    write_sr(path, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_code_values_fit_an_sh() {
        assert_eq!(threshold_code("malignant_vs_benign"), "THR-MVB");
        assert_eq!(threshold_code("aggressive_vs_rest"), "THR-AVR");
        let long = private("A-VERY-LONG-CODE-VALUE", "x");
        assert_eq!(long.value.len(), 16);
        assert!(long.value.starts_with("A-VERY-"));
        assert_ne!(long.value, private("A-VERY-LONG-CODE-VALUF", "x").value);
        assert_eq!(private("P-BENIGN", "x").value, "P-BENIGN");
    }

    #[test]
    fn uids_and_patient_ids_given_by_a_person_are_checked() {
        assert!(check_uid("1.2.826.0.1.3680043.2.1125").is_ok());
        for bad in ["", "1..2", "1.02", "1.2a", &"1".repeat(65)] {
            assert!(check_uid(bad).is_err(), "{bad}");
        }
        assert!(check_patient_id("case_00042").is_ok());
        for bad in ["", "a\\b", "a\nb", &"x".repeat(65)] {
            assert!(check_patient_id(bad).is_err(), "{bad:?}");
        }
    }
}
