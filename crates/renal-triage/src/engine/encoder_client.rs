//! Running the encoder in its own process (`renal-triage-encoder`), so that the main binary never
//! loads libtorch (renal-encoder's binary). The files that cross (`renal_encoder_protocol`): `dataset.json` (ids, channels, size, missing phases)
//! plus `dataset.f32` (little-endian pixels, case-major); the helper writes the embeddings and the
//! encoder's files into the output folder and prints its training report as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use renal_encoder_protocol::{read_json, write_dataset, Device};
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
    device: Device,
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
        .arg(device.to_string())
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
pub fn embed_frozen(ds: &Dataset, encoder_dir: &Path, csv: &Path, device: Device) -> Result<()> {
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
        .arg(device.to_string())
        .status()
        .with_context(|| format!("running {}", helper.display()))?;
    if !status.success() {
        bail!("the encoder process failed to embed ({status})");
    }
    Ok(())
}

/// The rows of an embeddings CSV (`case_id,f0..`), in order.
pub fn read_embeddings(csv: &Path) -> Result<Vec<(String, Vec<f64>)>> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("reading {}", csv.display()))?;
    text.lines()
        .skip(1)
        .map(|l| {
            let mut it = l.split(',');
            let id = it.next().unwrap_or_default().to_string();
            let v = it
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<f64>, _>>()
                .with_context(|| format!("{}: case {id}", csv.display()))?;
            Ok((id, v))
        })
        .collect()
}

/// A long-lived encoder process (`renal-triage-encoder worker`): libtorch starts once, each
/// embedding is one request over its standard input and output. Restarted if it has stopped.
pub struct Worker {
    encoder_dir: PathBuf,
    device: Device,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    scratch: tempfile::TempDir,
    requests: u64,
}

impl Worker {
    /// Starts the worker on the encoder in `encoder_dir`.
    pub fn start(encoder_dir: &Path, device: Device) -> Result<Worker> {
        let helper = helper()?;
        let mut child = Command::new(&helper)
            .arg("worker")
            .arg("--encoder")
            .arg(encoder_dir)
            .arg("--device")
            .arg(device.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} worker", helper.display()))?;
        let stdin = child.stdin.take().context("the worker's input")?;
        let stdout = std::io::BufReader::new(child.stdout.take().context("the worker's output")?);
        Ok(Worker {
            encoder_dir: encoder_dir.to_path_buf(),
            device,
            child,
            stdin,
            stdout,
            scratch: tempfile::tempdir().context("creating the worker's folder")?,
            requests: 0,
        })
    }

    /// Embeds `ds` (each case's features, in order).
    pub fn embed(&mut self, ds: &Dataset) -> Result<Vec<Vec<f64>>> {
        use std::io::{BufRead, Write};
        if self.child.try_wait().ok().flatten().is_some() {
            tracing::warn!("the encoder worker had stopped: starting it again");
            *self = Worker::start(&self.encoder_dir, self.device)?;
        }
        self.requests += 1;
        let input = self.scratch.path().join(format!("in-{}", self.requests));
        let out = self
            .scratch
            .path()
            .join(format!("out-{}.csv", self.requests));
        write_dataset(ds, &input)?;
        let request = serde_json::json!({"dataset": input, "out": out});
        writeln!(self.stdin, "{request}").context("sending a request to the encoder worker")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let _ = std::fs::remove_dir_all(&input);
        let reply: serde_json::Value = serde_json::from_str(line.trim())
            .with_context(|| format!("the encoder worker answered `{}`", line.trim()))?;
        if let Some(e) = reply["error"].as_str() {
            bail!("the encoder worker: {e}");
        }
        let rows = read_embeddings(&out)?;
        let _ = std::fs::remove_file(&out);
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
