//! Operating points chosen for a clinical question: a threshold at a target sensitivity or
//! specificity (or Youden's), and the rates it gives, each with a Wilson 95% interval.
//!
//! Convention as everywhere in this crate: `score >= threshold` is positive.

use crate::binary::{check_binary, youden};
use crate::error::{Result, StatsError};

/// How a task's threshold is chosen from (truth, score) pairs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ThresholdRule {
    /// Youden's J optimum (the study's rule).
    Youden,
    /// The highest threshold whose sensitivity is at least the target (a rule-out test).
    Sensitivity(f64),
    /// The lowest threshold whose specificity is at least the target (a rule-in test).
    Specificity(f64),
}

impl ThresholdRule {
    /// The threshold this rule picks on `(y, score)`.
    pub fn threshold(&self, y: &[bool], score: &[f64]) -> Result<f64> {
        match *self {
            ThresholdRule::Youden => Ok(youden(y, score)?.threshold),
            ThresholdRule::Sensitivity(t) => threshold_at_sensitivity(y, score, t),
            ThresholdRule::Specificity(t) => threshold_at_specificity(y, score, t),
        }
    }

    /// In words, for a report ("a sensitivity of at least 95%").
    pub fn describe(&self) -> String {
        match *self {
            ThresholdRule::Youden => "Youden's index (the study's rule)".into(),
            ThresholdRule::Sensitivity(t) => format!("a sensitivity of at least {}%", pct(t)),
            ThresholdRule::Specificity(t) => format!("a specificity of at least {}%", pct(t)),
        }
    }
}

fn pct(t: f64) -> String {
    let p = t * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round() as i64)
    } else {
        format!("{p:.1}")
    }
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdRule::Youden => f.write_str("youden"),
            ThresholdRule::Sensitivity(t) => write!(f, "sens:{t}"),
            ThresholdRule::Specificity(t) => write!(f, "spec:{t}"),
        }
    }
}

/// Why a text is not an operating point (`youden`, `sens:T` or `spec:T`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdRuleError {
    #[error("`{0}` is not an operating point (`youden`, `sens:0.95` or `spec:0.90`)")]
    Form(String),
    #[error("`{value}` in `{text}` is not a number")]
    NotNumber { value: String, text: String },
    #[error("`{0}`: the target must be strictly between 0 and 1 (0.95 for 95%)")]
    OutOfRange(String),
    #[error("`{kind}` in `{text}`: an operating point is `youden`, `sens:T` or `spec:T`")]
    Kind { kind: String, text: String },
}

impl std::str::FromStr for ThresholdRule {
    type Err = ThresholdRuleError;
    fn from_str(s: &str) -> std::result::Result<Self, ThresholdRuleError> {
        let s = s.trim().to_ascii_lowercase();
        if s == "youden" {
            return Ok(ThresholdRule::Youden);
        }
        let Some((kind, value)) = s.split_once(':') else {
            return Err(ThresholdRuleError::Form(s));
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            return Err(ThresholdRuleError::NotNumber {
                value: value.to_string(),
                text: s.clone(),
            });
        };
        if !(v > 0.0 && v < 1.0) {
            return Err(ThresholdRuleError::OutOfRange(s));
        }
        match kind.trim() {
            "sens" | "sensitivity" => Ok(ThresholdRule::Sensitivity(v)),
            "spec" | "specificity" => Ok(ThresholdRule::Specificity(v)),
            other => Err(ThresholdRuleError::Kind {
                kind: other.to_string(),
                text: s.clone(),
            }),
        }
    }
}

impl TryFrom<String> for ThresholdRule {
    type Error = ThresholdRuleError;
    fn try_from(s: String) -> std::result::Result<Self, ThresholdRuleError> {
        s.parse()
    }
}

impl From<ThresholdRule> for String {
    fn from(r: ThresholdRule) -> String {
        r.to_string()
    }
}

