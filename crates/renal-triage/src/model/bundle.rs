//! Model bundles: a trained model with everything needed to apply it to a new patient.
//!
//! A bundle is a directory:
//! - `bundle.json`: format version, tool version, model name and spec, the feature schema (name,
//!   kind, training range, training median), the Youden thresholds from CV, the CV metrics with
//!   CIs, the training cohort summary, and the sha256 of every other file;
//! - `pipeline.json`: the fitted pipeline (transforms and learner). Forests are stored as their
//!   trees: per node `feature` (u32::MAX for a leaf), `threshold` (go left when value <=
//!   threshold), `left`, `right`, and `value` (offset of the leaf's class fractions);
//! - `mlp.safetensors`: the MLP weights (`layers.{i}.weight` [out, in], `layers.{i}.bias`
//!   [out], float64) when the learner is an MLP;
//! - `encoder.safetensors` and `encoder.json`: the SimCLR encoder (weights and configuration)
//!   when the model uses image embeddings; `bundle.json`'s `image` then holds the image
//!   specification (channels, spacing, window, size) and the missing-phase policy. A bundle of
//!   a model without images has neither.
//!
//! Loading checks the format version and every file's hash: a tampered or incompatible bundle
//! is a clear error.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use renal_cohort::Task;
use renal_learn::{Model, Pipeline};
use serde::{Deserialize, Serialize};

use crate::engine::images::{ChannelKind, ImageSpec};
use crate::engine::metrics::TaskMetrics;

/// Bumped whenever the bundle layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// What an input feature is, and so where `predict` takes it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// An allow-listed pre-operative value.
    Clinical,
    /// The tumor size measured on the mask (or its log).
    Size,
    /// The radiologist's tumor size from the clinical values (`radiographic_size_cm`, used in
    /// mm, or its log).
    RadiographicSize,
    /// An image embedding.
    Embedding,
    /// A shape feature of the tumor, measured on the mask (`shape_*`).
    Shape,
}

impl FeatureKind {
    /// Whether the feature is measured on the mask.
    pub fn needs_mask(self) -> bool {
        matches!(self, FeatureKind::Size | FeatureKind::Shape)
    }
}

/// One input feature of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub name: String,
    pub kind: FeatureKind,
    pub train_min: Option<f64>,
    pub train_max: Option<f64>,
    pub train_median: Option<f64>,
    pub train_missing: usize,
}

/// CV summary of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    pub task: Task,
    pub auc: f64,
    pub auc_ci95: [f64; 2],
    pub pr_auc: f64,
    pub brier: f64,
    pub sensitivity: Option<f64>,
    pub specificity: Option<f64>,
}

impl From<&TaskMetrics> for CvSummary {
    fn from(m: &TaskMetrics) -> Self {
        CvSummary {
            task: m.task,
            auc: m.auc,
            auc_ci95: m.auc_ci95,
            pr_auc: m.pr_auc,
            brier: m.brier,
            sensitivity: m.confusion.map(|c| c.sensitivity),
            specificity: m.confusion.map(|c| c.specificity),
        }
    }
}

/// A task's operating point as a bundle stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOperatingPoint {
    pub task: Task,
    pub rule: renal_stats::ThresholdRule,
    /// The threshold `predict` applies (tuned on the whole cohort's inner folds).
    pub threshold: Option<f64>,
    /// The same rule under nested CV: its threshold and pooled out-of-fold rates with CIs.
    pub cv: Option<crate::engine::metrics::OperatingPoint>,
}

/// The self-description of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub tool_version: String,
    pub model_name: String,
    pub model_spec: crate::engine::experiment::ModelSpec,
    pub log_size: bool,
    pub features: Vec<FeatureSchema>,
    /// The study's thresholds: per task, the mean inner-fold Youden threshold.
    pub thresholds: Vec<(Task, Option<f64>)>,
    /// Thresholds chosen for the clinical question (`train --operating-point`), learned on the
    /// inner folds as Youden's, each with its pooled out-of-fold rates from the nested CV.
    /// Bundles written before them have none (the triage call then uses the study's).
    #[serde(default)]
    pub operating_points: Vec<StoredOperatingPoint>,
    /// The conformal prediction sets, calibrated on the nested CV's out-of-fold predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformal: Option<crate::engine::conformal::Conformal>,
    pub cv: Vec<CvSummary>,
    pub training: TrainingSummary,
    /// The image branch, for a model that uses image embeddings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInput>,
    /// sha256 of every other file of the bundle, by file name.
    pub files: BTreeMap<String, String>,
}

