use std::path::PathBuf;

/// Errors of the cohort loaders. Each names the file, the case or the field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CohortError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {detail}")]
    Json { path: PathBuf, detail: String },
    #[error("{path}: line {line}: {detail}")]
    Csv {
        path: PathBuf,
        line: u64,
        detail: String,
    },
    #[error("{path}: missing required column `{column}`")]
    MissingColumn { path: PathBuf, column: String },
    #[error("{path}: line {line}, column `{column}`: `{value}` is not a number")]
    NonNumeric {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{path}: case `{case}` appears more than once")]
    DuplicateCase { path: PathBuf, case: String },
    #[error("{path}: case `{case}` is not in the cohort")]
    UnknownCase { path: PathBuf, case: String },
    #[error("{path}: case `{case}` is in the test set of folds {first} and {second}")]
    TwoTestFolds {
        path: PathBuf,
        case: String,
        first: usize,
        second: usize,
    },
    #[error("{path}: case `{case}`: {detail}")]
    InconsistentSplit {
        path: PathBuf,
        case: String,
        detail: String,
    },
    #[error(
        "field `{field}` is {category} information and cannot be a feature (it leaks the outcome)"
    )]
    LeakingField {
        field: String,
        category: &'static str,
    },
    #[error("field `{field}` is not on the pre-operative feature allow-list (allowed: {allowed})")]
    NotAllowed { field: String, allowed: String },
    #[error("invalid label `{value}` (expected benign|indolent|aggressive or 0|1|2)")]
    InvalidLabel { value: String },
    #[error("{path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("downloading {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{path}: sha256 {actual} does not match the expected {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

pub type Result<T, E = CohortError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CohortError + '_ {
    move |source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why one case cannot be used as it is (it is excluded, with this as its reason), or why a
/// value cannot be read. Each names the field and the value at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    #[error("no histology record and no explicit label")]
    NoHistology,
    /// The labelling rules leave the case out (their reason).
    #[error("{reason}")]
    NotLabelled { reason: String },
    /// The rules would read a blank modifier as absent, and the policy says exclude.
    #[error("{reason} (--blank-modifier exclude)")]
    BlankModifierExcluded { reason: String },
    /// A recorded value outside what the field can hold (`value` as written, `expected` the
    /// field's range or form).
    #[error("`{field}` = {value} is not {expected}")]
    Value {
        field: String,
        value: String,
        expected: String,
    },
    #[error("case id {id:?} is not a plain name (1-128 characters, no `/`, `\\`, `,`, `\"`, `..`, leading dot or control character)")]
    CaseId { id: String },
    #[error("`{field}` path `{path}` is absolute; paths must be relative to the manifest folder")]
    AbsolutePath { field: String, path: String },
    #[error("`{field}` file does not exist: {}", path.display())]
    NoFile { field: String, path: PathBuf },
    #[error("manifest folder {}: {detail}", path.display())]
    Folder { path: PathBuf, detail: String },
    #[error("`{field}` path `{path}` escapes the manifest folder")]
    EscapesFolder { field: String, path: String },
    #[error("label_map: {0}")]
    LabelMap(renal_imaging::LabelMapError),
    /// A cohort error about the case (a feature name refused, a label that is not one).
    #[error(transparent)]
    Cohort(std::sync::Arc<CohortError>),
}

impl CaseError {
    /// A recorded value of `field` that is not what the field can hold (`expected`).
    pub fn value(field: &str, value: impl std::fmt::Display, expected: &str) -> CaseError {
        CaseError::Value {
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

impl From<CohortError> for CaseError {
    fn from(e: CohortError) -> CaseError {
        CaseError::Cohort(std::sync::Arc::new(e))
    }
}

/// Why a value a person typed for a field is refused; it says what the field accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{text}` is not a value of `{field}` ({label}): expected {accepted}")]
pub struct InputError {
    /// The text as typed (escaped).
    pub text: String,
    pub field: String,
    /// The field in words.
    pub label: String,
    /// What the field accepts.
    pub accepted: String,
}
