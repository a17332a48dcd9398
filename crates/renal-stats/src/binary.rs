//! Binary classification metrics with scikit-learn's conventions: ROC curve and AUC (ties count
//! one half), precision-recall curve and average precision (step, no interpolation), the Youden
//! threshold, the confusion matrix at a threshold (`score >= t` is positive), Brier score and the
//! calibration curve (equal-width bins, numpy edges).

use crate::error::{check_finite, Result, StatsError};

/// Validates labels and scores: equal lengths, finite scores, both classes present.
pub fn check_binary(what: &'static str, y: &[bool], score: &[f64]) -> Result<(usize, usize)> {
    if y.len() != score.len() {
        return Err(StatsError::LengthMismatch {
            what,
            a: y.len(),
            b: score.len(),
        });
    }
    check_finite(what, score)?;
    let pos = y.iter().filter(|&&v| v).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(StatsError::SingleClass {
            what,
            positives: pos,
            negatives: neg,
        });
    }
    Ok((pos, neg))
}

/// Distinct-threshold cumulative counts, scores in decreasing order:
/// `(threshold, true positives, false positives)` at `score >= threshold`.
fn cumulative(y: &[bool], score: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (n, &i) in idx.iter().enumerate() {
        if y[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = n + 1 == idx.len() || score[idx[n + 1]] != score[i];
        if last_of_tie {
            out.push((score[i], tp, fp));
        }
    }
    out
}

/// A ROC curve. `thresholds[0]` is `+inf` (the point (0, 0)).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// ROC curve as `sklearn.metrics.roc_curve` (with `drop_intermediate`: collinear interior
/// points removed).
pub fn roc_curve(y: &[bool], score: &[f64], drop_intermediate: bool) -> Result<RocCurve> {
    let (pos, neg) = check_binary("roc_curve", y, score)?;
    let mut cum = cumulative(y, score);
    if drop_intermediate && cum.len() > 2 {
        // sklearn: on the curve without the origin, keep the first and last points and every
        // point where the second difference of the FP or the TP counts is non-zero.
        let mut keep = vec![true; cum.len()];
        for i in 1..cum.len() - 1 {
            let d2f = cum[i - 1].2 - 2.0 * cum[i].2 + cum[i + 1].2;
            let d2t = cum[i - 1].1 - 2.0 * cum[i].1 + cum[i + 1].1;
            keep[i] = d2f != 0.0 || d2t != 0.0;
        }
        cum = cum
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(c, _)| c)
            .collect();
    }
    let mut tps: Vec<f64> = vec![0.0];
    let mut fps: Vec<f64> = vec![0.0];
    let mut th: Vec<f64> = vec![f64::INFINITY];
    for &(t, tp, fp) in &cum {
        tps.push(tp);
        fps.push(fp);
        th.push(t);
    }
    Ok(RocCurve {
        fpr: fps.iter().map(|v| v / neg as f64).collect(),
        tpr: tps.iter().map(|v| v / pos as f64).collect(),
        thresholds: th,
    })
}

/// Area under the ROC curve (trapezoidal on the full curve = Mann-Whitney with ties as 1/2).
pub fn roc_auc(y: &[bool], score: &[f64]) -> Result<f64> {
    let c = roc_curve(y, score, false)?;
    let mut a = 0.0;
    for i in 1..c.fpr.len() {
        a += (c.fpr[i] - c.fpr[i - 1]) * (c.tpr[i] + c.tpr[i - 1]) / 2.0;
    }
    Ok(a)
}

/// The Youden-optimal point of a ROC curve: the first index of max(tpr - fpr).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Youden {
    pub index: usize,
    pub threshold: f64,
    pub tpr: f64,
    pub fpr: f64,
    pub specificity: f64,
    pub j: f64,
}

