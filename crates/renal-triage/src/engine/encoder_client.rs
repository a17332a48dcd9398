//! Running the encoder in its own process (`renal-triage-encoder`), so that the main binary never
//! loads libtorch. The dataset goes over as `dataset.json` (ids, channels, size, missing phases)
//! plus `dataset.f32` (little-endian pixels, case-major); the helper writes the embeddings and the
//! encoder's files into the output folder and prints its training report as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const HELPER: &str = "renal-triage-encoder";

/// The images of a cohort as the encoder takes them: `channels` x `size` x `size` per case,
/// channel-major. (The same layout as `renal_encoder::Dataset`; this crate's library does not
/// link the encoder, see the module docs.)
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub ids: Vec<String>,
    pub channels: usize,
    pub size: usize,
    pub data: Vec<f32>,
    /// Per case and channel, whether the phase is missing (a zero plane).
    pub missing: Vec<Vec<bool>>,
}

/// The helper's training report (`train.json`), as far as this side reads it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSummary {
    pub losses: Vec<f64>,
    pub resumed_from: Option<usize>,
    pub steps: i64,
    pub seconds: f64,
    pub images_per_second: f64,
    pub cases: Vec<String>,
    pub device: String,
}

/// The helper binary: `$RENAL_TRIAGE_ENCODER`, else beside the running executable (or one
/// folder up, for test executables in `target/*/deps`).
pub fn helper() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RENAL_TRIAGE_ENCODER") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        candidates.push(dir.join(HELPER));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(HELPER));
        }
    }
    candidates.into_iter().find(|p| p.is_file()).with_context(|| {
        format!(
            "the encoder binary `{HELPER}` was not found beside {} (build it with `cargo build --release -p renal-triage --bins`, or set RENAL_TRIAGE_ENCODER)",
            exe.display()
        )
    })
}

/// Writes a dataset for the helper.
pub fn write_dataset(ds: &ImageSet, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let meta = serde_json::json!({
        "ids": ds.ids, "channels": ds.channels, "size": ds.size, "missing": ds.missing,
    });
    crate::output::write_json(&dir.join("dataset.json"), &meta)?;
    let mut bytes = Vec::with_capacity(ds.data.len() * 4);
    for v in &ds.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    renal_cohort::io::write_atomic(&dir.join("dataset.f32"), &bytes)
        .with_context(|| format!("writing {}", dir.join("dataset.f32").display()))
}

/// Reads a dataset written by [`write_dataset`].
pub fn read_dataset(dir: &Path) -> Result<ImageSet> {
    let meta: serde_json::Value = crate::output::read_json(&dir.join("dataset.json"))?;
    let ids: Vec<String> = serde_json::from_value(meta["ids"].clone()).context("dataset ids")?;
    let missing: Vec<Vec<bool>> =
        serde_json::from_value(meta["missing"].clone()).context("dataset missing phases")?;
    let channels = meta["channels"].as_u64().context("dataset channels")? as usize;
    let size = meta["size"].as_u64().context("dataset size")? as usize;
    let path = dir.join("dataset.f32");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let want = ids.len() * channels * size * size * 4;
    if bytes.len() != want {
        bail!("{}: {} bytes, expected {want}", path.display(), bytes.len());
    }
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(ImageSet {
        ids,
        channels,
        size,
        data,
        missing,
    })
}

/// Trains (or resumes) the encoder on `ds` in the helper process and writes, in `out_dir`,
/// `embeddings.csv` (`case_id,f0..`), `encoder.safetensors`, `encoder.json`, `checkpoint/` and
/// `train.json`. `intensity` marks CT channels (for the augmentations).
pub fn train_and_embed(
    ds: &ImageSet,
    out_dir: &Path,
    config: &str,
    device: &str,
    intensity: bool,
) -> Result<TrainSummary> {
    let input = out_dir.join("input");
    write_dataset(ds, &input)?;
    let helper = helper()?;
    let status = Command::new(&helper)
        .arg("train")
        .arg("--dataset")
        .arg(&input)
        .arg("--out")
        .arg(out_dir)
        .arg("--config")
        .arg(config)
        .arg("--device")
        .arg(device)
        .args(intensity.then_some("--intensity"))
        .status()
        .with_context(|| format!("running {}", helper.display()))?;
    if !status.success() {
        bail!("the encoder process failed ({status})");
    }
    let _ = std::fs::remove_file(input.join("dataset.f32"));
    crate::output::read_json(&out_dir.join("train.json"))
}

/// The encoder-step benchmark's settings (shared by `renal-triage bench encoder` and the
/// encoder process).
#[derive(clap::Args, Debug, Clone)]
pub struct EncoderBenchArgs {
    #[arg(long, default_value = "128,256")]
    pub sizes: String,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 4)]
    pub channels: usize,
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Mixed precision (autocast) for the forward pass and loss.
    #[arg(long)]
    pub amp: bool,
}

impl EncoderBenchArgs {
    /// The same settings as command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--sizes".into(),
            self.sizes.clone(),
            "--batch".into(),
            self.batch.to_string(),
            "--channels".into(),
            self.channels.to_string(),
            "--steps".into(),
            self.steps.to_string(),
            "--device".into(),
            self.device.clone(),
        ];
        if self.amp {
            a.push("--amp".into());
        }
        a
    }
}

/// Runs `renal-triage-encoder bench` with `args` and returns the JSON it prints.
pub fn bench(args: &[String]) -> Result<serde_json::Value> {
    let helper = helper()?;
    let out = Command::new(&helper)
        .arg("bench")
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", helper.display()))?;
    if !out.status.success() {
        bail!("the encoder bench failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).context("parsing the encoder bench output")
}
