//! `renal-triage train` and `inspect`: the arguments, the bundle landed whole, what is
//! printed (the training itself is `model::train`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::engine::experiment::load_experiment;
use crate::model::bundle::{load_bundle, write_bundle, Manifest};
use crate::model::train::{apply_operating_points, TrainOutcome, TrainRequest};

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

/// Why an `--operating-point` is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OperatingPointsError {
    #[error("`{0}`: expected TASK=RULE (e.g. malignant_vs_benign=sens:0.95)")]
    Form(String),
    #[error("`{task}` is not a task (tasks: {tasks})")]
    Task { task: String, tasks: String },
    #[error("`{0}` is given twice")]
    Twice(&'static str),
    #[error(transparent)]
    Rule(#[from] renal_stats::ThresholdRuleError),
}

fn parse_operating_points(s: &str) -> std::result::Result<OperatingPoints, OperatingPointsError> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (task, rule) = part
            .split_once('=')
            .ok_or_else(|| OperatingPointsError::Form(part.to_string()))?;
        let task = renal_cohort::Task::ALL
            .into_iter()
            .find(|t| t.name() == task.trim())
            .ok_or_else(|| OperatingPointsError::Task {
                task: task.trim().to_string(),
                tasks: crate::engine::experiment::task_list(&renal_cohort::Task::ALL),
            })?;
        if out.iter().any(|(t, _)| *t == task) {
            return Err(OperatingPointsError::Twice(task.name()));
        }
        out.push((task, rule.parse()?));
    }
    Ok(OperatingPoints(out))
}

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let mut exp = load_experiment(args.experiment.as_deref(), None)?;
    if let Some(OperatingPoints(points)) = &args.operating_point {
        apply_operating_points(&mut exp, points)?;
    }
    let data = crate::engine::data::resolve(args.data.as_deref())?;
    let temp = tempfile::tempdir().context("creating a working folder")?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let trained = crate::model::train::train(&TrainRequest {
        experiment: &exp,
        model: &args.model,
        data: &data,
        cohort: args.labels.cohort_options(),
        encoder_dir: args.encoder_dir.clone(),
        encoder: args.encoder.config(),
        device: args.device,
        work: &work,
        keep_fitted: args.work.is_some(),
    })?;
    let TrainOutcome {
        manifest,
        model,
        files,
        metrics,
        cases,
    } = trained;
    let digest = land_bundle(&args, manifest, &model, files)?;
    println!("Bundle digest sha256:{digest}");
    print_operating_points(&metrics);
    println!(
        "Bundle written to {} ({cases} cases; CV AUC: {})",
        args.out.display(),
        metrics
            .iter()
            .map(|m| format!("{} {:.3}", m.task.name(), m.auc))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
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
