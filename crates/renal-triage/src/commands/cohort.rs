//! `renal-triage cohort`: Table 1, labels, features, measurements, exclusions and agreement.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use renal_imaging::LabelScheme;

use crate::engine::cohort_outputs::{table1, write_cohort_outputs};
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
    let mut cohort = data::load(&data, args.labels.blank_modifier)?;
    data::set_label_map(&mut cohort, args.labels.label_map.as_deref());
    let meas = measure_cohort(&mut cohort, LabelScheme::default());
    print_table1(&table1(&cohort), cohort.excluded.len());
    let agree = write_cohort_outputs(&cohort, &meas, &args.out)?;
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
    Ok(ExitCode::SUCCESS)
}