/// Youden's J optimum on the `drop_intermediate` ROC curve (first maximum wins, i.e. the
/// highest threshold among ties), as `argmax(tpr - fpr)` on scikit-learn's curve.
pub fn youden(y: &[bool], score: &[f64]) -> Result<Youden> {
    let c = roc_curve(y, score, true)?;
    let mut best = 0;
    for i in 1..c.tpr.len() {
        if c.tpr[i] - c.fpr[i] > c.tpr[best] - c.fpr[best] {
            best = i;
        }
    }
    Ok(Youden {
        index: best,
        threshold: c.thresholds[best],
        tpr: c.tpr[best],
        fpr: c.fpr[best],
        specificity: 1.0 - c.fpr[best],
        j: c.tpr[best] - c.fpr[best],
    })
}

/// A precision-recall curve as `sklearn.metrics.precision_recall_curve`: thresholds increasing,
/// with a final (precision 1, recall 0) point that has no threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub thresholds: Vec<f64>,
}

pub fn precision_recall_curve(y: &[bool], score: &[f64]) -> Result<PrCurve> {
    let (pos, _) = check_binary("precision_recall_curve", y, score)?;
    let cum = cumulative(y, score);
    let mut precision = Vec::new();
    let mut recall = Vec::new();
    let mut thresholds = Vec::new();
    for &(t, tp, fp) in cum.iter().rev() {
        precision.push(if tp + fp == 0.0 { 1.0 } else { tp / (tp + fp) });
        recall.push(tp / pos as f64);
        thresholds.push(t);
    }
    precision.push(1.0);
    recall.push(0.0);
    Ok(PrCurve {
        precision,
        recall,
        thresholds,
    })
}

/// Average precision: sum over PR points of (R_i - R_{i+1}) * P_i (no interpolation).
pub fn average_precision(y: &[bool], score: &[f64]) -> Result<f64> {
    let c = precision_recall_curve(y, score)?;
    let mut ap = 0.0;
    for i in 0..c.recall.len() - 1 {
        ap += (c.recall[i] - c.recall[i + 1]) * c.precision[i];
    }
    Ok(ap)
}

/// Confusion counts and derived rates at a threshold (`score >= threshold` is positive).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Confusion {
    pub threshold: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub sensitivity: f64,
    pub specificity: f64,
    pub precision: f64,
    pub npv: f64,
    pub f1: f64,
    pub accuracy: f64,
}

pub fn confusion(y: &[bool], score: &[f64], threshold: f64) -> Result<Confusion> {
    check_binary("confusion", y, score)?;
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for (&t, &s) in y.iter().zip(score) {
        match (t, s >= threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let div = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let sensitivity = div(tp, tp + fn_);
    let precision = div(tp, tp + fp);
    let f1 = if precision + sensitivity == 0.0 {
        0.0
    } else {
        2.0 * precision * sensitivity / (precision + sensitivity)
    };
    Ok(Confusion {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        sensitivity,
        specificity: div(tn, tn + fp),
        precision,
        npv: div(tn, tn + fn_),
        f1,
        accuracy: div(tp + tn, y.len()),
    })
}

/// Brier score: mean squared difference between probability and outcome.
pub fn brier(y: &[bool], prob: &[f64]) -> Result<f64> {
    check_binary("brier", y, prob)?;
    Ok(y.iter()
        .zip(prob)
        .map(|(&t, &p)| (p - t as u8 as f64).powi(2))
        .sum::<f64>()
        / y.len() as f64)
}

/// Calibration in equal-width bins over [0, 1] (edges `k / n_bins` as numpy's linspace; a value
/// on an interior edge goes to the lower bin). Empty bins are kept with `count == 0`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Calibration {
    pub edges: Vec<f64>,
    pub count: Vec<usize>,
    /// Fraction of positives per bin (NaN-free: `None` when empty).
    pub observed: Vec<Option<f64>>,
    /// Mean predicted probability per bin.
    pub predicted: Vec<Option<f64>>,
}

/// The bin of `p` given interior edges (searchsorted, side left).
fn bin_of(p: f64, edges: &[f64]) -> usize {
    edges[1..edges.len() - 1].partition_point(|&e| e < p)
}

pub fn calibration(y: &[bool], prob: &[f64], n_bins: usize) -> Result<Calibration> {
    if y.len() != prob.len() {
        return Err(StatsError::LengthMismatch {
            what: "calibration",
            a: y.len(),
            b: prob.len(),
        });
    }
    check_finite("calibration", prob)?;
    if let Some(index) = prob.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(StatsError::NotProbability {
            what: "calibration",
            index,
            value: prob[index],
        });
    }
    let edges: Vec<f64> = (0..=n_bins).map(|k| linspace_point(k, n_bins)).collect();
    let mut count = vec![0usize; n_bins];
    let mut pos = vec![0usize; n_bins];
    let mut sum = vec![0.0f64; n_bins];
    for (&t, &p) in y.iter().zip(prob) {
        let b = bin_of(p, &edges);
        count[b] += 1;
        pos[b] += t as usize;
        sum[b] += p;
    }
    Ok(Calibration {
        observed: (0..n_bins)
            .map(|b| (count[b] > 0).then(|| pos[b] as f64 / count[b] as f64))
            .collect(),
        predicted: (0..n_bins)
            .map(|b| (count[b] > 0).then(|| sum[b] / count[b] as f64))
            .collect(),
        edges,
        count,
    })
}

