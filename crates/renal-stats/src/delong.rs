//! DeLong's nonparametric variance of the AUC, its confidence interval, and the paired test of
//! two correlated AUCs, with the fast midrank algorithm (O(n log n)).
//!
//! # References
//! DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two or more
//! correlated receiver operating characteristic curves: a nonparametric approach. Biometrics
//! 44(3):837-845. Sun X, Xu W (2014). Fast implementation of DeLong's algorithm for comparing
//! the areas under correlated receiver operating characteristic curves. IEEE Signal Processing
//! Letters 21(11):1389-1393.

use statrs::function::erf::{erfc, erfc_inv};

use crate::binary::check_binary;
use crate::error::{Result, StatsError};

/// Standard normal CDF.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile.
pub fn norm_ppf(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// Midranks (1-based, ties share their mean rank).
fn midranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = mid;
        }
        i = j + 1;
    }
    r
}

/// AUC and DeLong structural components of one score.
struct Components {
    auc: f64,
    v10: Vec<f64>,
    v01: Vec<f64>,
}

fn components(y: &[bool], score: &[f64]) -> Components {
    let pos: Vec<f64> = y
        .iter()
        .zip(score)
        .filter(|(t, _)| **t)
        .map(|(_, s)| *s)
        .collect();
    let neg: Vec<f64> = y
        .iter()
        .zip(score)
        .filter(|(t, _)| !**t)
        .map(|(_, s)| *s)
        .collect();
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let all: Vec<f64> = pos.iter().chain(&neg).copied().collect();
    let tz = midranks(&all);
    let tx = midranks(&pos);
    let ty = midranks(&neg);
    let auc = (tz[..pos.len()].iter().sum::<f64>() - m * (m + 1.0) / 2.0) / (m * n);
    let v10 = (0..pos.len()).map(|i| (tz[i] - tx[i]) / n).collect();
    let v01 = (0..neg.len())
        .map(|j| 1.0 - (tz[pos.len() + j] - ty[j]) / m)
        .collect();
    Components { auc, v10, v01 }
}

fn cov(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

/// One AUC with its DeLong variance and CI.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AucCi {
    pub auc: f64,
    pub variance: f64,
    pub ci: [f64; 2],
    pub level: f64,
}

/// Valid binary input with at least two cases per class (DeLong's variances divide by n - 1).
fn check_delong(
    what: &'static str,
    per_class: &'static str,
    y: &[bool],
    score: &[f64],
) -> Result<(usize, usize)> {
    let (pos, neg) = check_binary(what, y, score)?;
    if pos < 2 || neg < 2 {
        return Err(StatsError::TooFew {
            what: per_class,
            needed: 2,
            got: pos.min(neg),
        });
    }
    Ok((pos, neg))
}

/// AUC with DeLong's variance and a normal CI at `level` (e.g. 0.95), as pROC `ci.auc`.
pub fn delong_ci(y: &[bool], score: &[f64], level: f64) -> Result<AucCi> {
    let (pos, neg) = check_delong("delong_ci", "delong_ci: cases per class", y, score)?;
    let c = components(y, score);
    let variance = cov(&c.v10, &c.v10) / pos as f64 + cov(&c.v01, &c.v01) / neg as f64;
    let z = norm_ppf(0.5 + level / 2.0);
    let half = z * variance.sqrt();
    Ok(AucCi {
        auc: c.auc,
        variance,
        ci: [c.auc - half, c.auc + half],
        level,
    })
}

/// Paired DeLong test of AUC(a) - AUC(b) on the same cases.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DelongPaired {
    pub auc_a: f64,
    pub auc_b: f64,
    pub difference: f64,
    pub variance: f64,
    pub z: f64,
    pub p_two_sided: f64,
    /// H1: AUC(a) > AUC(b).
    pub p_greater: f64,
    /// H1: AUC(a) < AUC(b).
    pub p_less: f64,
    pub ci: [f64; 2],
}

pub fn delong_paired(y: &[bool], a: &[f64], b: &[f64], level: f64) -> Result<DelongPaired> {
    let (pos, neg) = check_delong("delong_paired a", "delong_paired: cases per class", y, a)?;
    check_binary("delong_paired b", y, b)?;
    let ca = components(y, a);
    let cb = components(y, b);
    let s = |x: &Components, w: &Components| {
        cov(&x.v10, &w.v10) / pos as f64 + cov(&x.v01, &w.v01) / neg as f64
    };
    let variance = s(&ca, &ca) + s(&cb, &cb) - 2.0 * s(&ca, &cb);
    let difference = ca.auc - cb.auc;
    if variance <= 0.0 {
        return Err(StatsError::Degenerate {
            what: "delong_paired: the two scores rank the cases identically",
        });
    }
    let sd = variance.sqrt();
    let z = difference / sd;
    let q = norm_ppf(0.5 + level / 2.0);
    Ok(DelongPaired {
        auc_a: ca.auc,
        auc_b: cb.auc,
        difference,
        variance,
        z,
        p_two_sided: 2.0 * norm_cdf(-z.abs()),
        p_greater: norm_cdf(-z),
        p_less: norm_cdf(z),
        ci: [difference - q * sd, difference + q * sd],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midranks_and_normal() {
        assert_eq!(midranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-12);
        let c = norm_cdf(1.959963984540054);
        assert!((c - 0.975).abs() < 1e-10, "{c:e}");
    }
}
