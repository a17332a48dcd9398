//! The learners' native side: fit on float64 rows and integer class codes, predict class
//! probabilities, store as JSON (for pickling). `renal_triage.learn` wraps them in
//! scikit-learn's estimator API (input validation, label encoding, parameters).

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::types::PyTuple;
use renal_learn::{
    ForestParams, GbmParams, LearnerParams, LogisticParams, Matrix, MaxFeatures, MlpParams, Model,
    PredictProba,
};

use crate::arrays::{f64_1d, f64_2d, finite, slice};
use crate::{errors, threads};

/// A fitted learner of renal_triage (made by `renal_triage.learn`'s estimators).
#[pyclass(module = "renal_triage._native", frozen)]
pub struct NativeModel {
    fitted: Model,
    n_features: usize,
}

/// Rows to fit or predict on: a 2-D float64 array of finite values, copied into a matrix.
pub fn rows(x: &Bound<'_, PyAny>) -> PyResult<Matrix> {
    let a = f64_2d(x, "X")?;
    let shape = a.shape().to_vec();
    let values = slice(&a, "X")?;
    finite("X", values)?;
    let names = (0..shape[1]).map(|j| format!("x{j}")).collect();
    Ok(Matrix::new(shape[0], shape[1], values.to_vec(), names))
}

/// Class codes in `0..n_classes`, one per row.
pub fn codes(y: &Bound<'_, PyAny>, n_rows: usize, n_classes: usize) -> PyResult<Vec<usize>> {
    let a = f64_1d(y, "y")?;
    let v = slice(&a, "y")?;
    if v.len() != n_rows {
        return Err(PyValueError::new_err(format!(
            "y has {} labels but X has {n_rows} rows",
            v.len()
        )));
    }
    v.iter()
        .enumerate()
        .map(|(i, &c)| {
            if c >= 0.0 && c.fract() == 0.0 && (c as usize) < n_classes {
                Ok(c as usize)
            } else {
                Err(PyValueError::new_err(format!(
                    "y: class code {c} at index {i} is not in 0..{n_classes}"
                )))
            }
        })
        .collect()
}

fn max_features(v: &Bound<'_, PyAny>) -> PyResult<MaxFeatures> {
    if v.is_none() {
        return Ok(MaxFeatures::All);
    }
    if let Ok(s) = v.extract::<String>() {
        return match s.as_str() {
            "sqrt" => Ok(MaxFeatures::Sqrt),
            _ => Err(PyValueError::new_err(format!(
                "max_features: {s:?} is not \"sqrt\", None, a count or a fraction"
            ))),
        };
    }
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyValueError::new_err("max_features: a bool is not a count"));
    }
    if let Ok(k) = v.extract::<i64>() {
        return usize::try_from(k)
            .ok()
            .filter(|&k| k > 0)
            .map(MaxFeatures::Count)
            .ok_or_else(|| PyValueError::new_err(format!("max_features: {k} is not positive")));
    }
    let f: f64 = v.extract().map_err(|_| {
        PyValueError::new_err("max_features: not \"sqrt\", None, a count or a fraction")
    })?;
    if f > 0.0 && f <= 1.0 {
        Ok(MaxFeatures::Fraction(f))
    } else {
        Err(PyValueError::new_err(format!(
            "max_features: the fraction {f} is not in (0, 1]"
        )))
    }
}

/// A required entry of a learner's parameter dict.
fn param<'py, T: FromPyObjectOwned<'py>>(p: &Bound<'py, PyDict>, name: &str) -> PyResult<T> {
    let v = p
        .get_item(name)?
        .ok_or_else(|| PyValueError::new_err(format!("params: `{name}` is missing")))?;
    v.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        PyValueError::new_err(format!("{name}: {e}"))
    })
}

