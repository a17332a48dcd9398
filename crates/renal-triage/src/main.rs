//! renal-triage: classify renal masses as benign, malignant-indolent or malignant-aggressive
//! from CT imaging and clinical data.
//!
//! Exit codes: 0 success, 1 a check failed (e.g. some downloads failed), 2 usage or I/O error.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use renal_triage::{cmd_bench, cmd_cohort, cmd_embed, cmd_fetch, cmd_reproduce, cmd_train, serve};

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "renal-triage",
    version,
    about = "Benign / indolent / aggressive renal mass triage from CT and clinical data"
)]
struct Cli {
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Download KiTS23 (clinical records and segmentations) into the local layout.
    Fetch(cmd_fetch::FetchArgs),
    /// Load a cohort, label it, measure every tumor and write the cohort tables.
    Cohort(cmd_cohort::CohortArgs),
    /// Image inputs of a cohort, SimCLR encoder training (no labels) and per-case embeddings.
    Embed(cmd_embed::EmbedArgs),
    /// Run the study's analysis (every model of an experiment under nested CV) and write the
    /// tables, figures and report.
    Reproduce(cmd_reproduce::ReproduceArgs),
    /// External validation: tune and refit on --train, score the untouched --test cohort.
    Validate(ValidateArgs),
    /// Tune, fit one model of an experiment on a whole cohort and write a model bundle.
    Train(cmd_train::TrainArgs),
    /// Describe a model bundle (and verify its integrity).
    Inspect(cmd_train::InspectArgs),
    /// Predict for one new patient (or a batch manifest) with a model bundle.
    Predict(cmd_train::PredictArgs),
    /// Serve a model bundle: a web page and a JSON API.
    Serve(serve::ServeArgs),
    /// Benchmarks that print JSON.
    Bench(cmd_bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct ValidateArgs {
    /// Development cohort (tuning and refit).
    #[arg(long)]
    train: std::path::PathBuf,
    /// External cohort, scored once with the stored thresholds.
    #[arg(long)]
    test: std::path::PathBuf,
    #[arg(long)]
    experiment: Option<std::path::PathBuf>,
    #[arg(long)]
    embeddings: Option<std::path::PathBuf>,
    #[arg(long, default_value = "out/validate")]
    out: std::path::PathBuf,
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    renal_triage::init_logging();
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot set up {n} threads: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Fetch(a) => cmd_fetch::run(a),
        Command::Cohort(a) => cmd_cohort::run(a),
        Command::Bench(a) => cmd_bench::run(a),
        Command::Embed(a) => cmd_embed::run(&a).map(|_| ExitCode::SUCCESS),
        Command::Reproduce(a) => cmd_reproduce::run(a),
        Command::Train(a) => cmd_train::train(a),
        Command::Inspect(a) => cmd_train::inspect(a),
        Command::Predict(a) => cmd_train::run_predict(a),
        Command::Serve(a) => serve::run(a),
        Command::Validate(v) => cmd_reproduce::run(cmd_reproduce::ReproduceArgs {
            data: Some(v.train),
            experiment: v.experiment,
            embeddings: v.embeddings,
            splits: None,
            labels: None,
            external: Some(v.test),
            out: v.out,
            seed: v.seed,
            // External cohorts need the development encoder applied to them: not wired yet, so
            // validation runs the non-image models unless embeddings are given.
            encoder: "none".into(),
            device: "cpu".into(),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
