//! Training a bundle: the model's nested CV (the honest estimate, and the operating points and
//! prediction sets calibrated on it), the tuning and refit on the whole cohort, and the bundle
//! manifest with the policies a new patient meets (feature schema, image specification and
//! missing-phase policy). `train` the command only reads its arguments, writes the bundle and
//! prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::engine::conformal::Conformal;
use crate::engine::data::CohortOptions;
use crate::engine::embedding::{
    embed_and_measure, embed_frozen_cohort, explain_image_exclusions, Device, EncoderConfig,
};
use crate::engine::experiment::{task_list, Embeddings, Experiment, EMBEDDING_PREFIX};
use crate::engine::features::{
    FeatureTable, LOG_RADIOGRAPHIC_SIZE, LOG_SIZE, RADIOGRAPHIC_SIZE, SIZE,
};
use crate::engine::images::{ChannelKind, ImageSpec};
use crate::engine::metrics::{model_metrics, TaskMetrics};
use crate::engine::model_run::{operating_thresholds, run_model};
use crate::engine::prepare::{
    load_and_prepare, model_table, prepare_measured, skip_reason, Prepared,
};
use crate::engine::tasks::task_thresholds;
use crate::model::bundle::MissingPhasePolicy;
use crate::model::bundle::{
    CvSummary, FeatureKind, FeatureSchema, ImageInput, Manifest, StoredOperatingPoint,
    TrainingSummary, ENCODER_FILES, FORMAT_VERSION,
};

/// What training one model needs.
pub struct TrainRequest<'a> {
    /// The experiment, with any operating points chosen for this bundle applied.
    pub experiment: &'a Experiment,
    /// The model's name in the experiment.
    pub model: &'a str,
    /// The cohort (a KiTS23 folder or a manifest) and how it is read.
    pub data: &'a Path,
    pub cohort: CohortOptions,
    /// For an image model: an encoder already trained, used frozen, or else the configuration
    /// to train (without labels) on the cohort.
    pub encoder_dir: Option<PathBuf>,
    pub encoder: Option<EncoderConfig>,
    pub device: Device,
    /// The working folder (embeddings, the encoder's folder).
    pub work: &'a Path,
    /// Also write the refit model's probabilities on its training cases and its training table
    /// into the working folder (`fitted.csv`, `table.csv`).
    pub keep_fitted: bool,
}

/// A trained bundle, not yet written: its manifest, the refit pipeline, the encoder's files
/// (image models), and the nested-CV metrics it was estimated with.
pub struct TrainOutcome {
    pub manifest: Manifest,
    pub model: renal_learn::Pipeline,
    pub files: Vec<(String, Vec<u8>)>,
    pub metrics: Vec<TaskMetrics>,
    /// Training cases.
    pub cases: usize,
}

