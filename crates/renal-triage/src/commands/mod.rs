//! One module per subcommand: typed arguments (clap), the call into the engine, model, report
//! or server, and what is printed.

pub mod bench;
pub mod cohort;
pub mod convert;
pub mod embed;
pub mod fetch;
pub mod merge;
pub mod pacs;
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
    #[arg(long)]
    pub label_map: Option<renal_imaging::LabelMap>,
}

impl LabelArgs {
    /// How a cohort is read, as these arguments say.
    pub fn cohort_options(&self) -> crate::engine::data::CohortOptions {
        crate::engine::data::CohortOptions {
            blank_modifier: self.blank_modifier,
            label_map: self.label_map.clone(),
        }
    }
}

/// What a bundle must prove before it is used (shared by `inspect`, `predict` and `serve`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BundleTrust {
    /// Refuse the bundle unless its digest (printed by `inspect`) is this one.
    #[arg(long)]
    pub expect_digest: Option<String>,
    /// Refuse the bundle unless it is signed (`train --sign`) by one of these Ed25519 keys
    /// (`ed25519:<hex>` per line).
    #[arg(long)]
    pub trusted_keys: Option<std::path::PathBuf>,
}

impl BundleTrust {
    /// Loads the bundle in `dir`, verified (every file's sha256) and checked against these
    /// demands.
    pub fn load(&self, dir: &std::path::Path) -> anyhow::Result<crate::model::bundle::Bundle> {
        crate::model::bundle::load_verified(
            dir,
            self.expect_digest.as_deref(),
            self.trusted_keys.as_deref(),
        )
    }
}
