/// Errors of fitting and prediction; bad input is reported before any work, never as NaN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    #[error("no rows to fit on")]
    Empty,
    #[error("{what}: {a} rows vs {b} labels")]
    LengthMismatch {
        what: &'static str,
        a: usize,
        b: usize,
    },
    #[error("feature `{feature}` (column {column}) has a non-finite value {value} in row {row}")]
    NonFinite {
        feature: String,
        column: usize,
        row: usize,
        value: f64,
    },
    #[error("class {class} has {count} cases, fewer than the {folds} folds")]
    TooFewForFolds {
        class: usize,
        count: usize,
        folds: usize,
    },
    #[error("the training rows hold a single class ({class}); at least two are needed")]
    SingleClass { class: usize },
    #[error("label {label} is not below the number of classes {n_classes}")]
    BadLabel { label: usize, n_classes: usize },
    #[error("{what}: expected {expected} columns, got {got}")]
    Columns {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("invalid parameter `{name}`: {detail}")]
    Param { name: &'static str, detail: String },
    #[error("feature `{feature}` (column {column}) is constant on the training rows")]
    Constant { feature: String, column: usize },
    /// A stored model (read back from a file) that cannot be applied as it is.
    #[error("invalid stored model: {detail}")]
    InvalidModel { detail: String },
    #[error(transparent)]
    Stats(#[from] renal_stats::StatsError),
}

pub type Result<T, E = LearnError> = std::result::Result<T, E>;
