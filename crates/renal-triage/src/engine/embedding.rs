//! The image branch of a run: image inputs of a cohort, SimCLR training without labels (in
//! the encoder process) and the embedding of every case, with the encoder's records.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};

use crate::engine::encoder_client::{self, TrainReport};
use crate::engine::images::{cohort_images, dataset, write_previews, CohortImages, ImageSpec};
use crate::engine::measure::{measure_and_image, measure_only, Measured};
use crate::output::{read_json, write_csv, write_json};

/// Which encoder configuration trains the embeddings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderConfig {
    /// ResNet-18 at 64 px, 30 epochs: minutes on 2 CPU cores.
    Default,
    /// The study's 256 px setting, for a GPU.
    Paper,
    /// A small network for tests.
    Tiny,
    /// A JSON configuration file.
    File(PathBuf),
}

impl EncoderConfig {
    /// The encoder process's `--config` argument.
    pub fn as_arg(&self) -> String {
        match self {
            EncoderConfig::Default => "default".into(),
            EncoderConfig::Paper => "paper".into(),
            EncoderConfig::Tiny => "tiny".into(),
            EncoderConfig::File(p) => p.display().to_string(),
        }
    }
}

impl FromStr for EncoderConfig {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "default" => EncoderConfig::Default,
            "paper" => EncoderConfig::Paper,
            "tiny" => EncoderConfig::Tiny,
            other => EncoderConfig::File(PathBuf::from(other)),
        })
    }
}

impl std::fmt::Display for EncoderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_arg())
    }
}

/// Where the encoder runs (one type for both processes).
pub use renal_encoder_protocol::Device;

/// What `embed` produced.
#[derive(Debug, Clone)]
pub struct EmbedOutcome {
    pub csv: PathBuf,
    pub dir: PathBuf,
    pub images: CohortImages,
    /// The encoder's configuration (`encoder.json`).
    pub config: serde_json::Value,
    pub report: TrainReport,
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
    config: &EncoderConfig,
    device: Device,
    size: usize,
) -> Result<EmbedOutcome> {
    let images = cohort_images(cohort, size)?;
    let fingerprint = inputs_fingerprint(cohort, &images.spec, config);
    embed_images(images, csv, config, device, &fingerprint)
}

/// Trains the encoder on the cohort's images (or reuses a finished one made from the same
/// inputs: then no image is made), measuring the masks in the same pass, each decoded once.
/// Returns the outcome, the measurements and whether the encoder was reused.
pub fn embed_and_measure(
    cohort: &renal_cohort::Cohort,
    csv: &Path,
    config: &EncoderConfig,
    device: Device,
    size: usize,
) -> Result<(EmbedOutcome, Measured, bool)> {
    let spec = ImageSpec::of_cohort(cohort, size)?;
    let fingerprint = inputs_fingerprint(cohort, &spec, config);
    if let Some(e) = reuse_finished(csv, &fingerprint) {
        tracing::info!("reusing the finished encoder: its inputs have not changed");
        return Ok((e, measure_only(cohort), true));
    }
    let (images, measured) = measure_and_image(cohort, &spec);
    let e = embed_images(images, csv, config, device, &fingerprint)
        .context("computing image embeddings")?;
    Ok((e, measured, false))
}

/// The file beside a finished encoder that records what its image inputs were made from.
const INPUTS_FILE: &str = "inputs.sha256";

/// What a cohort's image inputs are made from: the image specification, the encoder
/// configuration and every case's files (path, size, modification time). A finished encoder
/// whose inputs have the same fingerprint is reused without remaking the images.
pub fn inputs_fingerprint(
    cohort: &renal_cohort::Cohort,
    spec: &ImageSpec,
    config: &EncoderConfig,
) -> String {
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).ok();
        let modified = m
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}|{}|{modified}", p.display(), m.map_or(0, |m| m.len()))
    };
    let mut text = serde_json::to_string(spec).unwrap_or_default();
    text.push_str(&config.as_arg());
    for c in &cohort.cases {
        text.push_str(&format!("\n{}", c.id));
        for p in c
            .images
            .mask
            .iter()
            .chain(c.images.phases.iter().map(|(_, p)| p))
        {
            text.push_str(&format!(";{}", stamp(p)));
        }
    }
    renal_cohort::io::sha256_hex(text.as_bytes())
}

