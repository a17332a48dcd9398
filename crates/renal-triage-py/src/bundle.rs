//! Model bundles: loaded with the command line's integrity checks (digest, signature), their
//! vocabulary of inputs, and prediction for one patient, the same computation as
//! `renal-triage predict` (`renal_triage::model::predict`).

use std::path::PathBuf;

use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyString, PyTuple};
use renal_triage::model::bundle::{load_verified, Bundle};
use renal_triage::model::fields::field_table;
use renal_triage::model::image::{InProcess, OneShot};
use renal_triage::model::predict::{predict_with, PatientInput, PredictError};

use crate::errors::BundleError;
use crate::{imaging, threads};

/// A model bundle made by `renal-triage train` (see `renal_triage.Bundle`).
#[pyclass(module = "renal_triage._native", frozen)]
pub struct NativeBundle {
    bundle: Bundle,
    /// An image model's encoder, the network in plain Rust in this process (as `predict`
    /// runs it by default): no libtorch, no process to start.
    encoder: Option<InProcess>,
}

/// Python's `json.loads` of JSON text this crate made.
fn from_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// A clinical value as the JSON the command line reads: numbers, words, None (missing).
fn clinical_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if v.is_none() {
        return Ok(serde_json::Value::Null);
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
        return Ok(serde_json::Value::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(serde_json::Value::String(s.to_cow()?.into_owned()));
    }
    if v.hasattr("__index__")? && !v.is_instance_of::<PyFloat>() {
        let i: i64 = v.call_method0("__index__")?.extract()?;
        return Ok(serde_json::Value::from(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        // pandas' and numpy's missing value.
        if f.is_nan() {
            return Ok(serde_json::Value::Null);
        }
        return serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| {
                PyValueError::new_err(format!("clinical: {name}: {f} is not a finite number"))
            });
    }
    Err(PyValueError::new_err(format!(
        "clinical: {name}: {} is not a number, a word or None",
        v.repr()?
    )))
}

/// The mask argument: a path, or `(array, affine[, meta])` as `read_volume` returns.
fn mask_input(input: &mut PatientInput, mask: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(t) = mask.cast::<PyTuple>() {
        if t.len() < 2 {
            return Err(PyValueError::new_err(
                "mask: a tuple must be (array, affine[, meta]), as read_volume returns",
            ));
        }
        let labels = imaging::label_volume(&t.get_item(0)?, Some(&t.get_item(1)?), None)?;
        input.mask_labels = Some(labels);
    } else {
        let p: PathBuf = mask.extract().map_err(|_| {
            PyValueError::new_err(
                "mask: expected a path or (array, affine[, meta]) as read_volume returns",
            )
        })?;
        if !p.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "mask: {}: no such file or folder",
                p.display()
            )));
        }
        input.mask = Some(p);
    }
    Ok(())
}

/// The CT phases: phase name to a path, or to `(array, affine[, meta])` as `read_volume`
/// returns.
fn ct_input(input: &mut PatientInput, ct: &Bound<'_, PyDict>) -> PyResult<()> {
    for (k, v) in ct.iter() {
        let phase: String = k
            .extract()
            .map_err(|_| PyValueError::new_err("ct: a phase's name must be text"))?;
        let name = format!("ct: {phase}");
        if let Ok(t) = v.cast::<PyTuple>() {
            input
                .ct_decoded
                .insert(phase, imaging::ct_volume(t, &name)?);
            continue;
        }
        let p: PathBuf = v.extract().map_err(|_| {
            PyValueError::new_err(format!(
                "{name}: expected a path or (array, affine[, meta]) as read_volume returns"
            ))
        })?;
        if !p.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{name}: {}: no such file or folder",
                p.display()
            )));
        }
        input.ct.insert(phase, p);
    }
    Ok(())
}

#[pymethods]
impl NativeBundle {
    /// Loads and verifies a bundle (as `renal-triage inspect` / `predict`).
    #[staticmethod]
    #[pyo3(signature = (path, expect_digest = None, trusted_keys = None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        expect_digest: Option<String>,
        trusted_keys: Option<PathBuf>,
    ) -> PyResult<Self> {
        if !path.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "path: {}: no such bundle folder",
                path.display()
            )));
        }
        if let Some(k) = &trusted_keys {
            if !k.exists() {
                return Err(PyFileNotFoundError::new_err(format!(
                    "trusted_keys: {}: no such file",
                    k.display()
                )));
            }
        }
        let bundle = threads::run(py, None, || {
            load_verified(&path, expect_digest.as_deref(), trusted_keys.as_deref())
        })?
        .map_err(|e| BundleError::new_err(format!("{}: {e:#}", path.display())))?;
        let encoder = match bundle.manifest.image {
            Some(_) => Some(
                InProcess::new(&bundle)
                    .map_err(|e| BundleError::new_err(format!("{}: {e}", path.display())))?,
            ),
            None => None,
        };
        Ok(NativeBundle { bundle, encoder })
    }

    #[getter]
    fn digest(&self) -> String {
        self.bundle.digest.clone()
    }

    #[getter]
    fn signer(&self) -> Option<String> {
        self.bundle.signer.clone()
    }

    #[getter]
    fn model(&self) -> String {
        self.bundle.manifest.model_name.clone()
    }

    /// The clinical inputs: name, label, meaning, kind, unit, range, allowed values,
    /// training range, what a missing value becomes.
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&field_table(&self.bundle))
            .map_err(|e| BundleError::new_err(e.to_string()))?;
        from_json(py, &text)
    }

    /// The bundle's manifest (`bundle.json`) as a dict.
    #[getter]
    fn manifest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.bundle.manifest)
            .map_err(|e| BundleError::new_err(e.to_string()))?;
        from_json(py, &text)
    }

    /// One patient's prediction, as `renal-triage predict`'s JSON.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (clinical = None, mask = None, ct = None, label_map = None, case_id = None,
        threads = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        clinical: Option<&Bound<'py, PyDict>>,
        mask: Option<&Bound<'py, PyAny>>,
        ct: Option<&Bound<'py, PyDict>>,
        label_map: Option<&str>,
        case_id: Option<String>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut input = PatientInput {
            case_id,
            label_map: imaging::parse_label_map(label_map)?,
            ..PatientInput::default()
        };
        if let Some(ct) = ct {
            ct_input(&mut input, ct)?;
        }
        if let Some(c) = clinical {
            for (k, v) in c.iter() {
                let name: String = k.extract().map_err(|_| {
                    PyValueError::new_err(format!(
                        "clinical: the key {} is not a name",
                        k.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
                let value = clinical_value(&name, &v)?;
                input.clinical.insert(name, value);
            }
        }
        if let Some(m) = mask {
            mask_input(&mut input, m)?;
        }
        let bundle = &self.bundle;
        let p = threads::run(py, threads, || match &self.encoder {
            Some(e) => predict_with(bundle, &input, e),
            // A model without images never embeds.
            None => predict_with(bundle, &input, &OneShot(bundle)),
        })?
        .map_err(|e| match e {
            PredictError::Input(i) => PyValueError::new_err(i.to_string()),
            PredictError::Model(m) => BundleError::new_err(format!("model error: {m}")),
        })?;
        let text = serde_json::to_string(&p).map_err(|e| BundleError::new_err(e.to_string()))?;
        from_json(py, &text)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBundle>()?;
    Ok(())
}
