//! The exceptions the package raises. Wrong arguments (shape, dtype, NaN, length) are
//! `ValueError` naming the argument, a missing file `FileNotFoundError`; the rest is a
//! [`RenalTriageError`] subclass whose message is the command line's.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyValueError};
use pyo3::PyErr;

create_exception!(
    renal_triage,
    RenalTriageError,
    PyException,
    "Base class of renal_triage's own errors (the command line's messages)."
);
create_exception!(
    renal_triage,
    ImagingError,
    RenalTriageError,
    "A volume, mask or DICOM file could not be read or measured."
);
create_exception!(
    renal_triage,
    LearnError,
    RenalTriageError,
    "A learner could not be fitted or applied."
);
create_exception!(
    renal_triage,
    StatsError,
    RenalTriageError,
    "A statistic is undefined for these data (e.g. two identical rankings)."
);
create_exception!(
    renal_triage,
    BundleError,
    RenalTriageError,
    "A model bundle could not be loaded, verified or applied."
);

/// A statistics error: bad input (lengths, NaN, one class, too few values) is a `ValueError`;
/// an undefined statistic a [`StatsError`].
pub fn stats(e: renal_stats::StatsError) -> PyErr {
    use renal_stats::StatsError as E;
    match e {
        E::Degenerate { .. } => StatsError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A learner's error: bad data or parameters (no rows, wrong lengths or columns, NaN, one
/// class, too few cases of a class for the folds, a constant feature) are a `ValueError`, as
/// scikit-learn raises them; the rest (a stored model that cannot be applied, a statistic
/// that is undefined) a [`LearnError`].
pub fn learn(e: renal_learn::LearnError) -> PyErr {
    use renal_learn::LearnError as E;
    match e {
        E::Empty
        | E::Param { .. }
        | E::Columns { .. }
        | E::LengthMismatch { .. }
        | E::NonFinite { .. }
        | E::SingleClass { .. }
        | E::BadLabel { .. }
        | E::TooFewForFolds { .. }
        | E::Constant { .. } => PyValueError::new_err(e.to_string()),
        _ => LearnError::new_err(e.to_string()),
    }
}

/// An imaging error: a file that does not exist is `FileNotFoundError`, the rest an
/// [`ImagingError`] with the reader's message (which names the file).
pub fn imaging(e: renal_imaging::ImagingError) -> PyErr {
    if let renal_imaging::ImagingError::Io { source, .. } = &e {
        if source.kind() == std::io::ErrorKind::NotFound {
            return PyFileNotFoundError::new_err(e.to_string());
        }
    }
    ImagingError::new_err(e.to_string())
}
