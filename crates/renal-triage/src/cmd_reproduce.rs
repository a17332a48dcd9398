//! `renal-triage reproduce`: the study's analysis on a cohort, as tables, figures and a report.
//!
//! Layout written under `--out`: `manifest.json`; `cohort/` (table1, labels, excluded,
//! features, measurements, agreement); `models/<model>/` (oof_predictions.csv,
//! thresholds.json, metrics.json, importances.csv, run.json); `tables/` (Tables 2-7 as CSV and
//! JSON); `figures/` (SVG); `report.html`. Every file is written atomically; a model whose
//! `run.json` matches the current inputs is reused, so a killed run continues where it stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use renal_cohort::Cohort;
use renal_imaging::{CaseMeasurements, LabelScheme};
use serde_json::json;

use crate::experiment::{Embeddings, Experiment, ModelPlan, EMBEDDING_PREFIX, PAPER_TOML};
use crate::features::{self, FeatureSpec, FeatureTable};
use crate::output::{cell, write_csv, write_json};
use crate::results::{model_metrics, run_model, ModelRun, TaskMetrics};

#[derive(Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// A KiTS23 folder, a folder with manifest.csv, or a manifest CSV (default: see README).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Experiment file (default: experiments/paper.toml, compiled in).
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Image embeddings (`case_id,f0..`), joined by case id.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// Predefined splits: a CSV `case_id,outer_fold[,inner_fold]` or a folder of `data-K/`.
    #[arg(long)]
    pub splits: Option<PathBuf>,
    /// Labels table (`case_id,label`) when `--data` is a feature table.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// An external cohort scored by models tuned and refit on `--data` (external validation).
    #[arg(long)]
    pub external: Option<PathBuf>,
    #[arg(long, default_value = "out/reproduce")]
    pub out: PathBuf,
    /// Overrides the experiment's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Without `--embeddings`: the SimCLR encoder configuration used to compute them (`default`,
    /// `paper`, `tiny` or a JSON file; trained without labels, resumed from out/encoder), or
    /// `none` to skip the image models.
    #[arg(long, default_value = "default")]
    pub encoder: String,
    /// Device of the encoder (`cpu` or `cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// A loaded cohort with its measurements and the clinical features it has.
pub struct Prepared {
    pub source: PathBuf,
    pub cohort: Cohort,
    pub meas: BTreeMap<String, CaseMeasurements>,
    pub clinical: Vec<String>,
    pub has_embeddings: bool,
}

/// Loads a cohort (KiTS23 folder, manifest, or feature table + labels), joins embeddings and
/// measures the masks.
pub fn prepare(data: &Path, labels: Option<&Path>, embeddings: Option<&Path>) -> Result<Prepared> {
    let mut cohort = match labels {
        Some(l) => {
            renal_cohort::cohort_from_tables(data, l).context("loading feature + label tables")?
        }
        None => crate::data::load(data)?,
    };
    let mut has_embeddings = labels.is_some();
    if labels.is_some() {
        // Feature-table cohorts: every numeric column is an embedding-like input.
        for c in &mut cohort.cases {
            c.extra = std::mem::take(&mut c.extra)
                .into_iter()
                .map(|(k, v)| (format!("{EMBEDDING_PREFIX}{k}"), v))
                .collect();
        }
    }
    if let Some(e) = embeddings {
        let table = renal_cohort::read_feature_table(e)
            .with_context(|| format!("reading embeddings {}", e.display()))?;
        renal_cohort::join_features(&mut cohort, &table, EMBEDDING_PREFIX, e);
        has_embeddings = true;
    }
    let meas = crate::measure::measure_cohort(&mut cohort, LabelScheme::default());
    let clinical = FeatureSpec::all_clinical_and_size(&cohort).clinical;
    Ok(Prepared {
        source: data.to_path_buf(),
        cohort,
        meas,
        clinical,
        has_embeddings,
    })
}

