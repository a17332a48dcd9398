//! `renal-triage embed`: image inputs of a cohort, SimCLR training without labels, and the
//! 512-d embedding of every case (`case_id,f0..f511`).

use std::path::PathBuf;

use anyhow::Result;

use crate::engine::data;
use crate::engine::embedding::{embed_cohort, Device, EmbedOutcome, EncoderConfig};
use crate::engine::shard::CaseEmbedder;

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
    /// Embed with this trained encoder, frozen (an `embed` or `reproduce` encoder folder),
    /// instead of training one: each case's image made with the encoder's stored
    /// specification, embedded one at a time in plain Rust; writes `--out` and
    /// `<stem>_excluded.csv`. The same bytes as a sharded run's merge (`cohort --shard ...
    /// --encoder-dir`).
    #[arg(long)]
    pub encoder_dir: Option<PathBuf>,
}

/// `embed --encoder-dir`: every case embedded by the frozen encoder, in parallel, in cohort
/// order.
fn embed_frozen(args: &EmbedArgs, dir: &std::path::Path) -> Result<()> {
    use rayon::prelude::*;
    let data = data::resolve(args.data.as_deref())?;
    let cohort = data::load(&data, renal_cohort::BlankModifier::Absent)?;
    let (encoder, _) = crate::model::frozen::FrozenEncoder::load(dir)?;
    let pb = crate::progress::progress(cohort.cases.len(), "embeddings");
    let results: Vec<(String, Result<Vec<f64>, String>)> = cohort
        .cases
        .par_iter()
        .map(|c| {
            let r =
                crate::engine::images::read_case_mask(&c.images).and_then(|m| encoder.embed(c, &m));
            pb.inc(1);
            (c.id.clone(), r)
        })
        .collect();
    pb.finish_and_clear();
    crate::engine::shard::write_embedding_outputs(&args.out, &results)?;
    let n = results.iter().filter(|r| r.1.is_ok()).count();
    eprintln!(
        "embedded {n} of {} cases with the frozen encoder {} -> {}",
        results.len(),
        dir.display(),
        args.out.display()
    );
    Ok(())
}

/// `embed`: trains an encoder and embeds (or, with `--encoder-dir`, embeds with a trained one).
pub fn command(args: &EmbedArgs) -> Result<()> {
    match &args.encoder_dir {
        Some(d) => embed_frozen(args, d),
        None => run(args).map(|_| ()),
    }
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
