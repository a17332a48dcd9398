//! `renal-triage train`, `inspect` and `predict`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::engine::experiment::EMBEDDING_PREFIX;
use crate::engine::features::{
    FeatureTable, LOG_RADIOGRAPHIC_SIZE, LOG_SIZE, RADIOGRAPHIC_SIZE, SIZE,
};
use crate::engine::metrics::model_metrics;
use crate::engine::model_run::run_model;
use crate::engine::prepare::{load_and_prepare, model_table, skip_reason};
use crate::engine::reproduce::load_experiment;
use crate::engine::tasks::task_thresholds;
use crate::model::bundle::{
    load_bundle, write_bundle, CvSummary, FeatureKind, FeatureSchema, Manifest, TrainingSummary,
    FORMAT_VERSION,
};

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Experiment file (default: the built-in paper experiment).
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Model name, as in the experiment.
    #[arg(long)]
    pub model: String,
    /// Bundle directory to write.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub labels: super::LabelArgs,
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

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let exp = load_experiment(args.experiment.as_deref(), None)?;
    let spec = exp
        .models
        .iter()
        .find(|m| m.name == args.model)
        .with_context(|| {
            format!(
                "no model named `{}` (available: {})",
                args.model,
                exp.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let data = crate::engine::data::resolve(args.data.as_deref())?;
    let prepared = load_and_prepare(&data, None, args.labels.blank_modifier)?;
    let plan = exp.plan(spec, &prepared.clinical)?;
    if let Some(why) = skip_reason(&plan, &prepared) {
        bail!(
            "model `{}` cannot be trained on this cohort: {why}",
            spec.name
        );
    }
    let table = model_table(&plan, &prepared)?;
    tracing::info!(model = %spec.name, "nested CV for the honest performance estimate");
    let run = run_model(&exp, &plan, &table, None, String::new())?;
    let metrics = model_metrics(&exp, &run)?;
    tracing::info!(model = %spec.name, "tuning on the whole cohort and refitting");
    let s = &exp.experiment;
    let cv = exp.nested_cv();
    let tuned = cv.tune_and_fit(&plan.candidates, &table.x, &table.y, 3)?;
    let features = feature_schema(&table);
    let mut counts = [0usize; 3];
    table.y.iter().for_each(|&c| counts[c] += 1);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        model_name: spec.name.clone(),
        model_spec: spec.clone(),
        log_size: spec.log_size,
        features,
        thresholds: task_thresholds(&s.tasks, &tuned.thresholds)?,
        cv: metrics.iter().map(CvSummary::from).collect(),
        training: TrainingSummary {
            source: data.display().to_string(),
            cases: table.x.rows,
            class_counts: counts,
            excluded: prepared.cohort.excluded.len(),
            seed: s.seed,
            chosen_candidate: tuned.chosen,
            grid_size: plan.candidates.len(),
        },
        files: BTreeMap::new(),
    };
    write_bundle(&args.out, manifest, &tuned.model)?;
    println!(
        "Bundle written to {} ({} cases; CV AUC: {})",
        args.out.display(),
        table.x.rows,
        metrics
            .iter()
            .map(|m| format!("{} {:.3}", m.task.name(), m.auc))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    pub bundle: PathBuf,
}

pub fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let b = load_bundle(&args.bundle)?;
    println!("{}", serde_json::to_string_pretty(&b.manifest)?);
    Ok(ExitCode::SUCCESS)
}