/// The encoder's files in a bundle (weights, configuration).
pub const ENCODER_FILES: [&str; 2] = ["encoder.safetensors", "encoder.json"];

/// How an image model's input is made and embedded (`encoder.safetensors`, `encoder.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "StoredImageInput", from = "StoredImageInput")]
pub struct ImageInput {
    /// The training cohort's image specification, applied unchanged to every patient.
    pub spec: ImageSpec,
    /// The encoder's output width (the model's `emb_f*` inputs are some or all of them).
    pub features: usize,
    /// What a CT phase the encoder was trained with but a patient lacks becomes.
    pub missing_phase: MissingPhasePolicy,
    /// The encoder's configuration (a copy of `encoder.json`, for `inspect`).
    pub encoder: serde_json::Value,
}

/// What a CT phase the encoder was trained with but a patient lacks becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPhasePolicy {
    /// The channels are the mask's planes: no CT phase is read.
    NotApplicable,
    /// The patient is refused: every training case had every phase, so the encoder never saw
    /// a zero channel.
    Refuse,
    /// The phase is a zero channel, as it was for the training cases that lacked it.
    ZeroChannel,
}

impl MissingPhasePolicy {
    /// The policy of an image input of `kind` whose training cohort had every phase for every
    /// case (`complete`) or not.
    pub fn of(kind: ChannelKind, complete: bool) -> MissingPhasePolicy {
        match (kind, complete) {
            (ChannelKind::LabelPlanes, _) => MissingPhasePolicy::NotApplicable,
            (ChannelKind::CtPhases, true) => MissingPhasePolicy::Refuse,
            (ChannelKind::CtPhases, false) => MissingPhasePolicy::ZeroChannel,
        }
    }

    /// The policy in words, for the bundle and the page.
    pub fn words(self) -> &'static str {
        match self {
            MissingPhasePolicy::NotApplicable => {
                "not applicable: the channels are the mask's planes, no CT phase is read"
            }
            MissingPhasePolicy::Refuse => "refused: every training case had every phase, so the encoder never saw a missing one",
            MissingPhasePolicy::ZeroChannel => "a CT phase the patient lacks is a zero channel, as it was for the training cases that lacked it",
        }
    }
}

/// [`ImageInput`] as `bundle.json` holds it: the policy in words and as a flag.
#[derive(Serialize, Deserialize)]
struct StoredImageInput {
    spec: ImageSpec,
    features: usize,
    missing_phase: String,
    /// Bundles written before the policy was recorded zero the channel.
    #[serde(default)]
    refuse_missing_phase: bool,
    encoder: serde_json::Value,
}

impl From<ImageInput> for StoredImageInput {
    fn from(i: ImageInput) -> StoredImageInput {
        StoredImageInput {
            missing_phase: i.missing_phase.words().to_string(),
            refuse_missing_phase: i.missing_phase == MissingPhasePolicy::Refuse,
            spec: i.spec,
            features: i.features,
            encoder: i.encoder,
        }
    }
}

