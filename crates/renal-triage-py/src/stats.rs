//! Statistics: ROC-AUC with DeLong CIs and paired tests (pROC's), scikit-learn's ROC and PR
//! curves, Youden's threshold, the Brier score, calibration with bootstrap CIs, decision
//! curves and the six Shrout-Fleiss ICCs (pingouin's).

use numpy::{IntoPyArray, PyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{binary, f64_2d, finite, finite_1d, same_length, slice};
use crate::errors;

/// The outcome and one score, checked (0/1 outcome, finite scores, equal lengths).
fn outcome_and_score(
    y_true: &Bound<'_, PyAny>,
    score: &Bound<'_, PyAny>,
    score_name: &str,
) -> PyResult<(Vec<bool>, Vec<f64>)> {
    let y = binary(y_true, "y_true")?;
    let s = finite_1d(score, score_name)?;
    same_length(("y_true", y.len()), (score_name, s.len()))?;
    Ok((y, s))
}

/// The area under the ROC curve (equals scikit-learn's `roc_auc_score` for a binary outcome).
#[pyfunction]
pub fn roc_auc(y_true: &Bound<'_, PyAny>, y_score: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (y, s) = outcome_and_score(y_true, y_score, "y_score")?;
    renal_stats::roc_auc(&y, &s).map_err(errors::stats)
}

/// The ROC-AUC with DeLong's variance and a normal confidence interval at `level`
/// (pROC's `ci.auc(method = "delong")`): a dict with `auc`, `variance`, `ci` (low, high)
/// and `level`.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, level = 0.95))]
pub fn roc_auc_ci<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    check_level(level)?;
    let (y, s) = outcome_and_score(y_true, y_score, "y_score")?;
    let r = renal_stats::delong_ci(&y, &s, level).map_err(errors::stats)?;
    let d = PyDict::new(py);
    d.set_item("auc", r.auc)?;
    d.set_item("variance", r.variance)?;
    d.set_item("ci", (r.ci[0], r.ci[1]))?;
    d.set_item("level", r.level)?;
    Ok(d)
}

fn check_level(level: f64) -> PyResult<()> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "level: {level} is not a confidence level in (0, 1)"
        )))
    }
}

/// DeLong's paired test of AUC(a) - AUC(b) on the same cases (pROC's `roc.test(method =
/// "delong", paired = TRUE)`): a dict with `auc_a`, `auc_b`, `difference`, `variance`, `z`,
/// `p` (two-sided), `p_greater` (H1: a > b), `p_less` and `ci` of the difference at `level`.
#[pyfunction]
#[pyo3(signature = (y_true, score_a, score_b, level = 0.95))]
pub fn delong_test<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    score_a: &Bound<'py, PyAny>,
    score_b: &Bound<'py, PyAny>,
    level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    check_level(level)?;
    let (y, a) = outcome_and_score(y_true, score_a, "score_a")?;
    let b = finite_1d(score_b, "score_b")?;
    same_length(("y_true", y.len()), ("score_b", b.len()))?;
    let r = renal_stats::delong_paired(&y, &a, &b, level).map_err(errors::stats)?;
    let d = PyDict::new(py);
    d.set_item("auc_a", r.auc_a)?;
    d.set_item("auc_b", r.auc_b)?;
    d.set_item("difference", r.difference)?;
    d.set_item("variance", r.variance)?;
    d.set_item("z", r.z)?;
    d.set_item("p", r.p_two_sided)?;
    d.set_item("p_greater", r.p_greater)?;
    d.set_item("p_less", r.p_less)?;
    d.set_item("ci", (r.ci[0], r.ci[1]))?;
    Ok(d)
}

/// The ROC curve as scikit-learn's `roc_curve`: `(fpr, tpr, thresholds)`, `thresholds[0]`
/// being `inf`.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, drop_intermediate = true))]
#[allow(clippy::type_complexity)]
pub fn roc_curve<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    drop_intermediate: bool,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
)> {
    let (y, s) = outcome_and_score(y_true, y_score, "y_score")?;
    let c = renal_stats::roc_curve(&y, &s, drop_intermediate).map_err(errors::stats)?;
    Ok((
        c.fpr.into_pyarray(py),
        c.tpr.into_pyarray(py),
        c.thresholds.into_pyarray(py),
    ))
}

