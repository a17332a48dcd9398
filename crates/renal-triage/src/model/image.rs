//! The image branch of a prediction: the patient's input made with the bundle's image
//! specification (the training cohort's channels, spacing, window and size) from the decoded
//! mask and the CT phases, then embedded by the bundle's encoder, frozen, in the encoder
//! process (the main binary never loads libtorch): a process per call ([`OneShot`], the
//! command line) or one kept alive ([`KeptAlive`], the server). The encoder's files are the
//! bytes verified against the bundle's hashes at load, written to a private temporary folder
//! for the process.

use std::collections::BTreeMap;
use std::path::PathBuf;

use renal_imaging::{CaseImage, LabelScheme, LabelVolume, Volume};
use serde::Serialize;

use crate::engine::encoder_client::{embed_frozen, read_embeddings, Dataset, Worker};
use crate::engine::images::{image_or_fault, ChannelKind, PhaseSource};
use crate::model::bundle::Bundle;
use crate::model::bundle::MissingPhasePolicy;
use crate::model::error::{input_err, PredictError};
use renal_encoder_protocol::Device;

/// What the image model saw, for the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageSummary {
    /// The input in words (channels, slice, spacing, size).
    pub input: String,
    pub channels: Vec<String>,
    /// Channels the patient lacked (zero planes, as in training).
    pub missing: Vec<String>,
    /// The axial slice index (in the mask's voxel grid) through the tumor centroid.
    pub slice: usize,
    /// The encoder's features for this image (the model's `emb_f0..` inputs).
    pub embedding: Vec<f64>,
}

/// The patient's image input and its embedding by the bundle's encoder.
pub struct PatientImage {
    pub image: CaseImage,
    pub embedding: Vec<f64>,
    pub summary: ImageSummary,
}

/// Who embeds an image with a bundle's encoder.
pub trait Embedder: Sync {
    fn embed(&self, ds: &Dataset) -> Result<Vec<f64>, PredictError>;
}

fn model_err(e: impl std::fmt::Display) -> PredictError {
    PredictError::Model(format!("encoder: {e:#}"))
}

/// The bundle's encoder files (the bytes verified at load) in a private temporary folder.
fn encoder_folder(bundle: &Bundle) -> Result<tempfile::TempDir, PredictError> {
    let dir = tempfile::tempdir().map_err(model_err)?;
    for (name, bytes) in &bundle.encoder {
        std::fs::write(dir.path().join(name), bytes).map_err(model_err)?;
    }
    Ok(dir)
}

/// Who runs a bundle's encoder: the libtorch encoder process (kept alive by the server, one
/// per call on the command line), or the network in plain Rust in this process
/// ([`crate::model::resnet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncoderBackend {
    /// The libtorch encoder process (`renal-triage-encoder`).
    Libtorch,
    /// The ResNet in plain Rust, in this process (no libtorch).
    Rust,
}

/// An embedder for a bundle: `backend`, and for libtorch a process kept alive (`keep`) or one
/// per image. A bundle without an image gets the one-shot embedder, which it never calls.
pub fn embedder(
    bundle: &Bundle,
    backend: EncoderBackend,
    keep: bool,
) -> anyhow::Result<Box<dyn Embedder + Send + '_>> {
    if bundle.manifest.image.is_none() {
        return Ok(Box::new(OneShot(bundle)));
    }
    Ok(match (backend, keep) {
        (EncoderBackend::Rust, _) => Box::new(InProcess::new(bundle)?),
        (EncoderBackend::Libtorch, true) => Box::new(KeptAlive::start(bundle)?),
        (EncoderBackend::Libtorch, false) => Box::new(OneShot(bundle)),
    })
}

/// The encoder's ResNet in plain Rust, in this process.
pub struct InProcess(crate::model::resnet::ResNetCpu);

impl InProcess {
    /// The network of the bundle's verified encoder files.
    pub fn new(bundle: &Bundle) -> Result<InProcess, PredictError> {
        let file = |name: &str| {
            bundle
                .encoder
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.as_slice())
                .ok_or_else(|| model_err(format!("the bundle has no {name}")))
        };
        crate::model::resnet::ResNetCpu::from_files(
            file("encoder.json")?,
            file("encoder.safetensors")?,
        )
        .map(InProcess)
    }
}

impl Embedder for InProcess {
    fn embed(&self, ds: &Dataset) -> Result<Vec<f64>, PredictError> {
        self.0
            .embed(ds)?
            .into_iter()
            .next()
            .ok_or_else(|| model_err("no embedding"))
    }
}

/// A fresh encoder process per image (the command line: one patient, one start).
pub struct OneShot<'a>(pub &'a Bundle);

impl Embedder for OneShot<'_> {
    fn embed(&self, ds: &Dataset) -> Result<Vec<f64>, PredictError> {
        let dir = encoder_folder(self.0)?;
        let csv = dir.path().join("embedding.csv");
        embed_frozen(ds, dir.path(), &csv, Device::Cpu).map_err(model_err)?;
        let rows = read_embeddings(&csv).map_err(model_err)?;
        rows.into_iter()
            .next()
            .map(|(_, v)| v)
            .ok_or_else(|| model_err("no embedding written"))
    }
}

/// An encoder process kept alive (the server: libtorch starts once, not per request).
pub struct KeptAlive {
    worker: std::sync::Mutex<Worker>,
    _files: tempfile::TempDir,
}

