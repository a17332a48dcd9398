//! `renal-triage merge WORK --out DIR`: the shards of a sharded `cohort` run gathered into
//! exactly the files one `cohort` run writes (Table 1, labels, features, measurements,
//! components, exclusions, warnings, agreement). An incomplete work folder is refused, naming
//! the missing cases and their shards.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::cohort_outputs::{write_cohort_outputs_with, CohortSummary};
use crate::engine::data;
use crate::engine::shard::{gather, WorkConfig};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The work folder the shards wrote.
    pub work: PathBuf,
    /// Output folder (the files `cohort --out` writes).
    #[arg(long, default_value = "out/cohort")]
    pub out: PathBuf,
    /// Hash every case's input files again and refuse results made from other inputs (reads
    /// the whole cohort once more).
    #[arg(long)]
    pub verify_inputs: bool,
}

pub fn run(args: MergeArgs) -> Result<ExitCode> {
    let config = WorkConfig::load(&args.work)?;
    let data = PathBuf::from(&config.data);
    let mut cohort = data::load(&data, &config.cohort_options())?;
    let g = gather(&mut cohort, &config, &args.work, args.verify_inputs)?;
    let summary = CohortSummary::of(&cohort);
    let staged = crate::output::Staged::begin(&args.out)?;
    write_cohort_outputs_with(&cohort, &summary, &g.meas, g.k, &g.rated, staged.path())?;
    if let Some(e) = &g.embeddings {
        crate::engine::shard::write_embedding_outputs(&staged.path().join("embeddings.csv"), e)?;
    }
    staged.commit()?;
    println!(
        "merged {}: {} cases, {} excluded (Table 1: {} rows). Wrote {}",
        args.work.display(),
        cohort.cases.len(),
        cohort.excluded.len(),
        summary.table1.len(),
        args.out.display()
    );
    if cohort.cases.is_empty() {
        eprintln!("error: no usable case: all were excluded (see excluded.csv)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
