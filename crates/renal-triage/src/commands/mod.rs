//! One module per subcommand: typed arguments (clap), the call into the engine, model, report
//! or server, and what is printed.

pub mod bench;
pub mod bench_ct;
pub mod bench_linear;
pub mod bench_shard;
pub mod bench_support;
pub mod cohort;
pub mod convert;
pub mod embed;
pub mod fetch;
pub mod merge;
pub mod predict;
pub mod reproduce;
pub mod serve;
pub mod slurm;
pub mod train;

/// How the labels are decided from histology (shared by every command that loads a cohort).
#[derive(clap::Args, Debug, Clone)]
pub struct LabelArgs {
    /// What a blank pathology modifier (necrosis, sarcomatoid features, T stage) means:
    /// `absent` (reports mention them only when present; the cases whose class depends on it
    /// are counted in Table 1) or `exclude` (the case is excluded).
    #[arg(long, default_value = "absent")]
    pub blank_modifier: renal_cohort::BlankModifier,
    /// Which mask labels or segments are the kidney, the tumor and the cyst, for cases whose
    /// manifest row has no `label_map`: label values (`kidney=1,tumor=2,cyst=3`, `tumor=2+5`)
    /// or segment / ROI names (`tumor=Lesion 1,kidney=Left kidney`); labels it does not name
    /// are background. Default: KiTS23's values, or the segments' names.
    #[arg(long, value_parser = parse_label_map)]
    pub label_map: Option<String>,
}

/// Checks a `--label-map` when the command line is read.
pub fn parse_label_map(s: &str) -> Result<String, String> {
    renal_imaging::LabelMap::parse(s).map(|_| s.to_string())
}