impl KeptAlive {
    /// Starts the worker on the bundle's verified encoder files.
    pub fn start(bundle: &Bundle) -> anyhow::Result<KeptAlive> {
        let files = encoder_folder(bundle).map_err(|e| anyhow::anyhow!("{e}"))?;
        let worker = Worker::start(files.path(), Device::Cpu)?;
        Ok(KeptAlive {
            worker: std::sync::Mutex::new(worker),
            _files: files,
        })
    }
}

impl Embedder for KeptAlive {
    fn embed(&self, ds: &Dataset) -> Result<Vec<f64>, PredictError> {
        let mut w = self
            .worker
            .lock()
            .map_err(|_| model_err("the encoder worker's lock was poisoned"))?;
        w.embed(ds)
            .map_err(model_err)?
            .into_iter()
            .next()
            .ok_or_else(|| model_err("no embedding returned"))
    }
}

/// The CT phases given as files and as decoded volumes, one list by name; a phase given both
/// ways is an error naming it.
fn phase_sources<'a>(
    ct: &BTreeMap<String, PathBuf>,
    decoded: &'a BTreeMap<String, Volume<f32>>,
) -> Result<Vec<(String, PhaseSource<'a>)>, PredictError> {
    if let Some(n) = decoded.keys().find(|n| ct.contains_key(*n)) {
        return Err(PredictError::Input(input_err(
            &format!("ct_{n}"),
            "given twice, as a file and as an array: give it once",
        )));
    }
    let mut out: Vec<(String, PhaseSource<'a>)> = ct
        .iter()
        .map(|(k, v)| (k.clone(), PhaseSource::File(v.clone())))
        .collect();
    out.extend(
        decoded
            .iter()
            .map(|(k, v)| (k.clone(), PhaseSource::Decoded(v))),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Makes and embeds the patient's image input. `mask`: the decoded mask and its scheme;
/// `ct`: the CT phases by name; `embedder`: a process per call or a worker.
pub fn patient_image(
    bundle: &Bundle,
    id: &str,
    mask: Option<&(LabelVolume, LabelScheme)>,
    ct: &BTreeMap<String, PathBuf>,
    ct_decoded: &BTreeMap<String, Volume<f32>>,
    embedder: &dyn Embedder,
) -> Result<PatientImage, PredictError> {
    let input = match &bundle.manifest.image {
        Some(i) => i,
        None => {
            return Err(PredictError::Input(input_err(
                "model",
                "this model uses image embeddings but its bundle has no encoder (it was trained from an embeddings file)",
            )))
        }
    };
    let spec = &input.spec;
    let (labels, scheme) = mask.ok_or_else(|| {
        input_err(
            "mask",
            "this model reads the axial slice through the tumor centroid: a mask is required",
        )
    })?;
    let phases = phase_sources(ct, ct_decoded)?;
    let given = |n: &String| phases.iter().any(|(p, _)| p == n);
    if spec.kind == ChannelKind::CtPhases {
        if let Some((name, _)) = phases.iter().find(|(n, _)| !spec.channels.contains(n)) {
            return Err(PredictError::Input(input_err(
                &format!("ct_{name}"),
                format!(
                    "not a phase of this model (its phases: {})",
                    spec.channels.join(", ")
                ),
            )));
        }
        if phases.is_empty() {
            return Err(PredictError::Input(input_err(
                "ct",
                format!(
                    "this model was trained on CT phases ({}): give at least one",
                    spec.channels.join(", ")
                ),
            )));
        }
        if input.missing_phase == MissingPhasePolicy::Refuse {
            if let Some(name) = spec.channels.iter().find(|n| !given(n)) {
                return Err(PredictError::Input(input_err(
                    &format!("ct_{name}"),
                    format!(
                        "phase {name} is missing: this model needs every phase it was trained on ({}); {}",
                        spec.channels.join(", "),
                        input.missing_phase.words()
                    ),
                )));
            }
        }
    } else if !phases.is_empty() {
        return Err(PredictError::Input(input_err(
            "ct",
            "this model was trained without CT intensities (its channels are the mask's kidney, tumor and cyst planes): CT phases are not used; leave them out",
        )));
    }
    let image = image_or_fault(id, labels, *scheme, &phases, spec).map_err(|f| {
        let field = match (&f.phase, spec.kind) {
            (Some(p), _) => format!("ct_{p}"),
            (None, ChannelKind::CtPhases) => "ct".into(),
            (None, ChannelKind::LabelPlanes) => "mask".into(),
        };
        PredictError::Input(input_err(&field, f.message))
    })?;
    let ds = Dataset {
        ids: vec![id.to_string()],
        channels: image.channels.len(),
        size: image.size,
        data: image.data.clone(),
        missing: vec![image.missing.clone()],
    };
    let embedding = embedder.embed(&ds)?;
    let summary = ImageSummary {
        input: spec.describe(),
        channels: image.channels.clone(),
        missing: image
            .channels
            .iter()
            .zip(&image.missing)
            .filter(|(_, m)| **m)
            .map(|(c, _)| c.clone())
            .collect(),
        slice: image.position.slice,
        embedding: embedding.clone(),
    };
    Ok(PatientImage {
        image,
        embedding,
        summary,
    })
}
