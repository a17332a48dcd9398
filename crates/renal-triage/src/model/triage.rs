//! The triage call: one answer per patient, coherent by construction.
//!
//! The rule (also in `docs/triage.md`, and shown on every page):
//! 1. The operating-point thresholds give a candidate: P(malignant) below the malignant
//!    threshold is *benign*; at or above it, P(aggressive) at or above the aggressive
//!    threshold is *malignant, aggressive*, below it *malignant, indolent*. Aggressive is only
//!    ever asked of a mass already called malignant, so it never comes without malignant.
//! 2. The conformal prediction set (the classes the model cannot rule out at the chosen
//!    coverage) must agree: the call is the candidate only when the set is exactly that one
//!    class. Otherwise the call is *indeterminate*, naming the classes of the set and the
//!    candidate. So *benign* is never said of a case whose set excludes benign.
//! 3. Without a stored threshold for a question, its candidate is both answers (e.g. no
//!    aggressive threshold: indolent or aggressive), which is indeterminate unless the set
//!    decides.

use serde::Serialize;

use crate::engine::conformal::CLASS_WORDS;

/// The call, as a code for programs (the words are in [`Triage::headline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    Benign,
    MalignantIndolent,
    MalignantAggressive,
    Indeterminate,
}

/// One patient's triage call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    pub call: Call,
    /// In clinical words: "benign: surveillance may be considered", "malignant, likely
    /// indolent", "malignant, likely aggressive", "indeterminate: benign or malignant,
    /// indolent".
    pub headline: String,
    /// The classes the call leaves open (one for a decided call), in words.
    pub classes: Vec<String>,
    /// Why, in words: the thresholds' candidate and the prediction set.
    pub reason: String,
}

/// What the operating-point thresholds alone say: the classes they leave.
fn candidate(
    p_malignant: f64,
    p_aggressive: f64,
    t_mal: Option<f64>,
    t_agg: Option<f64>,
) -> [bool; 3] {
    match t_mal.map(|t| p_malignant >= t) {
        Some(false) => [true, false, false],
        malignant => {
            let benign = malignant.is_none();
            match t_agg.map(|t| p_aggressive >= t) {
                Some(true) => [benign, false, true],
                Some(false) => [benign, true, false],
                None => [benign, true, true],
            }
        }
    }
}

/// "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn words(set: &[bool; 3]) -> Vec<String> {
    (0..3)
        .filter(|&k| set[k])
        .map(|k| CLASS_WORDS[k].to_string())
        .collect()
}

