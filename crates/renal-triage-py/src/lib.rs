//! The Python module `renal_triage._native`, which the pure-Python package `renal_triage`
//! re-exports (and wraps in scikit-learn's estimator API for the learners).

use pyo3::prelude::*;

mod arrays;
mod bundle;
mod cv;
mod errors;
mod imaging;
mod learn;
mod stats;
mod threads;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "RenalTriageError",
        py.get_type::<errors::RenalTriageError>(),
    )?;
    m.add("ImagingError", py.get_type::<errors::ImagingError>())?;
    m.add("LearnError", py.get_type::<errors::LearnError>())?;
    m.add("StatsError", py.get_type::<errors::StatsError>())?;
    m.add("BundleError", py.get_type::<errors::BundleError>())?;
    stats::register(m)?;
    learn::register(m)?;
    imaging::register(m)?;
    bundle::register(m)?;
    cv::register(m)?;
    Ok(())
}