/// The feature spec of a planned model.
pub fn model_features(plan: &ModelPlan, prepared: &Prepared) -> FeatureSpec {
    FeatureSpec {
        clinical: plan
            .clinical
            .iter()
            .filter(|c| prepared.clinical.contains(c))
            .cloned()
            .collect(),
        size: plan.spec.size && !prepared.meas.is_empty(),
        extra_prefix: (plan.spec.embeddings != Embeddings::None)
            .then(|| EMBEDDING_PREFIX.to_string()),
    }
}

/// Builds a model's table, applying `log_size`.
pub fn model_table(plan: &ModelPlan, prepared: &Prepared) -> Result<FeatureTable> {
    let mut t = features::build(
        &prepared.cohort,
        &prepared.meas,
        &model_features(plan, prepared),
    )?;
    if plan.spec.log_size {
        if let Some(j) = t.x.names.iter().position(|n| n == features::SIZE) {
            for i in 0..t.x.rows {
                let v = &mut t.x.data[i * t.x.cols + j];
                *v = v.max(1e-3).ln();
            }
            t.x.names[j] = "log_tumor_size_mm".into();
        }
    }
    Ok(t)
}

/// Why a model cannot run on this cohort, if it cannot.
pub fn skip_reason(plan: &ModelPlan, prepared: &Prepared) -> Option<String> {
    if plan.spec.embeddings != Embeddings::None && !prepared.has_embeddings {
        return Some(
            "needs image embeddings: none given (--embeddings) and none computed yet".into(),
        );
    }
    if plan.spec.size && prepared.meas.is_empty() {
        return Some("needs the tumor size: no case has a measurable mask".into());
    }
    if !plan.clinical.is_empty() && prepared.clinical.is_empty() {
        return Some("needs clinical features: the cohort has none".into());
    }
    None
}

/// Converts predefined splits (case ids) into row folds of a table; every row must be tested
/// exactly once.
pub fn fold_plan(
    splits: &renal_cohort::Splits,
    table: &FeatureTable,
) -> Result<renal_learn::FoldPlan> {
    let row: BTreeMap<&str, usize> = table
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let rows = |ids: &[String]| -> Result<Vec<usize>> {
        ids.iter()
            .map(|id| {
                row.get(id.as_str())
                    .copied()
                    .with_context(|| format!("split case `{id}` is not in the analysed cohort"))
            })
            .collect()
    };
    let mut tested = vec![false; table.case_ids.len()];
    let mut outer = Vec::new();
    for f in &splits.outer {
        let test = rows(&f.test)?;
        test.iter().for_each(|&r| tested[r] = true);
        let inner = f
            .inner
            .iter()
            .map(|i| Ok((rows(&i.train)?, rows(&i.val)?)))
            .collect::<Result<Vec<_>>>()?;
        outer.push(renal_learn::OuterPlan {
            train: rows(&f.train)?,
            test,
            inner,
        });
    }
    if let Some(i) = tested.iter().position(|t| !t) {
        bail!(
            "case `{}` is in no test fold of the split file",
            table.case_ids[i]
        );
    }
    Ok(renal_learn::FoldPlan { outer })
}

