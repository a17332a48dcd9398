//! The computation, with no command-line parsing, no HTTP and no printing: where the data
//! are, the cohort and its measurements, image inputs and the encoder process, experiments,
//! feature tables, tasks, nested CV runs and their reuse, metrics, the study's tables,
//! external validation, and the run as a whole ([`reproduce::reproduce`] returns an
//! [`reproduce::Outcome`]).

pub mod cohort_outputs;
pub mod conformal;
pub mod contain;
pub mod data;
pub mod decision_curve;
pub mod embedding;
pub mod encoder_client;
pub mod experiment;
pub mod external;
pub mod features;
pub mod images;
pub mod manifest;
pub mod measure;
pub mod metrics;
pub mod model_run;
pub mod plan;
pub mod prepare;
pub mod reproduce;
pub mod run_store;
pub mod shard;
pub mod shard_images;
pub mod tables;
pub mod tasks;