impl From<StoredImageInput> for ImageInput {
    fn from(s: StoredImageInput) -> ImageInput {
        ImageInput {
            missing_phase: MissingPhasePolicy::of(s.spec.kind, s.refuse_missing_phase),
            spec: s.spec,
            features: s.features,
            encoder: s.encoder,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub source: String,
    pub cases: usize,
    pub class_counts: [usize; 3],
    pub excluded: usize,
    pub seed: u64,
    pub chosen_candidate: usize,
    pub grid_size: usize,
}

/// The file beside `bundle.json` that holds its digest.
pub const DIGEST_FILE: &str = "bundle.sha256";

/// The default floor on a bundle's cross-validated AUC: below it, `serve` refuses the bundle
/// (unless told otherwise) and `predict` warns.
pub const WEAK_AUC_FLOOR: f64 = 0.6;

/// The digest of a bundle: the sha256 of its manifest in canonical form (the JSON value with
/// sorted keys, compact), which records the sha256 of every other file, so it covers the
/// whole bundle. `inspect` prints it; `--expect-digest` checks it.
pub fn manifest_digest(manifest_text: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(manifest_text).context("bundle.json")?;
    Ok(renal_cohort::io::sha256_hex(&serde_json::to_vec(&v)?))
}

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// [`manifest_digest`] of its `bundle.json`.
    pub digest: String,
    /// Who signed it (`ed25519:<hex>`), when it carries a signature (which then verified).
    pub signer: Option<String>,
    pub manifest: Manifest,
    pub pipeline: Pipeline,
    /// The encoder's files as verified at load (name, bytes), for an image model.
    pub encoder: Vec<(String, Vec<u8>)>,
}

impl Manifest {
    /// The CT phases an image model reads, in channel order (none for a model without an
    /// image, or whose image is the label map's planes).
    pub fn ct_phases(&self) -> &[String] {
        match &self.image {
            Some(i) if i.spec.kind == crate::engine::images::ChannelKind::CtPhases => {
                &i.spec.channels
            }
            _ => &[],
        }
    }
}

/// Encodes f64 tensors as safetensors (header length, JSON header, little-endian data).
pub fn safetensors_encode(tensors: &[(String, Vec<usize>, &[f64])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        let n = data.len() * 8;
        header.insert(name.clone(), serde_json::json!({"dtype": "F64", "shape": shape, "data_offsets": [offset, offset + n]}));
        offset += n;
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap_or_default();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + offset);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for (_, _, data) in tensors {
        for v in *data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Tensors by name: (shape, values).
pub type Tensors = BTreeMap<String, (Vec<usize>, Vec<f64>)>;

/// Decodes f64 tensors from safetensors bytes.
pub fn safetensors_decode(bytes: &[u8]) -> Result<Tensors> {
    if bytes.len() < 8 {
        bail!("safetensors file too short");
    }
    let n = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(
        bytes
            .get(8..8 + n)
            .context("safetensors header truncated")?,
    )?;
    let data = &bytes[8 + n..];
    let mut out = BTreeMap::new();
    for (name, t) in header
        .as_object()
        .context("safetensors header is not an object")?
    {
        if name == "__metadata__" {
            continue;
        }
        if t["dtype"] != "F64" {
            bail!("tensor `{name}`: dtype {} (F64 expected)", t["dtype"]);
        }
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .context("shape")?
            .iter()
            .filter_map(|v| v.as_u64().map(|x| x as usize))
            .collect();
        let (a, b) = (
            t["data_offsets"][0].as_u64().context("offsets")? as usize,
            t["data_offsets"][1].as_u64().context("offsets")? as usize,
        );
        let raw = data
            .get(a..b)
            .with_context(|| format!("tensor `{name}` out of bounds"))?;
        let vals: Vec<f64> = raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        if vals.len() != shape.iter().product::<usize>() {
            bail!("tensor `{name}`: {} values for shape {shape:?}", vals.len());
        }
        out.insert(name.clone(), (shape, vals));
    }
    Ok(out)
}

/// Writes a bundle directory atomically per file; `bundle.json` last, with the hashes.
/// `extra`: further files (the encoder's), hashed like the others.
pub fn write_bundle(
    dir: &Path,
    mut manifest: Manifest,
    pipeline: &Pipeline,
    extra: Vec<(String, Vec<u8>)>,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files: BTreeMap<String, Vec<u8>> = extra.into_iter().collect();
    let mut stored = pipeline.clone();
    if let Model::Mlp(m) = &pipeline.model {
        let tensors: Vec<(String, Vec<usize>, &[f64])> = m
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                [
                    (
                        format!("layers.{i}.weight"),
                        vec![l.n_out, l.n_in],
                        l.weight.as_slice(),
                    ),
                    (format!("layers.{i}.bias"), vec![l.n_out], l.bias.as_slice()),
                ]
            })
            .collect();
        files.insert("mlp.safetensors".into(), safetensors_encode(&tensors));
        // The weights live in the safetensors file; the JSON keeps the architecture only.
        if let Model::Mlp(sm) = &mut stored.model {
            for l in &mut sm.layers {
                l.weight.clear();
                l.bias.clear();
            }
            sm.step_losses.clear();
        }
    }
    files.insert("pipeline.json".into(), serde_json::to_vec(&stored)?);
    manifest.files = files
        .iter()
        .map(|(k, v)| (k.clone(), renal_cohort::io::sha256_hex(v)))
        .collect();
    for (name, bytes) in &files {
        renal_cohort::io::write_atomic(&dir.join(name), bytes)
            .with_context(|| format!("writing {name}"))?;
    }
    // A signature of an earlier bundle in this folder cannot cover this one (`train --sign`
    // signs after writing).
    match std::fs::remove_file(dir.join(crate::model::signing::SIGNATURE_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).context("removing an earlier bundle.sig")
        }
        _ => {}
    }
    let mut m = serde_json::to_vec_pretty(&manifest)?;
    m.push(b'\n');
    let digest = manifest_digest(&String::from_utf8_lossy(&m))?;
    renal_cohort::io::write_atomic(&dir.join(DIGEST_FILE), format!("{digest}\n").as_bytes())
        .context("writing bundle.sha256")?;
    renal_cohort::io::write_atomic(&dir.join("bundle.json"), &m).context("writing bundle.json")
}

