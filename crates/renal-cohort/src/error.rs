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
