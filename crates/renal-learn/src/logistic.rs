//! Multinomial logistic regression with an L2 penalty, scikit-learn's objective:
//! `C * sum_i CE_i + 0.5 * ||W||^2` (intercepts not penalised), minimised by L-BFGS with a
//! backtracking (Armijo) line search to a gradient tolerance.
//!
//! # References
//! Nocedal J, Wright SJ (2006). Numerical Optimization, 2nd ed., algorithm 7.4 (L-BFGS).

use crate::error::{LearnError, Result};
use crate::kernel;
use crate::matrix::{check_labels, Matrix};

/// Logistic regression hyperparameters (scikit-learn's defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticParams {
    /// Inverse regularisation strength.
    pub c: f64,
    pub max_iter: usize,
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            c: 1.0,
            max_iter: 1000,
            tol: 1e-8,
        }
    }
}

/// A fitted model: `coef` is n_classes x n_features (row-major), plus intercepts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Logistic {
    pub params: LogisticParams,
    pub n_classes: usize,
    pub n_features: usize,
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    pub iterations: usize,
}

/// Objective and gradient at `w` (coefficients then intercepts).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn objective(w: &[f64], x: &Matrix, y: &[usize], k: usize, c: f64) -> (f64, Vec<f64>) {
    let p = x.cols;
    let (coef, icpt) = w.split_at(k * p);
    let mut g = vec![0.0; w.len()];
    let mut f = 0.0;
    let mut z = vec![0.0; k];
    let mut d = vec![0.0; k];
    for i in 0..x.rows {
        let r = x.row(i);
        kernel::matvec(coef, r, &mut z);
        for (zc, b) in z.iter_mut().zip(icpt) {
            *zc += b;
        }
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        let lse = m + s.ln();
        f += c * (lse - z[y[i]]);
        for c_ in 0..k {
            d[c_] = c * ((z[c_] - lse).exp() - (c_ == y[i]) as u8 as f64);
            g[k * p + c_] += d[c_];
        }
        kernel::rank1(&d, r, &mut g[..k * p]);
    }
    for j in 0..k * p {
        f += 0.5 * w[j] * w[j];
        g[j] += w[j];
    }
    (f, g)
}

/// The columns of `x` centred, and their means. Logits `W x + b = W (x − μ) + (b + W μ)` and
/// only `W` is penalised, so fitting on centred columns and taking `b = b' − W μ` is the same
/// optimum; it only takes the intercepts' strong coupling to the coefficients out of the
/// conditioning (an order of magnitude fewer L-BFGS iterations on uncentred data).
fn centre(x: &Matrix) -> (Matrix, Vec<f64>) {
    let p = x.cols;
    let mean: Vec<f64> = (0..p)
        .map(|j| x.column(j).iter().sum::<f64>() / x.rows as f64)
        .collect();
    let mut centred = x.clone();
    for i in 0..x.rows {
        for (v, m) in centred.data[i * p..(i + 1) * p].iter_mut().zip(&mean) {
            *v -= m;
        }
    }
    (centred, mean)
}

