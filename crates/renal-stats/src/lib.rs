//! Statistics for renal-triage, in pure f64: agreement (Pearson, Bland-Altman), reliability
//! (ICC, all six Shrout-Fleiss forms with F tests and CIs) and the F distribution they need.
//! Bad input (NaN, too few values, mismatched lengths, degenerate data) is a typed error.

pub mod agreement;
pub mod dist;
pub mod error;
pub mod icc;

pub use agreement::{bland_altman, pearson, BlandAltman};
pub use error::{Result, StatsError};
pub use icc::{icc, icc_all, mean_squares, Icc, IccForm, MeanSquares};
pub mod binary;
pub mod decision;
pub mod delong;
pub mod operating;
pub mod rng;

pub use binary::{
    average_precision, brier, calibration, calibration_bootstrap, confusion,
    precision_recall_curve, roc_auc, roc_curve, youden, Calibration, Confusion, PrCurve, RocCurve,
    Youden,
};
pub use decision::{net_benefit, net_benefit_treat_all};
pub use delong::{delong_ci, delong_paired, AucCi, DelongPaired};
pub use operating::{
    operating_metrics, threshold_at_sensitivity, threshold_at_specificity, wilson,
    OperatingMetrics, Proportion, ThresholdRule, ThresholdRuleError,
};
pub use rng::Rng;
