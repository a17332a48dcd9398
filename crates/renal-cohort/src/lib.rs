//! Cohorts for renal-triage: cases, pre-operative clinical records, histology and the Bhindi
//! 3-class labels, the leakage guard, and the loaders (KiTS23 folder, manifest CSV, feature and
//! label tables, predefined splits), plus the KiTS23 fetch.

pub mod bhindi;
pub mod cohort;
pub mod error;
pub mod fetch;
pub mod fields;
pub mod io;
pub mod kits23;
pub mod label;
pub mod manifest;
pub mod splits;
pub mod tables;
pub mod vocab;
pub mod words;

pub use bhindi::{
    label_histology, label_histology_with, BlankModifier, Histology, Labelling, Subtype,
};
pub use cohort::{Annotation, Case, Cohort, Exclusion, Images};
pub use error::{CaseError, CohortError, InputError, Result};
pub use fields::{
    check_feature, is_size_field, ClinicalRecord, ALLOWED, RADIOGRAPHIC_SIZE_CM, SIZE_FIELDS,
};
pub use kits23::{load_kits23, load_kits23_with};
pub use label::{Label, Task};
pub use manifest::{load_manifest, load_manifest_with};
pub use splits::{read_splits, Splits};
pub use tables::{
    cohort_from_tables, join_features, read_feature_table, read_labels_table, FeatureTable,
};
pub use vocab::{NoteKind, ValueNote};
