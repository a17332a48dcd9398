//! The computation, with no command-line parsing, no HTTP and no printing: where the data
//! are, the cohort and its measurements, image inputs and the encoder process, experiments,
//! feature tables, tasks, nested CV runs and their reuse, metrics, the study's tables,
//! external validation, and the run as a whole ([`reproduce::reproduce`] returns an
//! [`reproduce::Outcome`]).

pub(crate) mod cohort_outputs;
pub(crate) mod conformal;
pub(crate) mod contain;
pub(crate) mod data;
pub(crate) mod decision_curve;
pub(crate) mod embedding;
pub(crate) mod encoder_client;
pub mod experiment;
pub(crate) mod external;
pub(crate) mod failure;
pub mod features;
pub(crate) mod images;
pub(crate) mod manifest;
pub(crate) mod measure;
pub(crate) mod metrics;
pub(crate) mod model_run;
pub(crate) mod pacs;
pub(crate) mod pacs_pull;
pub mod plan;
pub mod prepare;
pub(crate) mod reproduce;
pub(crate) mod run_store;
pub(crate) mod shard;
pub(crate) mod shard_images;
pub(crate) mod slurm;
pub(crate) mod tables;
pub mod tasks;
