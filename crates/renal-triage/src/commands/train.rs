//! `renal-triage train`, `inspect` and `predict`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::engine::conformal::Conformal;
use crate::engine::embedding::{embed_and_measure, embed_frozen_cohort, explain_image_exclusions};
use crate::engine::experiment::load_experiment;
use crate::engine::experiment::{Embeddings, EMBEDDING_PREFIX};
use crate::engine::features::{
    FeatureTable, LOG_RADIOGRAPHIC_SIZE, LOG_SIZE, RADIOGRAPHIC_SIZE, SIZE,
};
use crate::engine::images::ImageSpec;
use crate::engine::metrics::model_metrics;
use crate::engine::model_run::{operating_thresholds, run_model};
use crate::engine::prepare::{
    load_and_prepare, model_table, prepare_measured, skip_reason, Prepared,
};
use crate::engine::tasks::task_thresholds;
use crate::model::bundle::{
    load_bundle, write_bundle, CvSummary, FeatureKind, FeatureSchema, ImageInput, Manifest,
    StoredOperatingPoint, TrainingSummary, ENCODER_FILES, FORMAT_VERSION,
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
    /// For an image model: the encoder configuration trained (without labels) on the cohort
    /// and stored in the bundle.
    #[arg(long, default_value = "default")]
    pub encoder: super::reproduce::EncoderChoice,
    /// For an image model: an encoder already trained (a `reproduce` run's
    /// `encoder/embeddings_encoder`), used frozen instead of training one.
    #[arg(long, conflicts_with = "encoder")]
    pub encoder_dir: Option<PathBuf>,
    /// Device of the encoder (`cpu` or `cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: crate::engine::embedding::Device,
    /// Keep the working files here (the cohort's embeddings, the encoder's folder, and the
    /// refit model's probabilities on its training cases): by default a temporary folder.
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Sign the bundle with this Ed25519 private key (PKCS#8 PEM: `openssl genpkey -algorithm
    /// ed25519 -out KEY.pem`): `bundle.sig`, checked by `serve`/`predict --trusted-keys`.
    #[arg(long)]
    pub sign: Option<PathBuf>,
    /// Operating points chosen for the clinical question, per task, besides the study's Youden
    /// threshold: `malignant_vs_benign=sens:0.95,aggressive_vs_rest=youden` (rules: `youden`,
    /// `sens:T`, `spec:T`). Default: the experiment's (`malignant_vs_benign=sens:0.95`, a
    /// rule-out for "can this mass be watched?"; `aggressive_vs_rest=youden`).
    #[arg(long, value_parser = parse_operating_points)]
    pub operating_point: Option<OperatingPoints>,
    #[command(flatten)]
    pub labels: super::LabelArgs,
}

/// `--operating-point`: task=rule pairs.
#[derive(Debug, Clone)]
pub struct OperatingPoints(pub Vec<(renal_cohort::Task, renal_stats::ThresholdRule)>);

fn parse_operating_points(s: &str) -> std::result::Result<OperatingPoints, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (task, rule) = part.split_once('=').ok_or_else(|| {
            format!("`{part}`: expected TASK=RULE (e.g. malignant_vs_benign=sens:0.95)")
        })?;
        let task = renal_cohort::Task::ALL
            .into_iter()
            .find(|t| t.name() == task.trim())
            .ok_or_else(|| {
                format!(
                    "`{}` is not a task (tasks: {})",
                    task.trim(),
                    renal_cohort::Task::ALL.map(|t| t.name()).join(", ")
                )
            })?;
        if out.iter().any(|(t, _)| *t == task) {
            return Err(format!("`{}` is given twice", task.name()));
        }
        out.push((task, rule.parse()?));
    }
    Ok(OperatingPoints(out))
}

/// An image model's image specification, embedding width, encoder files, and whether a
/// patient without one of the CT phases is refused.
type TrainedImages = (ImageSpec, usize, Vec<(String, Vec<u8>)>, bool);