/// The CV AUCs of a bundle below `floor`, as "task AUC" words (empty: none).
pub fn weak_tasks(manifest: &Manifest, floor: f64) -> Vec<String> {
    manifest
        .cv
        .iter()
        .filter(|c| c.auc.is_nan() || c.auc < floor)
        .map(|c| format!("{} (CV AUC {:.3})", c.task.name(), c.auc))
        .collect()
}

/// Checks a loaded bundle's digest against the one the caller expects.
pub fn check_digest(bundle: &Bundle, expected: Option<&str>) -> Result<()> {
    if let Some(e) = expected {
        let e = e.trim().trim_start_matches("sha256:").to_ascii_lowercase();
        if e != bundle.digest {
            bail!(
                "the bundle's digest is {}, not the expected {e}: it is not the bundle you meant, or it was altered",
                bundle.digest
            );
        }
    }
    Ok(())
}

/// Loads a bundle, verifies it, then checks it against the digest the caller expects and,
/// with `trusted_keys`, its signature (what `inspect`, `predict` and `serve` accept). The
/// signature is checked before any other file of the bundle is read.
pub fn load_verified(
    dir: &Path,
    expect_digest: Option<&str>,
    trusted_keys: Option<&Path>,
) -> Result<Bundle> {
    let bundle = load_checked(dir, trusted_keys)?;
    check_digest(&bundle, expect_digest)?;
    Ok(bundle)
}

/// Largest `bundle.json`; largest `bundle.sha256` and `bundle.sig`; largest other file (the
/// encoder's weights are the largest: tens of MiB).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
const MAX_SMALL_BYTES: u64 = 64 << 10;
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads one file of a bundle: `name` must be a plain file name (the bundle's own folder,
/// nothing above or below it), the file a regular file and not a symbolic link (`/dev/zero`, a
/// FIFO or a link to a file elsewhere is refused before a byte is read), and at most `max`
/// bytes. `Ok(None)` when it does not exist.
pub(crate) fn read_bundle_file(dir: &Path, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let plain =
        !name.is_empty() && !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
    if !plain {
        bail!(
            "{}: the bundle lists the file `{}`, which is not a plain file name in the bundle's folder: refused",
            dir.display(),
            name.escape_debug()
        );
    }
    let path = dir.join(name);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if !meta.file_type().is_file() {
        bail!(
            "{}: not a regular file (a symbolic link, device, FIFO or folder): a bundle's files are refused unless they are regular files in its folder",
            path.display()
        );
    }
    if meta.len() > max {
        bail!(
            "{}: {} bytes, over the limit of {} bytes for this bundle file",
            path.display(),
            meta.len(),
            max
        );
    }
    let f = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("reading {}", path.display()))?;
    if out.len() as u64 > max {
        bail!("{}: grew past {max} bytes while read", path.display());
    }
    Ok(Some(out))
}

/// A bundle file as text (UTF-8), required.
fn read_bundle_text(dir: &Path, name: &str, max: u64) -> Result<Option<String>> {
    read_bundle_file(dir, name, max)?
        .map(|b| {
            String::from_utf8(b)
                .with_context(|| format!("{}: not UTF-8 text", dir.join(name).display()))
        })
        .transpose()
}