fn check_target(target: f64) -> Result<()> {
    if target > 0.0 && target < 1.0 {
        Ok(())
    } else {
        Err(StatsError::Threshold {
            what: "operating point target rate",
            value: target,
        })
    }
}

/// The number of cases out of `n` that a rate of at least `target` needs (`ceil(target n)`,
/// robust to the rounding of `target * n`).
fn needed(target: f64, n: usize) -> usize {
    let x = target * n as f64;
    let k = (x - 1e-9 * n.max(1) as f64).ceil();
    (k.max(0.0) as usize).min(n)
}

/// The highest threshold at which at least `target` of the positives score at or above it:
/// the `ceil(target * n_pos)`-th highest positive score.
pub fn threshold_at_sensitivity(y: &[bool], score: &[f64], target: f64) -> Result<f64> {
    check_target(target)?;
    let (n_pos, _) = check_binary("threshold_at_sensitivity", y, score)?;
    let mut pos: Vec<f64> = y
        .iter()
        .zip(score)
        .filter(|(t, _)| **t)
        .map(|(_, s)| *s)
        .collect();
    pos.sort_by(|a, b| b.total_cmp(a));
    let k = needed(target, n_pos).max(1);
    Ok(pos[k - 1])
}

/// The lowest threshold at which at least `target` of the negatives score below it: just above
/// the `ceil(target * n_neg)`-th lowest negative score (the next observed score, or the next
/// representable number when none is higher).
pub fn threshold_at_specificity(y: &[bool], score: &[f64], target: f64) -> Result<f64> {
    check_target(target)?;
    let (_, n_neg) = check_binary("threshold_at_specificity", y, score)?;
    let mut neg: Vec<f64> = y
        .iter()
        .zip(score)
        .filter(|(t, _)| !**t)
        .map(|(_, s)| *s)
        .collect();
    neg.sort_by(|a, b| a.total_cmp(b));
    let m = needed(target, n_neg);
    if m == 0 {
        return Ok(score.iter().copied().fold(f64::INFINITY, f64::min));
    }
    let below = neg[m - 1];
    Ok(score
        .iter()
        .copied()
        .filter(|&s| s > below)
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.min(s)))
        })
        .unwrap_or_else(|| below.next_up()))
}

/// A proportion `k / n` with its Wilson score 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Proportion {
    pub k: usize,
    pub n: usize,
    /// `k / n`; None when `n` is 0.
    pub estimate: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959963984540054;

/// `k / n` with the Wilson score interval (95%).
pub fn wilson(k: usize, n: usize) -> Proportion {
    if n == 0 {
        return Proportion {
            k,
            n,
            estimate: None,
            ci95: None,
        };
    }
    let (nf, p, z2) = (n as f64, k as f64 / n as f64, Z975 * Z975);
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = Z975 / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Proportion {
        k,
        n,
        estimate: Some(p),
        ci95: Some([(centre - half).max(0.0), (centre + half).min(1.0)]),
    }
}

/// The rates of a threshold on (truth, score), each with its Wilson 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OperatingMetrics {
    pub threshold: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub sensitivity: Proportion,
    pub specificity: Proportion,
    pub ppv: Proportion,
    pub npv: Proportion,
}