/// The L-BFGS search direction `−H g` by the two-loop recursion over the stored pairs.
fn direction(g: &[f64], s_hist: &[Vec<f64>], y_hist: &[Vec<f64>]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alpha = vec![0.0; s_hist.len()];
    for i in (0..s_hist.len()).rev() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        alpha[i] = rho * dot(&s_hist[i], &q);
        for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
            *qj -= alpha[i] * yj;
        }
    }
    if let (Some(s), Some(yv)) = (s_hist.last(), y_hist.last()) {
        let gamma = dot(s, yv) / dot(yv, yv);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for i in 0..s_hist.len() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        let beta = rho * dot(&y_hist[i], &q);
        for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
            *qj += (alpha[i] - beta) * sj;
        }
    }
    q.iter().map(|v| -v).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Logistic {
    pub fn fit(params: &LogisticParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        check_labels(x, y, n_classes)?;
        x.check_finite()?;
        if params.c <= 0.0 || !params.c.is_finite() {
            return Err(LearnError::Param {
                name: "c",
                detail: format!("{} is not positive", params.c),
            });
        }
        let (k, p) = (n_classes, x.cols);
        let (centred, mean) = centre(x);
        let x = &centred;
        let mut w = vec![0.0; k * p + k];
        let (mut f, mut g) = objective(&w, x, y, k, params.c);
        let mut s_hist: Vec<Vec<f64>> = Vec::new();
        let mut y_hist: Vec<Vec<f64>> = Vec::new();
        let m = 10;
        let mut it = 0;
        while it < params.max_iter {
            let gnorm = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
            if gnorm <= params.tol * (1.0 + f.abs()) {
                break;
            }
            let mut d = direction(&g, &s_hist, &y_hist);
            let mut slope = dot(&g, &d);
            if slope >= 0.0 {
                d = g.iter().map(|v| -v).collect();
                slope = dot(&g, &d);
                s_hist.clear();
                y_hist.clear();
            }
            let mut step = if it == 0 {
                1.0 / g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1.0)
            } else {
                1.0
            };
            let (mut wn, mut fnew, mut gnew);
            loop {
                wn = w
                    .iter()
                    .zip(&d)
                    .map(|(a, b)| a + step * b)
                    .collect::<Vec<f64>>();
                (fnew, gnew) = objective(&wn, x, y, k, params.c);
                if fnew <= f + 1e-4 * step * slope || step < 1e-20 {
                    break;
                }
                step *= 0.5;
            }
            let s: Vec<f64> = wn.iter().zip(&w).map(|(a, b)| a - b).collect();
            let yv: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
            let improved = (f - fnew).abs() > f64::EPSILON * f.abs().max(1.0);
            if dot(&s, &yv) > 1e-12 {
                s_hist.push(s);
                y_hist.push(yv);
                if s_hist.len() > m {
                    s_hist.remove(0);
                    y_hist.remove(0);
                }
            }
            w = wn;
            f = fnew;
            g = gnew;
            it += 1;
            if !improved {
                break;
            }
        }
        let mut intercept = w.split_off(k * p);
        for (c, b) in intercept.iter_mut().enumerate() {
            *b -= kernel::dot(&w[c * p..(c + 1) * p], &mean);
        }
        Ok(Logistic {
            params: params.clone(),
            n_classes: k,
            n_features: p,
            coef: w,
            intercept,
            iterations: it,
        })
    }

    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.n_features {
            return Err(LearnError::Columns {
                what: "logistic predict",
                expected: self.n_features,
                got: x.cols,
            });
        }
        x.check_finite()?;
        let (k, p) = (self.n_classes, self.n_features);
        let mut out = vec![0.0; x.rows * k];
        for i in 0..x.rows {
            let r = x.row(i);
            let z: Vec<f64> = (0..k)
                .map(|c| {
                    self.intercept[c]
                        + self.coef[c * p..(c + 1) * p]
                            .iter()
                            .zip(r)
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                })
                .collect();
            kernel::softmax_into(&z, &mut out[i * k..(i + 1) * k]);
        }
        Ok(Matrix::probabilities(x.rows, k, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimum_has_zero_gradient_and_balanced_intercepts() {
        // Symmetric 2-class data around 0: by symmetry the intercepts are equal and opposite
        // up to a common shift (softmax), the coefficient separates the classes, and the
        // gradient of the penalised objective vanishes at the solution.
        let x = Matrix::from_rows(
            &[
                vec![-2.0],
                vec![-1.0],
                vec![1.0],
                vec![2.0],
                vec![-0.5],
                vec![0.5],
            ],
            None,
        )
        .unwrap();
        let y = [0, 0, 1, 1, 1, 0];
        let m = Logistic::fit(&LogisticParams::default(), &x, &y, 2).unwrap();
        let mut w = m.coef.clone();
        w.extend(&m.intercept);
        let (_, g) = objective(&w, &x, &y, 2, 1.0);
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
        assert!((m.intercept[0] - m.intercept[1]).abs() < 1e-6);
        assert!(m.coef[1] > m.coef[0]);
        let p = m
            .predict_proba(&Matrix::from_rows(&[vec![0.0]], None).unwrap())
            .unwrap();
        assert!((p.data[0] - 0.5).abs() < 1e-6);
    }
}
