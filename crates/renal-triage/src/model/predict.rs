//! Applying a bundle to one new patient: clinical values plus a mask, to calibrated class
//! probabilities, decisions at the CV thresholds, and honest warnings (imputed inputs, inputs
//! outside the training range).

use std::collections::BTreeMap;
use std::path::PathBuf;

use renal_cohort::{check_feature, ClinicalRecord, Task};
use renal_imaging::{measure_segmentation, CaseMeasurements, LabelScheme, LabelVolume};
use renal_learn::Matrix;
use serde::{Deserialize, Serialize};

use crate::engine::experiment::EMBEDDING_PREFIX;
pub use crate::engine::features::input_words;
use crate::engine::features::shape_value;
use crate::engine::tasks::score;
use crate::model::bundle::{Bundle, CvSummary, FeatureKind, StoredOperatingPoint};
pub use crate::model::error::{input_err, InputError, PredictError};
use crate::model::image::{patient_image, Embedder, ImageSummary, OneShot};
use crate::model::mask::{patient_mask, MaskInput};
use crate::model::triage::{triage, Triage};

/// One patient's inputs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    #[serde(default)]
    pub case_id: Option<String>,
    /// Pre-operative values by feature name (numbers; `sex` may be "male"/"female"). A name
    /// given twice is refused (JSON lets the last one win without a word).
    #[serde(default, deserialize_with = "unique_keys")]
    pub clinical: BTreeMap<String, serde_json::Value>,
    /// Segmentation or tumor mask (NIfTI, NRRD, MetaImage, or a DICOM SEG / RTSTRUCT rebuilt
    /// on the CT series it references: one of `ct`, or a folder beside it).
    #[serde(default)]
    pub mask: Option<PathBuf>,
    /// The mask already decoded (the Python package's array), instead of `mask`; read with
    /// `label_map` as a file would be. Never part of the JSON.
    #[serde(skip)]
    pub mask_labels: Option<LabelVolume>,
    /// Which mask labels or segments are the kidney, tumor and cyst (`kidney=1,tumor=2`, or
    /// segment names); default: KiTS23's values, or the segments' names.
    #[serde(default)]
    pub label_map: Option<renal_imaging::LabelMap>,
    /// CT phases by name (`arterial`, `venous`, ...: NIfTI, NRRD/MHA or a DICOM series
    /// folder), for an image model trained on CT.
    #[serde(default, deserialize_with = "unique_keys")]
    pub ct: BTreeMap<String, PathBuf>,
    /// CT phases already decoded (the Python package's arrays), besides `ct`. Never part of
    /// the JSON.
    #[serde(skip)]
    pub ct_decoded: BTreeMap<String, renal_imaging::Volume<f32>>,
    /// A study in the hospital's archive whose CT and segmentation are the images: retrieved
    /// by a server started with `--pacs` (then `mask` and `ct` are its files); refused where
    /// no archive is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_uid: Option<String>,
}

/// A JSON object as a map, refusing a key given twice (serde_json keeps the last one).
pub(crate) fn unique_keys<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: serde::Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let mut m = BTreeMap::new();
            while let Some(k) = a.next_key::<String>()? {
                if m.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "`{}` is given twice; give each value once",
                        k.escape_debug()
                    )));
                }
                let v = a.next_value()?;
                m.insert(k, v);
            }
            Ok(m)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

/// A clinical record's JSON text that is not an object of name: value (or names one twice).
#[derive(Debug, thiserror::Error)]
#[error("malformed JSON: {0}")]
pub struct MalformedJson(#[from] serde_json::Error);

/// A clinical record as JSON text (an object of name: value), a name given twice refused.
pub fn parse_clinical_json(
    text: &str,
) -> Result<BTreeMap<String, serde_json::Value>, MalformedJson> {
    let mut de = serde_json::Deserializer::from_str(text);
    let m = unique_keys(&mut de)?;
    de.end()?;
    Ok(m)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub task: Task,
    /// The task in words.
    pub question: String,
    /// Which threshold: `study` (the study's Youden threshold) or `operating_point`.
    pub kind: DecisionKind,
    /// The rule that chose the threshold (`youden`, `sens:0.95`, ...).
    pub rule: String,
    pub threshold: Option<f64>,
    pub probability: f64,
    /// `probability >= threshold`; None without a threshold.
    pub positive: Option<bool>,
    pub statement: String,
    /// What the threshold did in development, in words (operating points).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
}

/// Whose threshold a decision applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The study's: the mean inner-fold Youden threshold.
    Study,
    /// Chosen for the clinical question (`train --operating-point`).
    OperatingPoint,
}

