//! External (or temporal) validation: each model is tuned by CV on the training cohort, refit
//! on all of it, keeps its CV thresholds, and scores the untouched external cohort.

use std::path::Path;

use anyhow::{Context, Result};
use renal_cohort::{Exclusion, Task};
use serde::Serialize;

use crate::engine::conformal::{evaluate, Conformal, Coverage};
use crate::engine::data::CohortOptions;
use crate::engine::embedding::{embed_frozen_cohort, explain_image_exclusions, Device};
use crate::engine::experiment::{Embeddings, Experiment};
use crate::engine::features::{self};
use crate::engine::metrics::{task_metrics, TaskMetrics};
use crate::engine::model_run::{operating_thresholds, ModelRun, OofPrediction};
use crate::engine::prepare::{
    load_and_prepare, model_features, prepare_measured, skip_reason, Prepared,
};
use crate::engine::run_store::write_predictions;
use crate::engine::tasks::task_thresholds;
use crate::output::{write_csv, write_json};

#[derive(Debug, Clone, Serialize)]
pub struct ExternalModel {
    pub name: String,
    pub chosen: usize,
    pub thresholds: Vec<(Task, Option<f64>)>,
    pub metrics: Vec<TaskMetrics>,
    pub predictions: Vec<OofPrediction>,
    /// The conformal sets' empirical coverage on the external cohort, per level, calibrated on
    /// the development cohort's out-of-fold predictions of the same model.
    pub conformal: Vec<Coverage>,
}

/// The development side of an external validation: the prepared cohort and each model's
/// nested CV on it (whose out-of-fold predictions calibrate the conformal sets).
#[derive(Clone, Copy)]
pub struct Development<'a> {
    pub prepared: &'a Prepared,
    pub runs: &'a [ModelRun],
}

#[derive(Debug, Clone, Serialize)]
pub struct External {
    pub source: String,
    pub cases: usize,
    pub excluded: Vec<Exclusion>,
    pub models: Vec<ExternalModel>,
    pub skipped: Vec<(String, String)>,
    /// How the external cohort's image inputs were made (the development encoder's
    /// specification), when the development encoder embedded them.
    pub images: Option<String>,
}

/// The development cohort's trained encoder, applied frozen to the external cohort.
#[derive(Debug, Clone)]
pub struct FrozenEncoder {
    /// The encoder's folder (weights, configuration, image specification).
    pub dir: std::path::PathBuf,
    pub device: Device,
}

/// Loads the external cohort; when the experiment has image models, no embeddings file was
/// given and the development encoder is at hand, its images are made with the development
/// specification and embedded by the frozen development encoder (`out/embeddings.csv`).
fn load_external(
    exp: &Experiment,
    test_path: &Path,
    embeddings: Option<&Path>,
    opts: &CohortOptions,
    encoder: Option<&FrozenEncoder>,
    out: &Path,
) -> Result<(Prepared, Option<String>)> {
    let wants_images = exp.models.iter().any(|m| m.embeddings != Embeddings::None);
    let Some(enc) = encoder.filter(|_| wants_images && embeddings.is_none()) else {
        return Ok((load_and_prepare(test_path, embeddings, opts)?, None));
    };
    let cohort = crate::engine::data::load(test_path, opts)?;
    let csv = out.join("embeddings.csv");
    let (images, measured) = embed_frozen_cohort(&cohort, &enc.dir, &csv, enc.device)
        .context("embedding the external cohort with the development encoder")?;
    let mut prepared = prepare_measured(test_path, cohort, false, Some(&csv), Some(measured))?;
    explain_image_exclusions(&mut prepared.cohort.excluded, &images.excluded);
    Ok((prepared, Some(images.input)))
}

