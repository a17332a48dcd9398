//! Per-patient uncertainty with a guarantee: class-conditional (Mondrian) split-conformal
//! prediction sets over the three classes.
//!
//! Nonconformity of a case of class `k`: `1 - P(k)`. For each class, the calibration cases of
//! that class give the quantile `q_k`: the `ceil((n_k + 1) c)`-th smallest of their scores, for
//! coverage `c`; with too few cases (`ceil((n_k + 1) c) > n_k`) the class is always included.
//! The set of a new case holds every class `k` with `1 - P(k) <= q_k`. For exchangeable
//! cases, a case of class `k` is in its set with probability at least `c`, whatever its class:
//! the 25 benign cases of a 92%-malignant cohort are covered as well as the others. A set of
//! more than one class is the honest answer "the model cannot tell these apart"; an empty set
//! says the case is unlike any class's calibration cases.
//!
//! The calibration cases are the pooled out-of-fold predictions of the nested CV (each from a
//! model that never saw it). Under CV (`cross_fit`), each outer fold's sets are calibrated on
//! the other folds' predictions only.

use serde::{Deserialize, Serialize};

use crate::engine::model_run::OofPrediction;

/// The coverages stored in a bundle and reported for every model.
pub const LEVELS: [f64; 3] = [0.80, 0.90, 0.95];
/// The coverage of the set `predict` returns.
pub const DEFAULT_COVERAGE: f64 = 0.90;
/// The classes, in words, by index.
pub const CLASS_WORDS: [&str; 3] = ["benign", "malignant (indolent)", "malignant (aggressive)"];

/// One coverage level, calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConformalLevel {
    pub coverage: f64,
    /// Per class, the nonconformity quantile `q_k` (`1 - P(k) <= q_k` includes class `k`);
    /// None: always included (too few calibration cases of the class for this coverage).
    pub quantile: [Option<f64>; 3],
    /// Calibration cases per class.
    pub calibration_counts: [usize; 3],
}

impl ConformalLevel {
    /// Calibrates on `(class, probabilities)` pairs.
    pub fn calibrate(coverage: f64, cases: &[(usize, [f64; 3])]) -> ConformalLevel {
        let mut quantile = [None; 3];
        let mut counts = [0usize; 3];
        for k in 0..3 {
            let mut s: Vec<f64> = cases
                .iter()
                .filter(|(c, _)| *c == k)
                .map(|(_, p)| 1.0 - p[k])
                .collect();
            s.sort_by(f64::total_cmp);
            let n = s.len();
            counts[k] = n;
            // ceil((n + 1) c), robust to the rounding of the product.
            let r = (((n + 1) as f64 * coverage) - 1e-9).ceil() as usize;
            quantile[k] = (r >= 1 && r <= n).then(|| s[r - 1]);
        }
        ConformalLevel {
            coverage,
            quantile,
            calibration_counts: counts,
        }
    }

    /// The prediction set of one case: which classes are in it.
    pub fn set(&self, p: &[f64; 3]) -> [bool; 3] {
        let mut out = [false; 3];
        for k in 0..3 {
            out[k] = self.quantile[k].is_none_or(|q| 1.0 - p[k] <= q);
        }
        out
    }
}

/// The conformal step of a bundle: every level of [`LEVELS`], calibrated on the development
/// cohort's out-of-fold predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conformal {
    pub default_coverage: f64,
    pub levels: Vec<ConformalLevel>,
    /// What the calibration cases are, in words.
    pub calibration: String,
    /// Coverage of each level under cross-validation on the development cohort.
    pub cv_coverage: Vec<Coverage>,
}

impl Conformal {
    pub fn from_oof(oof: &[OofPrediction]) -> Conformal {
        let cases: Vec<(usize, [f64; 3])> = oof.iter().map(|o| (o.label, o.proba)).collect();
        Conformal {
            default_coverage: DEFAULT_COVERAGE,
            levels: LEVELS
                .iter()
                .map(|&c| ConformalLevel::calibrate(c, &cases))
                .collect(),
            calibration: format!(
                "the pooled out-of-fold predictions of the nested cross-validation on the {} development cases",
                oof.len()
            ),
            cv_coverage: cross_fit_all(oof),
        }
    }

    /// The level of `coverage` (the default when None).
    pub fn level(&self, coverage: Option<f64>) -> Option<&ConformalLevel> {
        let c = coverage.unwrap_or(self.default_coverage);
        self.levels.iter().find(|l| (l.coverage - c).abs() < 1e-9)
    }
}

/// Empirical coverage of one level on labelled cases the calibration did not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Nominal coverage.
    pub coverage: f64,
    pub n: usize,
    /// Share of cases whose set holds their class.
    pub empirical: f64,
    /// Per class (benign, indolent, aggressive): the share covered, None without cases.
    pub per_class: [Option<f64>; 3],
    pub per_class_n: [usize; 3],
    /// Mean number of classes per set.
    pub mean_set_size: f64,
    /// Cases by set size (0, 1, 2, 3 classes).
    pub set_sizes: [usize; 4],
}