/// The missing-phase policy in words, for the bundle and the page.
fn missing_phase_policy(spec: &ImageSpec, refuse: bool) -> &'static str {
    match (spec.intensity, refuse) {
        (false, _) => "not applicable: the channels are the mask's planes, no CT phase is read",
        (true, true) => "refused: every training case had every phase, so the encoder never saw a missing one",
        (true, false) => "a CT phase the patient lacks is a zero channel, as it was for the training cases that lacked it",
    }
}

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
    args: &TrainArgs,
    data: &std::path::Path,
    uses_images: bool,
    work: &std::path::Path,
) -> Result<(Prepared, Option<TrainedImages>)> {
    let opts = args.labels.cohort_options();
    if !uses_images {
        return Ok((load_and_prepare(data, None, &opts)?, None));
    }
    let cohort = crate::engine::data::load(data, &opts)?;
    let csv = work.join("embeddings.csv");
    let (dir, no_image, measured) = match &args.encoder_dir {
        Some(d) => {
            let (images, measured) = embed_frozen_cohort(&cohort, d, &csv, args.device)?;
            (d.clone(), images.excluded, measured)
        }
        None => {
            let config = args.encoder.config().context(
                "this model uses image embeddings: give an encoder (--encoder or --encoder-dir)",
            )?;
            let (e, measured, _) = embed_and_measure(&cohort, &csv, &config, args.device, 256)?;
            (e.dir, e.images.excluded, measured)
        }
    };
    let spec: ImageSpec = crate::output::read_json(&dir.join(ImageSpec::FILE))?;
    // (With `--encoder-dir`, the cohort at hand stands for the encoder's own training cohort.)
    let refuse = spec.intensity && every_case_has_every_phase(&cohort, &spec);
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

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let mut exp = load_experiment(args.experiment.as_deref(), None)?;
    if let Some(points) = &args.operating_point {
        apply_operating_points(&mut exp, points)?;
    }
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
    let temp = tempfile::tempdir().context("creating a working folder")?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let uses_images = spec.embeddings != Embeddings::None;
    let (prepared, image) = prepare_training(&args, &data, uses_images, &work)?;
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
    if args.work.is_some() {
        write_fitted(&work, &table, &tuned.model)?;
    }
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
        operating_points: stored_operating_points(&exp, &tuned.operating, &metrics),
        conformal: Some(Conformal::from_oof(&run.oof)),
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
        image: image
            .as_ref()
            .map(|(spec, width, files, refuse)| ImageInput {
                spec: spec.clone(),
                features: *width,
                missing_phase: missing_phase_policy(spec, *refuse).into(),
                refuse_missing_phase: *refuse,
                encoder: files
                    .iter()
                    .find(|(n, _)| n == "encoder.json")
                    .and_then(|(_, b)| serde_json::from_slice(b).ok())
                    .unwrap_or_default(),
            }),
        files: BTreeMap::new(),
    };
    let extra = image.map(|(_, _, files, _)| files).unwrap_or_default();
    let digest = land_bundle(&args, manifest, &tuned.model, extra)?;
    println!("Bundle digest sha256:{digest}");
    print_operating_points(&metrics);
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

