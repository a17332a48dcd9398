//! `renal-triage embed`: image inputs of a cohort, SimCLR training without labels, and the
//! 512-d embedding of every case (`case_id,f0..f511`).

use std::path::PathBuf;

use anyhow::Result;

use crate::engine::data;
use crate::engine::embedding::{embed_cohort, Device, EmbedOutcome, EncoderConfig};

#[derive(clap::Args, Debug, Clone)]
pub struct EmbedArgs {
    /// Cohort folder (KiTS23 layout or a manifest); default: as `reproduce` finds it.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output CSV (`case_id,f0..`); the encoder, its loss curve and previews go beside it in
    /// `<stem>_encoder/`.
    #[arg(long, default_value = "out/embeddings.csv")]
    pub out: PathBuf,
    /// `default` (2 CPU cores, <= 15 min on 300 cases), `paper` (for a GPU), `tiny`, or a JSON file.
    #[arg(long, default_value = "default")]
    pub config: EncoderConfig,
    /// `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Side of the preprocessed slice (the study: 256).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
}

pub fn run(args: &EmbedArgs) -> Result<EmbedOutcome> {
    let data = data::resolve(args.data.as_deref())?;
    // Labels do not train the encoder: the widest cohort (blank modifiers read as absent).
    let cohort = data::load(&data, renal_cohort::BlankModifier::Absent)?;
    let o = embed_cohort(&cohort, &args.out, &args.config, args.device, args.size)?;
    eprintln!(
        "embedded {} cases ({} excluded) -> {}; encoder in {}",
        o.images.ids.len(),
        o.images.excluded.len(),
        o.csv.display(),
        o.dir.display()
    );
    Ok(o)
}