fn slug(name: &str) -> String {
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
fn fingerprint(
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

/// Writes a model's outputs.
fn write_model(dir: &Path, run: &ModelRun, metrics: &[TaskMetrics]) -> Result<()> {
    let rows: Vec<Vec<String>> = run
        .oof
        .iter()
        .map(|o| {
            vec![
                o.case_id.clone(),
                run.name.clone(),
                o.fold.to_string(),
                o.label.to_string(),
                format!("{}", o.proba[0]),
                format!("{}", o.proba[1]),
                format!("{}", o.proba[2]),
            ]
        })
        .collect();
    write_csv(
        &dir.join("oof_predictions.csv"),
        &[
            "case_id",
            "model",
            "fold",
            "label",
            "p_benign",
            "p_indolent",
            "p_aggressive",
        ],
        &rows,
    )?;
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

fn load_run(dir: &Path, fp: &str) -> Option<ModelRun> {
    let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
    let run: ModelRun = serde_json::from_str(&text).ok()?;
    (run.fingerprint == fp).then_some(run)
}

/// What a reproduction produced, for the report and the benchmark.
pub struct Outcome {
    pub exp: Experiment,
    pub prepared: Prepared,
    pub runs: Vec<ModelRun>,
    pub metrics: Vec<(String, Vec<TaskMetrics>)>,
    pub skipped: Vec<(String, String)>,
    pub external: Option<crate::validate::External>,
    /// Size agreement and annotator reliability (as written to cohort/agreement.json).
    pub agreement: serde_json::Value,
    /// The encoder run that produced the embeddings, when `reproduce` computed them.
    pub encoder: Option<crate::cmd_embed::EmbedOutcome>,
    pub timings: Vec<(String, f64)>,
}

/// Runs the whole reproduction and writes its outputs.
pub fn reproduce(args: &ReproduceArgs) -> Result<Outcome> {
    let mut timings = Vec::new();
    let t0 = Instant::now();
    let mut exp = match &args.experiment {
        Some(p) => Experiment::load(p)?,
        None => Experiment::parse(PAPER_TOML).context("the built-in paper experiment")?,
    };
    if let Some(s) = args.seed {
        exp.experiment.seed = s;
    }
    let data = crate::data::resolve(args.data.as_deref())?;
    let out = &args.out;
    // Image embeddings: given, or computed by the encoder (no labels) from the cohort's images.
    let mut encoder = None;
    let mut embeddings = args.embeddings.clone();
    let wants_images = exp.models.iter().any(|m| m.embeddings != Embeddings::None);
    if embeddings.is_none() && args.labels.is_none() && args.encoder != "none" && wants_images {
        let cohort = crate::data::load(&data)?;
        if cohort.cases.iter().any(|c| c.images.mask.is_some()) {
            tracing::info!(config = %args.encoder, "computing image embeddings");
            let te = Instant::now();
            let csv = out.join("encoder").join("embeddings.csv");
            let e = crate::cmd_embed::embed_cohort(&cohort, &csv, &args.encoder, &args.device, 256)
                .context("computing image embeddings")?;
            timings.push((
                "image_inputs_and_encoder".into(),
                te.elapsed().as_secs_f64(),
            ));
            embeddings = Some(csv);
            encoder = Some(e);
        }
    }
    tracing::info!(data = %data.display(), "loading and measuring the cohort");
    let mut prepared = prepare(&data, args.labels.as_deref(), embeddings.as_deref())?;
    if let Some(e) = &encoder {
        // Cases without an image input were excluded by the join: give the real reason.
        for x in &mut prepared.cohort.excluded {
            if let Some((_, why)) = e.images.excluded.iter().find(|(id, _)| *id == x.case) {
                x.reason = format!("no image input: {why}");
            }
        }
    }
    timings.push(("cohort_and_measurements".into(), t0.elapsed().as_secs_f64()));
    let agreement = crate::cmd_cohort::write_cohort_outputs(
        &prepared.cohort,
        &prepared.meas,
        &out.join("cohort"),
    )?;
    timings.push((
        "cohort_tables_and_agreement".into(),
        t0.elapsed().as_secs_f64(),
    ));

    let splits = match &args.splits {
        Some(p) => Some(
            renal_cohort::read_splits(p, &prepared.cohort)
                .with_context(|| format!("reading splits {}", p.display()))?,
        ),
        None => None,
    };
    let mut runs = Vec::new();
    let mut metrics = Vec::new();
    let mut skipped = Vec::new();
    let pb = crate::measure::progress(exp.models.len(), "models");
    for spec in &exp.models {
        let plan = exp.plan(spec, &prepared.clinical)?;
        if let Some(why) = skip_reason(&plan, &prepared) {
            tracing::warn!(model = %spec.name, reason = %why, "model skipped");
            skipped.push((spec.name.clone(), why));
            pb.inc(1);
            continue;
        }
        let tm = Instant::now();
        let table = model_table(&plan, &prepared)?;
        let folds = splits.as_ref().map(|s| fold_plan(s, &table)).transpose()?;
        let fp = fingerprint(&exp, &plan, &table, folds.as_ref());
        let dir = out.join("models").join(slug(&spec.name));
        let run = match load_run(&dir, &fp) {
            Some(r) => {
                tracing::info!(model = %spec.name, "reusing finished model from a previous run");
                r
            }
            None => run_model(&exp, &plan, &table, folds.as_ref(), fp)?,
        };
        let m = model_metrics(&exp, &run)?;
        write_model(&dir, &run, &m)?;
        timings.push((format!("model {}", spec.name), tm.elapsed().as_secs_f64()));
        metrics.push((run.name.clone(), m));
        runs.push(run);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let tt = Instant::now();
    let tasks = exp.experiment.tasks.clone();
    let tables = crate::tables::study_tables(&runs, &metrics, &tasks);
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
    )?;
    timings.push(("tables_and_delong".into(), tt.elapsed().as_secs_f64()));
    let external = match &args.external {
        Some(ext) => {
            let te = Instant::now();
            let e = crate::validate::external(&exp, &prepared, ext, args.embeddings.as_deref())?;
            crate::validate::write_external(&e, &out.join("external"))?;
            timings.push(("external_validation".into(), te.elapsed().as_secs_f64()));
            Some(e)
        }
        None => None,
    };
    let outcome = Outcome {
        exp,
        prepared,
        runs,
        metrics,
        skipped,
        external,
        agreement,
        encoder,
        timings,
    };
    let tr = Instant::now();
    crate::report_build::write_report(&outcome, &tables, out)?;
    let mut outcome = outcome;
    outcome
        .timings
        .push(("figures_and_report".into(), tr.elapsed().as_secs_f64()));
    write_manifest(args, &data, &outcome, out)?;
    Ok(outcome)
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// sha256 of every input file (the clinical records, the masks, the tables given).
fn input_hashes(args: &ReproduceArgs, data: &Path, cohort: &Cohort) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = Vec::new();
    if data.is_dir() {
        for f in ["kits23.json", "manifest.csv"] {
            if data.join(f).is_file() {
                files.push(data.join(f));
            }
        }
    } else {
        files.push(data.to_path_buf());
    }
    files.extend(cohort.cases.iter().filter_map(|c| c.images.mask.clone()));
    files.extend(
        [&args.embeddings, &args.labels, &args.experiment]
            .into_iter()
            .flatten()
            .cloned(),
    );
    if let Some(s) = &args.splits {
        if s.is_file() {
            files.push(s.clone());
        }
    }
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|f| {
            (
                f.display().to_string(),
                renal_cohort::io::sha256_file(f).unwrap_or_else(|e| format!("unreadable: {e}")),
            )
        })
        .collect()
}

fn write_manifest(args: &ReproduceArgs, data: &Path, o: &Outcome, out: &Path) -> Result<()> {
    let m = json!({
        "tool": "renal-triage",
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "command": std::env::args().collect::<Vec<_>>(),
        "data": data.display().to_string(),
        "inputs_sha256": input_hashes(args, data, &o.prepared.cohort).into_iter().collect::<BTreeMap<_, _>>(),
        "experiment": o.exp,
        "seed": o.exp.experiment.seed,
        "threads": rayon::current_num_threads(),
        "cases": o.prepared.cohort.cases.len(),
        "excluded": o.prepared.cohort.excluded.len(),
        "models_run": o.runs.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "models_skipped": o.skipped,
        "timings_s": o.timings,
    });
    write_json(&out.join("manifest.json"), &m)
}

pub fn run(args: ReproduceArgs) -> Result<ExitCode> {
    let o = reproduce(&args)?;
    println!("Model results (pooled out-of-fold AUC, DeLong 95% CI):");
    for (name, ms) in &o.metrics {
        let parts: Vec<String> = ms
            .iter()
            .map(|m| {
                format!(
                    "{} {:.3} [{:.3}, {:.3}]",
                    m.task.name(),
                    m.auc,
                    m.auc_ci95[0],
                    m.auc_ci95[1]
                )
            })
            .collect();
        println!("  {name:<40} {}", parts.join("  "));
    }
    for (name, why) in &o.skipped {
        println!("  {name:<40} skipped: {why}");
    }
    println!("Report: {}", args.out.join("report.html").display());
    let _ = cell;
    Ok(ExitCode::SUCCESS)
}