/// `--operating-point` over the experiment's (a task the experiment lacks is an error).
fn apply_operating_points(
    exp: &mut crate::engine::experiment::Experiment,
    OperatingPoints(points): &OperatingPoints,
) -> Result<()> {
    for (task, rule) in points {
        if !exp.experiment.tasks.contains(task) {
            bail!(
                "--operating-point {}: not one of the experiment's tasks ({})",
                task.name(),
                exp.experiment
                    .tasks
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        exp.experiment.operating_points.insert(*task, *rule);
    }
    Ok(())
}

/// The bundle's operating points: the whole-cohort tuning's thresholds, each with the same
/// rule's nested-CV estimate.
fn stored_operating_points(
    exp: &crate::engine::experiment::Experiment,
    tuned: &[Option<f64>],
    metrics: &[crate::engine::metrics::TaskMetrics],
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

fn print_operating_points(metrics: &[crate::engine::metrics::TaskMetrics]) {
    for m in metrics {
        if let Some(op) = &m.operating {
            println!(
                "{} at {}: {}",
                m.task.words(),
                op.rule.describe(),
                operating_summary(op)
            );
        }
    }
}

/// An operating point's pooled out-of-fold rates with their CIs, on one line.
pub fn operating_summary(op: &crate::engine::metrics::OperatingPoint) -> String {
    let Some(m) = &op.metrics else {
        return "no threshold could be learned".into();
    };
    let rate = |name: &str, p: &renal_stats::Proportion| match (p.estimate, p.ci95) {
        (Some(e), Some([lo, hi])) => format!(
            "{name} {:.1}% (95% CI {:.1}-{:.1}%, {}/{})",
            e * 100.0,
            lo * 100.0,
            hi * 100.0,
            p.k,
            p.n
        ),
        _ => format!("{name} undefined (0 cases)"),
    };
    format!(
        "threshold {:.3}; {}; {}; {}; {} (pooled out-of-fold)",
        m.threshold,
        rate("sensitivity", &m.sensitivity),
        rate("specificity", &m.specificity),
        rate("PPV", &m.ppv),
        rate("NPV", &m.npv)
    )
}

/// Writes the bundle whole into a staging folder beside `--out`, verifies it by loading it
/// back, signs it (with `--sign`) and swaps it in: a kill leaves the previous bundle (or none),
/// never its manifest beside a new pipeline. The bundle's digest.
fn land_bundle(
    args: &TrainArgs,
    manifest: Manifest,
    model: &renal_learn::Pipeline,
    extra: Vec<(String, Vec<u8>)>,
) -> Result<String> {
    let staged = crate::output::Staged::begin(&args.out)?;
    write_bundle(staged.path(), manifest, model, extra)?;
    let written = load_bundle(staged.path())?;
    if let Some(key) = &args.sign {
        let public = crate::model::signing::sign(staged.path(), &written.digest, key)?;
        println!("Signed with {public} (put it in a --trusted-keys file)");
    }
    crate::output::test_pause_at("train-written");
    staged.commit()?;
    Ok(written.digest)
}

/// The refit model's probabilities on its own training cases (`fitted.csv` in the working
/// folder) and its training table (`table.csv`), to check a bundle's predictions against the
/// process that fitted it.
fn write_fitted(
    work: &std::path::Path,
    table: &FeatureTable,
    model: &renal_learn::Pipeline,
) -> Result<()> {
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

#[derive(Args, Debug)]
pub struct InspectArgs {
    pub bundle: PathBuf,
    #[command(flatten)]
    pub trust: super::BundleTrust,
    /// Print only the bundle's digest (the sha256 of its canonical manifest, which records
    /// every other file's sha256).
    #[arg(long)]
    pub digest: bool,
    /// List the model's clinical inputs instead: each field's name, meaning, unit, allowed
    /// values (words, codes, synonyms) and training range.
    #[arg(long)]
    pub fields: bool,
}

pub fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let b = args.trust.load(&args.bundle)?;
    if args.digest {
        println!("{}", b.digest);
        return Ok(ExitCode::SUCCESS);
    }
    if args.fields {
        let fields = crate::model::fields::field_table(&b);
        if fields.is_empty() {
            println!("This model takes no clinical value.");
        }
        print!("{}", crate::model::fields::fields_text(&fields));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", serde_json::to_string_pretty(&b.manifest)?);
    eprintln!(
        "bundle digest sha256:{} (every file matches its recorded sha256); {}",
        b.digest,
        b.signer
            .as_deref()
            .map(|k| format!("signed by {k} (the signature verifies)"))
            .unwrap_or_else(|| "not signed".into())
    );
    Ok(ExitCode::SUCCESS)
}
