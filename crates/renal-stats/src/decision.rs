//! Decision-curve analysis (Vickers & Elkin 2006): the net benefit of treating the cases whose
//! predicted risk is at least a threshold probability `pt`, against treating all and none.
//!
//! net benefit(pt) = TP/n − FP/n · pt/(1 − pt); treat-all = prevalence − (1 − prevalence) ·
//! pt/(1 − pt); treat-none = 0. The weight pt/(1 − pt) is the harm of a false positive relative to
//! the benefit of a true positive that a clinician choosing `pt` accepts.
//!
//! Vickers AJ, Elkin EB (2006). Decision curve analysis: a novel method for evaluating
//! prediction models. Medical Decision Making 26(6):565-574.

use crate::binary::check_binary;
use crate::error::{Result, StatsError};

fn odds(pt: f64) -> Result<f64> {
    if !(pt > 0.0 && pt < 1.0) {
        return Err(StatsError::Threshold {
            what: "net benefit",
            value: pt,
        });
    }
    Ok(pt / (1.0 - pt))
}

/// Net benefit of "treat if score >= pt".
pub fn net_benefit(y: &[bool], score: &[f64], pt: f64) -> Result<f64> {
    check_binary("net benefit", y, score)?;
    let w = odds(pt)?;
    let n = y.len() as f64;
    let (mut tp, mut fp) = (0usize, 0usize);
    for (&t, &s) in y.iter().zip(score) {
        if s >= pt {
            if t {
                tp += 1;
            } else {
                fp += 1;
            }
        }
    }
    Ok(tp as f64 / n - fp as f64 / n * w)
}

/// Net benefit of treating everyone.
pub fn net_benefit_treat_all(y: &[bool], pt: f64) -> Result<f64> {
    let w = odds(pt)?;
    if y.is_empty() {
        return Err(StatsError::TooFew {
            what: "net benefit",
            needed: 1,
            got: 0,
        });
    }
    let prev = y.iter().filter(|&&t| t).count() as f64 / y.len() as f64;
    Ok(prev - (1.0 - prev) * w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: 10 cases, 4 positive. At pt = 0.25 (odds 1/3) scores >= 0.25 select
    /// 3 positives and 2 negatives: 3/10 − 2/10 · 1/3 = 0.2333...; treat-all: 0.4 − 0.6/3 = 0.2.
    #[test]
    fn net_benefit_by_hand() {
        let y = [
            true, true, true, true, false, false, false, false, false, false,
        ];
        let s = [0.9, 0.5, 0.25, 0.1, 0.3, 0.6, 0.2, 0.1, 0.0, 0.05];
        let nb = net_benefit(&y, &s, 0.25).unwrap();
        assert!((nb - (0.3 - 0.2 / 3.0)).abs() < 1e-15, "{nb}");
        let all = net_benefit_treat_all(&y, 0.25).unwrap();
        assert!((all - 0.2).abs() < 1e-15, "{all}");
        // A perfect score's net benefit is the prevalence at any threshold below its scores.
        let perfect: Vec<f64> = y.iter().map(|&t| if t { 1.0 } else { 0.0 }).collect();
        assert!((net_benefit(&y, &perfect, 0.5).unwrap() - 0.4).abs() < 1e-15);
        assert!(net_benefit(&y, &s, 1.0).is_err());
        assert!(net_benefit(&y, &s, 0.0).is_err());
    }
}
