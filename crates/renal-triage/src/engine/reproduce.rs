//! The study's analysis on a cohort: image embeddings (given or computed), the cohort and its
//! measurements, every model of the experiment under nested CV, the study's tables, and the
//! external cohort when one is given. Returns an [`Outcome`]; rendering it is the report's job.
//!
//! Layout written under the output folder: `cohort/` (table1, labels, excluded, features,
//! measurements, agreement); `encoder/` (when the embeddings are computed); `models/<model>/`
//! (oof_predictions.csv, thresholds.json, metrics.json, importances.csv, run.json); `tables/`
//! (Tables 2-7 as CSV and JSON); `external/`. Every file is written atomically; a model whose
//! `run.json` matches the current inputs is reused, so a killed run continues where it stopped.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::engine::cohort_outputs::CohortSummary;
use crate::engine::cohort_outputs::{write_cohort_outputs, Agreement};
use crate::engine::data;
use crate::engine::decision_curve::{decision_curves, write_decision_curves, DecisionCurve};
use crate::engine::embedding::{
    embed_and_measure, explain_image_exclusions, Device, EmbedOutcome, EncoderConfig,
};
use crate::engine::experiment::{load_experiment, Embeddings, Experiment};
use crate::engine::external::{self, External};
use crate::engine::metrics::{model_metrics, TaskMetrics};
use crate::engine::model_run::{run_model, ModelRun};
use crate::engine::prepare::{fold_plan, model_table, prepare_measured, skip_reason, Prepared};
use crate::engine::run_store::{fingerprint, load_run, slug, test_pause, write_model};
use crate::engine::tables::{study_tables, Tables};
use crate::output::{write_csv, write_json};
use crate::progress::progress;

/// What to reproduce, and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// A KiTS23 folder, a folder with manifest.csv, or a manifest CSV (`None`: found by
    /// [`data::resolve`]).
    pub data: Option<PathBuf>,
    /// Experiment file (default: experiments/paper.toml, compiled in).
    pub experiment: Option<PathBuf>,
    /// Image embeddings (`case_id,f0..`), joined by case id.
    pub embeddings: Option<PathBuf>,
    /// Predefined splits: a CSV `case_id,outer_fold[,inner_fold]` or a folder of `data-K/`.
    pub splits: Option<PathBuf>,
    /// Labels table (`case_id,label`) when `data` is a feature table.
    pub labels: Option<PathBuf>,
    /// An external cohort scored by models tuned and refit on `data`.
    pub external: Option<PathBuf>,
    pub out: PathBuf,
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
    /// Without `embeddings`: the encoder that computes them (`None`: image models skipped).
    pub encoder: Option<EncoderConfig>,
    pub device: Device,
    /// How both cohorts (development and external) are read: what a blank pathology modifier
    /// means for the label, and `--label-map` for the cases without their own.
    pub cohort: data::CohortOptions,
}

/// What a reproduction produced, for the report and the benchmark.
pub struct Outcome {
    pub exp: Experiment,
    pub prepared: Prepared,
    pub runs: Vec<ModelRun>,
    pub metrics: Vec<(String, Vec<TaskMetrics>)>,
    pub skipped: Vec<(String, String)>,
    pub external: Option<External>,
    /// Size agreement and annotator reliability (as written to cohort/agreement.json).
    pub agreement: Agreement,
    /// The encoder run that produced the embeddings, when `reproduce` computed them.
    pub encoder: Option<EmbedOutcome>,
    pub timings: Vec<(String, f64)>,
    /// The study's tables (written under `tables/`).
    pub tables: Tables,
    /// Net benefit per task (`tables/decision_curve_<task>.csv`).
    pub decision_curves: Vec<DecisionCurve>,
    /// The data folder or file the cohort was read from.
    pub data: PathBuf,
    /// What a blank pathology modifier meant for the labels.
    pub blank_modifier: renal_cohort::BlankModifier,
    /// Table 1, the exclusions and the recorded values read as missing, for the report.
    pub cohort: CohortSummary,
}

/// Stage timings (seconds per stage, in order).
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let r = f()?;
        self.0.push((name.to_string(), t.elapsed().as_secs_f64()));
        Ok(r)
    }
}

/// Loads the cohort once; computes the image embeddings from it when the experiment has image
/// models and none were given; joins them and measures the masks.
fn prepare_cohort(
    req: &Request,
    exp: &Experiment,
    data: &std::path::Path,
    timings: &mut Timings,
) -> Result<(Prepared, Option<EmbedOutcome>)> {
    let t0 = Instant::now();
    tracing::info!(data = %data.display(), "loading the cohort");
    let cohort = data::load_with_labels(data, req.labels.as_deref(), &req.cohort)?;
    let loading = t0.elapsed().as_secs_f64();
    let wants_images = exp.models.iter().any(|m| m.embeddings != Embeddings::None);
    let mut encoder = None;
    let mut measured = None;
    let mut embeddings = req.embeddings.clone();
    let has_masks = cohort.cases.iter().any(|c| c.images.mask.is_some());
    if let (None, None, Some(config), true, true) = (
        &req.embeddings,
        &req.labels,
        &req.encoder,
        wants_images,
        has_masks,
    ) {
        tracing::info!(config = %config, "computing image embeddings");
        let csv = req.out.join("encoder").join("embeddings.csv");
        // One pass over the masks: each decoded once for its measurements and its image; no
        // image at all when a finished encoder was made from the same inputs.
        let t = Instant::now();
        let (e, meas, reused) = embed_and_measure(&cohort, &csv, config, req.device, 256)?;
        let stage = if reused {
            "masks_measured"
        } else {
            "image_inputs_and_encoder"
        };
        timings.0.push((stage.into(), t.elapsed().as_secs_f64()));
        embeddings = Some(csv);
        encoder = Some(e);
        measured = Some(meas);
    }
    let t = Instant::now();
    tracing::info!("measuring the cohort");
    let mut prepared = prepare_measured(
        data,
        cohort,
        req.labels.is_some(),
        embeddings.as_deref(),
        measured,
    )?;
    if let Some(e) = &encoder {
        explain_image_exclusions(&mut prepared.cohort.excluded, &e.images.excluded);
    }
    // Loading and measuring, without the encoder's own stage (timed on its own).
    let seconds = loading + t.elapsed().as_secs_f64();
    timings.0.push(("cohort_and_measurements".into(), seconds));
    Ok((prepared, encoder))
}

