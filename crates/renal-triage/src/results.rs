//! Running one model of an experiment under nested CV, and the study's statistics of its
//! pooled out-of-fold predictions.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use renal_cohort::Task;
use renal_learn::{BinaryTask, FoldPlan, NestedCv};
use renal_stats::{
    average_precision, brier, calibration_bootstrap, confusion, delong_ci, roc_auc, roc_curve,
    Confusion,
};
use serde::{Deserialize, Serialize};

use crate::experiment::{Experiment, ModelPlan};
use crate::features::FeatureTable;

/// The learner-side task for a cohort task (class indices: benign 0, indolent 1, aggressive 2).
pub fn binary_task(t: Task) -> BinaryTask {
    let (positive, included) = match t {
        Task::MalignantVsBenign => (vec![1, 2], vec![0, 1, 2]),
        Task::AggressiveVsRest => (vec![2], vec![0, 1, 2]),
        Task::AggressiveVsIndolent => (vec![2], vec![1, 2]),
    };
    BinaryTask {
        name: t.name().into(),
        positive,
        included,
    }
}

/// The nested CV of an experiment's settings.
pub fn nested_cv(exp: &Experiment) -> NestedCv {
    let s = &exp.experiment;
    NestedCv {
        outer_folds: s.outer_folds,
        inner_folds: s.inner_folds,
        seed: s.seed,
        tasks: s.tasks.iter().map(|t| binary_task(*t)).collect(),
    }
}

/// One pooled out-of-fold prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OofPrediction {
    pub case_id: String,
    pub fold: usize,
    pub label: usize,
    /// P(benign), P(indolent), P(aggressive).
    pub proba: [f64; 3],
}

/// Everything a model's nested CV produced (the resumable unit of a run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    pub name: String,
    /// Hash of the inputs and settings that produced it (reused on restart only when equal).
    pub fingerprint: String,
    pub features: Vec<String>,
    pub oof: Vec<OofPrediction>,
    /// Global threshold per task (mean of the inner-fold Youden thresholds).
    pub thresholds: Vec<(Task, Option<f64>)>,
    /// Candidate chosen in each outer fold (index into the grid) and its inner score.
    pub chosen: Vec<(usize, f64)>,
    /// Mean forest importance over the outer refits, by learner input (forest learners only).
    pub importances: Vec<(String, f64)>,
    pub grid_size: usize,
}

/// Runs the nested CV of one planned model on a feature table.
pub fn run_model(
    exp: &Experiment,
    plan: &ModelPlan,
    table: &FeatureTable,
    folds: Option<&FoldPlan>,
    fingerprint: String,
) -> Result<ModelRun> {
    let s = &exp.experiment;
    let cv = nested_cv(exp);
    let r = cv
        .run(&plan.candidates, &table.x, &table.y, 3, folds)
        .with_context(|| format!("model `{}`", plan.spec.name))?;
    let oof = r
        .oof
        .iter()
        .map(|o| OofPrediction {
            case_id: table.case_ids[o.row].clone(),
            fold: o.fold,
            label: table.y[o.row],
            proba: [o.proba[0], o.proba[1], o.proba[2]],
        })
        .collect();
    let mut imp: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for fold in &r.importances {
        for (n, v) in fold {
            let e = imp.entry(n.clone()).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    let n_folds = r.importances.len().max(1) as f64;
    let mut importances: Vec<(String, f64)> = imp
        .into_iter()
        .map(|(n, (v, _))| (n, v / n_folds))
        .collect();
    importances.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ModelRun {
        name: plan.spec.name.clone(),
        fingerprint,
        features: table.x.names.clone(),
        oof,
        thresholds: s
            .tasks
            .iter()
            .copied()
            .zip(r.thresholds.iter().copied())
            .collect(),
        chosen: r
            .outer
            .iter()
            .map(|o| (o.chosen, o.inner_scores[o.chosen]))
            .collect(),
        importances,
        grid_size: plan.candidates.len(),
    })
}

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
    pub brier: f64,
    pub calibration_observed: Vec<Option<f64>>,
    pub calibration_predicted: Vec<Option<f64>>,
    pub calibration_count: Vec<usize>,
    pub calibration_ci95: Vec<Option<[f64; 2]>>,
    pub roc_fpr: Vec<f64>,
    pub roc_tpr: Vec<f64>,
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
    bins: usize,
    n_boot: usize,
    seed: u64,
) -> Result<TaskMetrics> {
    let (y, s) = task_pairs(task, preds);
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
            task_metrics(
                *t,
                &run.oof,
                *th,
                s.calibration_bins,
                s.bootstrap,
                s.seed.wrapping_add(i as u64),
            )
        })
        .collect()
}
