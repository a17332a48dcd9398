//! Probability calibration fit on the training rows only, as scikit-learn's
//! `CalibratedClassifierCV(cv=k, ensemble=False)`: a stratified k-fold on the training rows
//! gives out-of-fold probabilities of the uncalibrated pipeline; one calibrator per class
//! (one-vs-rest) maps its probability to a calibrated one; the pipeline is then refit on all
//! training rows, and at prediction its probabilities are calibrated per class and renormalised
//! to sum to one.
//!
//! - `isotonic`: the non-decreasing step fit of the pool-adjacent-violators algorithm, ties in
//!   the score averaged first, predictions interpolated linearly between the fitted points and
//!   clipped outside them (scikit-learn's `IsotonicRegression(out_of_bounds="clip")`).
//! - `sigmoid`: Platt scaling, `1 / (1 + exp(a·s + b))` fit by Newton's method on the log loss
//!   with Platt's smoothed targets `(N+ + 1)/(N+ + 2)` and `1/(N− + 2)` (scikit-learn's
//!   `_SigmoidCalibration`).

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

/// The calibration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    Isotonic,
    Sigmoid,
}

/// Calibration settings: the method, the number of folds of the training rows that give the
/// out-of-fold probabilities (at least 2) and the seed of those folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalibrationParams {
    pub method: CalibrationMethod,
    pub folds: usize,
    pub seed: u64,
}

impl CalibrationParams {
    pub fn check(&self) -> Result<()> {
        if self.folds < 2 {
            return Err(LearnError::Param {
                name: "calibrate folds",
                detail: format!(
                    "{} fold(s): calibration needs at least 2 folds of the training rows",
                    self.folds
                ),
            });
        }
        Ok(())
    }
}

/// One fitted calibrator for one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibrator {
    /// Fitted points (x increasing, y non-decreasing).
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
    },
    Sigmoid {
        a: f64,
        b: f64,
    },
}

impl Calibrator {
    /// Fits a calibrator of `method` to scores `s` and binary targets `t`.
    pub fn fit(method: CalibrationMethod, s: &[f64], t: &[bool]) -> Result<Self> {
        if s.is_empty() || s.len() != t.len() {
            return Err(LearnError::LengthMismatch {
                what: "calibration",
                a: s.len(),
                b: t.len(),
            });
        }
        Ok(match method {
            CalibrationMethod::Isotonic => {
                let (x, y) = isotonic(s, t);
                Calibrator::Isotonic { x, y }
            }
            CalibrationMethod::Sigmoid => {
                let (a, b) = platt(s, t);
                Calibrator::Sigmoid { a, b }
            }
        })
    }

    pub fn apply(&self, s: f64) -> f64 {
        match self {
            Calibrator::Isotonic { x, y } => interpolate(x, y, s),
            Calibrator::Sigmoid { a, b } => 1.0 / (1.0 + (a * s + b).exp()),
        }
    }
}

/// Pool-adjacent-violators on the scores' unique values (targets averaged over ties).
fn isotonic(s: &[f64], t: &[bool]) -> (Vec<f64>, Vec<f64>) {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
    // Unique x with the mean target and the weight (count) of each.
    let mut xs: Vec<f64> = Vec::new();
    let mut blocks: Vec<(f64, f64)> = Vec::new(); // (sum of targets, weight)
    for &i in &idx {
        let v = if t[i] { 1.0 } else { 0.0 };
        match xs.last() {
            Some(&last) if last == s[i] => {
                if let Some(b) = blocks.last_mut() {
                    b.0 += v;
                    b.1 += 1.0;
                }
            }
            _ => {
                xs.push(s[i]);
                blocks.push((v, 1.0));
            }
        }
    }
    // PAV: a stack of merged blocks (sum, weight, number of unique x it spans).
    let mut stack: Vec<(f64, f64, usize)> = Vec::new();
    for (sum, w) in blocks {
        stack.push((sum, w, 1));
        while stack.len() > 1 {
            let (s2, w2, n2) = stack[stack.len() - 1];
            let (s1, w1, n1) = stack[stack.len() - 2];
            if s1 / w1 <= s2 / w2 {
                break;
            }
            stack.truncate(stack.len() - 2);
            stack.push((s1 + s2, w1 + w2, n1 + n2));
        }
    }
    let mut ys = Vec::with_capacity(xs.len());
    for (sum, w, n) in stack {
        ys.extend(std::iter::repeat_n(sum / w, n));
    }
    (xs, ys)
}

/// Linear interpolation through the points, clipped outside them.
fn interpolate(x: &[f64], y: &[f64], v: f64) -> f64 {
    match x.len() {
        0 => 0.5,
        1 => y[0],
        n => {
            if v <= x[0] {
                return y[0];
            }
            if v >= x[n - 1] {
                return y[n - 1];
            }
            let j = x.partition_point(|&a| a <= v);
            let (x0, x1, y0, y1) = (x[j - 1], x[j], y[j - 1], y[j]);
            y0 + (y1 - y0) * (v - x0) / (x1 - x0)
        }
    }
}