/// Loads and verifies a bundle.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    load_checked(dir, None)
}

/// Loads and verifies a bundle; with `trusted_keys`, refuses one not signed by a trusted key
/// before reading its other files.
fn load_checked(dir: &Path, trusted_keys: Option<&Path>) -> Result<Bundle> {
    let mpath = dir.join("bundle.json");
    let text = read_bundle_text(dir, "bundle.json", MAX_MANIFEST_BYTES)?
        .with_context(|| format!("{} is not a model bundle (no bundle.json)", dir.display()))?;
    let version: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: invalid JSON", mpath.display()))?;
    let v = version["format_version"].as_u64().unwrap_or(0);
    if v != FORMAT_VERSION as u64 {
        bail!(
            "{}: bundle format version {v} (written by renal-triage {}) is not supported by this renal-triage {} (format {FORMAT_VERSION})",
            dir.display(),
            version["tool_version"].as_str().unwrap_or("?"),
            env!("CARGO_PKG_VERSION")
        );
    }
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed bundle manifest", mpath.display()))?;
    let digest = manifest_digest(&text)?;
    let recorded = read_bundle_text(dir, DIGEST_FILE, MAX_SMALL_BYTES)?.with_context(|| {
        format!(
            "{}: no {DIGEST_FILE} (the digest of bundle.json written with it)",
            dir.display()
        )
    })?;
    if recorded.trim() != digest {
        bail!(
            "{}: bundle.json was modified after the bundle was written (its digest is {digest}, {DIGEST_FILE} records {})",
            dir.display(),
            recorded.trim()
        );
    }
    let sig = read_bundle_file(dir, crate::model::signing::SIGNATURE_FILE, MAX_SMALL_BYTES)?;
    let signer = crate::model::signing::signer(dir, sig.as_deref(), &digest)?;
    crate::model::signing::check_trusted(dir, signer.as_deref(), trusted_keys)?;
    let mut contents = BTreeMap::new();
    for (name, hash) in &manifest.files {
        let bytes = read_bundle_file(dir, name, MAX_FILE_BYTES)?
            .with_context(|| format!("bundle file {name} missing"))?;
        let actual = renal_cohort::io::sha256_hex(&bytes);
        if &actual != hash {
            bail!("bundle file {name} was modified: sha256 {actual}, the bundle records {hash}");
        }
        contents.insert(name.clone(), bytes);
    }
    let pj = contents
        .get("pipeline.json")
        .context("bundle has no pipeline.json")?;
    let mut pipeline: Pipeline = serde_json::from_slice(pj).context("pipeline.json")?;
    if let Model::Mlp(m) = &mut pipeline.model {
        let t = safetensors_decode(
            contents
                .get("mlp.safetensors")
                .context("bundle has no mlp.safetensors")?,
        )?;
        for (i, l) in m.layers.iter_mut().enumerate() {
            let (ws, w) = t
                .get(&format!("layers.{i}.weight"))
                .with_context(|| format!("tensor layers.{i}.weight missing"))?;
            let (_, b) = t
                .get(&format!("layers.{i}.bias"))
                .with_context(|| format!("tensor layers.{i}.bias missing"))?;
            if ws != &vec![l.n_out, l.n_in] {
                bail!(
                    "tensor layers.{i}.weight has shape {ws:?}, expected [{}, {}]",
                    l.n_out,
                    l.n_in
                );
            }
            l.weight = w.clone();
            l.bias = b.clone();
        }
    }
    let encoder = match &manifest.image {
        None => Vec::new(),
        Some(_) => ENCODER_FILES
            .iter()
            .map(|name| {
                let bytes = contents
                    .remove(*name)
                    .with_context(|| format!("an image model's bundle needs {name}"))?;
                Ok((name.to_string(), bytes))
            })
            .collect::<Result<_>>()?,
    };
    if let Some(image) = &manifest.image {
        check_encoder_channels(image, &encoder)?;
    }
    // A stored tree that loops or reads a feature the model lacks would hang or fail at the
    // first prediction; refused here, naming the fault.
    pipeline
        .validate()
        .with_context(|| format!("{}: pipeline.json", dir.display()))?;
    Ok(Bundle {
        signer,
        digest,
        manifest,
        pipeline,
        encoder,
    })
}

