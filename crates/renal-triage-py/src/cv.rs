//! The tool's nested cross-validation from Python: stratified outer and inner folds, the
//! candidate chosen in each outer fold by the inner folds' mean task AUC, out-of-fold
//! probabilities, and each task's Youden threshold learned on the inner folds only.

use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use renal_learn::{BinaryTask, NestedCv, NestedResult, PipelineParams, Step};

use crate::learn::{codes, learner, rows};
use crate::{errors, threads};

/// Nested cross-validation of `candidates` (each `(kind, params)` as the estimators of
/// `renal_triage.learn` give them; see `renal_triage.nested_cv`).
#[pyfunction]
#[pyo3(signature = (x, y, n_classes, candidates, tasks, *, standardize, outer_folds, inner_folds,
    seed, threads = None))]
#[allow(clippy::too_many_arguments)]
pub fn nested_cv<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    n_classes: usize,
    candidates: Vec<(String, Bound<'py, PyDict>)>,
    tasks: Vec<(String, Vec<usize>, Vec<usize>)>,
    standardize: bool,
    outer_folds: usize,
    inner_folds: usize,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    if outer_folds < 2 || inner_folds < 2 {
        return Err(PyValueError::new_err(
            "outer_folds, inner_folds: at least 2 folds each",
        ));
    }
    if candidates.is_empty() {
        return Err(PyValueError::new_err("candidates: at least one is needed"));
    }
    check_tasks(&tasks, n_classes)?;
    let params = candidates
        .iter()
        .map(|(kind, p)| {
            Ok(PipelineParams {
                steps: if standardize {
                    vec![Step::Standardize]
                } else {
                    Vec::new()
                },
                learner: learner(kind, p)?,
                calibrate: None,
            })
        })
        .collect::<PyResult<Vec<PipelineParams>>>()?;
    let x = rows(x)?;
    let y = codes(y, x.rows, n_classes)?;
    let cv = NestedCv {
        outer_folds,
        inner_folds,
        seed,
        tasks: tasks
            .iter()
            .map(|(name, positive, included)| BinaryTask {
                name: name.clone(),
                positive: positive.clone(),
                included: included.clone(),
            })
            .collect(),
        operating: Vec::new(),
    };
    let r = threads::run(py, threads, || cv.run(&params, &x, &y, n_classes, None))?
        .map_err(errors::learn)?;
    result(py, &r, &cv, n_classes)
}

/// Each task's classes exist, and its positive classes are among those it includes.
fn check_tasks(tasks: &[(String, Vec<usize>, Vec<usize>)], n_classes: usize) -> PyResult<()> {
    if tasks.is_empty() {
        return Err(PyValueError::new_err("tasks: at least one is needed"));
    }
    for (name, positive, included) in tasks {
        if let Some(c) = positive.iter().chain(included).find(|&&c| c >= n_classes) {
            return Err(PyValueError::new_err(format!(
                "tasks: {name}: class code {c} is not below {n_classes}"
            )));
        }
        if positive.is_empty() || positive.iter().any(|c| !included.contains(c)) {
            return Err(PyValueError::new_err(format!(
                "tasks: {name}: the positive classes must be some of the included ones"
            )));
        }
    }
    Ok(())
}

/// The result as a dict of numpy arrays and lists.
fn result<'py>(
    py: Python<'py>,
    r: &NestedResult,
    cv: &NestedCv,
    n_classes: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let mut proba = Vec::with_capacity(r.oof.len() * n_classes);
    let mut fold = Vec::with_capacity(r.oof.len());
    for row in &r.oof {
        proba.extend_from_slice(&row.proba);
        fold.push(row.fold);
    }
    let d = PyDict::new(py);
    d.set_item(
        "proba",
        proba.into_pyarray(py).reshape([r.oof.len(), n_classes])?,
    )?;
    d.set_item("fold", fold.into_pyarray(py))?;
    d.set_item(
        "chosen",
        r.outer.iter().map(|o| o.chosen).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "inner_scores",
        PyList::new(py, r.outer.iter().map(|o| o.inner_scores.clone()))?,
    )?;
    let th = PyDict::new(py);
    for (t, v) in cv.tasks.iter().zip(&r.thresholds) {
        th.set_item(&t.name, *v)?;
    }
    d.set_item("thresholds", th)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(nested_cv, m)?)?;
    Ok(())
}