/// The outcome of a finished encoder whose inputs had `fingerprint` (trained for all its
/// epochs, embeddings written): its records read back, no image made (the images' pixels are
/// not kept: `images.images` is empty). `None` when anything differs or is missing.
pub fn reuse_finished(csv: &Path, fingerprint: &str) -> Option<EmbedOutcome> {
    let dir = encoder_dir(csv);
    let recorded = std::fs::read_to_string(dir.join(INPUTS_FILE)).ok()?;
    if recorded.trim() != fingerprint {
        return None;
    }
    let config: serde_json::Value = read_json(&dir.join("encoder.json")).ok()?;
    let report: TrainReport = read_json(&dir.join("train.json")).ok()?;
    if Some(report.losses.len() as u64) != config["epochs"].as_u64() {
        return None;
    }
    let spec: ImageSpec = read_json(&dir.join(ImageSpec::FILE)).ok()?;
    let input: serde_json::Value = read_json(&dir.join("input.json")).ok()?;
    let ids: Vec<String> = std::fs::read_to_string(csv)
        .ok()?
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_string))
        .collect();
    let images = CohortImages {
        ids,
        images: Vec::new(),
        excluded: serde_json::from_value(input["excluded"].clone()).ok()?,
        input: input["input"].as_str()?.to_string(),
        spec,
        missing_per_channel: serde_json::from_value(input["missing_per_channel"].clone()).ok()?,
    };
    let mut previews: Vec<PathBuf> = std::fs::read_dir(dir.join("previews"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    previews.sort();
    Some(EmbedOutcome {
        csv: csv.to_path_buf(),
        dir,
        images,
        config,
        report,
        previews,
    })
}

/// Trains (or resumes) the encoder on image inputs already made and writes the embeddings.
pub fn embed_images(
    images: CohortImages,
    csv: &Path,
    config: &EncoderConfig,
    device: Device,
    fingerprint: &str,
) -> Result<EmbedOutcome> {
    let dir = encoder_dir(csv);
    let size = images.spec.preprocess.size;
    if images.ids.len() < 2 {
        anyhow::bail!(
            "only {} case(s) have an image input; the encoder needs at least 2",
            images.ids.len()
        );
    }
    let ds = dataset(&images);
    tracing::info!(
        cases = ds.ids.len(),
        config = %config,
        device = %device,
        "training the SimCLR encoder (no labels)"
    );
    let report = encoder_client::train_and_embed(
        &ds,
        &dir,
        &config.as_arg(),
        device,
        images.spec.kind == crate::engine::images::ChannelKind::CtPhases,
    )?;
    let cfg: serde_json::Value = read_json(&dir.join("encoder.json"))?;
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
            "channels": images.spec.channels,
            "spacing_mm": images.spec.preprocess.spacing_mm,
            "size": size,
            "missing_per_channel": images.missing_per_channel,
            "excluded": images.excluded,
            "training": report,
            "labels_used": false,
        }),
    )?;
    // The specification the encoder was trained with, for every later cohort or patient.
    write_json(&dir.join(ImageSpec::FILE), &images.spec)?;
    let previews = write_previews(&images, &dir.join("previews"), usize::MAX)?;
    // Last: what the inputs were made from, so that a later run can reuse this encoder.
    renal_cohort::io::write_atomic(&dir.join(INPUTS_FILE), fingerprint.as_bytes())
        .with_context(|| format!("writing {}", dir.join(INPUTS_FILE).display()))?;
    Ok(EmbedOutcome {
        csv: csv.to_path_buf(),
        dir,
        images,
        config: cfg,
        report,
        previews,
    })
}

/// Embeds a cohort the encoder has never seen with the trained encoder in `encoder_dir`,
/// frozen: the images are made with the specification stored beside it (the development
/// cohort's channels, spacing, window and size), the encoder's weights are read, not trained.
/// Writes `csv` (`case_id,f0..`) and returns the images (with the cases that could not be
/// imaged, and why) and the masks' measurements, from the same pass.
pub fn embed_frozen_cohort(
    cohort: &renal_cohort::Cohort,
    encoder_dir: &Path,
    csv: &Path,
    device: Device,
) -> Result<(CohortImages, Measured)> {
    let spec_path = encoder_dir.join(ImageSpec::FILE);
    let spec: ImageSpec = read_json(&spec_path)
        .with_context(|| format!("the encoder's image specification {}", spec_path.display()))?;
    // One pass over the masks: the images and the measurements from each decoded volume.
    let (images, measured) = measure_and_image(cohort, &spec);
    if images.ids.is_empty() {
        anyhow::bail!(
            "no case of the cohort has an image input for the development encoder ({})",
            images.input
        );
    }
    tracing::info!(
        cases = images.ids.len(),
        "embedding with the development encoder (frozen)"
    );
    encoder_client::embed_frozen(&dataset(&images), encoder_dir, csv, device)?;
    Ok((images, measured))
}

/// Cases excluded by the embeddings join for want of an image input get the real reason.
pub fn explain_image_exclusions(
    excluded: &mut [renal_cohort::Exclusion],
    no_image: &[(String, String)],
) {
    for x in excluded {
        if let Some((_, why)) = no_image.iter().find(|(id, _)| *id == x.case) {
            x.reason = format!("no image input: {why}");
        }
    }
}