/// The models that ran (with their metrics) and those skipped (with the reason).
struct ModelResults {
    runs: Vec<ModelRun>,
    metrics: Vec<(String, Vec<TaskMetrics>)>,
    skipped: Vec<(String, String)>,
}

/// Runs every model of the experiment (reusing finished ones) and writes each one's outputs.
fn run_models(
    req: &Request,
    exp: &Experiment,
    prepared: &Prepared,
    timings: &mut Timings,
) -> Result<ModelResults> {
    let splits = match &req.splits {
        Some(p) => Some(
            renal_cohort::read_splits(p, &prepared.cohort)
                .with_context(|| format!("reading splits {}", p.display()))?,
        ),
        None => None,
    };
    let mut runs = Vec::new();
    let mut metrics = Vec::new();
    let mut skipped = Vec::new();
    let pb = progress(exp.models.len(), "models");
    for spec in &exp.models {
        let plan = exp.plan(spec, &prepared.clinical)?;
        if let Some(why) = skip_reason(&plan, prepared) {
            tracing::warn!(model = %spec.name, reason = %why, "model skipped");
            skipped.push((spec.name.clone(), why));
            pb.inc(1);
            continue;
        }
        let (run, m) = timings.stage(&format!("model {}", spec.name), || {
            let table = model_table(&plan, prepared)?;
            let folds = splits.as_ref().map(|s| fold_plan(s, &table)).transpose()?;
            let fp = fingerprint(exp, &plan, &table, folds.as_ref());
            let dir = req.out.join("models").join(slug(&spec.name));
            let run = match load_run(&dir, &fp) {
                Some(r) => {
                    tracing::info!(model = %spec.name, "reusing finished model from a previous run");
                    r
                }
                None => run_model(exp, &plan, &table, folds.as_ref(), fp)?,
            };
            let m = model_metrics(exp, &run)?;
            write_model(&dir, &run, &m)?;
            Ok((run, m))
        })?;
        metrics.push((run.name.clone(), m));
        runs.push(run);
        pb.inc(1);
        test_pause(runs.len());
    }
    pb.finish_and_clear();
    Ok(ModelResults {
        runs,
        metrics,
        skipped,
    })
}

/// Writes the study's tables and the list of skipped models under `tables/`.
fn write_tables(
    out: &std::path::Path,
    tables: &Tables,
    skipped: &[(String, String)],
) -> Result<()> {
    for t in &tables.csv {
        write_csv(
            &out.join("tables").join(&t.file),
            &t.header.iter().map(String::as_str).collect::<Vec<_>>(),
            &t.rows,
        )?;
        write_json(&out.join("tables").join(t.file.replace(".csv", ".json")), t)?;
    }
    write_csv(
        &out.join("tables/skipped_models.csv"),
        &["model", "reason"],
        &skipped
            .iter()
            .map(|(a, b)| vec![a.clone(), b.clone()])
            .collect::<Vec<_>>(),
    )
}

/// Runs the whole reproduction and writes its data outputs (not the report).
pub fn reproduce(req: &Request) -> Result<Outcome> {
    let mut timings = Timings::default();
    let exp = load_experiment(req.experiment.as_deref(), req.seed)?;
    let data = data::resolve(req.data.as_deref())?;
    let (prepared, encoder) = prepare_cohort(req, &exp, &data, &mut timings)?;
    let cohort = CohortSummary::of(&prepared.cohort);
    let agreement = timings.stage("cohort_tables_and_agreement", || {
        write_cohort_outputs(
            &prepared.cohort,
            &cohort,
            &prepared.meas,
            &req.out.join("cohort"),
        )
    })?;
    let ModelResults {
        runs,
        metrics,
        skipped,
    } = run_models(req, &exp, &prepared, &mut timings)?;
    let (tables, decision_curves) = timings.stage("tables_and_delong", || {
        let tables = study_tables(&runs, &metrics, &exp.experiment.tasks);
        write_tables(&req.out, &tables, &skipped)?;
        let curves = decision_curves(&runs, &exp.experiment.tasks)?;
        write_decision_curves(&curves, &req.out.join("tables"))?;
        Ok((tables, curves))
    })?;
    let external = match &req.external {
        Some(ext) => Some(timings.stage("external_validation", || {
            let frozen = encoder.as_ref().map(|e| external::FrozenEncoder {
                dir: e.dir.clone(),
                device: req.device,
            });
            let e = external::external(
                &exp,
                external::Development {
                    prepared: &prepared,
                    runs: &runs,
                },
                ext,
                req.embeddings.as_deref(),
                &req.cohort,
                frozen.as_ref(),
                &req.out.join("external"),
            )?;
            external::write_external(&e, &req.out.join("external"))?;
            Ok(e)
        })?),
        None => None,
    };
    Ok(Outcome {
        exp,
        cohort,
        prepared,
        runs,
        metrics,
        skipped,
        external,
        agreement,
        encoder,
        timings: timings.0,
        tables,
        decision_curves,
        data,
        blank_modifier: req.cohort.blank_modifier,
    })
}