/// The coverage of `sets` (one per case) against the cases' classes.
fn coverage_of(coverage: f64, labels: &[usize], sets: &[[bool; 3]]) -> Coverage {
    let mut covered = [0usize; 3];
    let mut counts = [0usize; 3];
    let mut sizes = [0usize; 4];
    for (&y, s) in labels.iter().zip(sets) {
        counts[y] += 1;
        covered[y] += s[y] as usize;
        sizes[s.iter().filter(|b| **b).count()] += 1;
    }
    let n = labels.len();
    let total: usize = covered.iter().sum();
    let size_sum: usize = sizes.iter().enumerate().map(|(k, c)| k * c).sum();
    Coverage {
        coverage,
        n,
        empirical: if n == 0 { 0.0 } else { total as f64 / n as f64 },
        per_class: [0, 1, 2].map(|k| (counts[k] > 0).then(|| covered[k] as f64 / counts[k] as f64)),
        per_class_n: counts,
        mean_set_size: if n == 0 {
            0.0
        } else {
            size_sum as f64 / n as f64
        },
        set_sizes: sizes,
    }
}

/// The coverage of `level` on the labelled predictions `test`.
pub fn evaluate(level: &ConformalLevel, test: &[OofPrediction]) -> Coverage {
    let labels: Vec<usize> = test.iter().map(|o| o.label).collect();
    let sets: Vec<[bool; 3]> = test.iter().map(|o| level.set(&o.proba)).collect();
    coverage_of(level.coverage, &labels, &sets)
}

/// Coverage under CV: each outer fold's sets calibrated on the other folds' out-of-fold
/// predictions only.
pub fn cross_fit(coverage: f64, oof: &[OofPrediction]) -> Coverage {
    let mut folds: Vec<usize> = oof.iter().map(|o| o.fold).collect();
    folds.sort_unstable();
    folds.dedup();
    let mut labels = Vec::with_capacity(oof.len());
    let mut sets = Vec::with_capacity(oof.len());
    for f in folds {
        let cal: Vec<(usize, [f64; 3])> = oof
            .iter()
            .filter(|o| o.fold != f)
            .map(|o| (o.label, o.proba))
            .collect();
        let level = ConformalLevel::calibrate(coverage, &cal);
        for o in oof.iter().filter(|o| o.fold == f) {
            labels.push(o.label);
            sets.push(level.set(&o.proba));
        }
    }
    coverage_of(coverage, &labels, &sets)
}

/// [`cross_fit`] at every level of [`LEVELS`].
pub fn cross_fit_all(oof: &[OofPrediction]) -> Vec<Coverage> {
    LEVELS.iter().map(|&c| cross_fit(c, oof)).collect()
}

/// A set in words: the classes joined with " or ".
pub fn set_words(set: &[bool; 3]) -> String {
    let names: Vec<&str> = (0..3).filter(|&k| set[k]).map(|k| CLASS_WORDS[k]).collect();
    if names.is_empty() {
        "no class (the case is unlike every class's development cases)".into()
    } else {
        names.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: 9 benign calibration cases with P(benign) 0.1..0.9, so scores 1 - P are
    /// 0.9, 0.8, ..., 0.1. At 80% coverage, ceil(10 * 0.8) = 8: the 8th smallest score, 0.8.
    /// A new case is given "benign" when 1 - P(benign) <= 0.8, i.e. P(benign) >= 0.2. At 95%,
    /// ceil(10 * 0.95) = 10 > 9: benign is always in the set.
    #[test]
    fn class_quantiles_by_hand() {
        let cases: Vec<(usize, [f64; 3])> = (1..=9)
            .map(|i| {
                let p = i as f64 / 10.0;
                (0, [p, 1.0 - p, 0.0])
            })
            .collect();
        let l = ConformalLevel::calibrate(0.8, &cases);
        assert!((l.quantile[0].unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(l.calibration_counts, [9, 0, 0]);
        // No indolent or aggressive calibration case: those classes are always included.
        assert_eq!(l.quantile[1], None);
        assert!(l.set(&[0.25, 0.5, 0.25])[0]);
        assert!(!l.set(&[0.15, 0.6, 0.25])[0]);
        assert_eq!(ConformalLevel::calibrate(0.95, &cases).quantile[0], None);
    }

    /// On exchangeable draws, the class-conditional sets cover each class at the nominal rate
    /// (within sampling error) on cases the calibration did not see.
    #[test]
    fn coverage_holds_per_class_on_fresh_cases() {
        let mut rng = renal_stats::Rng::new(7);
        let mut draw = |n: usize| -> Vec<OofPrediction> {
            (0..n)
                .map(|i| {
                    let label = if rng.f64() < 0.1 {
                        0
                    } else if rng.f64() < 0.6 {
                        1
                    } else {
                        2
                    };
                    let mut p = [rng.f64(), rng.f64(), rng.f64()];
                    p[label] += 0.8;
                    let s: f64 = p.iter().sum();
                    OofPrediction {
                        case_id: format!("c{i}"),
                        fold: i % 5,
                        label,
                        proba: p.map(|v| v / s),
                    }
                })
                .collect()
        };
        let cal = draw(20_000);
        let test = draw(20_000);
        let cases: Vec<(usize, [f64; 3])> = cal.iter().map(|o| (o.label, o.proba)).collect();
        for c in LEVELS {
            let lv = ConformalLevel::calibrate(c, &cases);
            let cov = evaluate(&lv, &test);
            for k in 0..3 {
                let e = cov.per_class[k].unwrap();
                assert!((e - c).abs() < 0.03, "class {k} at {c}: {e}");
            }
            let x = cross_fit(c, &cal);
            assert!(
                (x.empirical - c).abs() < 0.02,
                "cross-fit at {c}: {}",
                x.empirical
            );
        }
    }
}