/// Tunes and refits every runnable model on `train`, then scores the cohort at `test_path`
/// (its image inputs from the frozen development `encoder` when given; files under `out`).
pub fn external(
    exp: &Experiment,
    dev: Development<'_>,
    test_path: &Path,
    embeddings: Option<&Path>,
    opts: &CohortOptions,
    encoder: Option<&FrozenEncoder>,
    out: &Path,
) -> Result<External> {
    let (test, images) = load_external(exp, test_path, embeddings, opts, encoder, out)
        .with_context(|| format!("external cohort {}", test_path.display()))?;
    let train = dev.prepared;
    let s = &exp.experiment;
    let cv = exp.nested_cv();
    let mut models = Vec::new();
    let mut skipped = Vec::new();
    for spec in &exp.models {
        let plan = exp.plan(spec, &train.clinical)?;
        if let Some(why) = skip_reason(&plan, train).or_else(|| skip_reason(&plan, &test)) {
            skipped.push((spec.name.clone(), why));
            continue;
        }
        let mut tr = features::build(&train.cohort, &train.meas, &model_features(&plan, train))?;
        let mut te = features::build_with_columns(
            &test.cohort,
            &test.meas,
            &model_features(&plan, train),
            &tr.x.names,
        )?;
        if spec.log_size {
            features::apply_log_size(&mut tr);
            features::apply_log_size(&mut te);
        }
        let tuned = cv
            .tune_and_fit(&plan.candidates, &tr.x, &tr.y, 3)
            .with_context(|| format!("model `{}`", spec.name))?;
        let p = tuned.model.predict_proba(&te.x)?;
        let predictions: Vec<OofPrediction> = (0..te.x.rows)
            .map(|i| OofPrediction {
                case_id: te.case_ids[i].clone(),
                fold: 0,
                label: te.y[i],
                proba: [p.get(i, 0), p.get(i, 1), p.get(i, 2)],
            })
            .collect();
        let thresholds = task_thresholds(&s.tasks, &tuned.thresholds)?;
        let operating = operating_thresholds(exp, &tuned.operating);
        let metrics = thresholds
            .iter()
            .enumerate()
            .map(|(i, (t, th))| {
                let op = operating
                    .iter()
                    .find(|(task, _, _)| task == t)
                    .map(|(_, rule, th)| (*rule, *th));
                task_metrics(
                    *t,
                    &predictions,
                    *th,
                    op,
                    s.calibration_bins,
                    s.bootstrap,
                    s.seed.wrapping_add(100 + i as u64),
                )
            })
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("scoring model `{}` on the external cohort", spec.name))?;
        let conformal = match dev.runs.iter().find(|r| r.name == spec.name) {
            Some(run) => Conformal::from_oof(&run.oof)
                .levels
                .iter()
                .map(|l| evaluate(l, &predictions))
                .collect(),
            None => Vec::new(),
        };
        models.push(ExternalModel {
            name: spec.name.clone(),
            chosen: tuned.chosen,
            thresholds,
            metrics,
            predictions,
            conformal,
        });
    }
    Ok(External {
        source: test_path.display().to_string(),
        cases: test.cohort.cases.len(),
        excluded: test.cohort.excluded.clone(),
        models,
        skipped,
        images,
    })
}

/// Writes the external results: predictions per model, metrics, exclusions.
pub fn write_external(e: &External, out: &Path) -> Result<()> {
    let preds: Vec<(&str, &OofPrediction)> = e
        .models
        .iter()
        .flat_map(|m| m.predictions.iter().map(|p| (m.name.as_str(), p)))
        .collect();
    write_predictions(&out.join("predictions.csv"), &preds, false)?;
    let mut t = Vec::new();
    for m in &e.models {
        for x in &m.metrics {
            let c = x.confusion;
            t.push(vec![
                m.name.clone(),
                x.task.name().into(),
                x.n.to_string(),
                format!("{}", x.auc),
                format!("{}", x.auc_ci95[0]),
                format!("{}", x.auc_ci95[1]),
                format!("{}", x.pr_auc),
                format!("{}", x.brier),
                x.threshold.map(|v| format!("{v}")).unwrap_or_default(),
                c.map(|c| format!("{}", c.sensitivity)).unwrap_or_default(),
                c.map(|c| format!("{}", c.specificity)).unwrap_or_default(),
            ]);
        }
    }
    write_csv(
        &out.join("metrics.csv"),
        &[
            "model",
            "task",
            "n",
            "auc",
            "ci95_low",
            "ci95_high",
            "pr_auc",
            "brier",
            "cv_threshold",
            "sensitivity",
            "specificity",
        ],
        &t,
    )?;
    write_csv(
        &out.join("conformal.csv"),
        crate::engine::tables::COVERAGE_HEADER,
        &e.models
            .iter()
            .flat_map(|m| {
                m.conformal
                    .iter()
                    .map(|c| crate::engine::tables::coverage_row(&m.name, c))
            })
            .collect::<Vec<_>>(),
    )?;
    write_csv(
        &out.join("excluded.csv"),
        &["case_id", "reason"],
        &e.excluded
            .iter()
            .map(|x| vec![x.case.clone(), x.reason.clone()])
            .collect::<Vec<_>>(),
    )?;
    write_json(&out.join("external.json"), e)
}
