//! Running the encoder in its own process (`renal-triage-encoder`), so that the main binary never
//! loads libtorch (renal-encoder's binary). The files that cross (`renal_encoder_protocol`): `dataset.json` (ids, channels, size, missing phases)
//! plus `dataset.f32` (little-endian pixels, case-major); the helper writes the embeddings and the
//! encoder's files into the output folder and prints its training report as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use renal_encoder_protocol::{read_json, write_dataset};
pub use renal_encoder_protocol::{BenchArgs, Dataset, TrainReport, HELPER};

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
            "the encoder binary `{HELPER}` was not found beside {} (build it with `cargo build --release -p renal-encoder --bins`, or set RENAL_TRIAGE_ENCODER)",
            exe.display()
        )
    })
}

/// Trains (or resumes) the encoder on `ds` in the helper process and writes, in `out_dir`,
/// `embeddings.csv` (`case_id,f0..`), `encoder.safetensors`, `encoder.json`, `checkpoint/` and
/// `train.json`. `intensity` marks CT channels (for the augmentations).
pub fn train_and_embed(
    ds: &Dataset,
    out_dir: &Path,
    config: &str,
    device: &str,
    intensity: bool,
) -> Result<TrainReport> {
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
    Ok(read_json(&out_dir.join("train.json"))?)
}

/// Embeds `ds` with the trained encoder in `encoder_dir`, frozen, in the helper process, and
/// writes the embeddings to `csv` (`case_id,f0..`, written atomically by the helper). The
/// dataset's files go to a temporary folder that is removed afterwards.
pub fn embed_frozen(ds: &Dataset, encoder_dir: &Path, csv: &Path, device: &str) -> Result<()> {
    let parent = csv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let input = tempfile::Builder::new()
        .prefix(".embed-input-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    write_dataset(ds, input.path())?;
    let helper = helper()?;
    let status = Command::new(&helper)
        .arg("embed")
        .arg("--dataset")
        .arg(input.path())
        .arg("--encoder")
        .arg(encoder_dir)
        .arg("--out")
        .arg(csv)
        .arg("--device")
        .arg(device)
        .status()
        .with_context(|| format!("running {}", helper.display()))?;
    if !status.success() {
        bail!("the encoder process failed to embed ({status})");
    }
    Ok(())
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
