/// Errors of the statistics functions: bad input is reported, never turned into NaN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    #[error("{what}: need at least {needed} values, got {got}")]
    TooFew {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("{what}: lengths differ ({a} vs {b})")]
    LengthMismatch {
        what: &'static str,
        a: usize,
        b: usize,
    },
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error("{what}: value {value} at index {index} is not a probability (outside [0, 1])")]
    NotProbability {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error("{what}: row {row} has {got} ratings, expected {expected}")]
    Ragged {
        what: &'static str,
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("{what}: both classes are needed ({positives} positives, {negatives} negatives)")]
    SingleClass {
        what: &'static str,
        positives: usize,
        negatives: usize,
    },
    #[error("{what}: all values are equal, the statistic is undefined")]
    Degenerate { what: &'static str },
    #[error("{what}: threshold probability {value} is not in (0, 1)")]
    Threshold { what: &'static str, value: f64 },
}

pub type Result<T, E = StatsError> = std::result::Result<T, E>;

/// Rejects NaN and infinities, naming the position.
pub fn check_finite(what: &'static str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            what,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}