/// Trains `req.model`: nested CV, tuning and refit on the whole cohort, the manifest.
pub fn train(req: &TrainRequest) -> Result<TrainOutcome> {
    let exp = req.experiment;
    let spec = exp
        .models
        .iter()
        .find(|m| m.name == req.model)
        .with_context(|| {
            format!(
                "no model named `{}` (available: {})",
                req.model,
                exp.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let uses_images = spec.embeddings != Embeddings::None;
    let (prepared, image) = prepare_training(req, uses_images)?;
    let plan = exp.plan(spec, &prepared.clinical)?;
    if let Some(why) = skip_reason(&plan, &prepared) {
        bail!(
            "model `{}` cannot be trained on this cohort: {why}",
            spec.name
        );
    }
    let table = model_table(&plan, &prepared)?;
    tracing::info!(model = %spec.name, "nested CV for the honest performance estimate");
    let run = run_model(exp, &plan, &table, None, String::new())?;
    let metrics = model_metrics(exp, &run)?;
    tracing::info!(model = %spec.name, "tuning on the whole cohort and refitting");
    let s = &exp.experiment;
    let tuned = exp
        .nested_cv()
        .tune_and_fit(&plan.candidates, &table.x, &table.y, 3)?;
    if req.keep_fitted {
        write_fitted(req.work, &table, &tuned.model)?;
    }
    let mut counts = [0usize; 3];
    table.y.iter().for_each(|&c| counts[c] += 1);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        model_name: spec.name.clone(),
        model_spec: spec.clone(),
        log_size: spec.log_size,
        features: feature_schema(&table),
        thresholds: task_thresholds(&s.tasks, &tuned.thresholds)?,
        operating_points: stored_operating_points(exp, &tuned.operating, &metrics),
        conformal: Some(Conformal::from_oof(&run.oof)),
        cv: metrics.iter().map(CvSummary::from).collect(),
        training: TrainingSummary {
            source: req.data.display().to_string(),
            cases: table.x.rows,
            class_counts: counts,
            excluded: prepared.cohort.excluded.len(),
            seed: s.seed,
            chosen_candidate: tuned.chosen,
            grid_size: plan.candidates.len(),
        },
        image: image
            .as_ref()
            .map(|(spec, width, files, refuse)| ImageInput {
                spec: spec.clone(),
                features: *width,
                missing_phase: MissingPhasePolicy::of(spec.kind, *refuse),
                encoder: files
                    .iter()
                    .find(|(n, _)| n == "encoder.json")
                    .and_then(|(_, b)| serde_json::from_slice(b).ok())
                    .unwrap_or_default(),
            }),
        files: BTreeMap::new(),
    };
    Ok(TrainOutcome {
        manifest,
        model: tuned.model,
        files: image.map(|(_, _, files, _)| files).unwrap_or_default(),
        metrics,
        cases: table.x.rows,
    })
}

/// Operating points chosen for a bundle (`train --operating-point`) over the experiment's (a
/// task the experiment lacks is an error).
pub fn apply_operating_points(
    exp: &mut Experiment,
    points: &[(renal_cohort::Task, renal_stats::ThresholdRule)],
) -> Result<()> {
    for (task, rule) in points {
        if !exp.experiment.tasks.contains(task) {
            bail!(
                "--operating-point {}: not one of the experiment's tasks ({})",
                task.name(),
                task_list(&exp.experiment.tasks)
            );
        }
        exp.experiment.operating_points.insert(*task, *rule);
    }
    Ok(())
}

/// The bundle's operating points: the whole-cohort tuning's thresholds, each with the same
/// rule's nested-CV estimate.
fn stored_operating_points(
    exp: &Experiment,
    tuned: &[Option<f64>],
    metrics: &[TaskMetrics],
) -> Vec<StoredOperatingPoint> {
    operating_thresholds(exp, tuned)
        .into_iter()
        .map(|(task, rule, threshold)| StoredOperatingPoint {
            task,
            rule,
            threshold,
            cv: metrics
                .iter()
                .find(|m| m.task == task)
                .and_then(|m| m.operating.clone()),
        })
        .collect()
}

/// An image model's image specification, embedding width, encoder files, and whether a
/// patient without one of the CT phases is refused.
type TrainedImages = (ImageSpec, usize, Vec<(String, Vec<u8>)>, bool);

/// Whether a CT cohort's every imaged case has every phase of `spec` (then a patient without
/// one is refused rather than given a channel the encoder never saw).
fn every_case_has_every_phase(cohort: &renal_cohort::Cohort, spec: &ImageSpec) -> bool {
    cohort
        .cases
        .iter()
        .filter(|c| c.images.mask.is_some())
        .all(|c| {
            spec.channels
                .iter()
                .all(|ch| c.images.phases.iter().any(|(n, _)| n == ch))
        })
}

/// The training cohort, prepared, and for an image model the encoder's files and image
/// specification: the encoder trained on the cohort (no labels) or given, frozen.
fn prepare_training(
    req: &TrainRequest,
    uses_images: bool,
) -> Result<(Prepared, Option<TrainedImages>)> {
    let (data, work) = (req.data, req.work);
    if !uses_images {
        return Ok((load_and_prepare(data, None, &req.cohort)?, None));
    }
    let cohort = crate::engine::data::load(data, &req.cohort)?;
    let csv = work.join("embeddings.csv");
    let (dir, no_image, measured) = match &req.encoder_dir {
        Some(d) => {
            let (images, measured) = embed_frozen_cohort(&cohort, d, &csv, req.device)?;
            (d.clone(), images.excluded, measured)
        }
        None => {
            let config = req.encoder.clone().context(
                "this model uses image embeddings: give an encoder (--encoder or --encoder-dir)",
            )?;
            let (e, measured, _) = embed_and_measure(&cohort, &csv, &config, req.device, 256)?;
            (e.dir, e.images.excluded, measured)
        }
    };
    let spec: ImageSpec = crate::output::read_json(&dir.join(ImageSpec::FILE))?;
    // (With `--encoder-dir`, the cohort at hand stands for the encoder's own training cohort.)
    let refuse = spec.kind == ChannelKind::CtPhases && every_case_has_every_phase(&cohort, &spec);
    let mut prepared = prepare_measured(data, cohort, false, Some(&csv), Some(measured))?;
    explain_image_exclusions(&mut prepared.cohort.excluded, &no_image);
    let files = ENCODER_FILES
        .iter()
        .map(|name| {
            let p = dir.join(name);
            Ok((
                name.to_string(),
                std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // The encoder's width: the embeddings' columns (the model may use fewer).
    let width = std::fs::read_to_string(&csv)
        .with_context(|| format!("reading {}", csv.display()))?
        .lines()
        .next()
        .map_or(0, |h| h.split(',').count().saturating_sub(1));
    Ok((prepared, Some((spec, width, files, refuse))))
}

/// The schema of a training table: each column's kind, range, median and missing count.
fn feature_schema(table: &FeatureTable) -> Vec<FeatureSchema> {
    (0..table.x.cols)
        .map(|j| {
            let name = table.x.names[j].clone();
            let col: Vec<f64> = table
                .x
                .column(j)
                .into_iter()
                .filter(|v| !v.is_nan())
                .collect();
            let mut sorted = col.clone();
            sorted.sort_by(f64::total_cmp);
            let median =
                (!sorted.is_empty()).then(|| renal_stats::binary::percentile(&sorted, 50.0));
            let kind = if name == SIZE || name == LOG_SIZE {
                FeatureKind::Size
            } else if name == RADIOGRAPHIC_SIZE || name == LOG_RADIOGRAPHIC_SIZE {
                FeatureKind::RadiographicSize
            } else if name.starts_with(crate::engine::features::SHAPE_PREFIX) {
                FeatureKind::Shape
            } else if name.starts_with(EMBEDDING_PREFIX) {
                FeatureKind::Embedding
            } else {
                FeatureKind::Clinical
            };
            FeatureSchema {
                name,
                kind,
                train_min: sorted.first().copied(),
                train_max: sorted.last().copied(),
                train_median: median,
                train_missing: table.x.rows - col.len(),
            }
        })
        .collect()
}

/// The refit model's probabilities on its own training cases (`fitted.csv` in the working
/// folder) and its training table (`table.csv`), to check a bundle's predictions against the
/// process that fitted it.
fn write_fitted(work: &Path, table: &FeatureTable, model: &renal_learn::Pipeline) -> Result<()> {
    let p = model.predict_proba(&table.x)?;
    let rows: Vec<Vec<String>> = (0..table.x.rows)
        .map(|i| {
            vec![
                table.case_ids[i].clone(),
                format!("{}", p.get(i, 0)),
                format!("{}", p.get(i, 1)),
                format!("{}", p.get(i, 2)),
            ]
        })
        .collect();
    crate::output::write_csv(
        &work.join("fitted.csv"),
        &["case_id", "p_benign", "p_indolent", "p_aggressive"],
        &rows,
    )?;
    // The training table itself (the model's inputs before its own imputation).
    let mut header = vec!["case_id"];
    header.extend(table.x.names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = (0..table.x.rows)
        .map(|i| {
            std::iter::once(table.case_ids[i].clone())
                .chain(table.x.row(i).iter().map(|v| format!("{v}")))
                .collect()
        })
        .collect();
    crate::output::write_csv(&work.join("table.csv"), &header, &rows)
}
