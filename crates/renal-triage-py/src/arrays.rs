//! Arguments from Python: any array-like of numbers becomes a C-contiguous float64 numpy
//! array, borrowed without a copy when it already is one; wrong shape, dtype, NaN or length is
//! a `ValueError` naming the argument.

use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

fn value_error(name: &str, detail: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{name}: {detail}"))
}

/// `obj` as a C-contiguous float64 numpy array of `ndim` dimensions (numbers and bools only).
fn as_f64<'py>(obj: &Bound<'py, PyAny>, name: &str, ndim: usize) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np
        .call_method1("asarray", (obj,))
        .map_err(|e| value_error(name, format!("not an array of numbers ({e})")))?;
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        return Err(value_error(
            name,
            format!("expected numbers, got an array of dtype {}", dtype.str()?),
        ));
    }
    let got: usize = arr.getattr("ndim")?.extract()?;
    if got != ndim {
        let shape = arr.getattr("shape")?;
        let shape = shape.cast::<PyTuple>()?;
        return Err(value_error(
            name,
            format!("expected a {ndim}-D array, got shape {}", shape.str()?),
        ));
    }
    np.call_method1("ascontiguousarray", (arr, np.getattr("float64")?))
}

/// A 1-D float64 array: borrowed when `obj` already is a contiguous one.
pub fn f64_1d<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<PyReadonlyArray1<'py, f64>> {
    if let Ok(a) = obj.cast::<PyArray1<f64>>() {
        if a.is_c_contiguous() {
            return Ok(a.readonly());
        }
    }
    let arr = as_f64(obj, name, 1)?;
    Ok(arr.cast_into::<PyArray1<f64>>()?.readonly())
}

/// A 2-D float64 array: borrowed when `obj` already is a C-contiguous one.
pub fn f64_2d<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<PyReadonlyArray2<'py, f64>> {
    if let Ok(a) = obj.cast::<PyArray2<f64>>() {
        if a.is_c_contiguous() {
            return Ok(a.readonly());
        }
    }
    let arr = as_f64(obj, name, 2)?;
    Ok(arr.cast_into::<PyArray2<f64>>()?.readonly())
}

/// The values of a contiguous array (always so after [`f64_1d`] / [`f64_2d`]).
pub fn slice<'a>(a: &'a impl AsSlice, name: &str) -> PyResult<&'a [f64]> {
    a.values().map_err(|e| value_error(name, e))
}

/// Arrays whose values can be read as one slice.
pub trait AsSlice {
    fn values(&self) -> Result<&[f64], numpy::AsSliceError>;
}
impl AsSlice for PyReadonlyArray1<'_, f64> {
    fn values(&self) -> Result<&[f64], numpy::AsSliceError> {
        self.as_slice()
    }
}
impl AsSlice for PyReadonlyArray2<'_, f64> {
    fn values(&self) -> Result<&[f64], numpy::AsSliceError> {
        self.as_slice()
    }
}

/// Every value finite, or a `ValueError` naming the argument and the first bad position.
pub fn finite(name: &str, xs: &[f64]) -> PyResult<()> {
    match xs.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(value_error(
            name,
            format!("{} at index {i}; values must be finite", xs[i]),
        )),
        None => Ok(()),
    }
}

/// Finite values of a 1-D argument, copied into a vector.
pub fn finite_1d(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let a = f64_1d(obj, name)?;
    let xs = slice(&a, name)?;
    finite(name, xs)?;
    Ok(xs.to_vec())
}

/// A binary outcome: 0/1 or bool values, as booleans.
pub fn binary(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<bool>> {
    let a = f64_1d(obj, name)?;
    let xs = slice(&a, name)?;
    xs.iter()
        .enumerate()
        .map(|(i, &v)| match v {
            0.0 => Ok(false),
            1.0 => Ok(true),
            _ => Err(value_error(
                name,
                format!("the outcome must be 0/1 or bool; found {v} at index {i}"),
            )),
        })
        .collect()
}

/// Two arguments of the same length.
pub fn same_length(a: (&str, usize), b: (&str, usize)) -> PyResult<()> {
    if a.1 == b.1 {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{} has {} values but {} has {}; they must be the same length",
            b.0, b.1, a.0, a.1
        )))
    }
}
