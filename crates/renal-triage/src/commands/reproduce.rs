//! `renal-triage reproduce` (and `validate`): runs the engine, writes the report and the run
//! manifest, prints the models' AUCs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use crate::engine::embedding::{Device, EncoderConfig};
use crate::engine::manifest::write_manifest;
use crate::engine::reproduce::{reproduce, Outcome, Request};

/// `--encoder`: a configuration, or `none` to skip the image models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderChoice {
    None,
    Config(EncoderConfig),
}

impl EncoderChoice {
    /// The encoder configuration to train, if any.
    pub fn config(&self) -> Option<EncoderConfig> {
        match self {
            EncoderChoice::None => None,
            EncoderChoice::Config(c) => Some(c.clone()),
        }
    }
}

impl std::str::FromStr for EncoderChoice {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "none" => EncoderChoice::None,
            other => EncoderChoice::Config(other.parse()?),
        })
    }
}

/// What `reproduce` and `validate` share: the experiment, its image inputs and encoder, the
/// seed and how the cohorts are read.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Experiment file (default: experiments/paper.toml, compiled in).
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Image embeddings (`case_id,f0..`), joined by case id.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// Overrides the experiment's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Without `--embeddings`: the SimCLR encoder configuration trained (without labels) on the
    /// development cohort to compute them (`default`, `paper`, `tiny` or a JSON file; resumed
    /// from out/encoder; an external cohort is embedded by it, frozen), or `none` to skip the
    /// image models.
    #[arg(long, default_value = "default")]
    pub encoder: EncoderChoice,
    /// Device of the encoder (`cpu`, `cuda` or `cuda:N`).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    #[command(flatten)]
    pub labels_from: super::LabelArgs,
}

/// The cohorts and folders of one run, beside [`RunArgs`].
struct Cohorts {
    data: Option<PathBuf>,
    splits: Option<PathBuf>,
    labels: Option<PathBuf>,
    external: Option<PathBuf>,
    out: PathBuf,
}

impl RunArgs {
    fn request(&self, c: Cohorts) -> Request {
        Request {
            data: c.data,
            experiment: self.experiment.clone(),
            embeddings: self.embeddings.clone(),
            splits: c.splits,
            labels: c.labels,
            external: c.external,
            out: c.out,
            seed: self.seed,
            encoder: self.encoder.config(),
            device: self.device,
            cohort: self.labels_from.cohort_options(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// A KiTS23 folder, a folder with manifest.csv, or a manifest CSV (default: see README).
    #[arg(long)]
    pub data: Option<PathBuf>,
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
    #[command(flatten)]
    pub run: RunArgs,
}

impl ReproduceArgs {
    pub fn request(&self) -> Request {
        self.run.request(Cohorts {
            data: self.data.clone(),
            splits: self.splits.clone(),
            labels: self.labels.clone(),
            external: self.external.clone(),
            out: self.out.clone(),
        })
    }
}

/// External validation: tune and refit on `--train`, score the untouched `--test` cohort.
#[derive(Args, Debug, Clone)]
pub struct ValidateArgs {
    /// Development cohort (tuning and refit).
    #[arg(long)]
    pub train: PathBuf,
    /// External cohort, scored once with the stored thresholds.
    #[arg(long)]
    pub test: PathBuf,
    #[arg(long, default_value = "out/validate")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

impl ValidateArgs {
    pub fn request(&self) -> Request {
        self.run.request(Cohorts {
            data: Some(self.train.clone()),
            splits: None,
            labels: None,
            external: Some(self.test.clone()),
            out: self.out.clone(),
        })
    }
}

/// Runs the engine, then writes the report and the run manifest (timings included).
/// The run writes into a staging folder beside `--out` (a copy of the previous run, or what
/// an interrupted run left, whose finished models are reused) and swaps it in at its end: a
/// killed run leaves the previous folder whole.
pub fn execute(req: &Request) -> Result<Outcome> {
    let staged = crate::output::Staged::resume(&req.out)?;
    let staged_req = Request {
        out: staged.path().to_path_buf(),
        ..req.clone()
    };
    // The copy's manifest goes: the staging folder holds no finished run until it is written.
    crate::engine::manifest::begin_run(staged.path());
    let mut outcome = reproduce(&staged_req)?;
    let tr = Instant::now();
    crate::report::write_report(&outcome, staged.path())?;
    outcome
        .timings
        .push(("figures_and_report".into(), tr.elapsed().as_secs_f64()));
    write_manifest(&staged_req, &outcome, staged.path())?;
    staged.commit()?;
    Ok(outcome)
}

pub fn run(req: Request) -> Result<ExitCode> {
    let o = execute(&req)?;
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
    if let Some(e) = &o.external {
        println!("External cohort (AUC, DeLong 95% CI):");
        for m in &e.models {
            let parts: Vec<String> = m
                .metrics
                .iter()
                .map(|x| {
                    format!(
                        "{} {:.3} [{:.3}, {:.3}]",
                        x.task.name(),
                        x.auc,
                        x.auc_ci95[0],
                        x.auc_ci95[1]
                    )
                })
                .collect();
            println!("  {:<40} {}", m.name, parts.join("  "));
        }
        println!("Conformal prediction sets on the external cohort (calibrated on the development cohort's out-of-fold predictions): empirical coverage overall; benign / indolent / aggressive; mean set size:");
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        for m in &e.models {
            for c in &m.conformal {
                println!(
                    "  {:<40} nominal {:.2}: {:.3} (n = {}); {} / {} / {} (n = {} / {} / {}); {:.2}",
                    m.name,
                    c.coverage,
                    c.empirical,
                    c.n,
                    cell(c.per_class[0]),
                    cell(c.per_class[1]),
                    cell(c.per_class[2]),
                    c.per_class_n[0],
                    c.per_class_n[1],
                    c.per_class_n[2],
                    c.mean_set_size
                );
            }
        }
    }
    println!("Report: {}", req.out.join("report.html").display());
    Ok(ExitCode::SUCCESS)
}
