//! One module per subcommand: typed arguments (clap), the call into the engine, model, report
//! or server, and what is printed.

pub mod bench;
pub mod bench_linear;
pub mod bench_support;
pub mod cohort;
pub mod convert;
pub mod embed;
pub mod fetch;
pub mod predict;
pub mod reproduce;
pub mod serve;
pub mod train;

/// How the labels are decided from histology (shared by every command that loads a cohort).
#[derive(clap::Args, Debug, Clone)]
pub struct LabelArgs {
    /// What a blank pathology modifier (necrosis, sarcomatoid features, T stage) means:
    /// `absent` (reports mention them only when present; the cases whose class depends on it
    /// are counted in Table 1) or `exclude` (the case is excluded).
    #[arg(long, default_value = "absent")]
    pub blank_modifier: renal_cohort::BlankModifier,
}
