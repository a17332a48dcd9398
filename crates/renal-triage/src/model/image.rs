//! The image branch of a prediction: the patient's input made with the bundle's image
//! specification (the training cohort's channels, spacing, window and size) from the decoded
//! mask and the CT phases, then embedded by the bundle's encoder, frozen, in the encoder
//! process (the main binary never loads libtorch). The encoder's files are the bytes verified
//! against the bundle's hashes at load, written to a private temporary folder for the process.

use std::collections::BTreeMap;
use std::path::PathBuf;

use renal_imaging::{CaseImage, LabelScheme, LabelVolume};
use serde::Serialize;

use crate::engine::encoder_client::{embed_frozen, Dataset};
use crate::engine::images::image_from_mask;
use crate::model::bundle::Bundle;
use crate::model::error::{input_err, PredictError};

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

/// Makes and embeds the patient's image input. `mask`: the decoded mask and its scheme;
/// `ct`: the CT phases by name.
pub fn patient_image(
    bundle: &Bundle,
    id: &str,
    mask: Option<&(LabelVolume, LabelScheme)>,
    ct: &BTreeMap<String, PathBuf>,
) -> Result<PatientImage, PredictError> {
    let spec = match &bundle.manifest.image {
        Some(i) => &i.spec,
        None => {
            return Err(PredictError::Input(input_err(
                "model",
                "this model uses image embeddings but its bundle has no encoder (it was trained from an embeddings file)",
            )))
        }
    };
    let (labels, scheme) = mask.ok_or_else(|| {
        input_err(
            "mask",
            "this model reads the axial slice through the tumor centroid: a mask is required",
        )
    })?;
    if spec.intensity {
        if let Some(name) = ct.keys().find(|n| !spec.channels.contains(n)) {
            return Err(PredictError::Input(input_err(
                &format!("ct.{name}"),
                format!(
                    "not a phase of this model (its phases: {})",
                    spec.channels.join(", ")
                ),
            )));
        }
        if ct.is_empty() {
            return Err(PredictError::Input(input_err(
                "ct",
                format!(
                    "this model was trained on CT phases ({}): give at least one",
                    spec.channels.join(", ")
                ),
            )));
        }
    } else if !ct.is_empty() {
        return Err(PredictError::Input(input_err(
            "ct",
            "this model was trained without CT intensities (its channels are the mask's kidney, tumor and cyst planes): CT phases are not used; leave them out",
        )));
    }
    let phases: Vec<(String, PathBuf)> = ct.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let field = if spec.intensity { "ct" } else { "mask" };
    let image = image_from_mask(id, labels, *scheme, &phases, spec)
        .map_err(|e| PredictError::Input(input_err(field, e)))?;
    let embedding = embed(bundle, &image, id)?;
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

/// The embedding of one image by the bundle's encoder, in the encoder process.
fn embed(bundle: &Bundle, image: &CaseImage, id: &str) -> Result<Vec<f64>, PredictError> {
    let model_err = |e: &dyn std::fmt::Display| PredictError::Model(format!("encoder: {e}"));
    let dir = tempfile::tempdir().map_err(|e| model_err(&e))?;
    for (name, bytes) in &bundle.encoder {
        std::fs::write(dir.path().join(name), bytes).map_err(|e| model_err(&e))?;
    }
    let ds = Dataset {
        ids: vec![id.to_string()],
        channels: image.channels.len(),
        size: image.size,
        data: image.data.clone(),
        missing: vec![image.missing.clone()],
    };
    let csv = dir.path().join("embedding.csv");
    embed_frozen(&ds, dir.path(), &csv, "cpu").map_err(|e| model_err(&format!("{e:#}")))?;
    let text = std::fs::read_to_string(&csv).map_err(|e| model_err(&e))?;
    let row = text
        .lines()
        .nth(1)
        .ok_or_else(|| model_err(&"no embedding written"))?;
    row.split(',')
        .skip(1)
        .map(|v| v.trim().parse::<f64>().map_err(|e| model_err(&e)))
        .collect()
}
