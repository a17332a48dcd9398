//! What crosses the process boundary between the application and the encoder process
//! (`renal-triage-encoder`, the only process that loads libtorch): the dataset (`dataset.json`
//! with ids, channels, size and missing phases, plus `dataset.f32`, little-endian pixels,
//! case-major), the training report (`train.json`) and the benchmark settings. Both sides use
//! these types. A crate of its own, not a feature of `renal-encoder`: with a feature, building
//! the two binaries in one cargo invocation (or testing the workspace) unifies the features, and
//! the application's binary then carried a NEEDED libtorch_cpu.so (seen: it no longer started
//! without libtorch on the library path).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A problem with the files exchanged, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("encoder input: {0}")]
    Input(String),
    #[error("unknown device `{0}` (cpu, cuda or cuda:N)")]
    Device(String),
}

pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// Where the encoder runs: the CPU or one CUDA device. Both processes parse it from the same
/// text (`cpu`, `cuda` for the first CUDA device, `cuda:N`), once, at their command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| ProtocolError::Device(other.to_string())),
        }
    }
}

impl std::fmt::Display for Device {
    /// The text it was parsed from, in its shortest form (`cuda` for the first CUDA device).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(0) => f.write_str("cuda"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The encoder process's executable name.
pub const HELPER: &str = "renal-triage-encoder";

/// The images of a cohort: `n` cases of `channels` x `size` x `size`, channel-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub ids: Vec<String>,
    pub channels: usize,
    pub size: usize,
    pub data: Vec<f32>,
    /// Per case and channel, whether the phase is missing (a zero plane).
    pub missing: Vec<Vec<bool>>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Checks the dataset for an encoder of `in_channels`: channel count, sizes, finite pixels.
    pub fn check(&self, in_channels: usize) -> Result<()> {
        let plane = self.channels * self.size * self.size;
        if self.channels != in_channels {
            return Err(ProtocolError::Input(format!(
                "{} channels, the encoder takes {in_channels}",
                self.channels
            )));
        }
        if self.data.len() != self.len() * plane || self.missing.len() != self.len() {
            return Err(ProtocolError::Input(format!(
                "{} values and {} missing-phase rows for {} cases of {plane}",
                self.data.len(),
                self.missing.len(),
                self.len()
            )));
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(ProtocolError::Input(format!(
                "case {}: non-finite pixel",
                self.ids[i / plane]
            )));
        }
        Ok(())
    }
}

/// What a training run did (`train.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Mean NT-Xent loss per epoch (all epochs, including those of a resumed run).
    pub losses: Vec<f64>,
    /// The epoch a resumed run started from (`None`: from scratch).
    pub resumed_from: Option<usize>,
    pub steps: i64,
    pub seconds: f64,
    /// Training images per second in this run (two views per case count as two images).
    pub images_per_second: f64,
    /// The cases the encoder saw (no labels are used).
    pub cases: Vec<String>,
    /// libtorch's name of the device the training ran on (`Cpu`, `Cuda(0)`).
    pub device: String,
}

/// The encoder-step benchmark's settings (`renal-triage bench encoder` and the encoder
/// process parse the same arguments).
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[arg(long, default_value = "128,256")]
    pub sizes: String,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 4)]
    pub channels: usize,
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Mixed precision (autocast) for the forward pass and loss.
    #[arg(long)]
    pub amp: bool,
}

impl BenchArgs {
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
            self.device.to_string(),
        ];
        if self.amp {
            a.push("--amp".into());
        }
        a
    }
}

/// Maps an I/O error to one naming `path` (in any error type that takes a [`ProtocolError`]).
pub fn io<E: From<ProtocolError>>(path: &Path) -> impl FnOnce(std::io::Error) -> E + '_ {
    move |source| {
        E::from(ProtocolError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes through a temporary file in the same folder, then renames: never half-written.
pub fn atomic<E: From<ProtocolError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    write(&tmp)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| ProtocolError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    text.push(b'\n');
    atomic(path, |tmp| std::fs::write(tmp, &text).map_err(io(tmp)))
}

/// Reads JSON written by [`write_json`].
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| ProtocolError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

#[derive(Serialize, Deserialize)]
struct DatasetMeta {
    ids: Vec<String>,
    channels: usize,
    size: usize,
    missing: Vec<Vec<bool>>,
}

/// Writes a dataset into `dir` for the encoder process.
pub fn write_dataset(ds: &Dataset, dir: &Path) -> Result<()> {
    let meta = DatasetMeta {
        ids: ds.ids.clone(),
        channels: ds.channels,
        size: ds.size,
        missing: ds.missing.clone(),
    };
    write_json(&dir.join("dataset.json"), &meta)?;
    let mut bytes = Vec::with_capacity(ds.data.len() * 4);
    for v in &ds.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let px = dir.join("dataset.f32");
    atomic(&px, |tmp| std::fs::write(tmp, &bytes).map_err(io(tmp)))
}

/// Reads a dataset written by [`write_dataset`], checking its size.
pub fn read_dataset(dir: &Path) -> Result<Dataset> {
    let meta: DatasetMeta = read_json(&dir.join("dataset.json"))?;
    let path = dir.join("dataset.f32");
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let want = meta.ids.len() * meta.channels * meta.size * meta.size * 4;
    if bytes.len() != want {
        return Err(ProtocolError::Format {
            path,
            detail: format!("{} bytes, expected {want}", bytes.len()),
        });
    }
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Dataset {
        ids: meta.ids,
        channels: meta.channels,
        size: meta.size,
        data,
        missing: meta.missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dataset_crosses_the_boundary_unchanged_and_a_short_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ds = Dataset {
            ids: vec!["a".into(), "b".into()],
            channels: 2,
            size: 2,
            data: (0..16).map(|i| i as f32 * 0.25 - 1.0).collect(),
            missing: vec![vec![false, true], vec![false, false]],
        };
        write_dataset(&ds, dir.path()).unwrap();
        assert_eq!(read_dataset(dir.path()).unwrap(), ds);
        let px = dir.path().join("dataset.f32");
        let b = std::fs::read(&px).unwrap();
        std::fs::write(&px, &b[..b.len() - 4]).unwrap();
        let e = read_dataset(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("dataset.f32") && e.contains("expected 64"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod device_tests {
    use super::Device;

    #[test]
    fn devices_parse_and_print_back() {
        for (text, d) in [
            ("cpu", Device::Cpu),
            ("cuda", Device::Cuda(0)),
            ("cuda:1", Device::Cuda(1)),
        ] {
            assert_eq!(text.parse::<Device>().unwrap(), d);
            assert_eq!(d.to_string(), text);
        }
        assert_eq!("cuda:0".parse::<Device>().unwrap().to_string(), "cuda");
        for bad in ["gpu", "CUDA", "cuda:", "cuda:x", ""] {
            let e = bad.parse::<Device>().unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }
}
