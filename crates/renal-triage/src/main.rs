//! renal-triage: classify renal masses as benign, malignant-indolent or malignant-aggressive
//! from CT imaging and clinical data. Parses the command line and dispatches; each command
//! lives in `commands/` (see docs/architecture.md).
//!
//! Exit codes: 0 success, 1 a check failed (e.g. some downloads failed), 2 usage or I/O error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use renal_triage::commands::{
    bench, cohort, convert, embed, fetch, merge, pacs, predict, reproduce, serve, slurm, train,
};

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
    /// The most memory one input volume may take once decoded, in MiB (checked against each
    /// file's header before it is decompressed or decoded: a larger volume, or a compressed
    /// file that would inflate beyond it, is refused naming the file).
    #[arg(long, global = true, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    max_volume_mib: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Download KiTS23 (clinical records and segmentations) into the local layout.
    Fetch(fetch::FetchArgs),
    /// Load a cohort, label it, measure every tumor and write the cohort tables (or one shard
    /// of the per-case work, `--shard I/N --work DIR`).
    Cohort(cohort::CohortArgs),
    /// Gather a sharded `cohort` run's work folder into the files one `cohort` run writes.
    Merge(merge::MergeArgs),
    /// Run the per-case work as a Slurm array job: plan (write the sbatch scripts), submit
    /// (again: only unfinished shards), status.
    Slurm(slurm::SlurmArgs),
    /// Image inputs of a cohort, SimCLR encoder training (no labels) and per-case embeddings.
    Embed(embed::EmbedArgs),
    /// Run the study's analysis (every model of an experiment under nested CV) and write the
    /// tables, figures and report.
    Reproduce(reproduce::ReproduceArgs),
    /// External validation: tune and refit on --train, score the untouched --test cohort.
    Validate(reproduce::ValidateArgs),
    /// Tune, fit one model of an experiment on a whole cohort and write a model bundle.
    Train(train::TrainArgs),
    /// Describe a model bundle (and verify its integrity).
    Inspect(train::InspectArgs),
    /// Predict for one new patient (or a batch manifest) with a model bundle.
    Predict(predict::PredictArgs),
    /// Serve a model bundle: a web page and a JSON API.
    Serve(serve::ServeArgs),
    /// The hospital's imaging archive over DICOMweb: find series, predict on a study (and
    /// store the SR into it), pull a cohort of studies.
    Pacs(pacs::PacsArgs),
    /// Benchmarks that print JSON.
    Bench(bench::BenchArgs),
    /// Write any volume this tool reads (NIfTI, NRRD, .seg.nrrd, MetaImage, DICOM) as NIfTI.
    Convert(convert::ConvertArgs),
}

fn main() -> ExitCode {
    renal_triage::init_logging();
    let cli = Cli::parse();
    renal_imaging::limits::set(cli.max_volume_mib << 20, renal_imaging::limits::get().1);
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
        Command::Fetch(a) => fetch::run(a),
        Command::Cohort(a) => cohort::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Slurm(a) => slurm::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Embed(a) => embed::command(&a).map(|_| ExitCode::SUCCESS),
        Command::Reproduce(a) => reproduce::run(a.request()),
        Command::Validate(a) => reproduce::run(a.request()),
        Command::Train(a) => train::train(a),
        Command::Inspect(a) => train::inspect(a),
        Command::Predict(a) => predict::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Pacs(a) => pacs::run(a),
        Command::Convert(a) => convert::run(a),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    // A diagnostic for memory tests and capacity planning: the process's peak resident memory.
    if std::env::var_os("RENAL_TRIAGE_PEAK_MEMORY").is_some() {
        if let Some(m) = renal_triage::commands::bench::support::peak_memory_mib() {
            eprintln!("peak memory: {m:.1} MiB");
        }
    }
    code
}
