//! Running one model of an experiment under nested CV.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use renal_cohort::Task;
use renal_learn::FoldPlan;
use renal_stats::ThresholdRule;
use serde::{Deserialize, Serialize};

use crate::engine::experiment::Experiment;
use crate::engine::features::FeatureTable;
use crate::engine::plan::ModelPlan;
use crate::engine::tasks::task_thresholds;

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
    /// Per task with an operating rule: the rule and its global threshold (the mean of the
    /// inner-fold thresholds, as Youden's).
    #[serde(default)]
    pub operating: Vec<(Task, ThresholdRule, Option<f64>)>,
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
    let cv = exp.nested_cv();
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
        thresholds: task_thresholds(&s.tasks, &r.thresholds)?,
        operating: operating_thresholds(exp, &r.operating),
        chosen: r
            .outer
            .iter()
            .map(|o| (o.chosen, o.inner_scores[o.chosen]))
            .collect(),
        importances,
        grid_size: plan.candidates.len(),
    })
}

/// Pairs each task that has an operating rule with its rule and threshold (the learners return
/// the thresholds in task order).
pub fn operating_thresholds(
    exp: &Experiment,
    thresholds: &[Option<f64>],
) -> Vec<(Task, ThresholdRule, Option<f64>)> {
    let s = &exp.experiment;
    s.tasks
        .iter()
        .zip(thresholds)
        .filter_map(|(t, th)| s.operating_points.get(t).map(|r| (*t, *r, *th)))
        .collect()
}