/// The triage call from P(malignant), P(aggressive), the operating-point thresholds (None:
/// not stored) and the prediction set (None: no conformal step in the bundle).
pub fn triage(
    p_malignant: f64,
    p_aggressive: f64,
    t_malignant: Option<f64>,
    t_aggressive: Option<f64>,
    set: Option<[bool; 3]>,
) -> Triage {
    let cand = candidate(p_malignant, p_aggressive, t_malignant, t_aggressive);
    let open: [bool; 3] = match set {
        None => cand,
        Some(s) if s == cand => cand,
        Some(s) if !s.iter().any(|b| *b) => [true; 3],
        Some(s) => [0, 1, 2].map(|k| s[k] || cand[k]),
    };
    let decided = open.iter().filter(|b| **b).count() == 1;
    let call = match (decided, open) {
        (true, [true, _, _]) => Call::Benign,
        (true, [_, true, _]) => Call::MalignantIndolent,
        (true, _) => Call::MalignantAggressive,
        (false, _) => Call::Indeterminate,
    };
    let classes = words(&open);
    let headline = match call {
        Call::Benign => "benign: surveillance may be considered".to_string(),
        Call::MalignantIndolent => "malignant, likely indolent".to_string(),
        Call::MalignantAggressive => "malignant, likely aggressive".to_string(),
        Call::Indeterminate => format!(
            "indeterminate: the model cannot tell apart {}",
            and_list(&classes)
        ),
    };
    let by_thresholds = words(&cand).join(" or ");
    let reason = match set {
        None => format!("the chosen thresholds say {by_thresholds} (this model has no prediction set)"),
        Some(s) if !s.iter().any(|b| *b) => format!(
            "the chosen thresholds say {by_thresholds}, but the prediction set is empty: this case is unlike the development cases of every class"
        ),
        Some(s) => format!(
            "the chosen thresholds say {by_thresholds}; the prediction set holds {}",
            words(&s).join(" or ")
        ),
    };
    Triage {
        call,
        headline,
        classes,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::conformal::ConformalLevel;

    #[test]
    fn the_three_calls_and_indeterminate_by_hand() {
        let t = |pm, pa, set| triage(pm, pa, Some(0.5), Some(0.4), set);
        assert_eq!(t(0.2, 0.1, Some([true, false, false])).call, Call::Benign);
        assert_eq!(
            t(0.8, 0.1, Some([false, true, false])).call,
            Call::MalignantIndolent
        );
        assert_eq!(
            t(0.8, 0.6, Some([false, false, true])).call,
            Call::MalignantAggressive
        );
        // The thresholds say benign, the set holds benign and indolent: indeterminate.
        let x = t(0.2, 0.1, Some([true, true, false]));
        assert_eq!(x.call, Call::Indeterminate);
        assert_eq!(x.classes, vec!["benign", "malignant (indolent)"]);
        assert!(
            x.headline
                .ends_with("cannot tell apart benign and malignant (indolent)"),
            "{}",
            x.headline
        );
        // The set says aggressive alone, the thresholds indolent: both are named.
        let x = t(0.8, 0.1, Some([false, false, true]));
        assert_eq!(x.call, Call::Indeterminate);
        assert_eq!(x.classes.len(), 2);
        // An empty set: all three.
        assert_eq!(t(0.8, 0.6, Some([false; 3])).classes.len(), 3);
        // P(aggressive) above its threshold but not malignant: benign (the case of the issue:
        // a benign mass was "not malignant" and "aggressive" at once).
        assert_eq!(t(0.3, 0.45, None).call, Call::Benign);
        // No aggressive threshold: a malignant call cannot say which.
        let x = triage(0.9, 0.5, Some(0.5), None, None);
        assert_eq!(x.call, Call::Indeterminate);
        assert_eq!(
            x.classes,
            vec!["malignant (indolent)", "malignant (aggressive)"]
        );
    }

    /// The acceptance property, over 200,000 random probability vectors, random stored
    /// thresholds (or none) and random prediction sets (from randomly calibrated conformal
    /// quantiles, or none): never aggressive without malignant, never benign when the set
    /// excludes benign, and a decided call always agrees with the set.
    #[test]
    fn the_call_is_coherent_for_any_probabilities_thresholds_and_sets() {
        let mut rng = renal_stats::Rng::new(27);
        let mut seen = [0usize; 4];
        for _ in 0..200_000 {
            let mut p = [rng.f64(), rng.f64(), rng.f64()];
            let s: f64 = p.iter().sum();
            p = p.map(|v| v / s);
            let p_mal = 1.0 - p[0];
            let p_agg = p[2];
            let th = |rng: &mut renal_stats::Rng| (rng.f64() < 0.9).then(|| rng.f64());
            let (tm, ta) = (th(&mut rng), th(&mut rng));
            let set = (rng.f64() < 0.9).then(|| {
                let level = ConformalLevel {
                    coverage: 0.9,
                    quantile: [0, 1, 2].map(|_| (rng.f64() < 0.9).then(|| rng.f64())),
                    calibration_counts: [0; 3],
                };
                level.set(&p)
            });
            let x = triage(p_mal, p_agg, tm, ta, set);
            seen[x.call as usize] += 1;
            match x.call {
                Call::MalignantAggressive => {
                    let t = tm.expect("aggressive needs a malignant threshold");
                    assert!(
                        p_mal >= t,
                        "aggressive without malignant: {p:?} {tm:?} {ta:?}"
                    );
                    assert!(ta.is_some_and(|t| p_agg >= t));
                }
                Call::Benign => {
                    assert!(tm.is_some_and(|t| p_mal < t));
                    if let Some(s) = set {
                        assert!(s[0], "benign with a set that excludes benign: {s:?}");
                    }
                }
                Call::MalignantIndolent => assert!(tm.is_some_and(|t| p_mal >= t)),
                Call::Indeterminate => assert!(x.classes.len() >= 2),
            }
            if x.call != Call::Indeterminate {
                if let Some(s) = set {
                    assert_eq!(s.iter().filter(|b| **b).count(), 1, "decided with {s:?}");
                }
            }
        }
        assert!(
            seen.iter().all(|&n| n > 1000),
            "every call occurs: {seen:?}"
        );
    }
}
