//! A model's results on disk (`models/<model>/`), and their reuse by a restarted run: a
//! model whose `run.json` carries the fingerprint of the current inputs and settings is not run
//! again.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::engine::experiment::Experiment;
use crate::engine::features::FeatureTable;
use crate::engine::metrics::TaskMetrics;
use crate::engine::model_run::{ModelRun, OofPrediction};
use crate::engine::plan::ModelPlan;
use crate::output::{write_csv, write_json};

pub(crate) fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Fingerprint of what a model's result depends on.
pub(crate) fn fingerprint(
    exp: &Experiment,
    plan: &ModelPlan,
    table: &FeatureTable,
    folds: Option<&renal_learn::FoldPlan>,
) -> String {
    let mut s = serde_json::to_string(&plan.candidates).unwrap_or_default();
    s.push_str(&serde_json::to_string(&exp.experiment).unwrap_or_default());
    s.push_str(&serde_json::to_string(&table.case_ids).unwrap_or_default());
    s.push_str(&serde_json::to_string(&table.y).unwrap_or_default());
    s.push_str(&serde_json::to_string(&table.x).unwrap_or_default());
    if let Some(f) = folds {
        s.push_str(&format!(
            "{:?}",
            f.outer
                .iter()
                .map(|o| (&o.test, &o.inner))
                .collect::<Vec<_>>()
        ));
    }
    renal_cohort::io::sha256_hex(s.as_bytes())
}

/// Writes predictions as CSV: case, model, (fold,) label and the three class probabilities.
pub(crate) fn write_predictions(
    path: &Path,
    preds: &[(&str, &OofPrediction)],
    with_fold: bool,
) -> Result<()> {
    let rows: Vec<Vec<String>> = preds
        .iter()
        .map(|(model, o)| {
            let mut r = vec![o.case_id.clone(), model.to_string()];
            if with_fold {
                r.push(o.fold.to_string());
            }
            r.push(o.label.to_string());
            r.extend(o.proba.iter().map(|p| format!("{p}")));
            r
        })
        .collect();
    let mut header = vec!["case_id", "model"];
    if with_fold {
        header.push("fold");
    }
    header.extend(["label", "p_benign", "p_indolent", "p_aggressive"]);
    write_csv(path, &header, &rows)
}

/// Writes a model's outputs.
pub(crate) fn write_model(dir: &Path, run: &ModelRun, metrics: &[TaskMetrics]) -> Result<()> {
    let preds: Vec<(&str, &OofPrediction)> =
        run.oof.iter().map(|o| (run.name.as_str(), o)).collect();
    write_predictions(&dir.join("oof_predictions.csv"), &preds, true)?;
    let th: BTreeMap<&str, Option<f64>> =
        run.thresholds.iter().map(|(t, v)| (t.name(), *v)).collect();
    write_json(
        &dir.join("thresholds.json"),
        &json!({"rule": "mean over all inner folds of the Youden-optimal threshold", "thresholds": th}),
    )?;
    write_json(&dir.join("metrics.json"), &metrics)?;
    let imp: Vec<Vec<String>> = run
        .importances
        .iter()
        .map(|(n, v)| vec![n.clone(), format!("{v}")])
        .collect();
    write_csv(
        &dir.join("importances.csv"),
        &["feature", "mean_decrease_impurity"],
        &imp,
    )?;
    // Last: the resumable record, so a present run.json means the files above are complete.
    write_json(&dir.join("run.json"), run)
}

pub(crate) fn load_run(dir: &Path, fp: &str) -> Option<ModelRun> {
    let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
    let run: ModelRun = serde_json::from_str(&text).ok()?;
    (run.fingerprint == fp).then_some(run)
}

/// Test hook: with `RENAL_TRIAGE_TEST_PAUSE_AFTER_MODELS=N`, the run says so on stderr after
/// its N-th finished model and waits until its standard input closes (the resume test kills it
/// there, at a known point).
pub(crate) fn test_pause(finished: usize) {
    let Ok(n) = std::env::var("RENAL_TRIAGE_TEST_PAUSE_AFTER_MODELS") else {
        return;
    };
    if n.parse::<usize>().ok() == Some(finished) {
        eprintln!("test pause after {finished} finished models");
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
}
