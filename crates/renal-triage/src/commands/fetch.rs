//! `renal-triage fetch kits23`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use renal_cohort::fetch::{fetch_kits23, read_sha256_manifest, FetchOptions, KITS23_BASE_URL};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Dataset {
    Kits23,
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// What to fetch.
    pub dataset: Dataset,
    /// Destination folder (default: the cache, `~/.cache/renal-triage/kits23`).
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// Base URL of the repository (upstream layout: dataset/kits23.json, dataset/case_X/...).
    #[arg(long, default_value = KITS23_BASE_URL)]
    pub base_url: String,
    /// Only these case ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub cases: Option<Vec<String>>,
    /// Expected sha256 sums (sha256sum format, paths like cases/case_00000/segmentation.nii.gz).
    #[arg(long)]
    pub checksums: Option<PathBuf>,
}

pub fn run(args: FetchArgs) -> Result<ExitCode> {
    let Dataset::Kits23 = args.dataset;
    let dest = args
        .dest
        .unwrap_or_else(|| crate::cache_dir().join("kits23"));
    let expected = match &args.checksums {
        Some(p) => {
            read_sha256_manifest(p).with_context(|| format!("reading checksums {}", p.display()))?
        }
        None => Default::default(),
    };
    let opts = FetchOptions {
        base_url: args.base_url,
        dest: dest.clone(),
        cases: args.cases,
        expected,
    };
    let pb = crate::progress::progress(0, "fetching");
    let report = fetch_kits23(&opts, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .context("fetching KiTS23")?;
    pb.finish_and_clear();
    println!(
        "KiTS23 in {}: {} downloaded, {} already present, {} failed",
        dest.display(),
        report.downloaded.len(),
        report.already_present.len(),
        report.failed.len()
    );
    for (case, why) in &report.failed {
        eprintln!("  failed: {case}: {why}");
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
