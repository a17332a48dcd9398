//! `renal-triage embed`: image inputs of a cohort, SimCLR training without labels, and the
//! 512-d embedding of every case (`case_id,f0..f511`).

use std::path::{Path, PathBuf};

use crate::encoder_run::TrainSummary;
use anyhow::{Context, Result};

use crate::images::{cohort_images, dataset, write_previews, CohortImages};
use crate::output::{write_csv, write_json};

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
    pub config: String,
    /// `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Side of the preprocessed slice (the study: 256).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
}

/// What `embed` produced.
#[derive(Debug, Clone)]
pub struct EmbedOutcome {
    pub csv: PathBuf,
    pub dir: PathBuf,
    pub images: CohortImages,
    /// The encoder's configuration (`encoder.json`).
    pub config: serde_json::Value,
    pub report: TrainSummary,
    pub previews: Vec<PathBuf>,
}

/// The folder beside `csv` that holds the encoder and its records.
pub fn encoder_dir(csv: &Path) -> PathBuf {
    let stem = csv
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "embeddings".into());
    csv.with_file_name(format!("{stem}_encoder"))
}

/// Builds the image inputs, trains (or resumes) the encoder and writes the embeddings.
pub fn embed_cohort(
    cohort: &renal_cohort::Cohort,
    csv: &Path,
    config: &str,
    device: &str,
    size: usize,
) -> Result<EmbedOutcome> {
    let dir = encoder_dir(csv);
    let images = cohort_images(cohort, size)?;
    if images.ids.len() < 2 {
        anyhow::bail!(
            "only {} case(s) have an image input; the encoder needs at least 2",
            images.ids.len()
        );
    }
    let ds = dataset(&images);
    tracing::info!(
        cases = ds.ids.len(),
        config,
        device,
        "training the SimCLR encoder (no labels)"
    );
    let report = crate::encoder_run::train_and_embed(&ds, &dir, config, device, images.intensity)?;
    let cfg: serde_json::Value = crate::output::read_json(&dir.join("encoder.json"))?;
    let produced = dir.join("embeddings.csv");
    let bytes =
        std::fs::read(&produced).with_context(|| format!("reading {}", produced.display()))?;
    renal_cohort::io::write_atomic(csv, &bytes)
        .with_context(|| format!("writing {}", csv.display()))?;
    write_csv(
        &dir.join("loss.csv"),
        &["epoch", "nt_xent_loss"],
        &report
            .losses
            .iter()
            .enumerate()
            .map(|(e, l)| vec![(e + 1).to_string(), format!("{l}")])
            .collect::<Vec<_>>(),
    )?;
    let mut cases: Vec<Vec<String>> = images
        .ids
        .iter()
        .map(|id| vec![id.clone(), "trained and embedded".into(), String::new()])
        .collect();
    cases.extend(
        images
            .excluded
            .iter()
            .map(|(id, why)| vec![id.clone(), "excluded".into(), why.clone()]),
    );
    write_csv(
        &dir.join("cases.csv"),
        &["case_id", "status", "reason"],
        &cases,
    )?;
    write_json(
        &dir.join("input.json"),
        &serde_json::json!({
            "input": images.input,
            "channels": images.channels,
            "spacing_mm": images.spacing_mm,
            "size": size,
            "missing_per_channel": images.missing_per_channel,
            "excluded": images.excluded,
            "training": report,
            "labels_used": false,
        }),
    )?;
    let previews = write_previews(&images, &dir.join("previews"), usize::MAX)?;
    Ok(EmbedOutcome {
        csv: csv.to_path_buf(),
        dir,
        images,
        config: cfg,
        report,
        previews,
    })
}

pub fn run(args: &EmbedArgs) -> Result<EmbedOutcome> {
    let data = crate::data::resolve(args.data.as_deref())?;
    let cohort = crate::data::load(&data)?;
    let o = embed_cohort(&cohort, &args.out, &args.config, &args.device, args.size)?;
    eprintln!(
        "embedded {} cases ({} excluded) -> {}; encoder in {}",
        o.images.ids.len(),
        o.images.excluded.len(),
        o.csv.display(),
        o.dir.display()
    );
    Ok(o)
}
