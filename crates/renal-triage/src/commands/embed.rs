//! `renal-triage embed`: image inputs of a cohort, SimCLR training without labels, and the
//! 512-d embedding of every case (`case_id,f0..f511`).

use crate::engine::failure::CaseFailure;
use std::path::PathBuf;

use anyhow::Result;

use crate::engine::data;
use crate::engine::embedding::{
    embed_cohort, embed_images, inputs_fingerprint, Device, EmbedOutcome, EncoderConfig,
};
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
    /// Run one shard (`I/N`, 0-based) of the per-case work into `--work` instead: with
    /// `--encoder-dir`, each case embedded by the frozen encoder (`merge WORK` writes
    /// `embeddings.csv`); without, each case's image input made for the encoder's training
    /// (`--size` px; then `embed --images-from WORK`). The shard also measures its cases, as
    /// `cohort --shard` does.
    #[arg(long, requires = "work", conflicts_with = "images_from")]
    pub shard: Option<crate::engine::shard::Shard>,
    /// With `--work`: the shard count, the shard number coming from `$SLURM_ARRAY_TASK_ID`.
    #[arg(long, requires = "work", conflicts_with_all = ["shard", "images_from"])]
    pub shards: Option<usize>,
    /// The shared work folder of a sharded run.
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Train the encoder on the image inputs the shards of this work folder made (`embed
    /// --shard` or `cohort --shard --images`) instead of making them here; the folder's image
    /// specification applies (`--size` is not used). The same dataset, byte for byte, as one
    /// `embed` process builds.
    #[arg(long, conflicts_with = "encoder_dir")]
    pub images_from: Option<PathBuf>,
    #[command(flatten)]
    pub labels: super::LabelArgs,
}

/// `embed --encoder-dir`: every case embedded by the frozen encoder, in parallel, in cohort
/// order.
fn embed_frozen(args: &EmbedArgs, dir: &std::path::Path) -> Result<()> {
    use rayon::prelude::*;
    let data = data::resolve(args.data.as_deref())?;
    let cohort = data::load(&data, &args.labels.cohort_options())?;
    let (encoder, _) = crate::model::frozen::FrozenEncoder::load(dir)?;
    let pb = crate::progress::progress(cohort.cases.len(), "embeddings");
    let results: Vec<(String, Result<Vec<f64>, CaseFailure>)> = cohort
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

/// `embed --images-from WORK`: the encoder trained on the image inputs a sharded run made.
fn embed_from_work(args: &EmbedArgs, work: &std::path::Path) -> Result<EmbedOutcome> {
    use crate::engine::shard::{read_case_result, WorkConfig};
    let config = WorkConfig::load(work)?;
    let spec = config.images.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: its shards made no image inputs (run them with `embed --shard` or `cohort --shard --images`)",
            work.display()
        )
    })?;
    let cohort = data::load(std::path::Path::new(&config.data), &config.cohort_options())?;
    let images = crate::engine::shard_images::gather_images(&cohort, work, &spec, |id| {
        read_case_result(work, id).map(|r| r.image)
    })?;
    let fingerprint = inputs_fingerprint(&cohort, &spec, &args.config);
    let o = embed_images(images, &args.out, &args.config, args.device, &fingerprint)?;
    report(&o);
    Ok(o)
}

/// `embed`: trains an encoder and embeds (or, with `--encoder-dir`, embeds with a trained one;
/// with `--shard`, runs one shard of the per-case work).
pub fn command(args: &EmbedArgs) -> Result<()> {
    let shard = crate::engine::shard::Shard::from_args(args.shard, args.shards)?;
    if let (Some(shard), Some(work)) = (shard, args.work.as_deref()) {
        let data = data::resolve(args.data.as_deref())?;
        super::cohort::run_shard(super::cohort::ShardRequest {
            data: &data,
            labels: &args.labels,
            shard,
            work,
            encoder_dir: args.encoder_dir.as_deref(),
            image_size: args.encoder_dir.is_none().then_some(args.size),
        })?;
        return Ok(());
    }
    if args.work.is_some() {
        anyhow::bail!("--work needs --shard I/N (or --shards N inside a Slurm array task)");
    }
    match (&args.encoder_dir, &args.images_from) {
        (Some(d), _) => embed_frozen(args, d),
        (None, Some(w)) => embed_from_work(args, w).map(|_| ()),
        (None, None) => run(args).map(|_| ()),
    }
}

pub fn run(args: &EmbedArgs) -> Result<EmbedOutcome> {
    let data = data::resolve(args.data.as_deref())?;
    // Labels do not train the encoder: the widest cohort (blank modifiers read as absent by
    // default).
    let cohort = data::load(&data, &args.labels.cohort_options())?;
    let o = embed_cohort(&cohort, &args.out, &args.config, args.device, args.size)?;
    report(&o);
    Ok(o)
}

fn report(o: &EmbedOutcome) {
    eprintln!(
        "embedded {} cases ({} excluded) -> {}; encoder in {}",
        o.images.ids.len(),
        o.images.excluded.len(),
        o.csv.display(),
        o.dir.display()
    );
}
