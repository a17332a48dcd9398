//! Decision-curve analysis of every model's pooled out-of-fold predictions, per task: net
//! benefit against treat-all and treat-none over threshold probabilities 0.01-0.99 (Vickers &
//! Elkin 2006; see `renal_stats::decision`). Written as `tables/decision_curve_<task>.csv`.

use std::path::Path;

use anyhow::Result;
use renal_cohort::Task;
use renal_stats::{net_benefit, net_benefit_treat_all};
use serde::Serialize;

use crate::engine::metrics::task_pairs;
use crate::engine::model_run::ModelRun;
use crate::output::write_csv;

/// The threshold probabilities of the curves: 0.01, 0.02, ..., 0.99.
pub fn thresholds() -> Vec<f64> {
    (1..100).map(|i| i as f64 / 100.0).collect()
}

/// Net benefit of each model, treat-all and treat-none on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionCurve {
    pub task: Task,
    pub n: usize,
    pub prevalence: f64,
    pub thresholds: Vec<f64>,
    pub treat_all: Vec<f64>,
    /// (model, net benefit at each threshold).
    pub models: Vec<(String, Vec<f64>)>,
}

impl DecisionCurve {
    /// The file it is written to under `tables/`.
    pub fn file(&self) -> String {
        format!("decision_curve_{}.csv", self.task.name())
    }
}

/// The curves of every run on every task (a task a run cannot score is left out of it).
pub fn decision_curves(runs: &[ModelRun], tasks: &[Task]) -> Result<Vec<DecisionCurve>> {
    let pts = thresholds();
    let mut out = Vec::new();
    for &task in tasks {
        let mut curve: Option<DecisionCurve> = None;
        for r in runs {
            let (y, s) = task_pairs(task, &r.oof);
            let Ok(nb) = pts
                .iter()
                .map(|&p| net_benefit(&y, &s, p))
                .collect::<Result<Vec<f64>, _>>()
            else {
                continue;
            };
            let c = match &mut curve {
                Some(c) => c,
                None => curve.insert(DecisionCurve {
                    task,
                    n: y.len(),
                    prevalence: y.iter().filter(|&&t| t).count() as f64 / y.len() as f64,
                    thresholds: pts.clone(),
                    treat_all: pts
                        .iter()
                        .map(|&p| net_benefit_treat_all(&y, p))
                        .collect::<Result<_, _>>()?,
                    models: Vec::new(),
                }),
            };
            c.models.push((r.name.clone(), nb));
        }
        out.extend(curve);
    }
    Ok(out)
}

/// Writes one CSV per task: threshold, treat_all, treat_none, then one column per model.
pub fn write_decision_curves(curves: &[DecisionCurve], dir: &Path) -> Result<()> {
    for c in curves {
        let mut header = vec!["threshold", "treat_all", "treat_none"];
        header.extend(c.models.iter().map(|(n, _)| n.as_str()));
        let rows: Vec<Vec<String>> = (0..c.thresholds.len())
            .map(|i| {
                let mut r = vec![
                    format!("{}", c.thresholds[i]),
                    format!("{}", c.treat_all[i]),
                    "0".to_string(),
                ];
                r.extend(c.models.iter().map(|(_, nb)| format!("{}", nb[i])));
                r
            })
            .collect();
        write_csv(&dir.join(c.file()), &header, &rows)?;
    }
    Ok(())
}