/// Platt's sigmoid fit: minimises the cross-entropy of `1 / (1 + exp(a·s + b))` against the
/// smoothed targets by Newton's method with a backtracking line search (Lin, Lin & Weng 2007).
fn platt(s: &[f64], t: &[bool]) -> (f64, f64) {
    let pos = t.iter().filter(|&&v| v).count() as f64;
    let neg = t.len() as f64 - pos;
    let hi = (pos + 1.0) / (pos + 2.0);
    let lo = 1.0 / (neg + 2.0);
    let target: Vec<f64> = t.iter().map(|&v| if v { hi } else { lo }).collect();
    let loss = |a: f64, b: f64| -> f64 {
        s.iter()
            .zip(&target)
            .map(|(&x, &y)| {
                let f = a * x + b;
                // -(y log p + (1 - y) log(1 - p)) with p = 1 / (1 + e^f), stably.
                if f >= 0.0 {
                    (y) * f + (-f).exp().ln_1p()
                } else {
                    (y - 1.0) * f + f.exp().ln_1p()
                }
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((neg + 1.0) / (pos + 1.0)).ln());
    let mut f = loss(a, b);
    for _ in 0..100 {
        let (mut g1, mut g2, mut h11, mut h22, mut h21) = (0.0, 0.0, 1e-12, 1e-12, 0.0);
        for (&x, &y) in s.iter().zip(&target) {
            let z = a * x + b;
            // p = 1 / (1 + e^z), the model's P(positive); d loss / dz = y - p.
            let p = if z >= 0.0 {
                (-z).exp() / (1.0 + (-z).exp())
            } else {
                1.0 / (1.0 + z.exp())
            };
            let d = y - p;
            let w = p * (1.0 - p);
            g1 += x * d;
            g2 += d;
            h11 += x * x * w;
            h22 += w;
            h21 += x * w;
        }
        if g1.abs() < 1e-10 && g2.abs() < 1e-10 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let mut step = 1.0;
        let mut improved = false;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = loss(na, nb);
            if nf < f + 1e-4 * step * (g1 * da + g2 * db) {
                a = na;
                b = nb;
                f = nf;
                improved = true;
                break;
            }
            step /= 2.0;
        }
        if !improved {
            break;
        }
    }
    (a, b)
}

/// The per-class calibrators of a fitted pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedCalibration {
    pub method: CalibrationMethod,
    pub per_class: Vec<Calibrator>,
}

impl FittedCalibration {
    /// Fits one calibrator per class on out-of-fold probabilities `proba` (rows x classes).
    pub fn fit(method: CalibrationMethod, proba: &[Vec<f64>], y: &[usize]) -> Result<Self> {
        let n_classes = proba.first().map(Vec::len).unwrap_or(0);
        let per_class = (0..n_classes)
            .map(|c| {
                let s: Vec<f64> = proba.iter().map(|r| r[c]).collect();
                let t: Vec<bool> = y.iter().map(|&l| l == c).collect();
                Calibrator::fit(method, &s, &t)
            })
            .collect::<Result<_>>()?;
        Ok(FittedCalibration { method, per_class })
    }

    /// Calibrates one row of probabilities in place (renormalised; uniform if all are 0).
    pub fn apply(&self, row: &mut [f64]) {
        for (p, c) in row.iter_mut().zip(&self.per_class) {
            *p = c.apply(*p);
        }
        let sum: f64 = row.iter().sum();
        let k = row.len() as f64;
        for p in row.iter_mut() {
            *p = if sum > 0.0 { *p / sum } else { 1.0 / k };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: scores 1..6 with targets 0 1 0 1 1 0: PAV pools (1,0) (2,1)+(3,0) -> 0.5,
    /// then (4,1) (5,1)+(6,0) -> 0.5, and 1 > 0.5 pools (4,5,6) to 2/3; and 0.5 <= 2/3.
    #[test]
    fn isotonic_by_hand() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let t = [false, true, false, true, true, false];
        let (x, y) = isotonic(&s, &t);
        assert_eq!(x, s);
        let want = [0.0, 0.5, 0.5, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{y:?}");
        }
        let c = Calibrator::Isotonic { x, y };
        assert_eq!(c.apply(0.0), 0.0);
        assert!((c.apply(1.5) - 0.25).abs() < 1e-15);
        assert!((c.apply(9.0) - 2.0 / 3.0).abs() < 1e-15);
        // Ties in the score are averaged before pooling.
        let (x, y) = isotonic(&[0.2, 0.2, 0.9], &[true, false, true]);
        assert_eq!((x, y), (vec![0.2, 0.9], vec![0.5, 1.0]));
    }

    /// A perfectly separable score still gets a finite sigmoid (the smoothed targets), and
    /// the fitted map is increasing in the score.
    #[test]
    fn sigmoid_is_finite_and_increasing() {
        let s = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
        let t = [false, false, false, true, true, true];
        let c = Calibrator::fit(CalibrationMethod::Sigmoid, &s, &t).unwrap();
        let Calibrator::Sigmoid { a, b } = c else {
            unreachable!()
        };
        assert!(a.is_finite() && b.is_finite() && a < 0.0, "{a} {b}");
        assert!(c.apply(0.9) > c.apply(0.1));
        // Smoothed targets bound the fit: never exactly 0 or 1.
        assert!(c.apply(0.9) < 1.0 && c.apply(0.1) > 0.0);
    }

    #[test]
    fn fewer_than_two_folds_is_an_error() {
        let p = CalibrationParams {
            method: CalibrationMethod::Isotonic,
            folds: 1,
            seed: 0,
        };
        assert!(p
            .check()
            .unwrap_err()
            .to_string()
            .contains("at least 2 folds"));
    }
}