/// A prediction set in words and codes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionSet {
    /// Its coverage: a case of any class is in its set with at least this probability.
    pub coverage: f64,
    /// The classes in the set (`benign`, `indolent`, `aggressive`).
    pub classes: Vec<&'static str>,
    /// The same in words.
    pub words: String,
    /// The set as flags (benign, indolent, aggressive).
    #[serde(skip)]
    pub flags: [bool; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfRange {
    pub feature: String,
    pub value: f64,
    pub train_min: Option<f64>,
    pub train_max: Option<f64>,
}

/// The answer for one patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub case_id: Option<String>,
    pub model: String,
    /// The triage call: the headline of every surface.
    pub triage: Triage,
    /// The classes the model cannot rule out at the bundle's coverage (split-conformal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_set: Option<PredictionSet>,
    /// How many of the model's inputs were missing and imputed, and which (in words).
    pub imputed_count: usize,
    /// Inputs that were missing and imputed with the training median.
    pub imputed: Vec<String>,
    /// Inputs outside the range seen in training (extrapolation).
    pub out_of_range: Vec<OutOfRange>,
    pub summary: String,
    pub p_benign: f64,
    pub p_indolent: f64,
    pub p_aggressive: f64,
    pub p_malignant: f64,
    pub p_aggressive_vs_rest: f64,
    /// The decisions at the operating points chosen for the clinical question (those the
    /// triage call uses).
    pub operating_decisions: Vec<Decision>,
    /// The study's decisions, each task at its own Youden threshold (for comparison with the
    /// publication; they may disagree with each other, the triage call never does).
    pub decisions: Vec<Decision>,
    pub tumor_size_mm: Option<f64>,
    pub cv: Vec<CvSummary>,
    /// What the image model saw (image models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSummary>,
    /// The image input itself (for a preview), not serialised.
    #[serde(skip)]
    pub slice: Option<renal_imaging::CaseImage>,
}

