//! A trained model for new patients: the bundle on disk and prediction for one patient.

pub mod bundle;
pub mod predict;
