//! The cohort model shared by every source.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::bhindi::{label_histology_with, BlankModifier, Histology, Labelling};
use crate::error::CaseError;
use crate::fields::{check_feature, ClinicalRecord};
use crate::label::Label;
use crate::vocab::{NoteKind, Reading, ValueNote};

/// One per-annotator tumor mask (KiTS23 `tumor_instance-K_annotation-A`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Annotation {
    pub instance: u32,
    pub annotator: u32,
    pub path: PathBuf,
}

/// Image files of a case.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Images {
    /// Segmentation label map (kidney/tumor/cyst) or binary tumor mask.
    pub mask: Option<PathBuf>,
    /// CT phases by name (arterial, venous, ...), in manifest order.
    pub phases: Vec<(String, PathBuf)>,
    pub annotations: Vec<Annotation>,
    /// Which of the mask's labels or segments are the kidney, the tumor and the cyst
    /// (`kidney=1,tumor=2,cyst=3`, or segment names), when its names or values do not say so.
    pub label_map: Option<renal_imaging::LabelMap>,
}

/// Descriptive fields for Table 1 that are not features (sex as text, the histology string).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Descriptive {
    pub sex: Option<String>,
    pub histology: Option<String>,
}

/// One case of a cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Case {
    pub id: String,
    /// Pre-operative, allow-listed values only (see [`crate::fields`]).
    pub clinical: ClinicalRecord,
    pub histology: Option<Histology>,
    /// The class, from histology (Bhindi rules) or an explicit label.
    pub label: Option<Label>,
    /// Which rule (or "explicit label") gave the class.
    pub label_source: Option<String>,
    pub images: Images,
    pub descriptive: Descriptive,
    /// Numeric columns joined from a feature table (e.g. image embeddings), by name.
    pub extra: BTreeMap<String, f64>,
    /// Recorded values read as missing, with the reason (see [`crate::vocab`]).
    pub notes: Vec<ValueNote>,
    /// Blank pathology modifiers read as absent to label the case (see [`BlankModifier`]).
    pub blank_assumed: Vec<&'static str>,
}

impl Case {
    pub fn new(id: impl Into<String>) -> Self {
        Case {
            id: id.into(),
            clinical: ClinicalRecord::default(),
            histology: None,
            label: None,
            label_source: None,
            images: Images::default(),
            descriptive: Descriptive::default(),
            extra: BTreeMap::new(),
            notes: Vec::new(),
            blank_assumed: Vec::new(),
        }
    }

    /// Labels the case from its histology; `Err(reason)` when it cannot be labelled.
    pub fn label_from_histology(&mut self, blank: BlankModifier) -> Result<(), CaseError> {
        let Some(h) = &self.histology else {
            return Err(CaseError::NoHistology);
        };
        match label_histology_with(h, blank) {
            (Labelling::Labelled { label, rule }, assumed) => {
                self.label = Some(label);
                self.label_source = Some(if assumed.is_empty() {
                    rule.to_string()
                } else {
                    format!("{rule} (blank {} read as absent)", assumed.join(", "))
                });
                self.blank_assumed = assumed;
                Ok(())
            }
            (Labelling::Excluded { reason }, _) if blank == BlankModifier::Exclude => {
                Err(CaseError::BlankModifierExcluded { reason })
            }
            (Labelling::Excluded { reason }, _) => Err(CaseError::NotLabelled { reason }),
        }
    }

    /// Sets a feature from a recorded value. A value that cannot be read (a recorded unknown,
    /// a category outside the vocabulary, text for a number, an implausible number) becomes
    /// missing with a note: it never excludes the case. `Err` only for a name outside the
    /// allow-list (a programming error, not a data error).
    pub fn read_feature(
        &mut self,
        feature: &str,
        field: &str,
        raw: &str,
        reading: Reading,
    ) -> Result<(), CaseError> {
        check_feature(feature)?;
        let mut kind = reading.err();
        let value = reading.unwrap_or(None);
        if self.clinical.set(feature, value).is_err() {
            self.clinical.set(feature, None)?;
            kind = Some(NoteKind::Implausible);
        }
        if let Some(kind) = kind {
            self.notes.push(ValueNote {
                feature: feature.to_string(),
                field: field.to_string(),
                value: raw.to_string(),
                kind,
            });
        }
        Ok(())
    }
}

/// Whether a case id can name files (`cases/<id>.json`, previews): not empty, at most 128
/// characters, no path separator, no `..`, no leading dot, no control character. An id that
/// is not is refused (its case excluded, naming it) rather than used to build a path.
pub fn check_case_id(id: &str) -> Result<(), CaseError> {
    let bad = id.is_empty()
        || id.chars().count() > 128
        || id.starts_with('.')
        || id.contains("..")
        || id
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ',' | '"') || c.is_control());
    if bad {
        return Err(CaseError::CaseId { id: id.to_string() });
    }
    Ok(())
}

/// A case left out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Exclusion {
    pub case: String,
    pub reason: String,
}

/// The cases of one source plus those excluded from it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Cohort {
    /// Where it came from (a folder or file), for reports.
    pub source: String,
    pub cases: Vec<Case>,
    pub excluded: Vec<Exclusion>,
}

impl Cohort {
    /// Moves a case to the exclusion list.
    pub fn exclude(&mut self, case: &str, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!(case, %reason, "case excluded");
        self.cases.retain(|c| c.id != case);
        self.excluded.push(Exclusion {
            case: case.to_string(),
            reason,
        });
    }

    /// Case ids in order.
    pub fn ids(&self) -> Vec<&str> {
        self.cases.iter().map(|c| c.id.as_str()).collect()
    }

    /// Counts per class `[benign, indolent, aggressive]` of the labelled cases.
    pub fn class_counts(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for c in &self.cases {
            if let Some(l) = c.label {
                n[l.index()] += 1;
            }
        }
        n
    }

    /// Every recorded value read as missing, by case.
    pub fn notes(&self) -> impl Iterator<Item = (&str, &ValueNote)> + '_ {
        self.cases
            .iter()
            .flat_map(|c| c.notes.iter().map(move |n| (c.id.as_str(), n)))
    }

    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }
}