/// The clinical inputs a bundle takes, by the names a person gives them (`sex` for
/// `sex_male`, `radiographic_size_cm` for the radiologist's size, `diabetes` for either
/// diabetes field).
pub fn input_names(bundle: &Bundle) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &bundle.manifest.features {
        let name = match f.kind {
            FeatureKind::Clinical if f.name == "sex_male" => "sex",
            FeatureKind::Clinical if DIABETES_FIELDS.contains(&f.name.as_str()) => "diabetes",
            FeatureKind::Clinical => f.name.as_str(),
            FeatureKind::RadiographicSize => renal_cohort::RADIOGRAPHIC_SIZE_CM,
            _ => continue,
        };
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The diabetes fields one `diabetes` answer fills: any diabetes, without and with end-organ
/// damage.
pub const DIABETES_FIELDS: [&str; 3] = [
    "diabetes",
    "comorbidity_uncomplicated_diabetes_mellitus",
    "comorbidity_diabetes_mellitus_with_end_organ_damage",
];

/// The detailed diabetes answers (besides yes/no/unknown): the value of each of
/// [`DIABETES_FIELDS`].
pub const DIABETES_DETAIL: [(&str, &str, [f64; 3]); 2] = [
    (
        "without_end_organ_damage",
        "yes, without end-organ damage",
        [1.0, 1.0, 0.0],
    ),
    (
        "with_end_organ_damage",
        "yes, with end-organ damage",
        [1.0, 0.0, 1.0],
    ),
];

/// A JSON value as the text a person typed (numbers and booleans as their codes).
fn value_text(name: &str, v: &serde_json::Value) -> Result<String, InputError> {
    match v {
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        // true/false only for a yes/no field: `{"age": true}` is an error, not age 1.
        serde_json::Value::Bool(b)
            if renal_cohort::words::levels(name) == Some(renal_cohort::words::YES_NO) =>
        {
            Ok((*b as u8).to_string())
        }
        serde_json::Value::String(s) => Ok(s.clone()),
        other => Err(input_err(
            name,
            format!(
                "{other} is not a value of `{name}`: expected {}",
                renal_cohort::words::accepted(name)
            ),
        )),
    }
}

/// Refuses a name the bundle does not take: a leaking field by its category, an unknown one
/// with a "did you mean", an allow-listed one the model does not use with the list it does.
/// `used` are the names a person gives ([`input_names`]); the model's own names are accepted
/// too (`sex_male`, a diabetes field it takes).
fn check_input_name(name: &str, used: &[String], own: &[String]) -> Result<(), InputError> {
    if used.iter().any(|u| u == name) || own.iter().any(|u| u == name) {
        return Ok(());
    }
    let uses = if used.is_empty() {
        "this model takes no clinical value".to_string()
    } else {
        format!("this model's clinical inputs are: {}", used.join(", "))
    };
    let allowed = name == "sex" || renal_cohort::fields::spec(name).is_some();
    if !allowed {
        if let Err(e @ renal_cohort::CohortError::LeakingField { .. }) = check_feature(name) {
            return Err(input_err(name, e.to_string()));
        }
        let names: Vec<&str> = used
            .iter()
            .map(String::as_str)
            .chain(renal_cohort::ALLOWED.iter().map(|s| s.name))
            .collect();
        let hint = renal_cohort::words::did_you_mean(name, &names)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        return Err(input_err(
            name,
            format!("`{name}` is not a known input{hint}; {uses}"),
        ));
    }
    Err(input_err(
        name,
        format!("`{name}` ({}) is not used by this model, so it would be ignored; leave it out ({uses})", renal_cohort::words::label(name)),
    ))
}

/// Validates the clinical inputs against the bundle: every name one the model uses (an
/// unknown or unused one is an error naming it), every value a number in range or a word of
/// the field's vocabulary (codes accepted; empty or "unknown" is missing).
pub fn clinical_record(
    bundle: &Bundle,
    input: &PatientInput,
) -> Result<ClinicalRecord, InputError> {
    let own: Vec<String> = bundle
        .manifest
        .features
        .iter()
        .filter(|f| f.kind == FeatureKind::Clinical)
        .map(|f| f.name.clone())
        .collect();
    clinical_record_for(&input_names(bundle), &own, input)
}

/// [`clinical_record`] for a model whose clinical inputs are `used` (see [`input_names`]) and,
/// by its own names, `own`.
pub fn clinical_record_for(
    used: &[String],
    own: &[String],
    input: &PatientInput,
) -> Result<ClinicalRecord, InputError> {
    let mut rec = ClinicalRecord::default();
    for (name, v) in &input.clinical {
        check_input_name(name, used, own)?;
        let text = value_text(name, v)?;
        if name == "diabetes" {
            let norm = text.trim().to_lowercase().replace([' ', '-', ','], "_");
            if let Some((_, _, values)) = DIABETES_DETAIL
                .iter()
                .find(|(w, _, _)| norm.trim_start_matches("yes_") == *w)
            {
                for (f, x) in DIABETES_FIELDS.iter().zip(values) {
                    rec.set(f, Some(*x)).map_err(|m| input_err(name, m))?;
                }
                continue;
            }
        }
        let field = if name == "sex" {
            "sex_male"
        } else {
            name.as_str()
        };
        let x = renal_cohort::words::parse_input(field, &text).map_err(|m| {
            let m = if name == "diabetes" {
                format!("{m}; or {}", DIABETES_DETAIL.map(|(w, _, _)| w).join(", "))
            } else {
                m.to_string()
            };
            input_err(name, m)
        })?;
        rec.set(field, x).map_err(|m| input_err(name, m))?;
        // "no" (or unknown) diabetes says the same of its two kinds.
        if name == "diabetes" && x != Some(1.0) {
            for f in &DIABETES_FIELDS[1..] {
                rec.set(f, x).map_err(|m| input_err(name, m))?;
            }
        }
    }
    Ok(rec)
}

/// Measures the decoded mask (the index tumor's largest axial diameter, its shape).
fn measure_mask(
    input: &PatientInput,
    (labels, scheme): &(LabelVolume, LabelScheme),
) -> Result<CaseMeasurements, PredictError> {
    let what = input
        .case_id
        .clone()
        .unwrap_or_else(|| "uploaded mask".into());
    measure_segmentation(labels, *scheme, &what)
        .map_err(|e| PredictError::Input(input_err("mask", e.to_string())))
}

/// The model's input row, with the inputs that were imputed or outside the training range.
struct Row {
    values: Vec<f64>,
    imputed: Vec<String>,
    out_of_range: Vec<OutOfRange>,
}

fn input_row(
    bundle: &Bundle,
    rec: &ClinicalRecord,
    meas: Option<&CaseMeasurements>,
    embedding: Option<&[f64]>,
) -> Result<Row, PredictError> {
    let tumor_size_mm = meas.map(|m| m.index_tumor().axial_diameter_mm);
    let m = &bundle.manifest;
    let mut row = Row {
        values: Vec::with_capacity(m.features.len()),
        imputed: Vec::new(),
        out_of_range: Vec::new(),
    };
    for f in &m.features {
        let v = match f.kind {
            FeatureKind::Size => {
                tumor_size_mm.map(|s| if m.log_size { s.max(1e-3).ln() } else { s })
            }
            FeatureKind::RadiographicSize => {
                rec.radiographic_size_mm()
                    .map(|s| if m.log_size { s.max(1e-3).ln() } else { s })
            }
            FeatureKind::Clinical => rec.get(&f.name),
            FeatureKind::Shape => meas.and_then(|m| shape_value(m, &f.name)),
            FeatureKind::Embedding => {
                let j = f
                    .name
                    .strip_prefix(EMBEDDING_PREFIX)
                    .and_then(|c| c.strip_prefix('f'))
                    .and_then(|j| j.parse::<usize>().ok());
                let v = j.and_then(|j| embedding.and_then(|e| e.get(j)).copied());
                if v.is_none() {
                    return Err(PredictError::Model(format!(
                        "input {}: the encoder gave no such feature",
                        f.name
                    )));
                }
                v
            }
        };
        match v {
            None => {
                row.imputed.push(f.name.clone());
                row.values.push(f64::NAN);
            }
            Some(x) => {
                // An image embedding made for one patient may differ from the training batch's
                // by about 1e-7 (another batch through the same network): a training case at
                // the edge of the range is not an extrapolation. Other features compare exactly.
                let slack = if f.kind == FeatureKind::Embedding {
                    let (lo, hi) = (f.train_min.unwrap_or(0.0), f.train_max.unwrap_or(0.0));
                    1e-5 * (hi - lo).abs().max(lo.abs()).max(hi.abs())
                } else {
                    0.0
                };
                if f.train_min.is_some_and(|lo| x < lo - slack)
                    || f.train_max.is_some_and(|hi| x > hi + slack)
                {
                    row.out_of_range.push(OutOfRange {
                        feature: f.name.clone(),
                        value: x,
                        train_min: f.train_min,
                        train_max: f.train_max,
                    });
                }
                row.values.push(x);
            }
        }
    }
    Ok(row)
}

/// The decision of one task at its CV threshold, on the same score the threshold was
/// learned on (`tasks::score`), with `>=` as in the CV's confusion counts.
pub fn decision(task: Task, threshold: Option<f64>, proba: &[f64; 3]) -> Decision {
    let prob = score(task, proba);
    let positive = threshold.map(|th| prob >= th);
    let what = match task {
        Task::MalignantVsBenign => "malignant",
        Task::AggressiveVsRest | Task::AggressiveVsIndolent => "aggressive",
    };
    let statement = match (positive, threshold) {
        (Some(true), Some(th)) => format!("P({what}) = {prob:.2} is at or above the study's threshold {th:.2} (Youden, from cross-validation): classified {what} by the study's rule."),
        (Some(false), Some(th)) => format!("P({what}) = {prob:.2} is below the study's threshold {th:.2} (Youden, from cross-validation): not classified {what} by the study's rule."),
        _ => format!("P({what}) = {prob:.2}; no threshold was available."),
    };
    Decision {
        task,
        question: task.words().to_string(),
        kind: DecisionKind::Study,
        rule: "youden".into(),
        threshold,
        probability: prob,
        positive,
        statement,
        meaning: None,
    }
}

/// A clause as a sentence: its first letter upper-case ("in development, ..." becomes "In
/// development, ..."; "no threshold could be learned in development" keeps its last words).
fn sentence(clause: &str) -> String {
    let mut c = clause.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The study's decision of a task, with what its Youden threshold did under nested CV (the
/// bundle's CV summary), in words.
fn study_decision(
    bundle: &Bundle,
    task: Task,
    threshold: Option<f64>,
    proba: &[f64; 3],
) -> Decision {
    let mut d = decision(task, threshold, proba);
    if let Some(c) = bundle.manifest.cv.iter().find(|c| c.task == task) {
        if d.threshold.is_some() && c.sensitivity.is_some() {
            let meaning = crate::engine::metrics::flagged_words(task, c.sensitivity, c.specificity);
            d.statement.push_str(&format!(" ({}.)", sentence(&meaning)));
            d.meaning = Some(meaning);
        }
    }
    d
}

/// The decision of a task at its stored operating point, with what the threshold did in
/// development, in words.
fn operating_decision(op: &StoredOperatingPoint, proba: &[f64; 3]) -> Decision {
    let mut d = decision(op.task, op.threshold, proba);
    let what = match op.task {
        Task::MalignantVsBenign => "malignant",
        _ => "aggressive",
    };
    let meaning = op
        .cv
        .as_ref()
        .map(|c| c.in_words(op.task))
        .unwrap_or_else(|| "no cross-validated estimate of this threshold is stored".into());
    d.kind = DecisionKind::OperatingPoint;
    d.rule = op.rule.to_string();
    d.statement = match (d.positive, op.threshold) {
        (Some(p), Some(th)) => format!(
            "P({what}) = {:.2} is {} the threshold {th:.2}, chosen for {}: {}{what}. ({}.)",
            d.probability,
            if p { "at or above" } else { "below" },
            op.rule.describe(),
            if p { "" } else { "not " },
            sentence(&meaning),
        ),
        _ => format!(
            "P({what}) = {:.2}; no threshold was available.",
            d.probability
        ),
    };
    d.meaning = Some(meaning);
    d
}

/// The prediction set at the bundle's default coverage, when the bundle has a conformal step.
fn prediction_set(bundle: &Bundle, proba: &[f64; 3]) -> Option<PredictionSet> {
    let level = bundle.manifest.conformal.as_ref()?.level(None)?;
    let flags = level.set(proba);
    Some(PredictionSet {
        coverage: level.coverage,
        classes: (0..3)
            .filter(|&k| flags[k])
            .map(|k| ["benign", "indolent", "aggressive"][k])
            .collect(),
        words: crate::engine::conformal::set_words(&flags),
        flags,
    })
}

/// The operating-point threshold of a task: the stored operating point, or the study's
/// threshold for a bundle written before them.
fn triage_threshold(bundle: &Bundle, task: Task) -> Option<f64> {
    let m = &bundle.manifest;
    match m.operating_points.iter().find(|o| o.task == task) {
        Some(o) => o.threshold,
        None => m
            .thresholds
            .iter()
            .find(|(t, _)| *t == task)
            .and_then(|(_, th)| *th),
    }
}

fn summary(triage: &Triage, set: Option<&PredictionSet>, row: &Row) -> String {
    let mut summary = format!("Triage call: {}.", triage.headline);
    if let Some(s) = set {
        summary.push_str(&format!(
            " At {:.0}% coverage the model cannot rule out: {}.",
            s.coverage * 100.0,
            s.words
        ));
    }
    if !row.imputed.is_empty() {
        summary.push_str(&format!(
            " {} of the model's inputs were missing and replaced by the training median: {}.",
            row.imputed.len(),
            input_words(&row.imputed).join(", ")
        ));
    }
    if !row.out_of_range.is_empty() {
        let names: Vec<String> = row.out_of_range.iter().map(|o| o.feature.clone()).collect();
        summary.push_str(&format!(
            " Outside the training range (extrapolation, interpret with care): {}.",
            input_words(&names).join(", ")
        ));
    }
    summary
}

/// Predicts for one patient (an image model's encoder started for this call).
pub fn predict(bundle: &Bundle, input: &PatientInput) -> Result<Prediction, PredictError> {
    predict_with(bundle, input, &OneShot(bundle))
}

/// Predicts for one patient, an image model's embedding from `embedder`.
pub fn predict_with(
    bundle: &Bundle,
    input: &PatientInput,
    embedder: &dyn Embedder,
) -> Result<Prediction, PredictError> {
    let m = &bundle.manifest;
    if input.study_uid.is_some() {
        return Err(PredictError::Input(input_err(
            "study_uid",
            "no imaging archive is connected here: retrieve the study with `renal-triage pacs predict`, or ask a server started with --pacs",
        )));
    }
    let rec = clinical_record(bundle, input)?;
    let needs_mask = m.features.iter().any(|f| f.kind.needs_mask());
    let needs_image = m.features.iter().any(|f| f.kind == FeatureKind::Embedding);
    let mask_input = MaskInput {
        file: input.mask.as_deref(),
        decoded: input.mask_labels.as_ref(),
        label_map: input.label_map.as_ref(),
        references: input.ct.values().cloned().collect(),
    };
    let mask = patient_mask(&mask_input, needs_mask || needs_image)?;
    let meas = mask.as_ref().map(|l| measure_mask(input, l)).transpose()?;
    let image = if needs_image {
        let id = input.case_id.as_deref().unwrap_or("patient");
        Some(patient_image(
            bundle,
            id,
            mask.as_ref(),
            &input.ct,
            &input.ct_decoded,
            embedder,
        )?)
    } else if !input.ct.is_empty() || !input.ct_decoded.is_empty() {
        return Err(PredictError::Input(input_err(
            "ct",
            "this model does not use images: CT phases are not used; leave them out",
        )));
    } else {
        None
    };
    let tumor_size_mm = meas.as_ref().map(|m| m.index_tumor().axial_diameter_mm);
    let row = input_row(
        bundle,
        &rec,
        meas.as_ref(),
        image.as_ref().map(|i| i.embedding.as_slice()),
    )?;
    let names = m.features.iter().map(|f| f.name.clone()).collect();
    let x = Matrix::new(1, row.values.len(), row.values.clone(), names);
    let p = bundle
        .pipeline
        .predict_proba(&x)
        .map_err(|e| PredictError::Model(e.to_string()))?;
    let proba = [p.get(0, 0), p.get(0, 1), p.get(0, 2)];
    let decisions: Vec<Decision> = m
        .thresholds
        .iter()
        .map(|(t, th)| study_decision(bundle, *t, *th, &proba))
        .collect();
    let operating_decisions: Vec<Decision> = m
        .operating_points
        .iter()
        .map(|o| operating_decision(o, &proba))
        .collect();
    let set = prediction_set(bundle, &proba);
    let p_malignant = score(Task::MalignantVsBenign, &proba);
    let p_aggressive = score(Task::AggressiveVsRest, &proba);
    let triage = triage(
        p_malignant,
        p_aggressive,
        triage_threshold(bundle, Task::MalignantVsBenign),
        triage_threshold(bundle, Task::AggressiveVsRest),
        set.as_ref().map(|s| s.flags),
    );
    Ok(Prediction {
        case_id: input.case_id.clone(),
        model: m.model_name.clone(),
        summary: summary(&triage, set.as_ref(), &row),
        triage,
        prediction_set: set,
        imputed_count: row.imputed.len(),
        p_benign: proba[0],
        p_indolent: proba[1],
        p_aggressive: proba[2],
        p_malignant,
        p_aggressive_vs_rest: p_aggressive,
        operating_decisions,
        decisions,
        tumor_size_mm,
        imputed: row.imputed,
        out_of_range: row.out_of_range,
        cv: m.cv.clone(),
        image: image.as_ref().map(|i| i.summary.clone()),
        slice: image.map(|i| i.image),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tasks::binary_task;

    /// Only the first letter becomes upper-case: "in development" later in a clause stays as
    /// it is (the replacement this helper replaced made "learned In development").
    #[test]
    fn a_clause_becomes_a_sentence_at_its_first_letter_only() {
        assert_eq!(
            sentence("in development, this threshold flagged 9 of 10"),
            "In development, this threshold flagged 9 of 10"
        );
        assert_eq!(
            sentence("no threshold could be learned in development"),
            "No threshold could be learned in development"
        );
        assert_eq!(sentence(""), "");
    }

    /// A threshold learned in CV is a score computed by the CV's task on some case's
    /// probabilities; `predict` must compare that very number. With P = (0.1, 0.7, 0.2),
    /// 1 - P(benign) = 0.9 but P(indolent) + P(aggressive) = 0.8999999999999999: two formulas
    /// would put this case on both sides of its own threshold.
    #[test]
    fn predict_compares_the_number_the_cv_threshold_was_learned_on() {
        let proba = [0.1, 0.7, 0.2];
        assert_ne!(
            1.0 - proba[0],
            proba[1] + proba[2],
            "the example must separate them"
        );
        for task in Task::ALL {
            // The CV's score (renal-learn's task over the learner's probability row).
            let learned = binary_task(task).score(&proba);
            let d = decision(task, Some(learned), &proba);
            assert_eq!(d.probability.to_bits(), learned.to_bits(), "{task:?}");
            assert_eq!(d.positive, Some(true), "{task:?}: at its own threshold");
            let above = decision(task, Some(f64::from_bits(learned.to_bits() + 1)), &proba);
            assert_eq!(above.positive, Some(false), "{task:?}: one ulp above");
        }
        assert_eq!(score(Task::MalignantVsBenign, &proba), proba[1] + proba[2]);
        assert_eq!(score(Task::AggressiveVsRest, &proba), proba[2]);
        assert_eq!(score(Task::AggressiveVsIndolent, &proba), proba[2]);
    }
}
