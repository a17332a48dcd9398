//! Learners for renal-triage behind one API: params with defaults -> `fit` -> a fitted type with
//! `predict_proba` (columns in `classes()` order). Random forest, MLP, logistic regression,
//! imputation, scaling, PCA and importance-based selection; pipelines that fit every step on the
//! training rows only; stratified and nested cross-validation.

pub mod calibration;
pub mod error;
pub mod estimator;
pub mod forest;
pub mod gbm;
mod kernel;
pub mod matrix;
pub mod mlp;

pub use calibration::{CalibrationMethod, CalibrationParams, Calibrator, FittedCalibration};
pub use error::{LearnError, Result};
pub use estimator::{Fit, PredictProba};
pub use forest::{ForestData, ForestParams, MaxFeatures, RandomForest};
pub use gbm::{Gbm, GbmParams};
pub use matrix::Matrix;
pub use mlp::{Mlp, MlpParams};
pub mod cv;
mod eigen;
pub mod folds;
pub mod logistic;
pub mod pipeline;
pub mod synthetic;
pub mod transform;
pub mod vote;

pub use cv::{stratified_kfold, BinaryTask, FoldPlan, NestedCv, NestedResult, OuterPlan, Tuned};
pub use logistic::{Logistic, LogisticParams};
pub use pipeline::{fit_grid, LearnerParams, Model, Pipeline, PipelineParams};
pub use transform::{check_no_constant, standardized_spectrum, Columns, Components, Fitted, Step};
pub use vote::{Vote, VoteMember, VoteParams};