/// A learner's hyperparameters from its kind (`forest`, `logistic`, `mlp`, `gbm`) and a dict
/// of the keyword arguments `renal_triage.learn`'s estimators pass.
pub fn learner(kind: &str, p: &Bound<'_, PyDict>) -> PyResult<LearnerParams> {
    Ok(match kind {
        "forest" => LearnerParams::Forest(ForestParams {
            n_trees: param(p, "n_estimators")?,
            max_features: max_features(&param::<Bound<'_, PyAny>>(p, "max_features")?)?,
            min_samples_leaf: param(p, "min_samples_leaf")?,
            max_depth: param(p, "max_depth")?,
            bootstrap: param(p, "bootstrap")?,
            balanced: param(p, "balanced")?,
            class_weight: param(p, "class_weight")?,
            seed: param(p, "seed")?,
        }),
        "logistic" => LearnerParams::Logistic(LogisticParams {
            c: param(p, "c")?,
            max_iter: param(p, "max_iter")?,
            tol: param(p, "tol")?,
        }),
        "mlp" => LearnerParams::Mlp(MlpParams {
            hidden: param(p, "hidden")?,
            lr: param(p, "lr")?,
            weight_decay: param(p, "weight_decay")?,
            batch_size: param(p, "batch_size")?,
            epochs: param(p, "epochs")?,
            seed: param(p, "seed")?,
        }),
        "gbm" => LearnerParams::Gbm(GbmParams {
            n_estimators: param(p, "n_estimators")?,
            learning_rate: param(p, "learning_rate")?,
            max_depth: param(p, "max_depth")?,
            min_samples_leaf: param(p, "min_samples_leaf")?,
            subsample: param(p, "subsample")?,
            seed: param(p, "seed")?,
        }),
        other => {
            return Err(PyValueError::new_err(format!(
                "kind: {other:?} is not forest, logistic, mlp or gbm"
            )))
        }
    })
}

/// Fits one learner (`kind`, `params` as [`learner`] reads them) on rows `x` and class codes
/// `y` in `0..n_classes`.
#[pyfunction]
#[pyo3(signature = (x, y, n_classes, kind, params, threads = None))]
pub fn fit(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    n_classes: usize,
    kind: &str,
    params: &Bound<'_, PyDict>,
    threads: Option<usize>,
) -> PyResult<NativeModel> {
    let learner = learner(kind, params)?;
    let x = rows(x)?;
    let y = codes(y, x.rows, n_classes)?;
    let fitted =
        threads::run(py, threads, || learner.fit(&x, &y, n_classes))?.map_err(errors::learn)?;
    Ok(NativeModel {
        fitted,
        n_features: x.cols,
    })
}

#[pymethods]
impl NativeModel {
    /// Class probabilities, one row per row of `x`, columns in class-code order.
    #[pyo3(signature = (x, threads = None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = rows(x)?;
        if x.cols != self.n_features {
            return Err(PyValueError::new_err(format!(
                "X has {} features, but the model was fitted on {}",
                x.cols, self.n_features
            )));
        }
        let p =
            threads::run(py, threads, || self.fitted.predict_proba(&x))?.map_err(errors::learn)?;
        let arr = p.data.into_pyarray(py);
        arr.reshape([p.rows, p.cols])
    }

    /// The forest's mean decrease in impurity per feature (summing to 1); None for the others.
    fn feature_importances<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        match &self.fitted {
            Model::Forest(m) => Some(m.feature_importances().to_vec().into_pyarray(py)),
            _ => None,
        }
    }

    /// Iterations the solver ran (logistic regression), else None.
    fn n_iter(&self) -> Option<usize> {
        match &self.fitted {
            Model::Logistic(m) => Some(m.iterations),
            _ => None,
        }
    }

    /// The logistic regression's coefficients (classes x features) and intercepts.
    #[allow(clippy::type_complexity)]
    fn linear<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>)>> {
        match &self.fitted {
            Model::Logistic(m) => {
                let coef = m
                    .coef
                    .clone()
                    .into_pyarray(py)
                    .reshape([m.n_classes, m.n_features])?;
                Ok(Some((coef, m.intercept.clone().into_pyarray(py))))
            }
            _ => Ok(None),
        }
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.n_features
    }

    /// The fitted model as JSON (what pickling stores).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&(&self.fitted, self.n_features))
            .map_err(|e| errors::LearnError::new_err(format!("cannot store the model: {e}")))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let load = py
            .import("renal_triage._native")?
            .getattr("model_from_json")?;
        (load, (self.to_json()?,)).into_pyobject(py)
    }
}

/// A fitted model back from [`NativeModel::to_json`], checked before it is applied (every
/// tree walk ends in its tree, every weight vector has its length: `Model::validate`, as a
/// bundle's model is checked), so a crafted pickle raises instead of walking out of bounds.
#[pyfunction]
pub fn model_from_json(json: &str) -> PyResult<NativeModel> {
    let (fitted, n_features): (Model, usize) = serde_json::from_str(json)
        .map_err(|e| errors::LearnError::new_err(format!("not a stored model: {e}")))?;
    fitted
        .validate(fitted.classes().len())
        .map_err(|e| errors::LearnError::new_err(format!("not a stored model: {e}")))?;
    Ok(NativeModel { fitted, n_features })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeModel>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(model_from_json, m)?)?;
    Ok(())
}
