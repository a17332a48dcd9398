//! Agreement between two measurements of the same quantity: Pearson correlation and
//! Bland-Altman bias with 95% limits of agreement.
//!
//! # References
//! Bland JM, Altman DG (1986). Statistical methods for assessing agreement between two methods of
//! clinical measurement. Lancet 327(8476):307-310.

use crate::error::{check_finite, Result, StatsError};

/// Pearson product-moment correlation.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "pearson",
            a: x.len(),
            b: y.len(),
        });
    }
    if x.len() < 3 {
        return Err(StatsError::TooFew {
            what: "pearson",
            needed: 3,
            got: x.len(),
        });
    }
    check_finite("pearson x", x)?;
    check_finite("pearson y", y)?;
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(StatsError::Degenerate { what: "pearson" });
    }
    Ok(sxy / (sxx * syy).sqrt())
}

/// Bland-Altman summary of `a - b`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BlandAltman {
    pub n: usize,
    /// Mean difference `a - b`.
    pub bias: f64,
    /// Sample standard deviation (n - 1) of the differences.
    pub sd: f64,
    /// `bias - 1.96 sd`, `bias + 1.96 sd`.
    pub limits: [f64; 2],
}

/// Bland-Altman bias and 95% limits of agreement of `a - b`.
pub fn bland_altman(a: &[f64], b: &[f64]) -> Result<BlandAltman> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            what: "bland_altman",
            a: a.len(),
            b: b.len(),
        });
    }
    if a.len() < 2 {
        return Err(StatsError::TooFew {
            what: "bland_altman",
            needed: 2,
            got: a.len(),
        });
    }
    check_finite("bland_altman a", a)?;
    check_finite("bland_altman b", b)?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    let bias = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|v| (v - bias).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    Ok(BlandAltman {
        n: d.len(),
        bias,
        sd,
        limits: [bias - 1.96 * sd, bias + 1.96 * sd],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_and_bland_altman_by_hand() {
        // x = 1..5, y = 2x + noise-free shift: r = 1; a - b = (0, 1, 2) -> bias 1, sd 1.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 3.0).collect();
        assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-15);
        // (1,2,3) vs (2,1,2): sxy = (-1)(0)+(0)(-1)... hand: mx=2,my=5/3; r = -0.5? compute:
        // dx = (-1,0,1), dy = (1/3,-2/3,1/3): sxy = -1/3+0+1/3 = 0 -> r = 0.
        assert!(pearson(&[1.0, 2.0, 3.0], &[2.0, 1.0, 2.0]).unwrap().abs() < 1e-15);
        let ba = bland_altman(&[1.0, 3.0, 5.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(ba.bias, 1.0);
        assert_eq!(ba.sd, 1.0);
        assert_eq!(ba.limits, [1.0 - 1.96, 1.0 + 1.96]);
    }

    #[test]
    fn bad_input_is_an_error_not_nan() {
        assert!(matches!(
            pearson(&[1.0, 2.0], &[1.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
            Err(StatsError::Degenerate { .. })
        ));
        assert!(matches!(
            bland_altman(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
    }
}