/// An image model's encoder must take as many channels as its image specification makes.
fn check_encoder_channels(image: &ImageInput, encoder: &[(String, Vec<u8>)]) -> Result<()> {
    let config = encoder
        .iter()
        .find(|(n, _)| n == "encoder.json")
        .context("an image model's bundle needs encoder.json")?;
    let config: serde_json::Value =
        serde_json::from_slice(&config.1).context("encoder.json: invalid JSON")?;
    let channels = config["in_channels"]
        .as_u64()
        .context("encoder.json: no `in_channels`")?;
    let spec = &image.spec.channels;
    if channels != spec.len() as u64 {
        bail!(
            "encoder.json: the encoder takes {channels} channels, but the bundle's image specification makes {} ({}): the bundle is inconsistent",
            spec.len(),
            spec.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use renal_learn::{LearnerParams, Matrix, MlpParams, PipelineParams, Step};

    /// An MLP pipeline written to a bundle and loaded back predicts exactly what the fitted
    /// pipeline predicted in memory (weights through safetensors, the rest through JSON).
    #[test]
    fn an_mlp_bundle_predicts_identically_after_reload() {
        let rows: Vec<Vec<f64>> = (0..40)
            .map(|i| {
                let c = (i % 3) as f64;
                vec![
                    c + 0.13 * (i % 7) as f64,
                    10.0 - c * 0.7,
                    (i % 5) as f64 * 0.31,
                ]
            })
            .collect();
        let y: Vec<usize> = (0..40).map(|i| i % 3).collect();
        let mut x = Matrix::from_rows(&rows, None).unwrap();
        x.data[4] = f64::NAN; // one missing value, imputed by the stored median
        let params = PipelineParams {
            calibrate: None,
            steps: vec![Step::MedianImpute, Step::Standardize],
            learner: LearnerParams::Mlp(MlpParams {
                hidden: vec![5],
                epochs: 7,
                ..Default::default()
            }),
        };
        let fitted = params.fit(&x, &y, 3).unwrap();
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format_version": FORMAT_VERSION, "tool_version": "test", "model_name": "m",
            "model_spec": {"name": "m", "learner": "mlp"}, "log_size": false, "features": [],
            "thresholds": [], "cv": [],
            "training": {"source": "test", "cases": 40, "class_counts": [14, 13, 13],
                         "excluded": 0, "seed": 0, "chosen_candidate": 0, "grid_size": 1},
            "files": {}
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // An earlier bundle's signature in the folder (it cannot verify for this bundle) is
        // removed by the write, so the new, unsigned bundle loads.
        let stale = format!("ed25519:{} {}\n", "ab".repeat(32), "cd".repeat(64));
        std::fs::write(
            dir.path().join(crate::model::signing::SIGNATURE_FILE),
            stale,
        )
        .unwrap();
        write_bundle(dir.path(), manifest, &fitted, Vec::new()).unwrap();
        assert!(dir.path().join("mlp.safetensors").is_file());
        let loaded = load_bundle(dir.path()).unwrap();
        assert_eq!(loaded.signer, None);
        let (a, b) = (
            fitted.predict_proba(&x).unwrap(),
            loaded.pipeline.predict_proba(&x).unwrap(),
        );
        assert_eq!(a.rows, 40);
        let bits = |m: &Matrix| m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "probabilities differ after reload");
    }

    #[test]
    fn safetensors_roundtrip() {
        let w = [1.0, -2.5, 3.25, 0.0, 1e-300, -7.0];
        let b = [0.5, 0.25];
        let bytes = safetensors_encode(&[
            ("l.weight".into(), vec![2, 3], &w),
            ("l.bias".into(), vec![2], &b),
        ]);
        let t = safetensors_decode(&bytes).unwrap();
        assert_eq!(t["l.weight"], (vec![2, 3], w.to_vec()));
        assert_eq!(t["l.bias"], (vec![2], b.to_vec()));
        // Header length is the first 8 bytes, little-endian, and the header is 8-aligned.
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        assert_eq!(bytes.len(), 8 + n + 8 * 8);
    }
}
