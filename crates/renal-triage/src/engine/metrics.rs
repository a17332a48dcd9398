//! The study's statistics of a model's pooled out-of-fold predictions, per task.

use anyhow::Result;
use renal_cohort::Task;
use renal_stats::{
    average_precision, brier, calibration_bootstrap, confusion, delong_ci, operating_metrics,
    roc_auc, roc_curve, Confusion, OperatingMetrics, ThresholdRule,
};
use serde::Serialize;

use crate::engine::experiment::Experiment;
use crate::engine::model_run::{ModelRun, OofPrediction};
use crate::engine::tasks::binary_task;

/// The study's statistics of one model on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskMetrics {
    pub task: Task,
    pub n: usize,
    pub positives: usize,
    pub auc: f64,
    pub auc_ci95: [f64; 2],
    pub pr_auc: f64,
    /// Threshold from the inner folds (None when no inner fold could give one).
    pub threshold: Option<f64>,
    pub confusion: Option<Confusion>,
    /// The task's operating point (a threshold chosen for the clinical question) and its rates
    /// on the pooled out-of-fold predictions, with Wilson 95% CIs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating: Option<OperatingPoint>,
    pub brier: f64,
    pub calibration_observed: Vec<Option<f64>>,
    pub calibration_predicted: Vec<Option<f64>>,
    pub calibration_count: Vec<usize>,
    pub calibration_ci95: Vec<Option<[f64; 2]>>,
    pub roc_fpr: Vec<f64>,
    pub roc_tpr: Vec<f64>,
}

/// A threshold chosen by a rule, and what it does on pooled out-of-fold predictions.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OperatingPoint {
    pub rule: ThresholdRule,
    pub threshold: Option<f64>,
    /// None without a threshold.
    pub metrics: Option<OperatingMetrics>,
}

impl OperatingPoint {
    /// What the threshold did in development, in words ("in development, this threshold
    /// flagged 95% of malignant masses and 40% of benign ones").
    pub fn in_words(&self, task: Task) -> String {
        match &self.metrics {
            Some(m) => flagged_words(task, m.sensitivity.estimate, m.specificity.estimate),
            None => "no threshold could be learned in development".into(),
        }
    }
}

/// What a threshold with this sensitivity and specificity did in development, in words.
pub fn flagged_words(task: Task, sensitivity: Option<f64>, specificity: Option<f64>) -> String {
    let (pos, neg) = task_words(task);
    format!(
        "in development (pooled out-of-fold predictions), this threshold flagged {} of {pos} and {} of {neg}",
        percent(sensitivity),
        percent(specificity.map(|s| 1.0 - s)),
    )
}

/// The positive and negative groups of a task, in words (plural).
pub fn task_words(task: Task) -> (&'static str, &'static str) {
    match task {
        Task::MalignantVsBenign => ("malignant masses", "benign ones"),
        Task::AggressiveVsRest => (
            "aggressive cancers",
            "the other masses (benign or indolent)",
        ),
        Task::AggressiveVsIndolent => ("aggressive cancers", "indolent ones"),
    }
}

/// A share as a whole percentage, in words when unknown.
pub fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{:.0}%", v * 100.0),
        None => "an unknown share".into(),
    }
}

/// The operating point of `rule` at `threshold` on the pooled predictions `(y, s)`.
pub fn operating_point(
    rule: ThresholdRule,
    threshold: Option<f64>,
    y: &[bool],
    s: &[f64],
) -> Result<OperatingPoint> {
    Ok(OperatingPoint {
        rule,
        threshold,
        metrics: threshold.map(|t| operating_metrics(y, s, t)).transpose()?,
    })
}

/// (targets, scores) of a task from predictions.
pub fn task_pairs(task: Task, preds: &[OofPrediction]) -> (Vec<bool>, Vec<f64>) {
    let bt = binary_task(task);
    preds
        .iter()
        .filter(|o| bt.included.contains(&o.label))
        .map(|o| (bt.positive.contains(&o.label), bt.score(&o.proba)))
        .unzip()
}

