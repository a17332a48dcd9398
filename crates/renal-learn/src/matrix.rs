//! A dense row-major f64 matrix with column names.

use crate::error::{LearnError, Result};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values; NaN marks a missing value (only before imputation).
    pub data: Vec<f64>,
    pub names: Vec<String>,
}

impl Matrix {
    /// Builds a matrix from rows; names default to `x0, x1, ...`.
    pub fn from_rows(rows: &[Vec<f64>], names: Option<Vec<String>>) -> Result<Self> {
        let cols = rows.first().map(Vec::len).unwrap_or(0);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            if r.len() != cols {
                return Err(LearnError::Columns {
                    what: "from_rows",
                    expected: cols,
                    got: r.len(),
                });
            }
            data.extend_from_slice(r);
        }
        let names = names.unwrap_or_else(|| (0..cols).map(|j| format!("x{j}")).collect());
        if names.len() != cols {
            return Err(LearnError::Columns {
                what: "column names",
                expected: cols,
                got: names.len(),
            });
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data,
            names,
        })
    }

    pub fn new(rows: usize, cols: usize, data: Vec<f64>, names: Vec<String>) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Matrix {
            rows,
            cols,
            data,
            names,
        }
    }

    #[inline]
    /// Class probabilities, `rows` x `n_classes` row-major, columns named `p0`, `p1`, ...
    pub fn probabilities(rows: usize, n_classes: usize, data: Vec<f64>) -> Self {
        Matrix::new(
            rows,
            n_classes,
            data,
            (0..n_classes).map(|c| format!("p{c}")).collect(),
        )
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    pub fn column(&self, j: usize) -> Vec<f64> {
        (0..self.rows).map(|i| self.get(i, j)).collect()
    }

    /// The rows at `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
            names: self.names.clone(),
        }
    }

    /// The columns at `idx`, in that order.
    pub fn select_cols(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * idx.len());
        for i in 0..self.rows {
            let r = self.row(i);
            data.extend(idx.iter().map(|&j| r[j]));
        }
        Matrix {
            rows: self.rows,
            cols: idx.len(),
            data,
            names: idx.iter().map(|&j| self.names[j].clone()).collect(),
        }
    }

    /// Columns of `self` followed by those of `other` (same rows).
    pub fn hstack(&self, other: &Matrix) -> Matrix {
        let cols = self.cols + other.cols;
        let mut data = Vec::with_capacity(self.rows * cols);
        for i in 0..self.rows {
            data.extend_from_slice(self.row(i));
            data.extend_from_slice(other.row(i));
        }
        let mut names = self.names.clone();
        names.extend(other.names.iter().cloned());
        Matrix {
            rows: self.rows,
            cols,
            data,
            names,
        }
    }

    /// Errors on the first NaN or infinity, naming the feature and row.
    pub fn check_finite(&self) -> Result<()> {
        for (k, v) in self.data.iter().enumerate() {
            if !v.is_finite() {
                let (row, column) = (k / self.cols, k % self.cols);
                return Err(LearnError::NonFinite {
                    feature: self.names[column].clone(),
                    column,
                    row,
                    value: *v,
                });
            }
        }
        Ok(())
    }
}

/// Checks labels against rows and classes; returns the per-class counts.
pub fn check_labels(x: &Matrix, y: &[usize], n_classes: usize) -> Result<Vec<usize>> {
    if x.rows == 0 {
        return Err(LearnError::Empty);
    }
    if x.rows != y.len() {
        return Err(LearnError::LengthMismatch {
            what: "fit",
            a: x.rows,
            b: y.len(),
        });
    }
    let mut counts = vec![0usize; n_classes];
    for &l in y {
        if l >= n_classes {
            return Err(LearnError::BadLabel {
                label: l,
                n_classes,
            });
        }
        counts[l] += 1;
    }
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return Err(LearnError::SingleClass { class: y[0] });
    }
    Ok(counts)
}