/// Average precision (the area under the precision-recall curve as scikit-learn's
/// `average_precision_score`).
#[pyfunction]
pub fn average_precision(y_true: &Bound<'_, PyAny>, y_score: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (y, s) = outcome_and_score(y_true, y_score, "y_score")?;
    renal_stats::average_precision(&y, &s).map_err(errors::stats)
}

/// Youden's optimal threshold on the ROC curve: a dict with `threshold`, `sensitivity`,
/// `specificity` and `j` (the first maximum of tpr - fpr, i.e. the highest threshold among
/// ties). A case is positive when its score is at least the threshold.
#[pyfunction]
pub fn youden<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let (y, s) = outcome_and_score(y_true, y_score, "y_score")?;
    let r = renal_stats::youden(&y, &s).map_err(errors::stats)?;
    let d = PyDict::new(py);
    d.set_item("threshold", r.threshold)?;
    d.set_item("sensitivity", r.tpr)?;
    d.set_item("specificity", r.specificity)?;
    d.set_item("j", r.j)?;
    Ok(d)
}

/// The Brier score: the mean squared difference between the probability and the outcome.
#[pyfunction]
pub fn brier_score(y_true: &Bound<'_, PyAny>, y_prob: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (y, p) = outcome_and_score(y_true, y_prob, "y_prob")?;
    renal_stats::brier(&y, &p).map_err(errors::stats)
}

/// Calibration in `n_bins` equal-width bins over [0, 1] (scikit-learn's `calibration_curve`
/// with `strategy="uniform"`, but empty bins kept, as NaN with a count of 0): a dict of arrays
/// `edges`, `count`, `observed` (fraction of positives), `predicted` (mean probability); with
/// `n_boot > 0` also `ci_low` and `ci_high`, percentile bootstrap 95% intervals of `observed`
/// from `n_boot` resamples of the cases drawn with `seed`.
#[pyfunction]
#[pyo3(signature = (y_true, y_prob, n_bins = 10, n_boot = 0, seed = 0))]
pub fn calibration_curve<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_prob: &Bound<'py, PyAny>,
    n_bins: usize,
    n_boot: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    if n_bins == 0 {
        return Err(PyValueError::new_err("n_bins: at least one bin is needed"));
    }
    let (y, p) = outcome_and_score(y_true, y_prob, "y_prob")?;
    let (cal, ci) = if n_boot > 0 {
        let (cal, ci) = py
            .detach(|| renal_stats::calibration_bootstrap(&y, &p, n_bins, n_boot, seed))
            .map_err(errors::stats)?;
        (cal, Some(ci))
    } else {
        (
            renal_stats::calibration(&y, &p, n_bins).map_err(errors::stats)?,
            None,
        )
    };
    let nan = |o: &Option<f64>| o.unwrap_or(f64::NAN);
    let d = PyDict::new(py);
    d.set_item("edges", cal.edges.clone().into_pyarray(py))?;
    d.set_item("count", cal.count.clone().into_pyarray(py))?;
    d.set_item(
        "observed",
        cal.observed
            .iter()
            .map(nan)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "predicted",
        cal.predicted
            .iter()
            .map(nan)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    if let Some(ci) = ci {
        let side = |k: usize| -> Vec<f64> {
            ci.iter()
                .map(|c| c.map(|v| v[k]).unwrap_or(f64::NAN))
                .collect()
        };
        d.set_item("ci_low", side(0).into_pyarray(py))?;
        d.set_item("ci_high", side(1).into_pyarray(py))?;
    }
    Ok(d)
}