/// Computes a task's metrics; `threshold` is the one stored from CV.
pub fn task_metrics(
    task: Task,
    preds: &[OofPrediction],
    threshold: Option<f64>,
    operating: Option<(ThresholdRule, Option<f64>)>,
    bins: usize,
    n_boot: usize,
    seed: u64,
) -> Result<TaskMetrics> {
    let (y, s) = task_pairs(task, preds);
    let operating = operating
        .map(|(rule, th)| operating_point(rule, th, &y, &s))
        .transpose()?;
    // AUC as scikit-learn computes it; the CI from DeLong's variance around it.
    let auc = roc_auc(&y, &s)?;
    let ci = delong_ci(&y, &s, 0.95)?;
    let half = (ci.ci[1] - ci.ci[0]) / 2.0;
    let roc = roc_curve(&y, &s, true)?;
    let (cal, cal_ci) = calibration_bootstrap(&y, &s, bins, n_boot, seed)?;
    Ok(TaskMetrics {
        task,
        n: y.len(),
        positives: y.iter().filter(|v| **v).count(),
        auc,
        auc_ci95: [auc - half, auc + half],
        pr_auc: average_precision(&y, &s)?,
        threshold,
        confusion: threshold.map(|t| confusion(&y, &s, t)).transpose()?,
        operating,
        brier: brier(&y, &s)?,
        calibration_observed: cal.observed,
        calibration_predicted: cal.predicted,
        calibration_count: cal.count,
        calibration_ci95: cal_ci,
        roc_fpr: roc.fpr,
        roc_tpr: roc.tpr,
    })
}

/// Metrics of every task of a model run.
pub fn model_metrics(exp: &Experiment, run: &ModelRun) -> Result<Vec<TaskMetrics>> {
    let s = &exp.experiment;
    run.thresholds
        .iter()
        .enumerate()
        .map(|(i, (t, th))| {
            let op = run
                .operating
                .iter()
                .find(|(task, _, _)| task == t)
                .map(|(_, rule, th)| (*rule, *th));
            task_metrics(
                *t,
                &run.oof,
                *th,
                op,
                s.calibration_bins,
                s.bootstrap,
                s.seed.wrapping_add(i as u64),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(id: usize, label: usize, proba: [f64; 3]) -> OofPrediction {
        OofPrediction {
            case_id: format!("c{id}"),
            fold: 0,
            label,
            proba,
        }
    }

    /// Aggressive vs indolent: benign cases leave the task, the score is P(aggressive). By
    /// hand: the malignant cases below have P(aggressive) 0.6, 0.2 (indolent) and 0.7, 0.4
    /// (aggressive); of the 4 (aggressive, indolent) pairs, 3 are ordered right: AUC 0.75.
    /// The benign case (P(aggressive) 0.9) would lower it if it were counted as a negative.
    #[test]
    fn aggressive_vs_indolent_leaves_benign_cases_out() {
        let preds = vec![
            pred(0, 0, [0.05, 0.05, 0.9]),
            pred(1, 1, [0.1, 0.3, 0.6]),
            pred(2, 1, [0.3, 0.5, 0.2]),
            pred(3, 2, [0.1, 0.2, 0.7]),
            pred(4, 2, [0.2, 0.4, 0.4]),
        ];
        let (y, s) = task_pairs(Task::AggressiveVsIndolent, &preds);
        assert_eq!(y, vec![false, false, true, true]);
        assert_eq!(s, vec![0.6, 0.2, 0.7, 0.4]);
        let m = task_metrics(
            Task::AggressiveVsIndolent,
            &preds,
            Some(0.5),
            None,
            5,
            20,
            1,
        )
        .unwrap();
        assert_eq!((m.n, m.positives), (4, 2));
        assert!((m.auc - 0.75).abs() < 1e-12, "{}", m.auc);
        // At 0.5: aggressive 0.7 is positive, 0.4 negative; indolent 0.6 is a false positive.
        let c = m.confusion.unwrap();
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1, 1, 1, 1));
        // Aggressive vs rest counts the benign case, as a negative.
        let (y, _) = task_pairs(Task::AggressiveVsRest, &preds);
        assert_eq!(y, vec![false, false, false, true, true]);
    }
}