pub fn operating_metrics(y: &[bool], score: &[f64], threshold: f64) -> Result<OperatingMetrics> {
    let c = crate::binary::confusion(y, score, threshold)?;
    let (tp, fp, tn, fn_) = (c.tp, c.fp, c.tn, c.fn_);
    Ok(OperatingMetrics {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        sensitivity: wilson(tp, tp + fn_),
        specificity: wilson(tn, tn + fp),
        ppv: wilson(tp, tp + fp),
        npv: wilson(tn, tn + fn_),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small table by hand. Positives score 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05,
    /// 0.01 (10); negatives 0.65, 0.5, 0.35, 0.1, 0.0 (5).
    fn table() -> (Vec<bool>, Vec<f64>) {
        let pos = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01];
        let neg = [0.65, 0.5, 0.35, 0.1, 0.0];
        let y = pos.iter().map(|_| true).chain(neg.iter().map(|_| false));
        (y.collect(), pos.iter().chain(&neg).copied().collect())
    }

    #[test]
    fn sensitivity_target_by_hand() {
        let (y, s) = table();
        // 95% of 10 positives needs 10 (ceil 9.5): the lowest positive, 0.01.
        assert_eq!(threshold_at_sensitivity(&y, &s, 0.95).unwrap(), 0.01);
        // 90% needs 9: the 9th highest, 0.05. 80% needs 8: 0.1. 70% needs exactly 7: 0.2.
        assert_eq!(threshold_at_sensitivity(&y, &s, 0.90).unwrap(), 0.05);
        assert_eq!(threshold_at_sensitivity(&y, &s, 0.80).unwrap(), 0.1);
        assert_eq!(threshold_at_sensitivity(&y, &s, 0.70).unwrap(), 0.2);
        // At 0.1 (>= is positive): TP 8 (0.9..0.1), FN 2; the negatives 0.65, 0.5, 0.35, 0.1
        // are positive (FP 4), TN 1. Sensitivity 0.8, specificity 0.2, PPV 8/12, NPV 1/3.
        let m = operating_metrics(&y, &s, 0.1).unwrap();
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (8, 2, 4, 1));
        assert_eq!(m.sensitivity.estimate, Some(0.8));
        assert_eq!(m.specificity.estimate, Some(0.2));
        assert_eq!(m.ppv.estimate, Some(8.0 / 12.0));
        assert_eq!(m.npv.estimate, Some(1.0 / 3.0));
    }

    #[test]
    fn specificity_target_by_hand() {
        let (y, s) = table();
        // 80% of 5 negatives = 4 below the threshold: above 0.5, the next observed score 0.6.
        assert_eq!(threshold_at_specificity(&y, &s, 0.8).unwrap(), 0.6);
        // 60% = 3 below: above 0.35, next score 0.4.
        assert_eq!(threshold_at_specificity(&y, &s, 0.6).unwrap(), 0.4);
        // 99% = all 5: above 0.65, next 0.7.
        assert_eq!(threshold_at_specificity(&y, &s, 0.99).unwrap(), 0.7);
        let m = operating_metrics(&y, &s, 0.6).unwrap();
        assert_eq!(m.specificity.estimate, Some(0.8));
    }

    /// Wilson's interval for 8/10 (z = 1.96): centre (0.8 + 0.19208) / 1.38415 = 0.71682,
    /// half-width 1.95996 / 1.38415 * sqrt(0.016 + 0.0009604) = 0.18441: [0.4902, 0.9433]
    /// (the values statsmodels' proportion_confint(8, 10, method="wilson") prints).
    #[test]
    fn wilson_interval_by_hand() {
        let p = wilson(8, 10);
        let [lo, hi] = p.ci95.unwrap();
        assert!((lo - 0.4902).abs() < 1e-4, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-4, "{hi}");
        assert_eq!(wilson(0, 0).ci95, None);
        let z = wilson(0, 20).ci95.unwrap();
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn rules_parse_and_print() {
        for (s, r) in [
            ("youden", ThresholdRule::Youden),
            ("sens:0.95", ThresholdRule::Sensitivity(0.95)),
            ("Spec:0.9", ThresholdRule::Specificity(0.9)),
        ] {
            assert_eq!(s.parse::<ThresholdRule>().unwrap(), r);
        }
        for bad in ["sens", "sens:1.5", "sens:0", "ppv:0.9", "sens:x"] {
            assert!(bad.parse::<ThresholdRule>().is_err(), "{bad}");
        }
        let r: ThresholdRule = serde_json::from_str("\"sens:0.95\"").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"sens:0.95\"");
    }
}
