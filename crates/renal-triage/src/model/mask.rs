//! The patient's mask: read from its file (any format the tool reads, a DICOM SEG or
//! RTSTRUCT on the CT phases given) or given decoded (the Python package's array), with the
//! input's label map applied, and holding a tumor label.

use std::path::{Path, PathBuf};

use renal_imaging::{LabelMap, LabelScheme, LabelVolume};

use crate::model::error::{input_err, PredictError};

/// What a patient's input says of the mask.
pub(crate) struct MaskInput<'a> {
    /// The mask's file.
    pub(crate) file: Option<&'a Path>,
    /// The mask already decoded (raw label values).
    pub(crate) decoded: Option<&'a LabelVolume>,
    pub(crate) label_map: Option<&'a LabelMap>,
    /// Where a DICOM SEG or RTSTRUCT's CT series may be (the CT phases given).
    pub(crate) references: Vec<PathBuf>,
}

/// The patient's mask, decoded (from its file or as given), if any; an error when the model
/// needs one and none is given, or when it is given twice.
pub(crate) fn patient_mask(
    input: &MaskInput<'_>,
    needed: bool,
) -> Result<Option<(LabelVolume, LabelScheme)>, PredictError> {
    Ok(match (input.decoded, input.file, needed) {
        (Some(_), Some(_), _) => {
            return Err(PredictError::Input(input_err(
                "mask",
                "give the mask once: as a file or as an array, not both",
            )))
        }
        (Some(v), None, _) => Some(decoded_mask(input, v.clone())?),
        (None, Some(p), _) => Some(read_mask(input, p)?),
        (None, None, true) => {
            return Err(PredictError::Input(input_err(
                "mask",
                "this model uses the tumor size, shape or image: a mask is required",
            )))
        }
        (None, None, false) => None,
    })
}

/// Reads the mask once (size, shape and the image slice all come from this decoded volume),
/// with the KiTS23 scheme or the input's label map. A mask that holds no tumor label is an
/// error: a mask of 0 and 1 is a KiTS-style kidney-only segmentation as much as a tumor mask,
/// and guessing it is a tumor measured kidneys as tumors; the caller says `tumor=1`.
fn read_mask(
    input: &MaskInput<'_>,
    path: &Path,
) -> Result<(LabelVolume, LabelScheme), PredictError> {
    let labels = renal_imaging::read_mask(path, &input.references, input.label_map)
        .map_err(|e| PredictError::Input(input_err("mask", e)))?;
    with_tumor(labels)
}

/// A decoded mask (raw label values) with the input's label map applied, as [`read_mask`]
/// applies it to a plain label-map file.
fn decoded_mask(
    input: &MaskInput<'_>,
    mut labels: LabelVolume,
) -> Result<(LabelVolume, LabelScheme), PredictError> {
    if let Some(m) = input.label_map {
        if m.names_only() {
            return Err(PredictError::Input(input_err(
                "label_map",
                format!("`{m}` names segments, but an array of labels has no segment names: give label values (e.g. tumor=2)"),
            )));
        }
        m.relabel(&mut labels.data);
    }
    with_tumor(labels)
}

/// The mask, if it holds a tumor label.
fn with_tumor(labels: LabelVolume) -> Result<(LabelVolume, LabelScheme), PredictError> {
    let scheme = LabelScheme::default();
    if !labels.data.contains(&scheme.tumor) {
        let mut present = [false; 256];
        for &v in &labels.data {
            present[v as usize] = true;
        }
        let values: Vec<String> = (1..256)
            .filter(|&v| present[v])
            .map(|v| v.to_string())
            .collect();
        return Err(PredictError::Input(input_err(
            "mask",
            format!(
                "the mask holds no tumor label (labels present: {}; the tumor is label {} unless a label map says otherwise). For a binary tumor mask give the label map `tumor=1` (`--label-map tumor=1`, API field `label_map`)",
                if values.is_empty() { "none".to_string() } else { values.join(", ") },
                scheme.tumor
            ),
        )));
    }
    Ok((labels, scheme))
}