/// A decision curve (Vickers and Elkin): at each threshold probability `pt` in `thresholds`
/// (each in (0, 1)), the net benefit of treating the cases whose probability is at least `pt`
/// and that of treating everyone. A dict of arrays `threshold`, `net_benefit`, `treat_all`.
#[pyfunction]
pub fn decision_curve<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_prob: &Bound<'py, PyAny>,
    thresholds: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let (y, p) = outcome_and_score(y_true, y_prob, "y_prob")?;
    let th = finite_1d(thresholds, "thresholds")?;
    let mut model = Vec::with_capacity(th.len());
    let mut all = Vec::with_capacity(th.len());
    for &pt in &th {
        model.push(renal_stats::net_benefit(&y, &p, pt).map_err(errors::stats)?);
        all.push(renal_stats::net_benefit_treat_all(&y, pt).map_err(errors::stats)?);
    }
    let d = PyDict::new(py);
    d.set_item("threshold", th.into_pyarray(py))?;
    d.set_item("net_benefit", model.into_pyarray(py))?;
    d.set_item("treat_all", all.into_pyarray(py))?;
    Ok(d)
}

/// Intraclass correlations of a targets x raters matrix (no missing cells), as pingouin's
/// `intraclass_corr`: with `form=None` a list of the six Shrout-Fleiss forms, else the one
/// named (`"ICC(1,1)"`, `"ICC(2,1)"`, `"ICC(3,1)"`, `"ICC(1,k)"`, `"ICC(2,k)"`,
/// `"ICC(3,k)"`, or pingouin's `"ICC1"` ... `"ICC3k"`). Each is a dict with `form`, `icc`,
/// `f`, `df1`, `df2`, `pval` and `ci95` (low, high).
#[pyfunction]
#[pyo3(signature = (ratings, form = None))]
pub fn icc<'py>(
    py: Python<'py>,
    ratings: &Bound<'py, PyAny>,
    form: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = f64_2d(ratings, "ratings")?;
    let shape = a.shape().to_vec();
    let values = slice(&a, "ratings")?;
    finite("ratings", values)?;
    let rows: Vec<Vec<f64>> = values
        .chunks(shape[1].max(1))
        .map(<[f64]>::to_vec)
        .collect();
    let one = |r: &renal_stats::Icc| -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("form", r.form.name())?;
        d.set_item("icc", r.icc)?;
        d.set_item("f", r.f)?;
        d.set_item("df1", r.df1)?;
        d.set_item("df2", r.df2)?;
        d.set_item("pval", r.pval)?;
        d.set_item("ci95", (r.ci95[0], r.ci95[1]))?;
        Ok(d)
    };
    match form {
        None => {
            let all = renal_stats::icc_all(&rows).map_err(errors::stats)?;
            let list = all.iter().map(one).collect::<PyResult<Vec<_>>>()?;
            Ok(pyo3::types::PyList::new(py, list)?.into_any())
        }
        Some(name) => {
            let f = icc_form(name)?;
            let r = renal_stats::icc(&rows, f).map_err(errors::stats)?;
            Ok(one(&r)?.into_any())
        }
    }
}

fn icc_form(name: &str) -> PyResult<renal_stats::IccForm> {
    use renal_stats::IccForm;
    let pingouin = ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"];
    IccForm::ALL
        .iter()
        .zip(pingouin)
        .find(|(f, p)| f.name() == name || *p == name)
        .map(|(f, _)| *f)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "form: unknown ICC form {name:?}; one of ICC(1,1), ICC(2,1), ICC(3,1), \
                 ICC(1,k), ICC(2,k), ICC(3,k) (or pingouin's ICC1 ... ICC3k)"
            ))
        })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(roc_auc, m)?)?;
    m.add_function(wrap_pyfunction!(roc_auc_ci, m)?)?;
    m.add_function(wrap_pyfunction!(delong_test, m)?)?;
    m.add_function(wrap_pyfunction!(roc_curve, m)?)?;
    m.add_function(wrap_pyfunction!(average_precision, m)?)?;
    m.add_function(wrap_pyfunction!(youden, m)?)?;
    m.add_function(wrap_pyfunction!(brier_score, m)?)?;
    m.add_function(wrap_pyfunction!(calibration_curve, m)?)?;
    m.add_function(wrap_pyfunction!(decision_curve, m)?)?;
    m.add_function(wrap_pyfunction!(icc, m)?)?;
    Ok(())
}
