//! `renal-triage cohort`: Table 1, labels, features, measurements, exclusions and agreement.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use renal_imaging::LabelScheme;

use crate::engine::cohort_outputs::{write_cohort_outputs, CohortSummary};
use crate::engine::data;
use crate::engine::measure::measure_cohort;

#[derive(Args, Debug)]
pub struct CohortArgs {
    /// A KiTS23 folder, a folder with manifest.csv, or a manifest CSV (default: see README).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "out/cohort")]
    pub out: PathBuf,
    #[command(flatten)]
    pub labels: super::LabelArgs,
    /// Run one shard of the per-case work (`I/N`, 0-based) into `--work`, instead of the whole
    /// cohort into `--out`; `renal-triage merge WORK` then writes the cohort's files.
    #[arg(long, requires = "work")]
    pub shard: Option<crate::engine::shard::Shard>,
    /// With `--work`: the shard count, the shard number coming from `$SLURM_ARRAY_TASK_ID`.
    #[arg(long, requires = "work", conflicts_with = "shard")]
    pub shards: Option<usize>,
    /// The shared work folder of a sharded run.
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// With `--work`: also embed each case with this trained encoder, frozen (an `embed` or
    /// `reproduce` encoder folder); the merge writes `embeddings.csv`.
    #[arg(long, requires = "work")]
    pub encoder_dir: Option<PathBuf>,
    /// With `--work`: also make each case's image input for the encoder's training (the
    /// slice through the tumor centroid, `--image-size` px); `embed --images-from WORK` then
    /// trains the encoder on them without making any image.
    #[arg(long, requires = "work")]
    pub images: bool,
    /// Side of the image inputs made with `--images` (the study: 256).
    #[arg(long, default_value_t = 256)]
    pub image_size: usize,
}

/// What a sharded run of the per-case work does beyond measuring.
pub struct ShardRequest<'a> {
    pub data: &'a std::path::Path,
    pub labels: &'a super::LabelArgs,
    pub shard: crate::engine::shard::Shard,
    pub work: &'a std::path::Path,
    pub encoder_dir: Option<&'a std::path::Path>,
    /// Make image inputs of this size.
    pub image_size: Option<usize>,
}

/// Runs one shard of a cohort's per-case work (`cohort --shard`, `embed --shard`) and says
/// what it did.
pub fn run_shard(r: ShardRequest) -> Result<ExitCode> {
    use crate::engine::shard::{Extras, WorkConfig};
    // Shards and their merge read the cohort through one absolute path.
    let data = std::fs::canonicalize(r.data).unwrap_or_else(|_| r.data.to_path_buf());
    let cohort = data::load(&data, &r.labels.cohort_options())?;
    let mut config = work_config(&data, r.labels, cohort.cases.len());
    let encoder = match r.encoder_dir {
        Some(d) => {
            let (e, id) = crate::model::frozen::FrozenEncoder::load(d)?;
            config.encoder = Some(id);
            Some(e)
        }
        None => None,
    };
    if let Some(size) = r.image_size {
        // Fixed once for the folder: the first shard's (the whole cohort's median spacing);
        // the others read it instead of reading every mask's header again.
        let stored = WorkConfig::load(r.work)
            .ok()
            .and_then(|c| c.images)
            .filter(|s| s.preprocess.size == size);
        config.images = Some(match stored {
            Some(s) => s,
            None => crate::engine::images::ImageSpec::of_cohort(&cohort, size)?,
        });
    }
    let extras = Extras {
        encoder: encoder
            .as_ref()
            .map(|e| e as &dyn crate::engine::shard::CaseEmbedder),
        images: config.images.as_ref(),
    };
    let (shard, work) = (r.shard, r.work);
    let s = crate::engine::shard::run_shard(&cohort, &config, shard, work, extras)?;
    println!(
        "shard {}/{}: {} cases done, {} skipped (already done), {} failed (listed in {}/shards/{}-of-{}/failures.csv)",
        shard.index, shard.count, s.done, s.skipped, s.failed, work.display(), shard.index, shard.count
    );
    Ok(ExitCode::SUCCESS)
}

/// The configuration a sharded run's work folder records.
pub fn work_config(
    data: &std::path::Path,
    labels: &super::LabelArgs,
    cases: usize,
) -> crate::engine::shard::WorkConfig {
    crate::engine::shard::WorkConfig {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        data: std::fs::canonicalize(data)
            .unwrap_or_else(|_| data.to_path_buf())
            .display()
            .to_string(),
        blank_modifier: labels.blank_modifier,
        label_map: labels.label_map.clone(),
        cases,
        encoder: None,
        images: None,
    }
}

fn print_table1(rows: &[[String; 5]], excluded: usize) {
    println!("Table 1. Cohort ({excluded} excluded; see excluded.csv)");
    println!(
        "{:<44} {:>16} {:>16} {:>16} {:>16}",
        "", "overall", "benign", "indolent", "aggressive"
    );
    for r in rows {
        println!(
            "{:<44} {:>16} {:>16} {:>16} {:>16}",
            r[0], r[1], r[2], r[3], r[4]
        );
    }
}

pub fn run(args: CohortArgs) -> Result<ExitCode> {
    let data = data::resolve(args.data.as_deref())?;
    tracing::info!(data = %data.display(), "loading cohort");
    let shard = crate::engine::shard::Shard::from_args(args.shard, args.shards)?;
    if let (Some(shard), Some(work)) = (shard, args.work.as_deref()) {
        return run_shard(ShardRequest {
            data: &data,
            labels: &args.labels,
            shard,
            work,
            encoder_dir: args.encoder_dir.as_deref(),
            image_size: args.images.then_some(args.image_size),
        });
    }
    if args.work.is_some() {
        anyhow::bail!("--work needs --shard I/N (or --shards N inside a Slurm array task)");
    }
    let mut cohort = data::load(&data, &args.labels.cohort_options())?;
    let meas = measure_cohort(&mut cohort, LabelScheme::default());
    let summary = CohortSummary::of(&cohort);
    print_table1(&summary.table1, cohort.excluded.len());
    // Written as a whole: the previous run's folder or this one, never a mix.
    let staged = crate::output::Staged::begin(&args.out)?;
    let agree = write_cohort_outputs(&cohort, &summary, &meas, staged.path())?;
    staged.commit()?;
    let [b, i, a] = cohort.class_counts();
    println!(
        "\n{} cases ({b} benign / {i} indolent / {a} aggressive), {} excluded. Size vs radiologist: r = {}, bias = {} mm. Annotator mean ICC(3,1) = {}.",
        cohort.cases.len(),
        cohort.excluded.len(),
        agree.size_r().map(|v| format!("{v:.3}")).unwrap_or("-".into()),
        agree.size_bland_altman().map(|b| format!("{:+.2}", b.bias_mm)).unwrap_or("-".into()),
        agree.annotators.mean_icc_3_1.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
    );
    println!("Wrote {}", args.out.display());
    if cohort.cases.is_empty() {
        eprintln!(
            "error: no usable case: all {} were excluded (reasons in {})",
            cohort.excluded.len(),
            args.out.join("excluded.csv").display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
