//! `renal-triage bench measure`: times loading and measuring every mask of a cohort against the
//! decompression alone (the floor for any reader of gzip NIfTI), measured in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use rayon::prelude::*;
use renal_imaging::LabelScheme;
use serde_json::json;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Subcommand, Debug)]
pub enum Which {
    /// Load and measure every mask (sizes, shapes, components).
    Measure {
        #[arg(long)]
        data: Option<PathBuf>,
        /// Only the first N cases.
        #[arg(long)]
        limit: Option<usize>,
    },
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let Which::Measure { data, limit } = args.which;
    let data = crate::data::resolve(data.as_deref())?;
    let mut cohort = crate::data::load(&data)?;
    if let Some(n) = limit {
        cohort.cases.truncate(n);
    }
    let paths: Vec<PathBuf> = cohort
        .cases
        .iter()
        .filter_map(|c| c.images.mask.clone())
        .collect();
    let t0 = Instant::now();
    let bytes: usize = paths
        .par_iter()
        .map(|p| {
            renal_imaging::nifti::read_maybe_gzip(p)
                .map(|b| b.len())
                .unwrap_or(0)
        })
        .sum();
    let decompress = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let meas = crate::measure::measure_cohort(&mut cohort, LabelScheme::default());
    let measure = t1.elapsed().as_secs_f64();
    let report = json!({
        "bench": "measure",
        "cases": paths.len(),
        "measured": meas.len(),
        "threads": rayon::current_num_threads(),
        "decompressed_bytes": bytes,
        "decompress_only_s": decompress,
        "load_and_measure_s": measure,
        "ratio_to_decompression": measure / decompress,
        "goal": "load_and_measure within 2x of decompress_only",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