/// numpy.linspace(0, 1, n + 1)[k]: `k * step` with step = 1/n (and exactly 1 at the end).
fn linspace_point(k: usize, n: usize) -> f64 {
    if k == n {
        1.0
    } else {
        k as f64 * (1.0 / n as f64)
    }
}

/// Calibration with percentile bootstrap 95% CIs of the observed frequency per bin: cases are
/// resampled with replacement `n_boot` times (seeded); a bin's CI uses the replicates in which
/// it is not empty.
pub fn calibration_bootstrap(
    y: &[bool],
    prob: &[f64],
    n_bins: usize,
    n_boot: usize,
    seed: u64,
) -> Result<(Calibration, Vec<Option<[f64; 2]>>)> {
    let cal = calibration(y, prob, n_bins)?;
    let mut rng = crate::rng::Rng::new(seed);
    let n = y.len();
    let mut reps: Vec<Vec<f64>> = vec![Vec::with_capacity(n_boot); n_bins];
    let (mut yy, mut pp) = (vec![false; n], vec![0.0; n]);
    for _ in 0..n_boot {
        for i in 0..n {
            let j = rng.below(n);
            yy[i] = y[j];
            pp[i] = prob[j];
        }
        let c = calibration(&yy, &pp, n_bins)?;
        for (b, o) in c.observed.iter().enumerate() {
            if let Some(v) = o {
                reps[b].push(*v);
            }
        }
    }
    let ci = reps
        .iter_mut()
        .map(|r| {
            if r.is_empty() {
                return None;
            }
            r.sort_by(f64::total_cmp);
            Some([percentile(r, 2.5), percentile(r, 97.5)])
        })
        .collect();
    Ok((cal, ci))
}

/// Linear-interpolation percentile of sorted data (numpy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_auc_with_ties() {
        // Positives 0.8, 0.5; negatives 0.5, 0.2: pairs (0.8>0.5, 0.8>0.2, 0.5=0.5, 0.5>0.2) = 3.5/4.
        let y = [true, true, false, false];
        let s = [0.8, 0.5, 0.5, 0.2];
        assert!((roc_auc(&y, &s).unwrap() - 0.875).abs() < 1e-15);
        let c = confusion(&y, &s, 0.5).unwrap();
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 1, 0));
        assert!((brier(&y, &[1.0, 0.5, 0.5, 0.0]).unwrap() - 0.125).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(
            roc_auc(&[true, true], &[0.1, 0.2]),
            Err(StatsError::SingleClass { .. })
        ));
        assert!(matches!(
            roc_auc(&[true, false], &[0.1]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            roc_auc(&[true, false], &[0.1, f64::NAN]),
            Err(StatsError::NonFinite { .. })
        ));
        assert!(matches!(
            calibration(&[true, false], &[0.5, 1.0 + f64::EPSILON], 10),
            Err(StatsError::NotProbability { index: 1, .. })
        ));
    }
}
