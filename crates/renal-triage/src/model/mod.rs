//! A trained model for new patients: the bundle on disk and prediction for one patient.

pub mod bundle;
pub mod error;
pub mod fields;
pub mod frozen;
pub mod image;
pub mod mask;
pub mod predict;
pub mod resnet;
pub mod signing;
pub mod sr;
pub mod train;
pub mod triage;
